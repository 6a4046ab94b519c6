"""The work the window hands to its worker thread, as plain functions of plain data.

Nothing here touches widgets: each task takes numpy arrays and settings and returns
numpy arrays (or a QImage, which Qt allows to be built off the UI thread), so it can run
on the worker and be tested without a window.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from app.algorithms.blind.estimate import CONFIDENCE_MEANING
from app.engine.tiling import extract
from app.pipeline.operations import EngineCache, RestoreSettings, learned_deblur, restore_with_settings

__all__ = [
    "CONFIDENCE_MEANING",
    "EngineCache",
    "EstimatedKernel",
    "Job",
    "RestoreSettings",
    "estimate_kernel_for_photo",
    "restore_region",
    "restore_with_settings",
]



@dataclass
class Job:
    """One unit of work for the worker; ``cancel`` is checked between tiles."""

    id: int
    kind: str  # 'open' | 'estimate' | 'preview' | 'apply' | 'export'
    run: Callable[["Job"], Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    report: Callable[[int, int], None] | None = None


@dataclass(frozen=True)
class EstimatedKernel:
    """A blur kernel estimated from one photo, as the window shows and uses it.

    ``spec``: 'motion:L,A' / 'defocus:R' when the estimate is parametric, else a saved .npy path.
    ``verdict``: 'blur', 'low_confidence' or 'no_blur' (see KernelEstimate.verdict).
    ``description``: plain words ("motion blur 15.2 px at 31°, confidence 0.83").
    """

    spec: str
    verdict: str
    description: str
    confidence: float


def restore_region(
    cache: EngineCache,
    rgb: np.ndarray,
    region: tuple[int, int, int, int],
    settings: RestoreSettings,
    *,
    noise_level: float,
    downscale: int = 1,
    fast_precision: str | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Restore only ``region`` (x, y, w, h) from full-resolution pixels, with context around it.

    ``noise_level`` is the photo's measured noise (0-255, estimated once per photo); a level
    the user set in ``settings`` wins, exactly as in the full run. ``downscale`` > 1 is the
    approximate denoise path used while a slider is dragged on a zoomed-out view: the region is
    shrunk (area average, which also lowers white noise by the same factor), restored, and the
    caller shows it stretched back; the faithful result follows on release.
    """
    if settings.operation == "deblur" and not learned_deblur(settings.model):
        return _deblur_region(cache, rgb, region, settings, noise_level, cancelled)
    from app.engine.tiling import Box

    denoiser = cache.denoiser(settings, fast_precision)
    model = denoiser.model
    margin = model.tile_margin  # the same context as one tile of the full run
    x, y, width, height = region
    crop = extract(rgb, Box(y, y + height, x, x + width), margin, model.size.multiple)
    sigma = None if model.blind else settings.noise_level if settings.noise_level is not None else noise_level
    if downscale > 1:
        crop = cv2.resize(crop, (crop.shape[1] // downscale, crop.shape[0] // downscale), interpolation=cv2.INTER_AREA)
        sigma = None if sigma is None else sigma / downscale
    out = denoiser.denoise(crop, noise_level=sigma, strength=settings.strength, tile=0, detail=settings.detail,
                           colour_noise=settings.colour_noise, cancelled=cancelled).pixels
    if downscale > 1:
        margin //= downscale
        return out[margin : margin + height // downscale, margin : margin + width // downscale]
    return out[margin : margin + height, margin : margin + width]


def _deblur_region(
    cache: EngineCache,
    rgb: np.ndarray,
    region: tuple[int, int, int, int],
    settings: RestoreSettings,
    measured_noise: float,
    cancelled: Callable[[], bool] | None,
) -> np.ndarray:
    """The Deblur preview: fast Wiener at full resolution (a blur kernel does not survive shrinking).

    Same noise level rule (the 2.2 floor), same regularisation and the same context as one
    tile of the full run, and the photo's own edges treated as the full run treats them (real
    context only, never mirrored), so the patch is what Deblur with Wiener gives there.
    """
    from app.engine.deblur import auto_deblur_noise_level, deblur_margin
    from app.physics.kernels import kernel_from_spec

    kernel = kernel_from_spec(settings.kernel_spec)
    level = settings.noise_level if settings.noise_level is not None else auto_deblur_noise_level(measured_noise)
    x, y, width, height = region
    margin = deblur_margin(kernel.shape[0])
    rows, cols = rgb.shape[:2]
    top, left = max(0, y - margin), max(0, x - margin)
    crop = np.ascontiguousarray(rgb[top : min(rows, y + height + margin), left : min(cols, x + width + margin)])
    out = cache.deblurrer(settings).deblur(
        crop, kernel, method="wiener", noise_level=level, strength=settings.strength, tile=0, cancelled=cancelled,
    ).pixels
    return out[y - top : y - top + height, x - left : x - left + width]


def estimate_kernel_for_photo(
    rgb: np.ndarray, progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None
) -> EstimatedKernel:
    """Estimate the blur of this photo; a general kernel is saved under a name unique to its pixels."""
    from app.algorithms.blind import estimate_kernel
    from app.gui.settings_paths import kernel_cache_dir
    from app.physics.kernels import save_kernel

    estimate = estimate_kernel(rgb, progress=progress, cancelled=cancelled)
    spec = estimate.spec
    if spec is None:
        digest = hashlib.blake2b(np.ascontiguousarray(rgb).data, digest_size=10).hexdigest()
        spec = str(save_kernel(estimate.kernel, kernel_cache_dir() / f"estimated-{digest}.npy", overwrite=True))
    return EstimatedKernel(spec, estimate.verdict, estimate.describe(), float(estimate.confidence))
