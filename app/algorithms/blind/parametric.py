"""Parametric fits of an estimated kernel: straight motion (length, angle) and defocus (radius).

A general kernel estimate is noisy in its details; when the blur really is a straight camera
move or a defocus disk, the two or one numbers of the parametric model are far more reliable
than the ~1000 free kernel values, and the user gets a spec they can read and edit
('motion:14.8,31.2'). Fits start from the kernel's second moments (principal axis and spread)
and are refined by a local grid search that minimises the squared difference between slightly
smoothed kernels (smoothing makes the comparison tolerant to the estimate's 1-px jitter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from app.physics.kernels import defocus_kernel, motion_kernel


@dataclass(frozen=True)
class ParametricFit:
    """A parametric kernel matched to an estimate: its parameters, the kernel and the mismatch."""

    kind: str  # 'motion' or 'defocus'
    params: dict[str, float]
    kernel: np.ndarray  # float64 on the estimate's canvas, sum 1
    mismatch: float  # ||smooth(fit) - smooth(estimate)||^2 / ||smooth(estimate)||^2


def on_canvas(kernel: np.ndarray, side: int) -> np.ndarray:
    """Centre-pad or centre-crop an odd kernel to ``side`` x ``side`` (float64, renormalised)."""
    kernel = np.asarray(kernel, np.float64)
    n = kernel.shape[0]
    if n < side:
        pad = (side - n) // 2
        kernel = np.pad(kernel, pad)
    elif n > side:
        cut = (n - side) // 2
        kernel = kernel[cut : cut + side, cut : cut + side]
    total = kernel.sum()
    return kernel / total if total > 0 else kernel


def _smooth(kernel: np.ndarray) -> np.ndarray:
    """Gaussian (sigma 1 px) smoothed copy: compares shapes, not exact pixel positions."""
    return cv2.GaussianBlur(kernel.astype(np.float64), (0, 0), 1.0, borderType=cv2.BORDER_CONSTANT)


def moments(kernel: np.ndarray) -> tuple[float, float, float]:
    """(major std, minor std, angle of the major axis in the kernels.py convention, degrees)."""
    side = kernel.shape[0]
    rows, cols = np.mgrid[0:side, 0:side].astype(np.float64)
    total = kernel.sum()
    mr = float((rows * kernel).sum() / total)
    mc = float((cols * kernel).sum() / total)
    dr, dc = rows - mr, cols - mc
    crr = float((dr * dr * kernel).sum() / total)
    ccc = float((dc * dc * kernel).sum() / total)
    crc = float((dr * dc * kernel).sum() / total)
    values, vectors = np.linalg.eigh(np.array([[ccc, crc], [crc, crr]]))
    major = vectors[:, 1]  # (col, row) of the larger eigenvalue
    angle = math.degrees(math.atan2(-major[1], major[0])) % 180.0
    return math.sqrt(max(values[1], 0.0)), math.sqrt(max(values[0], 0.0)), angle


def _mismatch(candidate: np.ndarray, target_smooth: np.ndarray, norm: float) -> float:
    """Relative squared difference of the smoothed candidate and the smoothed estimate."""
    diff = _smooth(candidate) - target_smooth
    return float((diff * diff).sum()) / norm


def fit_motion(kernel: np.ndarray, max_length: float | None = None) -> ParametricFit:
    """The straight motion blur (length px, angle degrees) closest to ``kernel``."""
    side = kernel.shape[0]
    max_length = float(max_length or side)
    target = _smooth(kernel)
    norm = float((target * target).sum())
    major, _, angle0 = moments(kernel)
    length0 = min(max(math.sqrt(12.0) * major, 1.0), max_length)

    def cost(length: float, angle: float) -> float:
        return _mismatch(on_canvas(motion_kernel(length, angle), side), target, norm)

    # Global coarse grid (robust to a halo that biases the moments), plus the moment guess.
    starts = [(cost(length0, angle0), length0, angle0)]
    for length in np.arange(3.0, max_length + 1e-9, 2.0):
        for angle in np.arange(0.0, 180.0, 6.0):
            starts.append((cost(float(length), float(angle)), float(length), float(angle)))
    starts.sort()
    best = starts[0]
    for start in starts[:3]:
        candidate = start
        # Local search with shrinking steps around the best so far.
        for d_len, d_ang, reach in ((1.0, 3.0, 2), (0.5, 1.0, 2), (0.25, 0.5, 1)):
            _, l_c, a_c = candidate
            for i in range(-reach, reach + 1):
                for j in range(-reach, reach + 1):
                    length = min(max(l_c + i * d_len, 1.0), max_length)
                    angle = (a_c + j * d_ang) % 180.0
                    value = cost(length, angle)
                    if value < candidate[0]:
                        candidate = (value, length, angle)
        if candidate[0] < best[0]:
            best = candidate
    value, length, angle = best
    params = {"length": round(float(length), 2), "angle": round(float(angle) % 180.0, 1)}
    return ParametricFit("motion", params, on_canvas(motion_kernel(length, angle), side), value)


def fit_defocus(kernel: np.ndarray, max_radius: float | None = None) -> ParametricFit:
    """The defocus disk (radius px) closest to ``kernel``."""
    side = kernel.shape[0]
    max_radius = float(max_radius or side / 2.0)
    target = _smooth(kernel)
    norm = float((target * target).sum())
    major, minor, _ = moments(kernel)
    radius0 = min(max(math.sqrt(2.0 * (major * major + minor * minor)), 0.5), max_radius)

    def cost(radius: float) -> float:
        return _mismatch(on_canvas(defocus_kernel(radius), side), target, norm)

    best = min([(cost(radius0), radius0)] + [(cost(r), r) for r in np.arange(1.0, max_radius + 1e-9, 1.0)])
    for step, reach in ((0.5, 2), (0.25, 2), (0.05, 4)):
        centre = best[1]
        for i in range(-reach, reach + 1):
            radius = min(max(centre + i * step, 0.5), max_radius)
            value = cost(radius)
            if value < best[0]:
                best = (value, radius)
    value, radius = best
    return ParametricFit("defocus", {"radius": round(float(radius), 2)}, on_canvas(defocus_kernel(radius), side), value)
