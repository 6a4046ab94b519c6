"""Kernel-side helpers of the blind estimator: the gradient-domain least-squares solve and cleanup.

Given a latent image's (selected) gradients ``px, py`` and the blurred photo's gradients
``bx, by`` on the same padded grid, the kernel minimises

    sum_p w(p) |(k * p_)(p) - b_(p)|^2 + beta ||k||^2,    k supported on an n x n square,

solved through its normal equations: the Gram matrix is the (Toeplitz) autocorrelation of the
latent gradients and the right-hand side their cross-correlation with the blurred gradients, all
computed with FFTs (Cho & Lee 2009; Pan et al. 2014 solve the same system with CG). Restricting
the support to the canvas (rather than dividing spectra) keeps energy from leaking into a
far-away halo. By default the system is solved with k >= 0 and a small L1 weight (accelerated
projected gradient): a plain least-squares kernel carries a speckled halo that a later threshold
cannot separate from faint parts of the path. The result is then cleaned: values under 1/20 of
the peak removed, small disconnected blobs dropped, re-normalised and shifted so its centroid is
the middle pixel.
"""

from __future__ import annotations

import cv2
import numpy as np

from app.algorithms.blind.latent import fft2, ifft2_real


def taper_window(shape: tuple[int, int], inner: tuple[int, int, int, int], ramp: int) -> np.ndarray:
    """Weights 1 inside ``inner`` = (top, left, height, width) shrunk by ``ramp``, raised cosine to 0 at its edge.

    Why: the kernel system assumes circular correlation; fading both gradient fields out inside
    the photo's border makes the circular and the true (linear) correlations agree.
    """
    top, left, height, width = inner
    window = np.zeros(shape, np.float32)

    def profile(length: int) -> np.ndarray:
        ramp_len = max(1, min(ramp, length // 2))
        t = (np.arange(ramp_len, dtype=np.float64) + 0.5) / ramp_len
        edge = 0.5 - 0.5 * np.cos(np.pi * t)
        line = np.ones(length)
        line[:ramp_len] = edge
        line[length - ramp_len :] = edge[::-1]
        return line

    window[top : top + height, left : left + width] = np.outer(profile(height), profile(width))
    return window


def solve_kernel(
    latent_grads: tuple[np.ndarray, np.ndarray],
    blurred_grads: tuple[np.ndarray, np.ndarray],
    side: int,
    gamma: float,
    start: np.ndarray | None = None,
    iterations: int = 30,
    sparsity: float = 0.0,
    nn_iterations: int = 100,
) -> np.ndarray:
    """Least-squares kernel (side x side, may be negative) from matching gradient fields.

    ``gamma`` is the Tikhonov weight on ||k||^2 against the summed squared gradient residual
    (0-1 intensities), as in Pan et al. / Anger et al. (IPOL 2019).
    """
    shape = latent_grads[0].shape
    reach = side // 2
    auto = np.zeros(shape, np.complex64)
    cross = np.zeros(shape, np.complex64)
    for latent, blurred in zip(latent_grads, blurred_grads):
        lat_f = fft2(latent)
        auto += lat_f.real**2 + lat_f.imag**2
        cross += fft2(blurred) * np.conj(lat_f)
    autocorr = ifft2_real(auto).astype(np.float64)  # R(d) = sum_q x(q) x(q + d)
    crosscorr = ifft2_real(cross).astype(np.float64)  # c(j) = sum_p b(p) x(p - j)
    energy = float(autocorr[0, 0])
    if energy <= 0:
        kernel = np.zeros((side, side))
        kernel[reach, reach] = 1.0
        return kernel
    span = 2 * side - 1  # autocorrelation lags -(side-1) .. side-1
    lags_r = np.arange(-(side - 1), side) % shape[0]
    lags_c = np.arange(-(side - 1), side) % shape[1]
    gram = np.ascontiguousarray(autocorr[np.ix_(lags_r, lags_c)], dtype=np.float32)
    rhs = crosscorr[np.ix_(np.arange(-reach, reach + 1) % shape[0], np.arange(-reach, reach + 1) % shape[1])]
    assert gram.shape == (span, span)
    if sparsity <= 0:
        return _conjugate_gradient(gram, rhs, gamma, start, iterations)
    return _sparse_nonnegative(gram, rhs, gamma, start, sparsity, energy, nn_iterations)


def _sparse_nonnegative(
    gram: np.ndarray,
    rhs: np.ndarray,
    gamma: float,
    start: np.ndarray | None,
    sparsity: float,
    energy: float,
    iterations: int,
) -> np.ndarray:
    """min 1/2 k'(R + gamma)k - (c - tau)'k with k >= 0 (accelerated projected gradient).

    For a non-negative kernel the L1 norm is its sum, so an L1 (sparsity) penalty is just the
    constant ``tau`` subtracted from the right-hand side; ``tau = sparsity * energy * peak``
    suppresses entries the data support less than ``sparsity`` x the current peak, while the
    surviving ones are re-fitted jointly (unlike a threshold applied afterwards).
    """
    if start is None or start.shape != rhs.shape:
        start = _conjugate_gradient(gram, rhs, gamma, None, 30)
    k = np.maximum(start.astype(np.float64), 0.0)
    if not k.any():
        k[k.shape[0] // 2, k.shape[1] // 2] = 1.0
    # Scale the start to the least-squares amplitude along its own direction.
    ak = _apply(gram, gamma, k)
    k *= max(float((rhs * k).sum()) / max(float((k * ak).sum()), 1e-30), 0.0)
    peak = float(_conjugate_gradient(gram, rhs, gamma, k, 10).max())
    target = rhs - sparsity * energy * max(peak, 1e-12)
    lipschitz = float(np.abs(gram).sum()) + gamma  # Gershgorin bound on the largest eigenvalue
    y, previous, t = k.copy(), k.copy(), 1.0
    for _ in range(iterations):
        gradient = _apply(gram, gamma, y) - target
        k = np.maximum(y - gradient / lipschitz, 0.0)
        t_next = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        y = k + ((t - 1.0) / t_next) * (k - previous)
        previous, t = k, t_next
    return k


def _apply(gram: np.ndarray, gamma: float, k: np.ndarray) -> np.ndarray:
    """(R * k) + gamma k on the n x n support (R symmetric, so filtering = convolution)."""
    out = cv2.filter2D(k.astype(np.float32), cv2.CV_32F, gram, borderType=cv2.BORDER_CONSTANT)
    return out.astype(np.float64) + gamma * k


def _conjugate_gradient(
    gram: np.ndarray, rhs: np.ndarray, gamma: float, start: np.ndarray | None, iterations: int
) -> np.ndarray:
    """Solve (R * k) + gamma k = rhs on the n x n support; R * k is a (symmetric) 2-D filter, so cheap."""

    def apply(k: np.ndarray) -> np.ndarray:
        return _apply(gram, gamma, k)

    k = np.zeros_like(rhs) if start is None or start.shape != rhs.shape else start.astype(np.float64)
    residual = rhs - apply(k)
    direction = residual.copy()
    rs_old = float((residual * residual).sum())
    tolerance = 1e-10 * float((rhs * rhs).sum())
    for _ in range(iterations):
        if rs_old <= tolerance:
            break
        a_dir = apply(direction)
        alpha = rs_old / float((direction * a_dir).sum())
        k += alpha * direction
        residual -= alpha * a_dir
        rs_new = float((residual * residual).sum())
        direction = residual + (rs_new / rs_old) * direction
        rs_old = rs_new
    return k


def centre_kernel(kernel: np.ndarray) -> np.ndarray:
    """Shift a kernel by whole pixels so its centroid is the middle pixel (zero fill).

    Why: a kernel off the centre shifts the deconvolved photo, and would drift towards the canvas
    edge over the iterations.
    """
    total = kernel.sum()
    if total <= 0:
        return kernel
    side = kernel.shape[0]
    rows, cols = np.mgrid[0:side, 0:side]
    shift_r = int(round(side // 2 - float((rows * kernel).sum() / total)))
    shift_c = int(round(side // 2 - float((cols * kernel).sum() / total)))
    if shift_r == 0 and shift_c == 0:
        return kernel
    out = np.zeros_like(kernel)
    src_r = slice(max(0, -shift_r), side - max(0, shift_r))
    dst_r = slice(max(0, shift_r), side - max(0, -shift_r))
    src_c = slice(max(0, -shift_c), side - max(0, shift_c))
    dst_c = slice(max(0, shift_c), side - max(0, -shift_c))
    out[dst_r, dst_c] = kernel[src_r, src_c]
    return out


def clean_kernel(kernel: np.ndarray, peak_fraction: float = 0.05, blob_fraction: float = 0.1) -> np.ndarray:
    """Non-negative, sparse, connected, normalised, centred kernel (float64) from a raw LS solution."""
    kernel = np.maximum(np.asarray(kernel, np.float64), 0.0)
    peak = kernel.max()
    side = kernel.shape[0]
    if peak <= 0:
        delta = np.zeros_like(kernel)
        delta[side // 2, side // 2] = 1.0
        return delta
    kernel[kernel < peak_fraction * peak] = 0.0
    count, labels = cv2.connectedComponents((kernel > 0).astype(np.uint8), connectivity=8)
    if count > 2:
        total = kernel.sum()
        sums = np.bincount(labels.ravel(), weights=kernel.ravel(), minlength=count)
        drop = sums < blob_fraction * total
        drop[0] = False
        if drop[1:].all():
            drop[int(np.argmax(sums[1:])) + 1] = False
        kernel[drop[labels]] = 0.0
    kernel /= kernel.sum()
    return centre_kernel(kernel)


def rescale_kernel(kernel: np.ndarray, factor: float, side: int) -> np.ndarray:
    """Magnify a kernel by ``factor`` about its centre onto a ``side`` x ``side`` canvas (coarse -> fine level)."""
    src_c = kernel.shape[0] // 2
    dst_c = side // 2
    # dst -> src: src = src_c + (dst - dst_c) / factor
    inv = 1.0 / factor
    matrix = np.array([[inv, 0.0, src_c - dst_c * inv], [0.0, inv, src_c - dst_c * inv]], np.float64)
    out = cv2.warpAffine(
        kernel.astype(np.float32),
        matrix,
        (side, side),
        flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    ).astype(np.float64)
    out = np.maximum(out, 0.0)
    total = out.sum()
    if total <= 0:
        out[dst_c, dst_c] = 1.0
        return out
    return out / total
