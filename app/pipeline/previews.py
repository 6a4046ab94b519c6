"""Live previews for the window: one region restored as the full run would restore it there.

Why here: the window reaches the engine only through the operation layer, so the preview takes
the same ``RestoreSettings`` and ``EngineCache`` as Apply and cuts its context exactly as one tile
of the full run does (``app.engine.tiling``), which is what makes the patch match the result.
The limits and defaults of the controls that drive it (Detail, Colour noise, the noise level
range) come from the engine through here too, so the panel offers what the engine accepts.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from app.engine.finish import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL
from app.engine.strength import MAX_NOISE_LEVEL
from app.engine.tiling import extract
from app.pipeline.operations import EngineCache, RestoreSettings, learned_deblur

__all__ = ["DEFAULT_COLOUR_NOISE", "DEFAULT_DETAIL", "MAX_NOISE_LEVEL", "restore_region"]


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
