"""``--kernel auto``: estimate the blur kernel of a photo, with parametric fits and a confidence.

Pipeline (see the module notes of :mod:`.multiscale`, :mod:`.parametric`):

1. luminance, and for a large photo the most textured ``CROP_SIDE`` x ``CROP_SIDE`` window (the
   blur is estimated at full resolution on that crop, so a 24 MP photo costs what a 640 px
   one does);
2. a general kernel, coarse to fine, on a canvas a little larger than ``max_size`` (the kernel
   is kept centred on its centroid, which needs room on the long side of an asymmetric path);
   when that kernel is clearly smaller than its canvas, a second pass on a canvas fitted to its
   support, the kernel with the sparser trial deconvolution winning (:func:`_general_kernel`);
3. motion and defocus fits of that kernel (:mod:`.parametric`);
4. the kind: each candidate's blind energy ``min_x ||k * x - b||^2 + lambda ||grad x||_0`` (the
   objective the alternation minimises, with a latent re-solved for that kernel); a parametric
   kernel wins when its energy is no higher than the general one's and it resembles the general
   kernel -- then two numbers are more trustworthy than a thousand, and the user gets a spec;
5. the confidence (0..1): whether kernels solved from the two halves of the crop agree and
   whether the alternation had converged (see :func:`confidence_from_features`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import cv2
import numpy as np

from app.algorithms.blind.kernel_solve import centre_kernel, clean_kernel, solve_kernel, taper_window
from app.algorithms.blind.latent import (
    difference_power,
    fft2,
    gradients,
    ifft2_real,
    kernel_otf,
    l0_latent,
    luminance,
    periodic_pad,
    textured_window,
)
from app.algorithms.blind.multiscale import MultiscaleResult, MultiscaleSettings, estimate_general
from app.algorithms.blind.parametric import ParametricFit, fit_defocus, fit_motion
from app.errors import PhotomendError
from app.physics.kernels import as_kernel

KINDS = ("auto", "motion", "defocus", "general")
DEFAULT_MAX_SIZE = 35
"""The largest blur (px) ``--kernel auto`` looks for unless told otherwise."""
CROP_SIDE = 640
"""Largest crop (px) the kernel is estimated on: 2.6x the edges of a CBSD68 photo, ~seconds."""
CANVAS_FACTOR = 1.25
"""Estimation canvas = this x max_size: room for the centroid-centred kernel of an asymmetric path."""
ENERGY_SIDE = 480
"""The kinds are compared on (at most) this central part of the crop: a CBSD68 photo's size."""
PARAMETRIC_TOLERANCE = 0.0
"""A parametric kernel is chosen when its blind energy is within this fraction of the general one's..."""
PARAMETRIC_MISMATCH = 0.25
"""...and it looks like the general kernel (relative squared difference, smoothed) at least this well."""
SIZE_MARGIN = 6
"""The second size hypothesis: the first kernel's support side plus this many px."""
POINT_TIE = 0.01
"""When the first pass finds about a point (no blur), the second hypothesis must make the trial
deconvolution sparser by this fraction to replace it: a near-tie is no evidence of blur, and a
small kernel grown to fill its small canvas only adds artefacts (benchmarks/results/no_harm.md)."""
SHARPNESS_BALANCE = 2e-3
"""Tikhonov (gradient) weight of the trial deconvolutions that judge the size hypotheses (0-1 intensities)."""
NO_BLUR_SPREAD = 1.0
"""A kernel whose RMS radius is below this (px) is "no blur": under ~3.5 px of motion or 1.4 px of defocus.

Measured (``KernelEstimate.spread``) on 6 CBSD68 photos: the 4 sharp ones that gave a near-delta
kernel 0.25-0.67 px; all 6 blurred (motion 11-15 px, defocus 4, Gaussian 1.6; noise sigma 1.5)
1.7-4.4 px."""
LOW_CONFIDENCE = 0.5
"""Below this confidence the kernel is a guess: the 2 sharp photos that gave a non-delta kernel
scored 0.01 and 0.07, the 12 blurred ones 0.99+; in the blind benchmark's camera-shake cases the
estimate succeeded for 84% of those >= 0.5 and 67% of the 3 below."""
VERDICTS = ("blur", "low_confidence", "no_blur")
RESIDUAL_SPREAD = 1.75
"""After deblurring with an estimated kernel the result must look sharp: a blur still found in it
(RMS radius >= this, px, at confidence >= LOW_CONFIDENCE) means the kernel did not explain the
photo. Measured on synthetic development photos: results of kernels that fit 0.67-1.31 px; of
kernels that made the photo worse (a subject moving along another path) 2.0 and 4.9 px."""
CONFIDENCE_MEANING = f"confidence: do both halves of the photo show this blur? (1 = yes; below {LOW_CONFIDENCE:g}: a guess)"


