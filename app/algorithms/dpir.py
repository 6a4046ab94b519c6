"""Plug-and-play deblurring: half-quadratic splitting with FFDNet as the image prior (DPIR).

Zhang et al., "Plug-and-Play Image Restoration with Deep Denoiser Prior" (TPAMI 2021). The model
is ``y = valid(k * x) + n`` (see :mod:`app.algorithms.boundary`): the photo is the part of the
blurred scene the sensor saw, and the sharp image is estimated on a larger FFT grid. Each
iteration ``k`` alternates

* a data step ``x = argmin ||M (k * x) - y||^2 + rho_k ||x - z||^2`` where ``M`` keeps only the
  observed pixels: started from the closed-form FFT solve ``(conj(K) Y + rho_k Z) / (|K|^2 +
  rho_k)`` with the unknown band filled by ``k * z``, then a few preconditioned conjugate-gradient
  steps towards the exact masked solution (no ringing from the borders, and the border pixels
  are not pulled towards made-up data);
* a prior step ``z = FFDNet(x, s_k)``: the denoiser removes what the data step amplified. Its
  level ``s_k`` is a per-pixel map: ``denoiser_scale x sigma_k`` where the data term reaches fully,
  falling towards ``(1 - border_relief)`` of that in the band round the photo, where the kernel
  lands partly or wholly on unobserved pixels. There the data step adds little new noise (the
  estimate stays near the last prior output), so the full level over-smoothed the photo's outer
  band, which ended 3.5-4.5 dB below the interior. Measured at sigma 7.65 (first 2 CBSD68 images x
  8 Levin kernels): relief 0.6 +0.06 dB mean, 0.3 +0.04, 0.9 -0.01; with denoiser_scale 0.95
  together +0.10 (10 images: 28.78 -> 28.86 dB; at 2.55 32.59 -> 32.60).

``sigma_k`` falls log-spaced from 100/255 to the noise level (floored), ``rho_k = 0.23 sigma^2 /
sigma_k^2``. DPIR starts at 49/255 (tuned for DRUNet); with FFDNet, the level map above and the
masked data step, a stronger first prior step pays. Measured on CBSD68 images 10-13 x 8 Levin
kernels, which the target benchmark (images 0-9) never uses: a start of 60 / 75 / 100 gave
+0.035 / +0.061 / +0.076 dB at sigma 7.65, and 75 / 100 gave +0.09 / +0.10 dB at 2.55 (images
10-11). FFDNet was trained on levels up to 75/255, but the level is only an input map and the
first step just needs strong smoothing (at 2.55 no case lost more than 0.06 dB). Full benchmark
(images 0-9): 28.86 -> 28.91 dB at 7.65, 32.60 -> 32.66 at 2.55, for about 14% more time (261 s
vs 228 s on the same 32 cases; likely more CG steps while rho is small). The constant 0.23
(0.18-0.3: -0.13 to -0.47 dB) stays at DPIR's value. The iteration count is 7, not DPIR's 8,
and the first prior step runs at half resolution: deblurring must cost at most 5 denoiser
passes, and of the cuts measured these lose least (benchmarks/results/deblur.md). Each
iteration runs the denoiser on one of the 8 flips/rotations of the grid, cycling (free; the
grid sides are even, so FFDNet's 2x2 blocks stay blocks). Averaging several
transforms per iteration is available but measured little gain with FFDNet here (x8 in the last
iteration: +0.009 dB on images 10-13 at 7.65, for 1.9x the denoiser calls), so it is off.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch

from app.algorithms.boundary import PaddedGrid, from_planes, to_planes
from app.errors import CancelledError

DenoiseFunction = Callable[[np.ndarray, "float | np.ndarray"], np.ndarray]
"""(image HxWx3 float32, sigma on the 0-1 scale: a scalar or an HxW map) -> denoised HxWx3 float32.

