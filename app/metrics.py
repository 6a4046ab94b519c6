"""Image quality figures shared by the app, tests and benchmarks: one PSNR.

Every PSNR in the project, the self-test's included, comes from :func:`psnr`. The conventions that
figures in ``benchmarks/RESULTS.md`` depend on are its keywords, so a benchmark says which one it
uses at the call, not in a private copy of the formula.
"""

from __future__ import annotations

import math

import numpy as np


def psnr(a: np.ndarray, b: np.ndarray, *, clip: bool = False, quantize_8bit: bool = False, border: int = 0) -> float:
    """Peak signal-to-noise ratio in dB of a result ``a`` against a reference ``b``, images in [0, 1].

    Always: both images are taken in float64 (whatever their dtype), the peak is 1.0, and the mean
    squared error is over every pixel and every channel together (no luma-only or per-channel
    average). ``a`` and ``b`` must have the same shape (no broadcasting). Identical images give
    ``math.inf``. The options change ``a`` only, except ``border``; the reference is used as given.

    ``clip``: clip ``a`` to [0, 1] first. For float results that can leave the range (the detail and
    colour-noise finish, the IPOL reference implementation) and are scored as the app would
    show and save them, without the 8-bit rounding (``bench_finish``, ``bench_speed``).

    ``quantize_8bit``: clip ``a`` to [0, 1] and round it to the nearest of the 256 levels of an
    8-bit file (``round(a * 255) / 255``, half to even), as the published DPIR / FFDNet benchmarks
    score their outputs and as a saved photo would be. The denoising and deblurring quality tables
    (``bench_quality``, ``bench_deblur``) and the self-test use it, so their figures are comparable
    with the published ones. The reference is not rounded: it is already an 8-bit image read as
    ``k / 255``. The rounding is done in float64, as ``bench_quality``'s figures were made; the
    app's writer rounds a float32 result in float32, which puts about one value in 10^5 (those
    within float32 precision of a half level) on the neighbouring level, a few 1e-6 dB.

    ``border``: leave out a band of ``border`` pixels along every edge of both images (rows and
    columns, axes 0 and 1). Deblurring results are compared away from the border band, where the
    unknown scene outside the frame leaves the result undetermined (the deblurring tests); 0 scores
    the whole image.
    """
    a64 = np.asarray(a, dtype=np.float64)
    b64 = np.asarray(b, dtype=np.float64)
    if a64.shape != b64.shape:
        raise ValueError(f"PSNR of images of different shapes {a64.shape} and {b64.shape}")
    if border:
        if border < 0 or a64.ndim < 2 or 2 * border >= min(a64.shape[:2]):
            raise ValueError(f"border {border} does not leave any of a {a64.shape} image")
        a64 = a64[border:-border, border:-border]
        b64 = b64[border:-border, border:-border]
    if quantize_8bit:
        a64 = np.clip(np.round(a64 * 255.0), 0.0, 255.0) / 255.0
    elif clip:
        a64 = np.clip(a64, 0.0, 1.0)
    mse = float(np.mean((a64 - b64) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
