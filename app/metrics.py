"""Image quality figures shared by tests and benchmarks: one PSNR, one convention.

PSNR is computed in float64 on images in [0, 1] (peak 1), over every pixel and channel; identical
images give infinity.
"""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1] of the same shape."""
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"PSNR of images of different shapes {a64.shape} and {b64.shape}")
    mse = float(np.mean((a64 - b64) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
