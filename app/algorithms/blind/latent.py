"""Image-side helpers of the blind estimator: luminance, crop choice, padding, L0 latent images.

The latent ("sharp") image only has to expose the strong, step-like edges the kernel is solved
from, so it is computed with the L0 gradient prior (Xu, Zheng & Jia CVPR 2013; Pan et al. CVPR
2014) by half-quadratic splitting in the Fourier domain: small gradients are set to zero, strong
edges stay sharp. Borders are handled by padding the blurred photo with a smooth periodic fill,
so the circular FFT model does not ring from the frame inward.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from app.physics.blur import good_fft_size

LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def fft2(image: np.ndarray) -> np.ndarray:
    """Full 2-D DFT of a real image as complex64 (OpenCV: several times faster than numpy here)."""
    data = np.ascontiguousarray(image, dtype=np.float32)
    return cv2.dft(data, flags=cv2.DFT_COMPLEX_OUTPUT).view(np.complex64)[..., 0]


def ifft2_real(spectrum: np.ndarray) -> np.ndarray:
    """Real part of the inverse DFT of a (conjugate-symmetric) complex64 spectrum, float32."""
    rows, cols = spectrum.shape
    packed = np.ascontiguousarray(spectrum, dtype=np.complex64).view(np.float32).reshape(rows, cols, 2)
    return cv2.idft(packed, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)


def kernel_otf(kernel: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The kernel's transfer function on a grid (centre pixel moved to the origin), complex64."""
    side_r, side_c = kernel.shape
    padded = np.zeros(shape, np.float32)
    padded[:side_r, :side_c] = kernel
    padded = np.roll(padded, (-(side_r // 2), -(side_c // 2)), axis=(0, 1))
    return fft2(padded)


def luminance(rgb: np.ndarray) -> np.ndarray:
    """Rec. 601 luma of an HxWx3 (or HxW) float image: blur is the same in every channel, noise is lower."""
    data = np.asarray(rgb, np.float32)
    if data.ndim == 2:
        return np.ascontiguousarray(data)
    if data.shape[2] == 1:
        return np.ascontiguousarray(data[:, :, 0])
    return np.ascontiguousarray(data[:, :, :3] @ LUMA)


def textured_window(luma: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window with the most (unsaturated) edge content.

    Why: estimating on a crop keeps a 24 MP photo to seconds, and a crop of sky or clipped
    highlights carries no blur information. A mild preference for the centre (where the subject,
    and usually the focus, is) breaks ties.
    """
    rows, cols = luma.shape
    if rows <= side and cols <= side:
        return 0, 0
    scale = min(1.0, 256.0 / max(rows, cols))
    small = cv2.resize(luma, (max(1, round(cols * scale)), max(1, round(rows * scale))), interpolation=cv2.INTER_AREA)
    gx = cv2.Sobel(small, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(small, cv2.CV_32F, 0, 1, ksize=3)
    energy = np.sqrt(gx * gx + gy * gy)
    energy[small > 0.97] = 0.0  # clipped highlights break the linear blur model
    win_r = max(1, min(small.shape[0], round(min(side, rows) * scale)))
    win_c = max(1, min(small.shape[1], round(min(side, cols) * scale)))
    integral = cv2.integral(energy.astype(np.float64))
    sums = (
        integral[win_r:, win_c:] - integral[:-win_r, win_c:] - integral[win_r:, :-win_c] + integral[:-win_r, :-win_c]
    )
    rr, cc = np.mgrid[0 : sums.shape[0], 0 : sums.shape[1]].astype(np.float64)
    cr, ccol = (sums.shape[0] - 1) / 2.0, (sums.shape[1] - 1) / 2.0
    dist = np.hypot((rr - cr) / max(1.0, small.shape[0]), (cc - ccol) / max(1.0, small.shape[1]))
    score = sums * (1.0 - 0.3 * dist)
    r, c = np.unravel_index(int(np.argmax(score)), score.shape)
    top = min(max(0, round(r / scale)), rows - min(side, rows))
    left = min(max(0, round(c / scale)), cols - min(side, cols))
    return int(top), int(left)


def _ramp(length: int) -> np.ndarray:
    """Raised-cosine weights from ~0 to ~1 over ``length`` samples."""
    t = (np.arange(length, dtype=np.float64) + 1.0) / (length + 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * t)).astype(np.float32)


def periodic_pad(image: np.ndarray, pad: int) -> tuple[np.ndarray, int]:
    """Embed ``image`` in an FFT-friendly grid at offset ``pad``; the band blends smoothly across the wrap.

    Returns (grid, offset). Why: FFT solvers assume periodic images; a photo's opposite borders
    differ, and the jump would ring through the latent image and corrupt the kernel.
    """
    rows, cols = image.shape
    grid_r, grid_c = good_fft_size(rows + 2 * pad), good_fft_size(cols + 2 * pad)
    block = np.empty((grid_r, cols), np.float32)
    block[:rows] = image
    band = grid_r - rows
    weight = _ramp(band)[:, None]
    block[rows:] = (1.0 - weight) * image[-1:] + weight * image[:1]
    out = np.empty((grid_r, grid_c), np.float32)
    out[:, :cols] = block
    band = grid_c - cols
    weight = _ramp(band)[None, :]
    out[:, cols:] = (1.0 - weight) * block[:, -1:] + weight * block[:, :1]
    return np.roll(out, (pad, pad), axis=(0, 1)), pad


def gradients(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Circular forward differences (d/dcol, d/drow): the operators whose OTFs :func:`difference_power` uses."""
    return np.roll(image, -1, axis=1) - image, np.roll(image, -1, axis=0) - image


def gradients_adjoint(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    """Adjoint of :func:`gradients` (minus the divergence), for the HQS right-hand side."""
    return (np.roll(gx, 1, axis=1) - gx) + (np.roll(gy, 1, axis=0) - gy)


def difference_power(shape: tuple[int, int]) -> np.ndarray:
    """|Dx|^2 + |Dy|^2 on the full spectrum of ``shape``."""
    wy = 2.0 * np.pi * np.fft.fftfreq(shape[0])[:, None]
    wx = 2.0 * np.pi * np.fft.fftfreq(shape[1])[None, :]
    return ((2.0 - 2.0 * np.cos(wy)) + (2.0 - 2.0 * np.cos(wx))).astype(np.float32)


def l0_latent(
    blurred: np.ndarray,
    kernel: np.ndarray,
    weight: float,
    *,
    beta_max: float = 1e5,
    kappa: float = 2.0,
) -> np.ndarray:
    """Sharp image with sparse gradients: argmin ||k*x - b||^2 + weight ||grad x||_0 (HQS, Fourier).

    ``blurred`` is already padded periodically (see :func:`periodic_pad`); returns the same shape.
    The continuation raises the splitting penalty beta from 2*weight to ``beta_max`` by ``kappa``.
    """
    shape = blurred.shape
    otf = kernel_otf(kernel, shape)
    numerator_data = np.conj(otf) * fft2(blurred)
    kernel_power = (otf.real**2 + otf.imag**2).astype(np.float32)
    diff_power = difference_power(shape)
    latent = blurred.copy()
    beta = 2.0 * weight
    while beta < beta_max:
        gx, gy = gradients(latent)
        small = gx * gx + gy * gy < weight / beta
        gx[small] = 0.0
        gy[small] = 0.0
        numerator = numerator_data + np.float32(beta) * fft2(gradients_adjoint(gx, gy))
        latent = ifft2_real(numerator / (kernel_power + np.float32(beta) * diff_power))
        beta *= kappa
    return latent


def edge_threshold(gx: np.ndarray, gy: np.ndarray, keep: int) -> float:
    """Squared-gradient threshold leaving at least ``keep`` pixels in each of 4 orientation bins.

    Why (Cho & Lee 2009; Pan et al. 2014): weak latent gradients are unreliable (noise, ringing)
    and pull the kernel towards a delta; requiring strong edges in every orientation keeps the
    kernel constrained in all directions.
    """
    power = gx * gx + gy * gy
    angle = np.arctan2(gy, gx) % math.pi
    bins = np.minimum((angle / (math.pi / 4.0)).astype(np.int32), 3)
    threshold = np.inf
    for index in range(4):
        values = power[(bins == index) & (power > 0)]
        if values.size == 0:
            continue
        count = min(values.size, keep)
        threshold = min(threshold, float(np.partition(values, values.size - count)[values.size - count]))
    return float(threshold) if np.isfinite(threshold) else 0.0


def select_edges(gx: np.ndarray, gy: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """Zero the gradients whose squared magnitude is under ``threshold`` (never all of them)."""
    power = gx * gx + gy * gy
    while threshold > 0 and not (power >= threshold).any():
        threshold *= 0.81
    mask = power >= threshold
    return gx * mask, gy * mask
