"""The blur forward model shared by the deblurring code: y = k * x, its adjoint, and the OTF.

Every function uses the kernel convention of :mod:`app.physics.kernels`: the kernel is the
point-spread function and the blur is a *true convolution* (``scipy.signal.convolve``
orientation), centred on the kernel's middle pixel. OpenCV's ``filter2D`` computes correlation,
so it is given the kernel rotated by 180°. Only numpy and OpenCV are needed at run time (scipy is a
test dependency).

Modes:

* ``"same"``: output the size of the input; outside the image is zero (``boundary="zero"``, as
  ``scipy.signal.convolve(..., mode="same")``) or a mirror/edge extension for realistic synthetic
  blurs (``"symmetric"``, ``"reflect"``, ``"replicate"``, named like ``numpy.pad``'s modes).
* ``"valid"``: only pixels whose whole neighbourhood is inside the image, (H - n + 1) x (W - n + 1):
  the physically honest model of a blurred crop, used with a deconvolution that estimates the
  larger sharp image.
* ``"circular"``: periodic boundary, computed by FFT with :func:`psf_to_otf`; what FFT-based
  solvers (Wiener, half-quadratic splitting) assume.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from app.physics.kernels import check_kernel_fits

BlurMode = Literal["valid", "same", "circular"]
Boundary = Literal["zero", "symmetric", "reflect", "replicate"]
BLUR_MODES = ("valid", "same", "circular")
_SMALL_PRIMES = (2, 3, 5, 7)


def _cv2_border(boundary: str) -> int:
    """The OpenCV border flag for a numpy.pad-style boundary name."""
    import cv2

    borders = {
        "zero": cv2.BORDER_CONSTANT,
        "symmetric": cv2.BORDER_REFLECT,  # abc|cba: edge pixel repeated (numpy "symmetric")
        "reflect": cv2.BORDER_REFLECT_101,  # abc|ba: edge pixel not repeated (numpy "reflect")
        "replicate": cv2.BORDER_REPLICATE,  # abc|ccc (numpy "edge")
    }
    if boundary not in borders:
        raise ValueError(f"unknown boundary {boundary!r}; use one of {', '.join(borders)}")
    return borders[boundary]


def _checked_image(image: np.ndarray) -> np.ndarray:
    """The image as float32 HxW or HxWxC (a programming error otherwise, hence ValueError)."""
    data = np.asarray(image)
    if data.ndim not in (2, 3) or data.shape[0] == 0 or data.shape[1] == 0:
        raise ValueError(f"expected an HxW or HxWxC image, got shape {data.shape}")
    if not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
        raise ValueError(f"expected a real-valued image, got dtype {data.dtype}")
    return data.astype(np.float32, copy=False)


def _checked_kernel(kernel: np.ndarray) -> np.ndarray:
    """A finite 2-D kernel with odd sides (so its centre pixel, the zero shift, is unambiguous)."""
    data = np.asarray(kernel)
    if data.ndim != 2 or data.size == 0:
        raise ValueError(f"expected a 2-D kernel, got shape {data.shape}")
    if data.shape[0] % 2 == 0 or data.shape[1] % 2 == 0:
        raise ValueError(
            f"kernel sides must be odd (centre = middle pixel), got {data.shape}; use kernels.as_kernel"
        )
    data = data.astype(np.float32)
    if not np.isfinite(data).all():
        raise ValueError("kernel contains NaN or infinite values")
    return data


def _filter_channels(image: np.ndarray, taps: np.ndarray, border: int) -> np.ndarray:
    """cv2.filter2D (correlation with ``taps``, anchored at the centre) on each channel."""
    import cv2

    taps = np.ascontiguousarray(taps, dtype=np.float32)
    if image.ndim == 2:
        return cv2.filter2D(np.ascontiguousarray(image), cv2.CV_32F, taps, borderType=border)
    out = np.empty(image.shape, np.float32)
    for channel in range(image.shape[2]):
        out[:, :, channel] = cv2.filter2D(
            np.ascontiguousarray(image[:, :, channel]), cv2.CV_32F, taps, borderType=border
        )
    return out


def _circular(image: np.ndarray, kernel: np.ndarray, adjoint: bool) -> np.ndarray:
    """Periodic convolution (or its adjoint, correlation) by FFT."""
    rows, cols = image.shape[:2]
    otf = psf_to_otf(kernel, (rows, cols), real=True)
    if adjoint:
        otf = np.conj(otf)
    if image.ndim == 3:
        otf = otf[:, :, None]
    spectrum = np.fft.rfft2(image, axes=(0, 1)) * otf
    return np.fft.irfft2(spectrum, s=(rows, cols), axes=(0, 1)).astype(np.float32, copy=False)


def blur(
    image: np.ndarray,
    kernel: np.ndarray,
    mode: BlurMode = "same",
    boundary: Boundary = "zero",
) -> np.ndarray:
    """Blur an HxW or HxWxC image with a kernel: the forward model y = k * x (true convolution).

    ``boundary`` applies to ``"same"`` only (see the module notes). Returns float32. A kernel
    larger than the image raises :class:`~app.physics.kernels.KernelError`.
    """
    data = _checked_image(image)
    taps = _checked_kernel(kernel)
    check_kernel_fits(taps, data.shape)
    if mode == "circular":
        return _circular(data, taps, adjoint=False)
    if mode not in ("same", "valid"):
        raise ValueError(f"unknown blur mode {mode!r}; use one of {', '.join(BLUR_MODES)}")
    border = _cv2_border(boundary if mode == "same" else "zero")
    out = _filter_channels(data, taps[::-1, ::-1], border)
    if mode == "valid":
        r, c = taps.shape[0] // 2, taps.shape[1] // 2
        out = np.ascontiguousarray(out[r : out.shape[0] - r, c : out.shape[1] - c])
    return out


def blur_adjoint(image: np.ndarray, kernel: np.ndarray, mode: BlurMode = "same") -> np.ndarray:
    """The adjoint (transpose) of :func:`blur` with a zero boundary: what gradient-based solvers need.

    ``"same"`` and ``"circular"``: correlation with the kernel, same size. ``"valid"``: the input is
    the (H - n + 1) x (W - n + 1) blurred image and the result is H x W (zero-padded correlation).
    Satisfies <blur(x), y> == <x, blur_adjoint(y)> for every mode.
    """
    data = _checked_image(image)
    taps = _checked_kernel(kernel)
    if mode == "circular":
        check_kernel_fits(taps, data.shape)
        return _circular(data, taps, adjoint=True)
    if mode == "same":
        check_kernel_fits(taps, data.shape)
        return _filter_channels(data, taps, _cv2_border("zero"))
    if mode == "valid":
        r, c = taps.shape[0] // 2, taps.shape[1] // 2
        pad = ((2 * r, 2 * r), (2 * c, 2 * c)) + (((0, 0),) if data.ndim == 3 else ())
        padded = np.pad(data, pad)
        out = _filter_channels(padded, taps, _cv2_border("zero"))
        return np.ascontiguousarray(out[r : out.shape[0] - r, c : out.shape[1] - c])
    raise ValueError(f"unknown blur mode {mode!r}; use one of {', '.join(BLUR_MODES)}")


def psf_to_otf(kernel: np.ndarray, shape: tuple[int, ...], real: bool = False) -> np.ndarray:
    """The optical transfer function: the kernel's FFT on an image grid, centre moved to (0, 0).

    Pads the kernel to ``shape[:2]``, shifts its centre pixel circularly to the origin and takes
    the 2-D FFT (MATLAB's psf2otf), so ``ifft2(fft2(x) * otf)`` is :func:`blur` with
    ``mode="circular"``. ``real=True`` gives the half spectrum of ``numpy.fft.rfft2``
    (H x (W // 2 + 1)). complex64.
    """
    taps = _checked_kernel(kernel)
    rows, cols = int(shape[0]), int(shape[1])
    check_kernel_fits(taps, (rows, cols))
    padded = np.zeros((rows, cols), np.float32)
    padded[: taps.shape[0], : taps.shape[1]] = taps
    padded = np.roll(padded, (-(taps.shape[0] // 2), -(taps.shape[1] // 2)), axis=(0, 1))
    otf = np.fft.rfft2(padded) if real else np.fft.fft2(padded)
    return otf.astype(np.complex64, copy=False)


def good_fft_size(n: int) -> int:
    """The smallest size >= n whose only prime factors are 2, 3, 5 and 7 (fast for every FFT library).

    Pad an image to this size (per axis) before FFT-based deconvolution: a prime-sized axis can be
    many times slower.
    """
    n = int(n)
    if n < 1:
        raise ValueError(f"FFT size must be at least 1, got {n}")
    candidate = n
    while True:
        rest = candidate
        for prime in _SMALL_PRIMES:
            while rest % prime == 0:
                rest //= prime
        if rest == 1:
            return candidate
        candidate += 1
