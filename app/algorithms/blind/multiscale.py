"""Coarse-to-fine blind estimation of a general blur kernel (the engine of ``--kernel auto``).

Pyramid of the (luminance) photo with the kernel canvas shrinking by sqrt(2) per level down to
about 5 px. At each level a few alternations of

1. latent image: L0-gradient-regularised deconvolution with the current kernel (HQS in Fourier,
   :func:`app.algorithms.blind.latent.l0_latent`), its gradients thinned to the strongest edges
   in every orientation, the threshold relaxed by 1.1 per alternation (Cho & Lee 2009, Pan et
   al. 2014);
2. kernel: gradient-domain least squares with a Tikhonov term on a fixed square support, solved
   non-negative with a small L1 (sparsity) weight
   (:func:`app.algorithms.blind.kernel_solve.solve_kernel`), then cleaned (thresholded,
   connected, centred on its centroid, sum 1);

with the L0 weight decaying by 1.1 per alternation down to a floor (Pan et al. 2014). The kernel
is magnified to the next level's canvas between levels. After the pyramid, a few *refinement*
alternations at full resolution use a lower L0 weight and all latent gradients: the pyramid finds
the kernel's shape, the refinement its detail (it roughly halves the error ratio measured with
the deep deconvolution, see benchmarks/results/blind.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from app.algorithms.blind.kernel_solve import clean_kernel, rescale_kernel, solve_kernel, taper_window
from app.algorithms.blind.latent import edge_threshold, gradients, l0_latent, periodic_pad, select_edges
from app.errors import CancelledError

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass(frozen=True)
class MultiscaleSettings:
    """Knobs of the coarse-to-fine loop; the defaults are the tuned ones (benchmarks/results/blind.md)."""

    level_ratio: float = 1.0 / math.sqrt(2.0)  # image/kernel scale between levels
    coarsest_side: int = 5  # kernel canvas at the coarsest level (px)
    min_image_side: int = 0  # skip levels whose image would be shorter than this (px; 0: none)
    iterations: int = 5  # latent/kernel alternations per level
    l0_weight: float = 4e-3  # initial L0 gradient weight (0-1 intensities)
    l0_decay: float = 1.1  # divided by this after every alternation
    l0_floor: float = 5e-4
    gamma: float = 20.0  # Tikhonov weight of the kernel (Anger et al., IPOL 2019)
    edge_count: float = 20.0  # keep >= edge_count * kernel side latent gradients per orientation (0: all)
    edge_decay: float = 1.1  # the edge threshold is divided by this after every alternation
    sparsity: float = 0.03  # L1 weight of the non-negative kernel solve (0: Tikhonov least squares + CG)
    refine_iterations: int = 3  # extra alternations at full resolution after the pyramid
    refine_weight: float = 2e-4  # their L0 weight (lower: the latent keeps finer edges)
    refine_edges: bool = False  # keep the edge selection during refinement
    peak_fraction: float = 0.05  # kernel values under this fraction of the peak are zeroed


@dataclass
class MultiscaleResult:
    """The final kernel (float64, canvas side) plus what the confidence measure needs."""

    kernel: np.ndarray
    previous: np.ndarray  # the kernel one alternation earlier (for stability)
    latent_grads: tuple[np.ndarray, np.ndarray]
    blurred_grads: tuple[np.ndarray, np.ndarray]
    history: list[np.ndarray] = field(default_factory=list)
    grid: np.ndarray | None = None  # the finest level's periodically padded blurred crop
    window: np.ndarray | None = None  # its taper window (1 inside, 0 in the padding)
    weight: float = 0.0  # the L0 weight of the last alternation


def _odd(value: float) -> int:
    """The nearest odd integer >= 3 at or above ``value``."""
    side = max(3, int(math.ceil(value)))
    return side if side % 2 else side + 1


def level_sides(side: int, settings: MultiscaleSettings) -> list[tuple[float, int]]:
    """(image scale, kernel canvas side) from coarsest to finest."""
    levels = []
    scale = 1.0
    while True:
        levels.append((scale, _odd(side * scale) if scale < 1.0 else side))
        if side * scale <= settings.coarsest_side + 1e-9:
            break
        scale *= settings.level_ratio
    return levels[::-1]


def _resize(image: np.ndarray, scale: float) -> np.ndarray:
    """Area-downscaled image (anti-aliased, as a coarser sensor would see it)."""
    if scale >= 1.0:
        return image
    rows, cols = image.shape
    size = (max(8, round(cols * scale)), max(8, round(rows * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def estimate_general(
    luma: np.ndarray,
    side: int,
    settings: MultiscaleSettings = MultiscaleSettings(),
    *,
    progress: ProgressFn | None = None,
    cancelled: CancelFn | None = None,
) -> MultiscaleResult:
    """Estimate an odd ``side`` x ``side`` kernel from a blurred luminance crop (coarse to fine)."""
    levels = level_sides(side, settings)
    if settings.min_image_side > 0:
        shortest = min(luma.shape)
        usable = [level for level in levels if level[0] * shortest >= settings.min_image_side]
        levels = usable or levels[-1:]
    total_steps = len(levels) * settings.iterations + settings.refine_iterations
    step = 0
    weight = settings.l0_weight
    kernel = None
    previous = None
    prev_scale = None
    history: list[np.ndarray] = []
    for scale, k_side in levels:
        image = _resize(luma, scale)
        if kernel is None:
            kernel = np.zeros((k_side, k_side))
            c = k_side // 2
            kernel[c, c - 1 : c + 1] = 0.5  # Pan et al.'s start: a 2-px blur
        else:
            kernel = rescale_kernel(kernel, scale / prev_scale, k_side)
        prev_scale = scale
        pad = k_side + 8
        grid, offset = periodic_pad(image, pad)
        window = taper_window(grid.shape, (offset, offset, image.shape[0], image.shape[1]), k_side)
        bx, by = gradients(grid)
        blurred_grads = (bx * window, by * window)
        keep = max(10, int(settings.edge_count * k_side))
        threshold = None
        for _ in range(settings.iterations):
            if cancelled is not None and cancelled():
                raise CancelledError("kernel estimation cancelled")
            latent = l0_latent(grid, kernel.astype(np.float32), weight)
            last_weight = weight
            px, py = gradients(latent)
            px, py = px * window, py * window
            if settings.edge_count > 0:
                if threshold is None:
                    threshold = edge_threshold(px, py, keep)
                px, py = select_edges(px, py, threshold)
                threshold /= settings.edge_decay
            previous = kernel
            raw = solve_kernel((px, py), blurred_grads, k_side, settings.gamma, start=kernel, sparsity=settings.sparsity)
            kernel = clean_kernel(raw, settings.peak_fraction)
            weight = max(weight / settings.l0_decay, settings.l0_floor)
            step += 1
            if progress is not None:
                progress(step, total_steps)
        history.append(kernel)
    for _ in range(settings.refine_iterations):
        if cancelled is not None and cancelled():
            raise CancelledError("kernel estimation cancelled")
        latent = l0_latent(grid, kernel.astype(np.float32), settings.refine_weight)
        last_weight = settings.refine_weight
        px, py = gradients(latent)
        px, py = px * window, py * window
        if settings.refine_edges and threshold is not None:
            px, py = select_edges(px, py, threshold)
        previous = kernel
        raw = solve_kernel((px, py), blurred_grads, k_side, settings.gamma, start=kernel, sparsity=settings.sparsity)
        kernel = clean_kernel(raw, settings.peak_fraction)
        step += 1
        if progress is not None:
            progress(step, total_steps)
    assert kernel is not None and previous is not None
    return MultiscaleResult(kernel, previous, (px, py), blurred_grads, history, grid, window, last_weight)
