"""Model library: one folder per architecture, each registering itself here.

Kept free of Qt so the CLI, tests and the window share it. A registry entry knows how
to build its network and where its weights come from; the engine asks the registry by
name and never imports a specific architecture.
"""

from models.registry import ModelSpec, available_models, get_model_spec, load_model

__all__ = ["ModelSpec", "available_models", "get_model_spec", "load_model"]
