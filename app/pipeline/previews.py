"""Live previews for the window: one region restored as the full run would restore it there.

Why here: the window reaches the engine only through the operation layer, so the preview takes
the same ``RestoreSettings`` and ``EngineCache`` as Apply and cuts its context exactly as one tile
of the full run does (``app.engine.tiling``), which is what makes the patch match the result.
The limits and defaults of the controls that drive it (Detail, Colour noise, the noise level
range) come from the engine through here too, so the panel offers what the engine accepts.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import cv2
import numpy as np

from app.engine.finish import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL
from app.engine.strength import MAX_NOISE_LEVEL
from app.engine.tiling import extract
from app.pipeline.operations import EngineCache, LevelChoice, RestoreSettings, learned_deblur

__all__ = ["DEFAULT_COLOUR_NOISE", "DEFAULT_DETAIL", "MAX_NOISE_LEVEL", "deblur_preview_method", "restore_region"]


DEEP_PREVIEW_ITERATIONS = 4
"""Deep deblurring previews run this many HQS iterations (the full run: 8), all with the fast prior."""
DEEP_PREVIEW_SECONDS = 4.0
"""A released slider gets a deep preview when it is predicted to arrive within this; else Wiener."""


def deblur_preview_method(cache: EngineCache, region: tuple[int, int, int, int], settings: RestoreSettings, *,
                          final: bool, fast_precision: str | None = None) -> str:
    """'deep' or 'wiener': how the Deblur preview of ``region`` is made.

    Wiener while a slider moves (instant); on release the deep method itself, at reduced
    iterations, when this machine's measured speed says it arrives within a few seconds (a
    zoomed-in view); a whole 12 MP photo at fit stays Wiener until applied.
    """
    if not final or settings.deblur_method != "deep" or not settings.kernel_spec:
        return "wiener"
    from app.engine.deblur import deblur_margin
    from app.physics.kernels import kernel_from_spec

    kernel = kernel_from_spec(settings.kernel_spec)
    margin = deblur_margin(kernel.shape[0])
    shape = (region[3] + 2 * margin, region[2] + 2 * margin)
    deblurrer = cache.deblurrer(settings, fast_precision)
    seconds = deblurrer.estimate_seconds(shape, kernel, "deep", DEEP_PREVIEW_ITERATIONS, tile=0)
    return "deep" if seconds is not None and seconds <= DEEP_PREVIEW_SECONDS else "wiener"


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
    deblur_method: str = "wiener",
    level_choice: LevelChoice | None = None,
) -> np.ndarray:
    """Restore only ``region`` (x, y, w, h) from full-resolution pixels, with context around it.

    ``noise_level`` is the photo's measured noise (0-255, estimated once per photo); a level
    the user set in ``settings`` wins, exactly as in the full run. ``level_choice``: that
    measurement itself, when Denoise's automatic level made it, so camera noise follows
    brightness here as it does in the full run. ``downscale`` > 1 is the
    approximate denoise path used while a slider is dragged on a zoomed-out view: the region is
    shrunk (area average, which also lowers white noise by the same factor), restored, and the
    caller shows it stretched back; the faithful result follows on release. ``deblur_method``:
    the Deblur preview's method (see :func:`deblur_preview_method`).
    """
    if settings.operation == "deblur" and not learned_deblur(settings.model):
        return _deblur_region(cache, rgb, region, settings, noise_level, cancelled, deblur_method, fast_precision)
    from app.engine.tiling import Box

    denoiser = cache.denoiser(settings, fast_precision)
    model = denoiser.model
    margin = model.tile_margin  # the same context as one tile of the full run
    x, y, width, height = region
    crop = extract(rgb, Box(y, y + height, x, x + width), margin, model.size.multiple)
    sigma = None if model.blind else settings.noise_level if settings.noise_level is not None else noise_level
    choice = level_choice if sigma is not None and settings.noise_level is None and level_choice is not None else None
    if downscale > 1:
        crop = cv2.resize(crop, (crop.shape[1] // downscale, crop.shape[0] // downscale), interpolation=cv2.INTER_AREA)
        sigma = None if sigma is None else sigma / downscale
        choice = None if choice is None else dataclasses.replace(choice, sigma=choice.sigma / downscale)
    out = denoiser.denoise(crop, noise_level=None if choice is not None else sigma, choice=choice,
                           strength=settings.strength, tile=0, detail=settings.detail,
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
    method: str = "wiener",
    fast_precision: str | None = None,
) -> np.ndarray:
    """The Deblur preview at full resolution (a blur kernel does not survive shrinking).

    Wiener, or 'deep' at DEEP_PREVIEW_ITERATIONS with the fast prior. Same noise level rule
    (the 2.2 floor), same regularisation and the same context as one tile of the full run, and
    the photo's own edges treated as the full run treats them (real context only, never
    mirrored), so the patch is what Deblur with that method gives there.
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
    if method == "deep":
        out = cache.deblurrer(settings, fast_precision).deblur(
            crop, kernel, method="deep", noise_level=level, strength=settings.strength, tile=0, cancelled=cancelled,
            iterations=DEEP_PREVIEW_ITERATIONS).pixels
    else:
        out = cache.deblurrer(settings).deblur(
            crop, kernel, method="wiener", noise_level=level, strength=settings.strength, tile=0, cancelled=cancelled,
        ).pixels
    return out[y - top : y - top + height, x - left : x - left + width]