class BlindEstimationError(PhotomendError):
    """The kernel cannot be estimated from this input (too small, flat, wrong settings)."""


@dataclass(frozen=True)
class KernelEstimate:
    """An estimated blur kernel and how far to trust it.

    ``kernel``: float32, odd square, >= 0, sum 1 (the conventions of app.physics.kernels).
    ``kind``: 'motion', 'defocus' or 'general'. ``params``: {'length', 'angle'} for motion,
    {'radius'} for defocus, {} for general. ``confidence``: 0..1. ``spec``: the kernel as a
    spec string ('motion:14.8,31.2') when parametric, else None. ``details``: diagnostics
    (energies of every candidate, fits, crop, confidence parts) for logs and benchmarks.
    """

    kernel: np.ndarray
    kind: str
    params: dict
    confidence: float
    spec: str | None
    details: dict = field(default_factory=dict, compare=False)

    @property
    def spread(self) -> float:
        """RMS radius of the kernel in px (0 for a delta; motion L: ~0.29 L; defocus r: ~0.71 r)."""
        return _spread(self.kernel)

    @property
    def verdict(self) -> str:
        """'no_blur' (the kernel is about a point: nothing to undo), 'low_confidence' or 'blur'.

        Callers deblur only on 'blur' without asking: deconvolving a sharp photo with a near-delta
        kernel still changes it (34-39 dB PSNR against the input, Wiener), and with a guessed
        kernel it ruins it (~10 dB).
        """
        if self.spread < NO_BLUR_SPREAD:
            return "no_blur"
        if self.confidence < LOW_CONFIDENCE:
            return "low_confidence"
        return "blur"

    def describe(self) -> str:
        """The estimate in plain words: "motion blur 15.2 px at 31°, confidence 0.83"."""
        verdict = self.verdict
        if verdict == "no_blur":
            return "no clear blur found"
        if self.kind == "motion":
            shape = f"motion blur {self.params['length']:.1f} px at {self.params['angle']:.0f}°"
        elif self.kind == "defocus":
            shape = f"defocus blur, radius {self.params['radius']:.1f} px"
        else:
            shape = f"camera shake, about {support_side(self.kernel)} px across"
        if verdict == "low_confidence":
            return f"no clear blur found (perhaps {shape}; low confidence {self.confidence:.2f})"
        return f"{shape}, confidence {self.confidence:.2f}"


def _spread(kernel: np.ndarray) -> float:
    """RMS radius (px) of a kernel's taps about their centroid."""
    taps = np.asarray(kernel, np.float64)
    total = float(taps.sum())
    if total <= 0:
        return 0.0
    rows, cols = np.indices(taps.shape, dtype=np.float64)
    mr, mc = float((rows * taps).sum()) / total, float((cols * taps).sum()) / total
    return math.sqrt(float((((rows - mr) ** 2 + (cols - mc) ** 2) * taps).sum()) / total)


def _odd_at_least(value: float) -> int:
    """Smallest odd integer >= value (and >= 3)."""
    side = max(3, int(math.ceil(value)))
    return side if side % 2 else side + 1


