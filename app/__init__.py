"""Photomend: desktop photo restorer. The engine (io, engine, noise, physics, pipeline, cli) imports no Qt."""

__version__ = "0.1.0"