A denoiser with a ``run_planes(planes, sigma)`` method (:class:`app.engine.runner.ModelRunner`)
is called with 3 x H x W tensors instead, on its own ``device``, so the loop never leaves it."""
PlanesDenoiser = Callable[[torch.Tensor, "float | torch.Tensor"], torch.Tensor]

SIGMA_START = 100.0 / 255.0
SIGMA_FLOOR = 0.255 / 255.0


BOUNDARIES = ("masked", "refresh", "periodic")


@dataclass(frozen=True)
class DpirSettings:
    """Knobs of the HQS loop; the defaults are the tuned ones (see benchmarks/results/deblur.md)."""

    iterations: int = 7
    sigma_start: float = SIGMA_START  # first denoiser strength (0-1 scale)
    sigma_floor: float = SIGMA_FLOOR  # lowest noise level used for the schedule (0-1 scale)
    rho_scale: float = 0.23  # rho_k = rho_scale * sigma^2 / sigma_k^2
    end_scale: float = 1.0  # the last denoiser strength is end_scale * sigma
    # The denoiser is told denoiser_scale * sigma_k (FFDNet's best level on the data step's output
    # is a little under the schedule's: 0.93-0.97 measured +0.05-0.07 dB at sigma 7.65, 1.05 -0.13).
    denoiser_scale: float = 0.95
    # ... scaled down by (1 - border_relief * (1 - coverage)) where only part of a pixel's light
    # reaches observed pixels (coverage < 1: the border band; 0 far out in the unknown band).
    border_relief: float = 0.6
    # Border model: "masked" = only observed pixels in the data term, solved by CG (the default);
    # "refresh" = refresh the band from the estimate ``refresh_steps`` times per data step (EM);
    # "periodic" = the band keeps its first smooth periodic fill (plain padding, for comparison).
    boundary: str = "masked"
    cg_steps: int = 16  # at most this many CG steps per data step ...
    cg_tolerance: float = 0.05  # ... fewer once the residual fell by this factor
    refresh_steps: int = 1
    cycle_transforms: bool = True  # one of the 8 flips/rotations per iteration, cycling (free)
    ensemble: int = 1  # transforms averaged (1, 2, 4 or 8) in the last ``ensemble_last`` iterations
    ensemble_last: int = 0
    guard: int = 8  # extra free band beyond the kernel reach (px)
    # The first ``fast_iterations`` prior steps may use a faster, slightly less exact denoiser
    # (int8 or half precision, when the caller offers one): they only need coarse structure, and
    # the last step, which makes the result, keeps the exact one.
    fast_iterations: int = 7
    # The first ``half_iterations`` prior steps run on the grid at half resolution (2x2 means,
    # bilinear back up), told ``half_level_scale`` x their level (the means carry less noise): the
    # strongest step keeps only coarse structure, which a quarter of the pixels hold. Never the last.
    half_iterations: int = 1
    half_level_scale: float = 0.7

    def denoiser_calls(self) -> int:
        """How many denoiser calls one run makes (progress steps; for time see :meth:`pass_cost`)."""
        return self.iterations + len(self.heavy_iterations()) * (max(1, self.ensemble) - 1)

    def pass_cost(self) -> float:
        """Denoiser passes at full resolution one run costs (a half-resolution pass is a quarter of one)."""
        half = min(max(0, self.half_iterations), max(0, self.iterations - 1))
        heavy = self.heavy_iterations()
        calls = [max(1, self.ensemble) if it in heavy else 1 for it in range(self.iterations)]
        return float(sum(c * (0.25 if it < half else 1.0) for it, c in enumerate(calls)))

    def heavy_iterations(self) -> set[int]:
        """Indices of the iterations that average ``ensemble`` transforms."""
        if self.ensemble <= 1:
            return set()
        count = self.iterations
        return set(range(count - min(max(0, self.ensemble_last), count), count))


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


def dihedral(planes: torch.Tensor, index: int) -> torch.Tensor:
    """One of the 8 flips/rotations of C x H x W planes (or an H x W map); index 0 is the identity."""
    out = torch.rot90(planes, index % 4, dims=(-2, -1))
    return out.flip(-1) if index >= 4 else out


def dihedral_inverse(planes: torch.Tensor, index: int) -> torch.Tensor:
    """Undo :func:`dihedral` with the same index."""
    if index >= 4:
        planes = planes.flip(-1)
    return torch.rot90(planes, -(index % 4), dims=(-2, -1))


ENSEMBLE_ORDER = (0, 5, 2, 7, 1, 4, 3, 6)
"""Order transforms are added to an ensemble: x2 = identity + transpose-like, x4 adds the 180° pair."""


def planes_denoiser(denoise: DenoiseFunction) -> tuple[PlanesDenoiser, torch.device]:
    """The denoiser as a function of C x H x W tensors, and the device the loop should run on."""
    run_planes = getattr(denoise, "run_planes", None)
    if run_planes is not None:
        return run_planes, torch.device(getattr(denoise, "device", "cpu"))

    def through_numpy(planes: torch.Tensor, level: "float | torch.Tensor") -> torch.Tensor:
        numpy_level = level if not isinstance(level, torch.Tensor) else level.cpu().numpy()
        return to_planes(denoise(from_planes(planes), numpy_level), planes.device)

    return through_numpy, torch.device("cpu")


def _denoise_with_transforms(
    denoise: PlanesDenoiser, image: torch.Tensor, sigma: "float | torch.Tensor", indices: list[int]
) -> torch.Tensor:
    """Average of the denoiser run on each transform of ``image`` (undone again); a sigma map turns with it."""
    total = None
    for index in indices:
        level = dihedral(sigma, index).contiguous() if isinstance(sigma, torch.Tensor) else sigma
        out = dihedral_inverse(denoise(dihedral(image, index).contiguous(), level), index)
        total = out.clone() if total is None else total + out
    assert total is not None
    if len(indices) > 1:
        total *= 1.0 / len(indices)
    return total


def _denoise_at_half(
    denoise: PlanesDenoiser, image: torch.Tensor, sigma: "float | torch.Tensor", scale: float, indices: list[int]
) -> torch.Tensor:
    """The prior step on 2x2 means of ``image`` (padded to FFDNet's even sides), brought back by bilinear upsampling."""
    import torch.nn.functional as F

    rows, cols = image.shape[-2:]
    low = F.avg_pool2d(image[None], 2)[0]
    level: "float | torch.Tensor" = sigma * scale
    if isinstance(sigma, torch.Tensor):
        level = F.avg_pool2d(sigma[None, None], 2)[0, 0] * scale
    pad_rows, pad_cols = low.shape[-2] % 2, low.shape[-1] % 2
    if pad_rows or pad_cols:
        low = F.pad(low[None], (0, pad_cols, 0, pad_rows), mode="replicate")[0]
        if isinstance(level, torch.Tensor):
            level = F.pad(level[None, None], (0, pad_cols, 0, pad_rows), mode="replicate")[0, 0]
    out = _denoise_with_transforms(denoise, low, level, indices)
    out = out[..., : low.shape[-2] - pad_rows, : low.shape[-1] - pad_cols]
    return F.interpolate(out[None], size=(rows, cols), mode="bilinear", align_corners=False)[0]


def dpir_deconvolve(
    observed: np.ndarray,
    kernel: np.ndarray,
    denoise: DenoiseFunction,
    noise_sigma: float,
    settings: DpirSettings = DpirSettings(),
    *,
    step: Callable[[], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    fast_denoise: DenoiseFunction | None = None,
) -> np.ndarray:
    """Deblur an HxWx3 float32 photo (or tile) blurred by ``kernel``; returns the same size.

    ``noise_sigma`` is on the 0-1 scale. ``step`` is called after every denoiser pass (progress)
    and ``cancelled`` is polled before each, raising :class:`CancelledError`. ``fast_denoise``
    (the same model in a faster precision, on the same device) runs the first
    ``settings.fast_iterations`` prior steps.
    """
    if settings.boundary not in BOUNDARIES:
        raise ValueError(f"unknown boundary model {settings.boundary!r}; use one of {', '.join(BOUNDARIES)}")
    observed = np.ascontiguousarray(observed, dtype=np.float32)
    height, width = observed.shape[:2]
    prior, device = planes_denoiser(denoise)
    fast = prior if fast_denoise is None else planes_denoiser(fast_denoise)[0]
    with torch.inference_mode():
        grid = PaddedGrid.for_image(height, width, kernel, settings.guard, device)
        estimate = _hqs_loop(grid, observed, (fast, prior), noise_sigma, settings, step, cancelled)
        return from_planes(grid.crop(estimate))


def _hqs_loop(
    grid: PaddedGrid,
    observed_image: np.ndarray,
    denoisers: tuple[PlanesDenoiser, PlanesDenoiser],
    noise_sigma: float,
    settings: DpirSettings,
    step: Callable[[], None] | None,
    cancelled: Callable[[], bool] | None,
) -> torch.Tensor:
    """The HQS iterations on ``grid``'s device; returns the grid-sized estimate (3 x rows x cols).

    ``denoisers`` is (fast, exact): the fast one runs the first ``settings.fast_iterations``
    prior steps, never the last.
    """
    observed = to_planes(observed_image, grid.device)
    full = grid.embed(observed_image)  # observation on the grid, band = first guess
    estimate = full.clone()
    estimate_spectrum = grid.spectrum(estimate)
    schedule = hqs_schedule(noise_sigma, settings)
    heavy = settings.heavy_iterations()
    level_map: float | torch.Tensor = float(settings.denoiser_scale)
    if settings.border_relief:
        level_map = settings.denoiser_scale * (1.0 - settings.border_relief * (1.0 - grid.coverage()))
    # How the data step treats the unobserved band (see DpirSettings.boundary).
    solver: dict = {}
    if settings.boundary == "masked":
        solver = {"steps": settings.cg_steps, "method": "cg", "tolerance": settings.cg_tolerance}
    elif settings.boundary == "refresh":
        solver = {"steps": max(0, settings.refresh_steps - 1), "method": "em"}
    for it, (sigma_k, rho) in enumerate(schedule):
        # Data step: only the observed pixels are data; the band is solved for (or refreshed).
        initial = full.clone() if it == 0 or settings.boundary == "periodic" else None
        x = grid.masked_solve(observed, rho, prior_spectrum=estimate_spectrum, full=initial, **solver)
        # Prior step.
        if cancelled is not None and cancelled():
            raise CancelledError("cancelled")
        if it in heavy:
            shift = it if settings.cycle_transforms else 0
            indices = list(dict.fromkeys((ENSEMBLE_ORDER[j] + shift) % 8 for j in range(min(settings.ensemble, 8))))
        else:
            indices = [it % 8 if settings.cycle_transforms else 0]
        level = sigma_k * level_map
        denoise = denoisers[0] if it < min(settings.fast_iterations, len(schedule) - 1) else denoisers[1]
        if it < min(settings.half_iterations, len(schedule) - 1):
            estimate = _denoise_at_half(denoise, x, level, settings.half_level_scale, indices)
        else:
            estimate = _denoise_with_transforms(denoise, x, level, indices)
        estimate_spectrum = grid.spectrum(estimate)
        if step is not None:
            for _ in indices:
                step()
    return estimate