def _checked_inputs(rgb: np.ndarray, max_size: int, kind: str) -> tuple[np.ndarray, int]:
    """Validate the arguments; returns (luminance, odd max_size) or raises a one-line error."""
    if kind not in KINDS:
        raise BlindEstimationError(f"unknown kernel kind {kind!r} for estimation (use {', '.join(KINDS)})")
    try:
        size = int(max_size)
    except (TypeError, ValueError):
        raise BlindEstimationError(f"kernel size {max_size!r} is not a whole number") from None
    if size < 3 or size > 201:
        raise BlindEstimationError(f"kernel size {size} px is out of range (use 3 to 201)")
    size = size if size % 2 else size + 1
    data = np.asarray(rgb)
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (1, 3, 4)):
        raise BlindEstimationError(f"expected an RGB image (HxWx3), got an array of shape {data.shape}")
    luma = luminance(data.astype(np.float32, copy=False))
    if not np.isfinite(luma).all():
        raise BlindEstimationError("the image contains NaN or infinite values")
    rows, cols = luma.shape
    needed = 2 * size + 16
    if min(rows, cols) < needed:
        raise BlindEstimationError(
            f"image ({cols}x{rows} px) is too small to estimate a blur kernel of up to {size} px: "
            f"it needs at least {needed} px on each side (use a smaller kernel size)"
        )
    return luma, size


