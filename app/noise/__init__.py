"""Noise-level estimation for the denoiser ("--noise-level auto")."""

from app.noise.estimate import NoiseEstimate, estimate_noise

__all__ = ["NoiseEstimate", "estimate_noise"]
