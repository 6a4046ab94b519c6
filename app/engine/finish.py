"""Finishing controls applied to any denoiser's output: Detail and Colour noise.

Both are pure functions of (noisy input, denoiser output, setting 0-100) -> pixels, so they do
not care which model produced the output: FFDNet today, any model of the library tomorrow.
They work in a luma/chroma split (luma ``Y`` = BT.601 weights; chroma = ``B - Y`` and ``R - Y``)
because real camera noise is two different problems there: luma noise is fine grain mixed with
real texture, while chroma noise is blotchy colour mottling that carries almost no detail.

- **Detail** gives back a fraction of the *luma high band* of what the denoiser removed
  (noisy - denoised). A denoiser strong enough to clear the noise also flattens skin, hair and
  foliage; the high band of its residual holds that lost texture. It is added equally to R, G
  and B, which changes luma only, so no colour noise comes back with it.
- **Colour noise** smooths the denoised chroma with a guided filter whose guide is the denoised
  luma: in flat areas chroma is averaged over the window (mottling goes), where luma has an
  edge chroma follows it (colours do not bleed across outlines).

Both have a small spatial reach (``FINISH_REACH`` px), so inside the tiler, whose tiles carry a
32 px context margin, they see all the neighbours they need and tiled runs agree with
whole-image runs; they run per tile, so memory stays bounded by the tile.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.validation import check_amount

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
DETAIL_SIGMA = 1.0  # Gaussian that splits the residual: the band above it is the fine texture
DETAIL_RADIUS = 3  # 3 sigma: the Gaussian's reach
COLOUR_MAX_RADIUS = 8  # guided-filter box radius at Colour noise 100 (its reach is twice this)
COLOUR_EPS = 0.05**2  # luma variance (std 0.05 = 13/255) below which chroma is simply averaged
FINISH_REACH = max(DETAIL_RADIUS, 2 * COLOUR_MAX_RADIUS)  # px: half the tiler's 32 px margin

# What a photographer gets (RestoreSettings, CLI, window), chosen on real smartphone noise
# (SIDD, tuning half; benchmarks/RESULTS.md "Detail and Colour noise"): Colour noise 60 is the
# strongest setting that costs nothing at the best level; Detail 30 gives back fine grain so
# texture does not go waxy, at a small PSNR cost.
DEFAULT_DETAIL = 30.0
DEFAULT_COLOUR_NOISE = 60.0


def luma(rgb: np.ndarray) -> np.ndarray:
    """BT.601 luma of an HxWx3 image (HxW float32)."""
    return np.ascontiguousarray(rgb, dtype=np.float32) @ LUMA_WEIGHTS


def give_back_detail(noisy: np.ndarray, denoised: np.ndarray, detail: float) -> np.ndarray:
    """Add (``detail``/100)^2 of the luma high band of (noisy - denoised) back to ``denoised``.

    0 returns ``denoised`` itself; 100 gives back the whole fine luma band the denoiser took
    (texture and grain together), while coarser luma and all chroma stay as denoised. Squared,
    because that band is mostly noise: a linear slider would spend its upper half on grain no
    one wants, the square gives the useful 0-25 % of the band most of its travel (30 -> 9 %).
    """
    amount = check_amount("detail", detail)
    if amount == 0.0:
        return denoised
    residual = luma(noisy) - luma(denoised)
    low = cv2.GaussianBlur(residual, (2 * DETAIL_RADIUS + 1,) * 2, DETAIL_SIGMA, borderType=cv2.BORDER_REFLECT_101)
    high = (residual - low) * np.float32((amount / 100.0) ** 2)
    return (denoised + high[..., None]).astype(np.float32)


def _box(image: np.ndarray, radius: int) -> np.ndarray:
    return cv2.boxFilter(image, -1, (2 * radius + 1,) * 2, borderType=cv2.BORDER_REFLECT_101)


def _guided_chroma(y: np.ndarray, chroma: np.ndarray, radius: int) -> np.ndarray:
    """He et al.'s guided filter of each chroma plane, guided by luma, over (2r+1)^2 boxes.

    Per window, chroma is fitted as ``a * Y + b``: where luma is flat (variance << eps) ``a``
    goes to 0 and chroma is averaged; across a luma edge ``a`` follows it, so colour stays put.
    """
    mean_y = _box(y, radius)
    var_y = _box(y * y, radius) - mean_y * mean_y
    mean_c = _box(chroma, radius)
    cov = _box(chroma * y[..., None], radius) - mean_c * mean_y[..., None]
    a = cov / (var_y + COLOUR_EPS)[..., None]
    b = mean_c - a * mean_y[..., None]
    return _box(a, radius) * y[..., None] + _box(b, radius)


def smooth_colour_noise(denoised: np.ndarray, colour_noise: float) -> np.ndarray:
    """Smooth the chroma of ``denoised`` (guided by its luma); luma is never touched.

    The setting is the filter's radius, ``colour_noise``/100 x ``COLOUR_MAX_RADIUS`` px (between
    whole radii the two neighbouring results are blended), so the slider moves smoothly: 0 is
    radius 0, the denoiser's chroma exactly; higher values average chroma over wider windows.
    Why radius rather than a blend of "off" and "full": the mottling is low-frequency, and a
    wider window removes it where a half-strength blend only halves it.
    """
    amount = check_amount("colour noise", colour_noise)
    if amount == 0.0:
        return denoised
    image = np.ascontiguousarray(denoised, dtype=np.float32)
    y = luma(image)
    chroma = np.stack([image[..., 2] - y, image[..., 0] - y], axis=-1)  # (B - Y, R - Y)
    radius = amount / 100.0 * COLOUR_MAX_RADIUS
    whole = int(np.floor(radius))
    filtered = _guided_chroma(y, chroma, whole) if whole > 0 else chroma
    if radius > whole:
        filtered = filtered + (_guided_chroma(y, chroma, whole + 1) - filtered) * np.float32(radius - whole)
    out = np.empty_like(image)
    out[..., 2] = y + filtered[..., 0]
    out[..., 0] = y + filtered[..., 1]
    out[..., 1] = (y - LUMA_WEIGHTS[0] * out[..., 0] - LUMA_WEIGHTS[2] * out[..., 2]) / LUMA_WEIGHTS[1]
    return out


def finish(noisy: np.ndarray, denoised: np.ndarray, detail: float, colour_noise: float) -> np.ndarray:
    """Both controls: chroma first (on the denoiser's own output), then luma detail on top.

    Order matters only for the guide: the chroma filter is guided by the denoised luma, before
    Detail adds grain to it.
    """
    return give_back_detail(noisy, smooth_colour_noise(denoised, colour_noise), detail)
