"""The denoise operation as a RestoreFunction, so files and batches share one path."""

from __future__ import annotations

from typing import Any

import numpy as np

from app.engine.denoise import Denoiser
from app.pipeline.process_file import Cancelled, Progress, RestoreFunction


def denoise_operation(
    denoiser: Denoiser,
    *,
    noise_level: float | None,
    strength: float,
    tile: int | None,
    use_noise_map: bool = False,
) -> RestoreFunction:
    """Bind denoise settings; the noise level is estimated per photo when ``noise_level`` is None."""

    def restore(rgb: np.ndarray, progress: Progress | None, cancelled: Cancelled | None) -> tuple[np.ndarray, dict[str, Any]]:
        result = denoiser.denoise(
            rgb,
            noise_level=noise_level,
            strength=strength,
            tile=tile,
            use_noise_map=use_noise_map,
            progress=progress,
            cancelled=cancelled,
        )
        details = {
            "sigma": result.sigma,
            "estimated_sigma": None if result.estimate is None else result.estimate.sigma,
            "tile": result.tile,
            "device": result.device,
            "precision": result.precision,
            "messages": result.messages,
        }
        return result.pixels, details

    return restore
