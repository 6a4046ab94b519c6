"""Plug-and-play deblurring: half-quadratic splitting with FFDNet as the image prior (DPIR).

Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior" (TPAMI 2021). The model
is ``y = valid(k * x) + n`` (see :mod:`app.algorithms.boundary`): the photo is the part of the
blurred scene the sensor saw. Each iteration ``k`` alternates

* a data step solved in closed form with FFTs on a padded grid whose band is unknown and
  refreshed from the current estimate: ``x = IFFT((conj(K) Y + rho_k Z) / (|K|^2 + rho_k))``;
* a prior step ``z = FFDNet(x, sigma_k)``: the denoiser removes what the data step amplified.

``sigma_k`` falls log-spaced from 49/255 to the noise level (floored), ``rho_k = c sigma^2 /
sigma_k^2``. Geometric self-ensemble (flips/rotations of the grid, which keep FFDNet's 2x2 blocks
as blocks because the grid sides are even) is used in two cheap ways: one transform per
iteration, cycling through the 8 (free), and optionally the average of several transforms in the
last iterations (costs one extra denoiser call per transform and iteration).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.algorithms.boundary import PaddedGrid
from app.errors import CancelledError

DenoiseFunction = Callable[[np.ndarray, float], np.ndarray]
"""(image HxWx3 float32, sigma on the 0-1 scale) -> denoised HxWx3 float32."""

SIGMA_START = 49.0 / 255.0
SIGMA_FLOOR = 0.255 / 255.0


@dataclass(frozen=True)
class DpirSettings:
    """Knobs of the HQS loop; the defaults are the tuned ones (see benchmarks/results/deblur.md)."""

    iterations: int = 8
    sigma_start: float = SIGMA_START  # first denoiser strength (0-1 scale)
    sigma_floor: float = SIGMA_FLOOR  # lowest noise level used for the schedule (0-1 scale)
    rho_scale: float = 0.23  # rho_k = rho_scale * sigma^2 / sigma_k^2
    end_scale: float = 1.0  # the last denoiser strength is end_scale * sigma
    refresh_steps: int = 24  # CG steps (or band refreshes) per data step, towards the exact masked solve
    cycle_transforms: bool = True  # one of the 8 flips/rotations per iteration, cycling
    ensemble: int = 1  # transforms averaged in the last ``ensemble_last`` iterations (1, 2, 4 or 8)
    ensemble_last: int = 0
    guard: int = 8  # extra free band around the kernel reach (px)
    solver: str = "cg"  # "cg": preconditioned conjugate gradients; "em": band refreshes; "fixed": no refresh
    band_weight: float = 0.0  # cg: weight of the band pseudo-observation k * z (0 = exact masked solve)
    tolerance: float = 0.01  # cg: stop once the residual fell by this factor (0 = always ``refresh_steps``)

    def denoiser_calls(self) -> int:
        """How many denoiser passes one run makes (for progress and cost estimates)."""
        heavy = min(self.ensemble_last, self.iterations) if self.ensemble > 1 else 0
        return self.iterations + heavy * (self.ensemble - 1)


def hqs_schedule(noise_sigma: float, settings: DpirSettings = DpirSettings()) -> list[tuple[float, float]]:
    """(sigma_k, rho_k) per iteration, 0-1 scale: log-spaced denoiser strengths and matching penalties.

    Early iterations trust the prior (large sigma_k, small rho), late ones the data; stopping at the
    noise level is what keeps the result from being over-smoothed.
    """
    sigma = max(float(noise_sigma), settings.sigma_floor)
    end = max(sigma * settings.end_scale, 1e-6)
    count = max(1, int(settings.iterations))
    start = max(settings.sigma_start, end)
    if count == 1:
        sigmas = [end]
    else:
        sigmas = list(np.logspace(math.log10(start), math.log10(end), count))
    return [(float(s), float(settings.rho_scale * sigma * sigma / (s * s))) for s in sigmas]


def dihedral(image: np.ndarray, index: int) -> np.ndarray:
    """One of the 8 flips/rotations of an HxWxC image (index 0 is the identity)."""
    out = np.rot90(image, index % 4, axes=(0, 1))
    return out[:, ::-1] if index >= 4 else out


def dihedral_inverse(image: np.ndarray, index: int) -> np.ndarray:
    """Undo :func:`dihedral` with the same index."""
    if index >= 4:
        image = image[:, ::-1]
    return np.rot90(image, -(index % 4), axes=(0, 1))


ENSEMBLE_ORDER = (0, 5, 2, 7, 1, 4, 3, 6)
"""Order transforms are added to an ensemble: x2 = identity + transpose-like, x4 adds the 180° pair."""


def _denoise_with_transforms(denoise: DenoiseFunction, image: np.ndarray, sigma: float, indices: list[int]) -> np.ndarray:
    """Average of the denoiser run on each transform of ``image`` (undone again)."""
    total = None
    for index in indices:
        out = dihedral_inverse(denoise(np.ascontiguousarray(dihedral(image, index)), sigma), index)
        total = out.astype(np.float32, copy=True) if total is None else total + out
    assert total is not None
    if len(indices) > 1:
        total *= 1.0 / len(indices)
    return total


def dpir_deconvolve(
    observed: np.ndarray,
    kernel: np.ndarray,
    denoise: DenoiseFunction,
    noise_sigma: float,
    settings: DpirSettings = DpirSettings(),
    *,
    step: Callable[[], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> np.ndarray:
    """Deblur an HxWx3 float32 photo (or tile) blurred by ``kernel``; returns the same size.

    ``noise_sigma`` is on the 0-1 scale. ``step`` is called after every denoiser pass (progress)
    and ``cancelled`` is polled before each, raising :class:`CancelledError`.
    """
    observed = np.ascontiguousarray(observed, dtype=np.float32)
    height, width = observed.shape[:2]
    grid = PaddedGrid.for_image(height, width, kernel, settings.guard)
    full = grid.embed(observed)  # observation on the grid, band = first guess
    estimate = full.copy()
    estimate_spectrum = grid.spectrum(estimate)
    schedule = hqs_schedule(noise_sigma, settings)
    heavy_from = len(schedule) - min(settings.ensemble_last, len(schedule)) if settings.ensemble > 1 else len(schedule)
    for it, (sigma_k, rho) in enumerate(schedule):
        # Data step, refreshing the unknown band from the current estimate blurred by k.
        x = grid.masked_solve(
            observed,
            rho,
            prior_spectrum=estimate_spectrum,
            full=full if it == 0 or settings.solver == "fixed" else None,
            steps=max(0, settings.refresh_steps - 1) if settings.solver == "em" else settings.refresh_steps,
            method="em" if settings.solver == "fixed" else settings.solver,
            band_weight=settings.band_weight,
            tolerance=settings.tolerance,
        )
        # Prior step.
        if cancelled is not None and cancelled():
            raise CancelledError("cancelled")
        if it >= heavy_from:
            indices = [(ENSEMBLE_ORDER[j] + it) % 8 if settings.cycle_transforms else ENSEMBLE_ORDER[j] for j in range(settings.ensemble)]
            indices = list(dict.fromkeys(indices))
        else:
            indices = [it % 8 if settings.cycle_transforms else 0]
        estimate = _denoise_with_transforms(denoise, x, sigma_k, indices)
        estimate_spectrum = grid.spectrum(estimate)
        if step is not None:
            for _ in indices:
                step()
    return grid.crop(estimate)
