"""A small grey picture of a blur kernel for the window's kernel preview (Qt-free: a uint8 array).

Kernels are tiny (a 15 x 15 motion blur) and most of their weight sits in a few pixels, so the
preview enlarges them by whole-pixel blocks (nearest neighbour, no smoothing, so each kernel pixel
stays a crisp square) and stretches the contrast with a gamma so faint tails and thin 1-pixel
paths stay visible. It uses the kernel's own orientation (row 0 at the top, see
:mod:`app.physics.kernels`), which is how a point light is smeared in the photo.
"""

from __future__ import annotations

import numpy as np

from app.physics.kernels import KernelError

PREVIEW_GAMMA = 0.5


def stretch_kernel(kernel: np.ndarray, gamma: float = PREVIEW_GAMMA) -> np.ndarray:
    """Kernel weights as uint8 grey levels: (k / max k) ** gamma * 255, negatives shown as black.

    Split out so callers (and tests) know exactly which grey levels a preview can contain.
    """
    data = _checked(kernel)
    data = np.maximum(data, 0.0)
    peak = data.max()
    if peak <= 0:
        return np.zeros(data.shape, np.uint8)
    return np.rint((data / peak) ** gamma * 255.0).astype(np.uint8)


def kernel_preview(kernel: np.ndarray, size: int = 128, gamma: float = PREVIEW_GAMMA) -> np.ndarray:
    """A ``size`` x ``size`` uint8 grey preview of any kernel, centred on a black background.

    Each kernel pixel becomes an equal square block (the largest whole factor that fits), so the
    picture is sharp and only contains the stretched kernel's own grey levels. A kernel larger than
    ``size`` is first reduced by taking the maximum of each block, so thin paths never vanish.
    Negative values (an estimate in progress) show as black; an all-zero kernel is all black.
    """
    if int(size) != size or size < 1:
        raise ValueError(f"preview size must be a positive integer, got {size!r}")
    size = int(size)
    grey = stretch_kernel(kernel, gamma)
    rows, cols = grey.shape
    shrink = -(-max(rows, cols) // size)  # ceil division
    if shrink > 1:
        padded = np.zeros((-(-rows // shrink) * shrink, -(-cols // shrink) * shrink), np.uint8)
        padded[:rows, :cols] = grey
        grey = padded.reshape(padded.shape[0] // shrink, shrink, padded.shape[1] // shrink, shrink).max(
            axis=(1, 3)
        )
        rows, cols = grey.shape
    factor = max(1, size // max(rows, cols))
    enlarged = np.repeat(np.repeat(grey, factor, axis=0), factor, axis=1)
    preview = np.zeros((size, size), np.uint8)
    top, left = (size - enlarged.shape[0]) // 2, (size - enlarged.shape[1]) // 2
    preview[top : top + enlarged.shape[0], left : left + enlarged.shape[1]] = enlarged
    return preview


def _checked(kernel: np.ndarray) -> np.ndarray:
    """The kernel as float64 if it can be drawn at all (2-D, non-empty, finite numbers)."""
    data = np.asarray(kernel)
    if data.dtype == object or np.iscomplexobj(data):
        raise KernelError(f"cannot preview a kernel of {data.dtype} values")
    if data.ndim != 2 or data.size == 0:
        raise KernelError(f"cannot preview a kernel of shape {data.shape}: it must be a non-empty 2-D array")
    data = data.astype(np.float64)
    if not np.isfinite(data).all():
        raise KernelError("cannot preview a kernel that contains NaN or infinite values")
    return data