@dataclass(frozen=True)
class EnergyGrid:
    """A (sub-)crop prepared for :func:`map_energy`: padded periodically, with its taper window."""

    grid: np.ndarray
    window: np.ndarray
    weight: float

    @classmethod
    def from_crop(cls, crop: np.ndarray, canvas: int, weight: float, side: int = ENERGY_SIDE) -> "EnergyGrid":
        """The central ``side`` x ``side`` part of the crop (energies are relative, so a part will do)."""
        rows, cols = crop.shape
        top, left = max(0, (rows - side) // 2), max(0, (cols - side) // 2)
        part = crop[top : top + side, left : left + side]
        grid, offset = periodic_pad(part, canvas + 8)
        window = taper_window(grid.shape, (offset, offset, part.shape[0], part.shape[1]), canvas)
        return cls(grid, window, weight)


def map_energy(kernel: np.ndarray, energy_grid: EnergyGrid) -> float:
    """min_x ||k * x - b||^2 + lambda ||grad x||_0 (HQS latent, tapered crop): the blind objective.

    Why: comparing kernels by the residual against the *general* kernel's latent always favours
    the general kernel (the latent was fitted to it); re-solving the latent for each candidate
    and adding the sparsity cost compares them on equal terms.
    """
    taps = kernel.astype(np.float32)
    grid, window, weight = energy_grid.grid, energy_grid.window, energy_grid.weight
    latent = l0_latent(grid, taps, weight)
    predicted = ifft2_real(fft2(latent) * kernel_otf(taps, latent.shape))
    diff = (predicted - grid) * window
    gx, gy = gradients(latent)
    count = float(((gx * gx + gy * gy > 0) * window).sum())
    return float(np.dot(diff.ravel(), diff.ravel())) + weight * count


def kernel_similarity(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised correlation (0..1) of two same-canvas kernels: a stability measure."""
    na, nb = float(np.linalg.norm(a)), float(np.linalg.norm(b))
    if na == 0 or nb == 0:
        return 0.0
    return max(0.0, float((a * b).sum()) / (na * nb))


def _weighted_kernel(result: MultiscaleResult, settings: MultiscaleSettings, weight: np.ndarray) -> np.ndarray:
    """The kernel solved from the final latent and blurred gradients under a spatial weight (smoothed)."""
    side = result.kernel.shape[0]
    latent = tuple(g * weight for g in result.latent_grads)
    blurred = tuple(g * weight for g in result.blurred_grads)
    raw = solve_kernel(latent, blurred, side, settings.gamma, start=result.kernel, sparsity=settings.sparsity)
    return cv2.GaussianBlur(clean_kernel(raw, settings.peak_fraction), (0, 0), 1.0)


def split_agreement(result: MultiscaleResult, settings: MultiscaleSettings) -> float:
    """Similarity (0..1) of the kernels solved from the left and right halves of the crop alone.

    Why: a kernel pinned down by plenty of edges comes out the same from either half; one that
    rests on a few ambiguous edges (or on noise) does not. Only two small kernel solves with the
    final latent gradients, so it is cheap.
    """
    side = result.kernel.shape[0]
    cols = result.latent_grads[0].shape[1]
    inside = np.nonzero(result.window.max(axis=0) > 0)[0] if result.window is not None else np.arange(cols)
    middle = int((inside[0] + inside[-1]) // 2) if inside.size else cols // 2
    ramp = np.clip((np.arange(cols) - (middle - side)) / (2.0 * side), 0.0, 1.0).astype(np.float32)
    kernels = [_weighted_kernel(result, settings, weight[None, :]) for weight in (1.0 - ramp, ramp)]
    return kernel_similarity(kernels[0], kernels[1])


def confidence_features(result: MultiscaleResult, kernel: np.ndarray, settings: MultiscaleSettings) -> dict[str, float]:
    """The measurements the confidence is made of (kept in ``details`` for calibration)."""
    weights = kernel[kernel > 0]
    effective = 1.0 / float((weights * weights).sum()) if weights.size else 1.0  # participation count
    return {
        "stability": kernel_similarity(result.kernel, result.previous),
        "split_agreement": split_agreement(result, settings),
        "effective_pixels": effective,
        "canvas": float(kernel.shape[0]),
    }


def confidence_from_features(features: dict[str, float]) -> float:
    """0..1 trust in the kernel from :func:`confidence_features`.

    * split_agreement: the two half-crop kernels agree (0.6 -> 0, 0.9 -> 1): enough edges;
    * stability: the last two alternations barely moved (squared, so 0.9 -> 0.81).

    A sharp photo gives a near-delta kernel with a high confidence: "no blur" is then the
    trustworthy answer.
    """
    agreement = float(np.clip((features["split_agreement"] - 0.6) / 0.3, 0.0, 1.0))
    stable = float(np.clip(features["stability"], 0.0, 1.0)) ** 2
    return float(np.clip(agreement * stable, 0.0, 1.0))


def _trim(kernel: np.ndarray, max_size: int) -> np.ndarray:
    """Centre on the centroid, then cut to at most max_size (shifting only as far as needed to keep the mass)."""
    kernel = centre_kernel(np.asarray(kernel, np.float64))
    side = kernel.shape[0]
    rows, cols = np.nonzero(kernel > 0)
    if rows.size == 0:
        return np.ones((1, 1))
    c = side // 2
    reach = int(max(np.abs(rows - c).max(), np.abs(cols - c).max()))
    if 2 * reach + 1 <= max_size:
        return kernel[c - reach : c + reach + 1, c - reach : c + reach + 1]
    half = max_size // 2
    # Slide the window as little as possible from the centroid so it holds the support's extent.
    top = min(max(c - half, rows.max() - max_size + 1), rows.min())
    left = min(max(c - half, cols.max() - max_size + 1), cols.min())
    top = int(np.clip(top, 0, side - max_size))
    left = int(np.clip(left, 0, side - max_size))
    return kernel[top : top + max_size, left : left + max_size]


def support_side(kernel: np.ndarray) -> int:
    """Side of the smallest centred odd square holding all of the kernel's non-zero taps."""
    rows, cols = np.nonzero(kernel > 0)
    if rows.size == 0:
        return 1
    c = kernel.shape[0] // 2
    return 2 * int(max(np.abs(rows - c).max(), np.abs(cols - c).max())) + 1


@dataclass(frozen=True)
class SharpnessGrid:
    """The crop padded once for :func:`deconvolved_sparsity` (periodic fill, interior mask)."""

    spectrum: np.ndarray
    inner: tuple[slice, slice]
    diff_power: np.ndarray

    @classmethod
    def from_crop(cls, crop: np.ndarray, pad: int) -> "SharpnessGrid":
        grid, offset = periodic_pad(crop, pad)
        rows, cols = crop.shape
        margin = offset + pad // 2
        inner = (slice(margin, offset + rows - pad // 2), slice(margin, offset + cols - pad // 2))
        return cls(fft2(grid), inner, difference_power(grid.shape))


def deconvolved_sparsity(kernel: np.ndarray, sharpness: SharpnessGrid) -> float:
    """Normalised sparsity (L1 / L2, Krishnan et al. CVPR 2011) of the gradients of a trial deconvolution.

    Why: the blind energy prefers too-small kernels (it always does, see Levin et al. 2009), so it
    cannot choose between kernel-size hypotheses; a photo deconvolved with the right kernel has
    sparse, step-like gradients, while a wrong kernel leaves blur (dense small gradients) or
    ringing (dense oscillation), both of which raise L1 / L2. Lower is better.
    """
    otf = kernel_otf(kernel.astype(np.float32), sharpness.spectrum.shape)
    power = (otf.real**2 + otf.imag**2).astype(np.float32)
    latent = ifft2_real(np.conj(otf) * sharpness.spectrum / (power + np.float32(SHARPNESS_BALANCE) * sharpness.diff_power))
    gx, gy = gradients(latent)
    magnitude = np.sqrt(gx * gx + gy * gy)[sharpness.inner].astype(np.float64)
    l2 = float(np.sqrt((magnitude * magnitude).sum()))
    return float(magnitude.sum()) / max(l2, 1e-12) / math.sqrt(magnitude.size)


class _StagedProgress:
    """Maps the progress of one of several estimation passes onto a single 0..total bar."""

    TOTAL = 1000

    def __init__(self, progress: Callable[[int, int], None] | None, start: float, share: float) -> None:
        self.progress, self.start, self.share = progress, start, share

    def __call__(self, done: int, total: int) -> None:
        if self.progress is not None:
            fraction = self.start + self.share * done / max(total, 1)
            self.progress(int(round(self.TOTAL * fraction)), self.TOTAL)


def _spec(fit: ParametricFit) -> str:
    """'motion:L,A' or 'defocus:R' with short numbers."""
    if fit.kind == "motion":
        return f"motion:{fit.params['length']:g},{fit.params['angle']:g}"
    return f"defocus:{fit.params['radius']:g}"


def _general_kernel(
    crop: np.ndarray,
    size: int,
    settings: MultiscaleSettings,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    point_tie: float = POINT_TIE,
) -> tuple[MultiscaleResult, int, list[dict]]:
    """The general kernel, from (up to) two kernel-size hypotheses; returns (result, canvas, log).

    Why: a small blur searched for on a large canvas often ends in a wrong local minimum (a
    fragmented path, a spurious tail), while the same blur on a canvas that just fits it comes
    out right. So the first pass uses the full ``size``; when its kernel's support is clearly
    smaller, a second pass on a canvas fitted to that support (plus a margin) is run, and the
    kernel whose trial deconvolution has the sparser gradients wins.
    """
    canvas = _odd_at_least(size * CANVAS_FACTOR)
    first_share = 0.5
    first = estimate_general(crop, canvas, settings, progress=_StagedProgress(progress, 0.0, first_share), cancelled=cancelled)
    support = support_side(first.kernel)
    second_size = _odd_at_least(support + SIZE_MARGIN)
    second_canvas = _odd_at_least(second_size * CANVAS_FACTOR)
    log = [{"size": size, "canvas": canvas, "support": support}]
    if second_canvas >= canvas - 4:  # the first kernel (nearly) fills its canvas: nothing smaller to try
        if progress is not None:
            progress(_StagedProgress.TOTAL, _StagedProgress.TOTAL)
        return first, canvas, log
    second = estimate_general(
        crop, second_canvas, settings, progress=_StagedProgress(progress, first_share, 1.0 - first_share), cancelled=cancelled
    )
    log.append({"size": second_size, "canvas": second_canvas, "support": support_side(second.kernel)})
    sharpness = SharpnessGrid.from_crop(crop, canvas + 8)
    scores = [deconvolved_sparsity(first.kernel, sharpness), deconvolved_sparsity(second.kernel, sharpness)]
    for entry, score in zip(log, scores):
        entry["sparsity"] = score
    needed = 1.0 - point_tie if _spread(first.kernel) < NO_BLUR_SPREAD else 1.0
    if scores[1] < scores[0] * needed:
        log[1]["chosen"] = True
        return second, second_canvas, log
    log[0]["chosen"] = True
    return first, canvas, log


def estimate_kernel(
    rgb: np.ndarray,
    *,
    max_size: int = DEFAULT_MAX_SIZE,
    kind: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
    settings: MultiscaleSettings | None = None,
    point_tie: float = POINT_TIE,
) -> KernelEstimate:
    """Estimate the blur kernel of ``rgb`` (float32 HxWx3 in [0, 1]) for ``--kernel auto``.

    ``max_size``: the largest blur (px) to look for; the returned kernel is at most that wide.
    ``kind``: 'auto' chooses between a general kernel and the motion/defocus fits; 'motion',
    'defocus' force a parametric result; 'general' skips the fits. ``progress(done, total)``
    and ``cancelled()`` follow the engine's conventions (cancel raises CancelledError).
    ``point_tie``: see POINT_TIE (a near-tie between a point and a kernel goes to the point).
    """
    luma, size = _checked_inputs(rgb, max_size, kind)
    settings = settings or MultiscaleSettings()
    top, left = textured_window(luma, CROP_SIDE)
    crop = luma[top : top + CROP_SIDE, left : left + CROP_SIDE]
    if float(crop.std()) < 1e-4:
        raise BlindEstimationError("the image is flat (no edges), so its blur cannot be estimated")
    result, canvas, hypotheses = _general_kernel(crop, size, settings, progress, cancelled, point_tie)
    general = result.kernel
    fits: dict[str, ParametricFit] = {}
    if kind in ("auto", "motion"):
        fits["motion"] = fit_motion(general, max_length=size)
    if kind in ("auto", "defocus"):
        fits["defocus"] = fit_defocus(general, max_radius=size / 2.0)
    energies: dict[str, float] = {}
    if kind == "auto":
        energy_grid = EnergyGrid.from_crop(crop, canvas, result.weight)
        energies = {name: map_energy(fit.kernel, energy_grid) for name, fit in fits.items()}
        energies["general"] = map_energy(general, energy_grid)

    if kind == "general":
        chosen = "general"
    elif kind in ("motion", "defocus"):
        chosen = kind
    else:
        chosen = "general"
        best_param = min(fits, key=lambda name: energies[name])
        close = energies[best_param] <= energies["general"] * (1.0 + PARAMETRIC_TOLERANCE)
        if close and fits[best_param].mismatch <= PARAMETRIC_MISMATCH:
            chosen = best_param
    if chosen == "general":
        final, params, spec = general, {}, None
    else:
        fit = fits[chosen]
        final, params, spec = fit.kernel, dict(fit.params), _spec(fit)
    parts = confidence_features(result, final, settings)
    confidence = confidence_from_features(parts)
    kernel = as_kernel(_trim(final, size), "estimated kernel")
    details = {
        "crop": (top, left, crop.shape[0], crop.shape[1]),
        "canvas": canvas,
        "size_hypotheses": hypotheses,
        "general_kernel": general,
        "energies": energies,
        "fits": {name: {"params": fit.params, "mismatch": fit.mismatch} for name, fit in fits.items()},
        **parts,
    }
    return KernelEstimate(kernel, chosen, params, confidence, spec, details)


def blur_left(deblurred: np.ndarray, kernel_side: int, cancelled: Callable[[], bool] | None = None,
              progress: Callable[[int, int], None] | None = None) -> KernelEstimate | None:
    """The blur still clear in a photo deblurred with an estimated kernel, or None when it looks sharp.

    Why: one kernel cannot undo blur that differs across the photo (a moving subject), and the
    estimate's own confidence does not see it; the result then keeps ghosts and smears that the
    estimator finds again. A photo too small to re-estimate passes.
    """
    size = max(3, int(kernel_side))
    try:
        # A near-tie between a point and leftover blur still raises the alarm here: it is the
        # cautious answer for this check, as "no blur" is for the estimate itself.
        after = estimate_kernel(deblurred, max_size=size, cancelled=cancelled, progress=progress, point_tie=0.0)
    except BlindEstimationError:
        return None
    if after.spread >= RESIDUAL_SPREAD and after.confidence >= LOW_CONFIDENCE:
        return after
    return None
