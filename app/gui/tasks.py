"""The work the window hands to its worker thread, as plain functions of plain data.

Nothing here touches widgets: each task takes numpy arrays and settings and returns
numpy arrays (or a QImage, which Qt allows to be built off the UI thread), so it can run
on the worker and be tested without a window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import cv2
import numpy as np

from app.engine.tiling import extract
from app.pipeline.operations import EngineCache, RestoreSettings, restore_with_settings

__all__ = ["EngineCache", "Job", "RestoreSettings", "estimate_kernel_spec", "restore_region", "restore_with_settings"]

PREVIEW_MARGIN = 32  # context around a preview region, as the tiler uses


@dataclass
class Job:
    """One unit of work for the worker; ``cancel`` is checked between tiles."""

    id: int
    kind: str  # 'open' | 'estimate' | 'preview' | 'apply' | 'export'
    run: Callable[["Job"], Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    report: Callable[[int, int], None] | None = None


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

    ``downscale`` > 1 is the approximate path used while a slider is dragged on a zoomed-out
    view: the region is shrunk (area average, which also lowers white noise by the same
    factor), restored, and the caller shows it stretched back; the faithful result follows
    on release. The noise level is passed in (estimated once per photo), so previews match
    the full run.
    """
    from app.engine.tiling import Box

    x, y, width, height = region
    box = Box(y, y + height, x, x + width)
    crop = extract(rgb, box, PREVIEW_MARGIN, 2)
    if settings.operation == "deblur":
        # Previews deblur with the fast Wiener method at full resolution (a blur kernel does not
        # survive shrinking); Deblur then runs the chosen method on the whole photo.
        from app.physics.kernels import kernel_from_spec

        crop = extract(rgb, box, PREVIEW_MARGIN, 2)
        out = cache.deblurrer(settings).deblur(
            crop, kernel_from_spec(settings.kernel_spec), method="wiener", noise_level=noise_level,
            strength=settings.strength, tile=0, cancelled=cancelled,
        ).pixels
        return out[PREVIEW_MARGIN : PREVIEW_MARGIN + height, PREVIEW_MARGIN : PREVIEW_MARGIN + width]
    else:
        sigma = noise_level
        if downscale > 1:
            crop = cv2.resize(crop, (crop.shape[1] // downscale, crop.shape[0] // downscale), interpolation=cv2.INTER_AREA)
            sigma = noise_level / downscale
        denoiser = cache.denoiser(settings, fast_precision)
        out = denoiser.denoise(crop, noise_level=sigma, strength=settings.strength, tile=0, cancelled=cancelled).pixels
    if downscale > 1:
        margin = PREVIEW_MARGIN // downscale
        return out[margin : margin + height // downscale, margin : margin + width // downscale]
    return out[PREVIEW_MARGIN : PREVIEW_MARGIN + height, PREVIEW_MARGIN : PREVIEW_MARGIN + width]


def estimate_kernel_spec(
    rgb: np.ndarray, progress: Callable[[int, int], None] | None, cancelled: Callable[[], bool] | None
) -> str:
    """Estimate the blur from the photo and return it as a kernel spec (a saved .npy for general kernels)."""
    from app.algorithms.blind import estimate_kernel
    from app.physics.kernels import save_kernel
    from app.gui.settings_paths import kernel_cache_dir

    estimate = estimate_kernel(rgb, progress=progress, cancelled=cancelled)
    target = kernel_cache_dir() / f"estimated-{abs(hash(rgb.tobytes()[:4096])) % 10**8}.npy"
    save_kernel(estimate.kernel, target, overwrite=True)
    return str(target)
