"""Automatic noise level ("--noise-level auto") for FFDNet, on white noise and on real camera noise.

Why not a textbook estimator alone: Chen, Zhu & Heng's patch PCA (ICCV 2015) is within ~2% on
additive white Gaussian noise (AWGN), even on textured photos, because it reads the noise from the
covariance eigen-directions that carry no image (fine-scale chrominance). On camera noise those are
exactly the directions the camera filtered away (demosaicing, JPEG's chroma subsampling and
quantisation), so it reports ~1 where FFDNet needs 10-50, and "auto" appears to do nothing.

What is measured (0-255 scale, on crops at full resolution: noise must never be resampled):

* ``s1, s2, s4``: the same PCA estimate on the image binned 1x1, 2x2 and 4x4, times the bin side, so
  white noise gives the same value at every scale while correlated noise (which survives
  binning) grows with it. ``s2/s1`` and ``s4/s1`` are a whiteness test; ``s4`` measures the
  coarse noise that FFDNet, working on a 2x-downsampled grid, has to remove.
* ``texture``: median local standard deviation of luminance over 16x16 windows. Part of
  correlated noise looks like fine texture; the best FFDNet level on smooth photos is higher,
  on busy ones lower (the optimum moves by about +-20% for the same noise).

The level handed to FFDNet:

* white noise: ``s1``;
* correlated noise: ``exp(a) * c4**b * (texture / c4)**c`` with ``c4 = sqrt(s4^2 - floor^2)``,
  where ``floor`` removes what colour texture alone contributes at that scale (clean photos stay
  small). ``a, b, c`` were fitted to the per-image best fixed sigma of FFDNet on the synthetic
  camera pipeline in ``app.physics.camera_noise`` (presets iso800/3200/12800, JPEG 90 and
  lossless) over CBSD68 images 0, 4, 8, ... in name order; ``benchmarks/bench_noise.py`` reports
  on images 2, 6, 10, ...;
* in between, a log-linear blend weighted by the whiteness test; never below ``s1``.

Grey photos (three identical channels) have no colour directions free of image content: they
use weak-texture patch selection (Liu, Tanaka & Okutomi 2013) with 8x8 patches and get the white
estimate only (the correlated model is calibrated on colour noise).

``with_map=True`` adds a brightness-dependent map (noise level function from five brightness bins
of the same measurement, shrunk halfway towards flat because per-bin estimates are noisy), scaled
so its root-mean-square equals ``sigma``. On the camera test split it gains +0.06 dB on average
over the global level (better in 33 of 36 cases, worst -0.1 dB): small but consistent.

Small images: each covariance needs enough patch positions (8 per dimension, or the level reads
low). A thin strip (say 8 x 20000) is measured on what it has: the white estimate, because the
binned scales and texture windows that test for correlated noise do not fit in it. An image too
small even for that (1x1, 3x2) raises ``TooSmallToMeasure`` (a ValueError) instead of returning
a guessed level: a default would silently over- or under-smooth, so the caller asks the user
for a level.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

__all__ = [
    "CALIBRATION",
    "TooSmallToMeasure",
    "NoiseEstimate",
    "NoiseFeatures",
    "NoiseLevelFunction",
    "correlated_sigma",
    "estimate_noise",
    "noise_features",
    "noise_level_function",
    "sigma_from_features",
    "white_noise_sigma",
    "whiteness_weight",
]


@dataclass(frozen=True)
class NoiseEstimate:
    """Result of ``estimate_noise``; all levels on the 0-255 scale."""

    sigma: float  # level to hand FFDNet for the best result on this photo
    noise_map: np.ndarray | None  # HxW float32 brightness-dependent level, or None
    white_sigma: float  # plain white-noise (pixel level) estimate, for display/diagnostics
    method: str  # short description


@dataclass(frozen=True)
class NoiseFeatures:
    """The measurements ``sigma_from_features`` combines (0-255 scale); exposed for calibration and reports."""

    s1: float  # patch-PCA level at full resolution (the white-noise estimate)
    s2: float  # same on the 2x2-binned image, times 2
    s4: float  # same on the 4x4-binned image, times 4
    texture: float  # median local luminance std over 16x16 windows
    grey: bool  # the photo's three channels are identical


class TooSmallToMeasure(ValueError):
    """The image has too few pixels to measure any noise level: the caller must be given one."""


# Fitted by ``benchmarks/bench_noise.py --calibrate`` on the tuning half of CBSD68 (see above).
CALIBRATION: dict[str, float] = {"a": 0.669, "b": 0.749, "c": -0.365, "floor": 5.0}
# Whiteness test (weight 0 -> 1 across each range, the larger of the two counts). Measured: AWGN on
# all 68 CBSD68 images at sigma >= 5 stays below 1.48 (s2/s1) and 3.5 (s4/s1); camera noise on the
# tuning images has s2/s1 >= 1.58 with s4/s1 >= 10.5 after JPEG (which hides the finest scales),
# and s2/s1 >= 3.0, s4/s1 >= 4.8 without JPEG.
_RATIO_21 = (1.6, 2.5)
_RATIO_41 = (4.0, 8.0)

# --------------------------------------------------------------------------------------------
# sampling

_MAX_SAMPLE_PIXELS = 400_000
_PATCH = 4  # colour PCA patches: 4x4x3 = 48 dimensions (the colour directions carry the noise)
_PATCH_GREY = 8  # grey: 8x8 as in Chen et al. and Liu et al.
_MAX_PATCHES = 16_000  # per scale: plenty for a 48x48 covariance (bias < 1% measured)
_MAX_PATCHES_GREY = 8_000
_CROP = 256
_MIN_PATCHES_PER_DIMENSION = 8  # patch positions per covariance dimension; fewer read the level low
_MIN_TEXTURE_SIDE = 32  # ``_texture`` needs 16x16 windows of the 2x2-binned image


def grid_crops(rgb: np.ndarray, side: int, max_pixels: int) -> list[np.ndarray]:
    """A grid of ``side`` px full-resolution crops totalling about ``max_pixels`` (noise must not be resampled).

    Crop corners sit on multiples of 16 so the JPEG block grid and the Bayer phase are preserved.
    """
    height, width = rgb.shape[:2]
    count = max(1, max_pixels // (side * side))
    rows = max(1, int(round(np.sqrt(count * height / width))))
    cols = max(1, count // rows)
    crops = []
    for y in np.linspace(0, height - side, rows + 2)[1:-1]:
        for x in np.linspace(0, width - side, cols + 2)[1:-1]:
            y0, x0 = int(y) // 16 * 16, int(x) // 16 * 16
            crops.append(rgb[y0 : y0 + side, x0 : x0 + side])
    return crops


def _sample(rgb: np.ndarray) -> list[np.ndarray]:
    """The whole image when small, else a grid of full-resolution crops."""
    height, width = rgb.shape[:2]
    if height * width <= _MAX_SAMPLE_PIXELS or height < 2 * _CROP or width < 2 * _CROP:
        return [rgb]
    return grid_crops(rgb, _CROP, _MAX_SAMPLE_PIXELS)


def _chi2_quantile_99(dof: float) -> float:
    """99% point of chi-square with ``dof`` degrees of freedom (Wilson-Hilferty; < 0.5% off for dof >= 3).

    Why not scipy: it is the app's only use of scipy, which would add ~80 MB to the bundle.
    """
    z99 = 2.3263478740408408  # standard normal 99% quantile
    h = 2.0 / (9.0 * dof)
    return float(dof * (1.0 - h + z99 * np.sqrt(h)) ** 3)


def _is_grey(rgb: np.ndarray) -> bool:
    """Grey photos arrive as three identical channels; their colour covariance is singular."""
    step = max(1, int(np.sqrt(rgb.shape[0] * rgb.shape[1] / 250_000)))
    sub = rgb[::step, ::step]
    return bool(np.abs(sub[..., 0] - sub[..., 1]).max() < 1e-6 and np.abs(sub[..., 1] - sub[..., 2]).max() < 1e-6)


def _binned(image: np.ndarray, k: int) -> np.ndarray:
    """k x k block means (what a k-times smaller sensor would see; white noise std drops by k)."""
    if k == 1:
        return image
    h, w = image.shape[0] // k * k, image.shape[1] // k * k
    return image[:h, :w].reshape(h // k, k, w // k, k, -1).mean(axis=(1, 3))


# --------------------------------------------------------------------------------------------
# Chen, Zhu & Heng (2015) patch PCA


def _chen_sigma(eigenvalues: np.ndarray) -> float:
    """Noise level from patch-covariance eigenvalues: the largest low tail whose mean is its median."""
    values = np.sort(eigenvalues)
    for count in range(len(values), 0, -1):
        tail = values[:count]
        tau = tail.mean()
        if np.sum(tail > tau) == np.sum(tail < tau):
            return float(np.sqrt(max(tau, 0.0)))
    return float(np.sqrt(max(values[0], 0.0)))


def _patches(image: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """Patches on a stride grid as rows (channel-major) with each channel's patch mean removed, and those means.

    Removing the means keeps brightness differences between patches (and any selection by
    brightness) out of the covariance; for white noise the rest stays white.
    """
    channels = image.shape[2]
    if image.shape[0] < patch or image.shape[1] < patch:
        return np.zeros((0, channels * patch * patch)), np.zeros((0, channels))
    windows = sliding_window_view(image, (patch, patch), axis=(0, 1))[::stride, ::stride]
    x = windows.reshape(-1, channels, patch * patch).astype(np.float64)
    means = x.mean(axis=2, keepdims=True)
    return (x - means).reshape(x.shape[0], -1), means[..., 0]


def _gram(x: np.ndarray) -> np.ndarray:
    """x' x with einsum, not BLAS: OpenBLAS threads stall badly on a loaded 2-core machine, the
    single-threaded einsum loop is as fast here, and deterministic."""
    return np.einsum("ni,nj->ij", x, x, optimize=False)


def _covariance_sigma(gram: np.ndarray, count: int, channels: int) -> float:
    """Chen's estimate from the accumulated x'x of mean-removed patches (drops the C null directions)."""
    if count < 2 * gram.shape[0]:
        return 0.0
    eigenvalues = np.sort(np.linalg.eigvalsh(gram / count))[channels:]
    return _chen_sigma(eigenvalues)


def _pca_sigma(crops: list[np.ndarray], channels: int, k: int) -> float:
    """Patch-PCA level of the image binned k x k, in full-resolution units (times k).

    At full resolution, patches whose mean lies within 2 sigma of black or white are dropped and
    the estimate redone: clipping truncates the noise there and would pull the level down.
    Selecting by the patch *mean* leaves the mean-free directions the estimate reads unbiased.
    """
    patch = _PATCH
    positions = sum(max(crop.shape[0] // k - patch + 1, 0) * max(crop.shape[1] // k - patch + 1, 0) for crop in crops)
    stride = max(1, int(np.ceil(np.sqrt(positions / _MAX_PATCHES))))  # bounds the work; density does not bias
    parts = [_patches(_binned(crop[..., :channels] * 255.0, k), patch, stride) for crop in crops]
    x = np.concatenate([part[0] for part in parts])
    means = np.concatenate([part[1] for part in parts])
    gram, count = _gram(x), x.shape[0]
    sigma = _covariance_sigma(gram, count, channels)
    if k == 1 and sigma > 0:
        for margin in (2.0 * sigma, 1.0 * sigma):
            near = ((means < margin) | (means > 255.0 - margin)).any(axis=1)
            kept = count - int(near.sum())
            if kept >= 0.08 * count and kept >= 8 * x.shape[1]:
                if kept < count:
                    sigma = _covariance_sigma(gram - _gram(x[near]), kept, channels)
                break
    return sigma * k



def _gradient_energy(image: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """Sum of squared horizontal and vertical differences inside each patch (same grid as ``_patches``)."""
    dh = ((image[:, 1:] - image[:, :-1]) ** 2).sum(axis=2)
    dv = ((image[1:, :] - image[:-1, :]) ** 2).sum(axis=2)
    ih = np.zeros((dh.shape[0] + 1, dh.shape[1] + 1))
    ih[1:, 1:] = dh.cumsum(0).cumsum(1)
    iv = np.zeros((dv.shape[0] + 1, dv.shape[1] + 1))
    iv[1:, 1:] = dv.cumsum(0).cumsum(1)
    ys = np.arange(0, image.shape[0] - patch + 1, stride)[:, None]
    xs = np.arange(0, image.shape[1] - patch + 1, stride)[None, :]

    def box(integral: np.ndarray, h: int, w: int) -> np.ndarray:
        return integral[ys + h, xs + w] - integral[ys, xs + w] - integral[ys + h, xs] + integral[ys, xs]

    return (box(ih, patch, patch - 1) + box(iv, patch - 1, patch)).ravel()


_GRADIENT_EIGENVALUES: dict[int, np.ndarray] = {}


def _gradient_eigenvalues(patch: int) -> np.ndarray:
    """Eigenvalues of the patch gradient-energy quadratic form (horizontal + vertical differences)."""
    if patch not in _GRADIENT_EIGENVALUES:
        idx = np.arange(patch * patch).reshape(patch, patch)
        rows = []
        for a, b in ((idx[:, :-1], idx[:, 1:]), (idx[:-1, :], idx[1:, :])):
            diff = np.zeros((a.size, patch * patch))
            diff[np.arange(a.size), a.ravel()] = -1.0
            diff[np.arange(a.size), b.ravel()] = 1.0
            rows.append(diff)
        grad = np.vstack(rows)
        _GRADIENT_EIGENVALUES[patch] = np.clip(np.linalg.eigvalsh(grad.T @ grad), 0.0, None)
    return _GRADIENT_EIGENVALUES[patch]


_LOW_TAIL: dict[tuple[int, int], float] = {}
_LOW_FRACTION = 0.25


def _low_tail_factor(count: int, dims: int) -> float:
    """Mean of the lowest quarter of sample-covariance eigenvalues of unit white noise (count x dims).

    Finite samples spread the eigenvalues (Marchenko-Pastur), so the low tail of pure noise sits
    below 1; dividing by this factor removes that bias. Simulated once per size class, seeded.
    """
    bucket = max(1, min(count, 16_000) // 500)
    key = (bucket, dims)
    if key not in _LOW_TAIL:
        n = bucket * 500
        z = np.random.default_rng(0).standard_normal((n, dims))
        values = np.sort(np.linalg.eigvalsh(_gram(z) / n))
        _LOW_TAIL[key] = float(values[: max(1, int(dims * _LOW_FRACTION))].mean())
    return _LOW_TAIL[key]


def _low_tail_sigma(x: np.ndarray) -> float:
    """Noise level from the lowest quarter of eigenvalues of mean-removed grey patches, bias-corrected."""
    values = np.sort(np.linalg.eigvalsh(_gram(x) / x.shape[0]))[1:]  # drop the removed mean
    tail = values[: max(1, int(len(values) * _LOW_FRACTION))].mean()
    return float(np.sqrt(max(tail, 0.0) / _low_tail_factor(x.shape[0], len(values))))


def _weak_texture_sigma(crops: list[np.ndarray]) -> float:
    """White-noise level of a grey image from weak-texture patches (Liu, Tanaka & Okutomi 2013).

    PCA over all grey patches reads texture as noise (cameraman: ~6 with no noise at all). Keep
    only patches whose gradient energy noise alone could produce (below the 99% point of its
    distribution at the current level), re-estimate on them from the low eigenvalue tail, repeat.
    """
    patch = _PATCH_GREY
    positions = sum(max(c.shape[0] - patch + 1, 0) * max(c.shape[1] - patch + 1, 0) for c in crops)
    stride = max(1, int(np.ceil(np.sqrt(positions / _MAX_PATCHES_GREY))))
    xs, energies = [], []
    for crop in crops:
        image = crop[..., :1].astype(np.float64) * 255.0
        if image.shape[0] < patch or image.shape[1] < patch:
            continue
        xs.append(_patches(image, patch, stride)[0])
        energies.append(_gradient_energy(image, patch, stride))
    if not xs:
        return 0.0
    x, energy = np.concatenate(xs), np.concatenate(energies)
    if x.shape[0] < 4 * x.shape[1]:
        return 0.0
    # For white noise of level s the gradient energy is s^2 * sum(l_i chi2_1), l = eig(A);
    # Satterthwaite's scaled chi-square gives its 99% point.
    lam = _gradient_eigenvalues(patch)
    mean, var = lam.sum(), 2.0 * (lam**2).sum()
    q99 = (var / (2.0 * mean)) * _chi2_quantile_99(2.0 * mean**2 / var)
    sigma = _low_tail_sigma(x)
    selected = None
    for _ in range(8):
        chosen = np.flatnonzero(energy < sigma**2 * q99)
        if len(chosen) < 4 * x.shape[1] or (selected is not None and np.array_equal(chosen, selected)):
            break
        selected = chosen
        sigma = _low_tail_sigma(x[selected])
    return sigma


def _texture(crops: list[np.ndarray]) -> float:
    """Median local std of luminance over 8x8 windows of the 2x2-binned image (16x16 px), times 2."""
    values = []
    w = 8
    for crop in crops:
        lum = np.ascontiguousarray(_binned(crop.mean(axis=2, keepdims=True) * 255.0, 2)[..., 0], dtype=np.float32)
        if lum.shape[0] < 2 * w or lum.shape[1] < 2 * w:
            continue
        mean = cv2.boxFilter(lum, -1, (w, w), borderType=cv2.BORDER_REFLECT)
        mean_sq = cv2.boxFilter(lum * lum, -1, (w, w), borderType=cv2.BORDER_REFLECT)
        var = (mean_sq - mean * mean) * (w * w / (w * w - 1.0))
        values.append(var[w // 2 : -w // 2 : w // 2, w // 2 : -w // 2 : w // 2].ravel())
    if not values:
        return 0.0
    return float(np.sqrt(max(float(np.median(np.concatenate(values))), 0.0)) * 2.0)


# --------------------------------------------------------------------------------------------
# brightness-dependent map

_MAP_BINS = 5
_MAP_SHRINK = 0.5  # exponent on the relative level function: halfway to flat (bin estimates are noisy)


def _level_by_brightness(crops: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Noise level function: (bin centres in [0, 1], PCA level per brightness bin) at binning k.

    Patches are grouped by their mean brightness in equal-count bins; each bin gets its own
    covariance and Chen estimate. Used only for the relative shape of the map.
    """
    patch = _PATCH
    positions = sum(max(c.shape[0] // k - patch + 1, 0) * max(c.shape[1] // k - patch + 1, 0) for c in crops)
    stride = max(1, int(np.ceil(np.sqrt(positions / (2 * _MAX_PATCHES)))))
    parts = [_patches(_binned(crop * 255.0, k), patch, stride) for crop in crops]
    x = np.concatenate([part[0] for part in parts])
    brightness = np.concatenate([part[1] for part in parts]).mean(axis=1) / 255.0
    edges = np.quantile(brightness, np.linspace(0.0, 1.0, _MAP_BINS + 1))
    which = np.clip(np.searchsorted(edges, brightness, side="right") - 1, 0, _MAP_BINS - 1)
    centres, levels = [], []
    for b in range(_MAP_BINS):
        members = np.flatnonzero(which == b)
        if len(members) < 4 * x.shape[1]:
            continue
        centres.append(float(np.median(brightness[members])))
        levels.append(_covariance_sigma(_gram(x[members]), len(members), 3) * k)
    return np.array(centres), np.array(levels)


@dataclass(frozen=True)
class NoiseLevelFunction:
    """How the noise level varies with brightness, relative to the photo's level (RMS 1 over it).

    Kept as a curve rather than a map so that any region (a preview, a tile) gets the same
    level the whole photo gets there, from its own pixels.
    """

    brightness: tuple[float, ...]  # bin centres in [0, 1]
    relative: tuple[float, ...]  # level at each centre / the photo's RMS level

    def level_map(self, rgb: np.ndarray, sigma: float) -> np.ndarray:
        """HxW float32 level (0-255) at each pixel's smoothed brightness; RMS about ``sigma`` on the photo."""
        return (_smoothed_curve(rgb, self.brightness, self.relative) * np.float32(sigma)).astype(np.float32)


def _smoothed_curve(rgb: np.ndarray, centres, values) -> np.ndarray:
    """``values`` interpolated at each pixel's smoothed brightness (brightness is smooth: worked small)."""
    height, width = rgb.shape[:2]
    factor = max(1, int(np.ceil(max(height, width) / 1024)))
    small = cv2.resize(rgb, (max(1, width // factor), max(1, height // factor)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small.mean(axis=2, dtype=np.float32), (0, 0), max(1.0, 4.0 / factor))
    shape = np.interp(small, centres, values).astype(np.float32)
    if factor > 1:
        shape = cv2.resize(shape, (width, height), interpolation=cv2.INTER_LINEAR)
    return shape


def _level_function(rgb: np.ndarray, crops: list[np.ndarray], k: int) -> NoiseLevelFunction | None:
    centres, levels = _level_by_brightness(crops, k)
    if len(levels) < 2 or not np.all(levels > 0):
        return None
    relative = np.clip(levels / np.sqrt(np.mean(levels**2)), 0.5, 2.0) ** _MAP_SHRINK
    shape = _smoothed_curve(rgb, centres, relative)
    relative = relative / max(float(np.sqrt(np.mean(np.square(shape, dtype=np.float64)))), 1e-6)
    return NoiseLevelFunction(tuple(float(c) for c in centres), tuple(float(r) for r in relative))


def noise_level_function(rgb: np.ndarray, features: NoiseFeatures | None = None) -> NoiseLevelFunction | None:
    """The photo's brightness-dependent noise shape, or None (grey, or too little to measure it)."""
    rgb = _as_rgb(rgb)
    features = noise_features(rgb) if features is None else features
    if features.grey:
        return None
    return _level_function(rgb, _sample(rgb), 4 if whiteness_weight(features) >= 0.5 else 1)


# --------------------------------------------------------------------------------------------
# public API


def _as_rgb(rgb: np.ndarray) -> np.ndarray:
    """Validate and convert to float32 HxWx3 in [0, 1] (a 2-D array is grey; integer images are rescaled)."""
    rgb = np.asarray(rgb)
    if np.issubdtype(rgb.dtype, np.integer):
        rgb = rgb.astype(np.float32) / float(np.iinfo(rgb.dtype).max)
    if rgb.ndim == 2:
        rgb = np.repeat(rgb[..., None], 3, axis=2)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {rgb.shape}")
    return rgb.astype(np.float32, copy=False)


def _enough_patches(shape: tuple[int, ...], patch: int, dimensions: int, k: int = 1) -> bool:
    """Whether the image binned k x k has enough patch positions for a ``dimensions``-D covariance."""
    rows, columns = shape[0] // k - patch + 1, shape[1] // k - patch + 1
    return max(rows, 0) * max(columns, 0) >= _MIN_PATCHES_PER_DIMENSION * dimensions


def _measurable(rgb: np.ndarray) -> tuple[np.ndarray, bool]:
    """The validated image and whether it is grey; TooSmallToMeasure when not even the white
    estimate fits in it."""
    rgb = _as_rgb(rgb)
    grey = _is_grey(rgb)
    patch = _PATCH_GREY if grey else _PATCH
    if not _enough_patches(rgb.shape, patch, patch * patch * (1 if grey else 3)):
        raise TooSmallToMeasure(f"image is {rgb.shape[1]}x{rgb.shape[0]} pixels, too small to measure its noise level")
    return rgb, grey


def _tests_correlation(shape: tuple[int, ...]) -> bool:
    """Whether the 4x4-binned scale and the texture windows of the correlated model fit in the image."""
    return _enough_patches(shape, _PATCH, 3 * _PATCH * _PATCH, 4) and min(shape[:2]) >= _MIN_TEXTURE_SIDE


def white_noise_sigma(rgb: np.ndarray) -> float:
    """Pixel-level white-noise sigma (0-255): accurate for AWGN, blind to correlated camera noise."""
    rgb, grey = _measurable(rgb)
    crops = _sample(rgb)
    return _weak_texture_sigma(crops) if grey else _pca_sigma(crops, 3, 1)


def noise_features(rgb: np.ndarray) -> NoiseFeatures:
    """All measurements the level is computed from (for calibration and reports).

    Where the binned scales cannot be measured (grey photos, thin strips) ``s2`` and ``s4``
    repeat ``s1``: the noise is taken as white.
    """
    rgb, grey = _measurable(rgb)
    crops = _sample(rgb)
    if grey:
        s1 = _weak_texture_sigma(crops)
        return NoiseFeatures(s1=s1, s2=s1, s4=s1, texture=_texture(crops), grey=True)
    if not _tests_correlation(rgb.shape):
        s1 = _pca_sigma(crops, 3, 1)
        return NoiseFeatures(s1=s1, s2=s1, s4=s1, texture=_texture(crops), grey=False)
    s1, s2, s4 = (_pca_sigma(crops, 3, k) for k in (1, 2, 4))
    return NoiseFeatures(s1=s1, s2=s2, s4=s4, texture=_texture(crops), grey=False)


def _ramp(value: float, bounds: tuple[float, float]) -> float:
    """0 below bounds[0], 1 above bounds[1], linear in between."""
    return float(np.clip((value - bounds[0]) / (bounds[1] - bounds[0]), 0.0, 1.0))


def whiteness_weight(features: NoiseFeatures) -> float:
    """0 for white noise, 1 for clearly correlated noise: how much more noise survives binning."""
    white = max(features.s1, 1e-6)
    return max(_ramp(features.s2 / white, _RATIO_21), _ramp(features.s4 / white, _RATIO_41))


def correlated_sigma(features: NoiseFeatures, calibration: dict[str, float] | None = None) -> float:
    """FFDNet level for correlated (camera) noise: coarse-scale noise, corrected for texture."""
    cal = calibration or CALIBRATION
    coarse = float(np.sqrt(max(features.s4**2 - cal["floor"] ** 2, 0.25)))
    texture = max(features.texture, 1e-3)
    return float(np.exp(cal["a"]) * coarse ** cal["b"] * (texture / coarse) ** cal["c"])


def sigma_from_features(features: NoiseFeatures, calibration: dict[str, float] | None = None) -> float:
    """Combine the measurements into the level to hand FFDNet (white noise maps to itself)."""
    white = max(features.s1, 0.0)
    weight = 0.0 if features.grey else whiteness_weight(features)
    if weight <= 0.0:
        return white
    correlated = correlated_sigma(features, calibration)
    blended = np.exp((1.0 - weight) * np.log(max(white, 1e-3)) + weight * np.log(max(correlated, 1e-3)))
    return float(max(blended, white))


def estimate_noise(rgb: np.ndarray, *, with_map: bool = False) -> NoiseEstimate:
    """The noise level to give FFDNet for this photo ("--noise-level auto").

    ``rgb``: float32 HxWx3 in [0, 1]; grey photos as three equal channels. Deterministic; large
    photos are measured on a fixed grid of full-resolution crops (~0.4 MP), so the cost is
    bounded. ``with_map`` adds a brightness-dependent HxW map whose RMS is ``sigma``. Raises
    TooSmallToMeasure for an image too small to measure (see the module docstring).
    """
    rgb = _as_rgb(rgb)
    features = noise_features(rgb)
    sigma = sigma_from_features(features)
    weight = 0.0 if features.grey else whiteness_weight(features)
    if features.grey:
        method = "grey: weak-texture patch PCA (white noise)"
    elif not _tests_correlation(rgb.shape):
        method = "white noise: patch PCA (too small to test for camera noise)"
    elif weight <= 0.0:
        method = "white noise: patch PCA (Chen et al. 2015)"
    elif weight >= 1.0:
        method = "correlated noise: multi-scale patch PCA, calibrated for FFDNet"
    else:
        method = f"mixed: white/correlated blend ({weight:.2f})"
    noise_map = None
    if with_map and sigma > 0 and not features.grey:
        curve = _level_function(rgb, _sample(rgb), 4 if weight >= 0.5 else 1)
        noise_map = None if curve is None else curve.level_map(rgb, sigma)
    return NoiseEstimate(sigma=float(sigma), noise_map=noise_map, white_sigma=float(features.s1), method=method)
