"""Name -> model spec registry, in the spirit of spandrel's architecture registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch


@dataclass(frozen=True)
class ModelSpec:
    """What the engine and the UI need to know about a restoration model."""

    name: str
    title: str
    task: str  # "denoise" (a noise-level-conditioned denoiser) or other tasks later
    scale_multiple: int  # input sides must be padded to a multiple of this
    receptive_field: int  # pixels of context each output pixel sees (tile overlap)
    flops_per_pixel: float  # multiply-adds x2, per output pixel, for throughput reports
    licence: str
    credit: str
    loader: Callable[[], torch.nn.Module]
    # The photo's noise level is multiplied by this before it reaches the model's level input:
    # a measured calibration of where the trained model gives its best PSNR (see the model's module).
    level_scale: float = 1.0


_REGISTRY: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add a model to the library; later models appear in the UI without UI changes."""
    _REGISTRY[spec.name] = spec
    return spec


def _ensure_builtin() -> None:
    # Import for the side effect of registering the built-in architectures.
    import models.ffdnet  # noqa: F401


def available_models() -> list[ModelSpec]:
    _ensure_builtin()
    return list(_REGISTRY.values())


def get_model_spec(name: str) -> ModelSpec:
    _ensure_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise KeyError(f"unknown model '{name}' (known: {known})") from None


_LOADED: dict[str, torch.nn.Module] = {}


def load_model(name: str) -> torch.nn.Module:
    """Build the network with its weights once per process (CPU, eval mode)."""
    if name not in _LOADED:
        net = get_model_spec(name).loader()
        net.eval().requires_grad_(False)
        _LOADED[name] = net
    return _LOADED[name]
