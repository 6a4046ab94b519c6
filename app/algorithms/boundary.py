"""Boundary handling for FFT deconvolution of photos that are *not* periodic.

A blurred photo is the 'valid' part of the convolution of a larger sharp scene: the pixels just
outside the frame contributed to the pixels inside it, but were never recorded. A plain FFT
solver instead assumes the photo wraps around (top row next to bottom row) and rings from the
borders inward. Here the photo is placed inside a larger FFT grid (sizes with small prime
factors, even for FFDNet's 2x2 grid) and the band around it is treated as *unknown*:

* :func:`smooth_periodic_fill` gives a first guess for the band: a raised-cosine blend from one
  edge of the photo to the opposite one, so the grid has no jump where it wraps (the idea of Liu
  & Jia's boundary wrapping, ICIP 2008);
* :meth:`PaddedGrid.masked_solve` then solves the least-squares problem in which only observed
  pixels are data (``y = valid(k * x) + n``, the sharp ``x`` larger than ``y``): a closed-form FFT
  solve with the band filled by the current estimate blurred by k, followed by conjugate-gradient
  steps (preconditioned by that same FFT solve) or by repeated band refreshes (an EM iteration).

All arrays are float32 (spectra complex64) and the grid is only a kernel width (plus a small
guard band) larger than the photo or tile, so memory stays a small multiple of the tile size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from app.physics.blur import good_fft_size, psf_to_otf

MIN_GUARD = 8
"""Extra free band (px) beyond the kernel reach, so the unknown border can bend smoothly."""


def even_fft_size(n: int) -> int:
    """The smallest even size >= n with only the prime factors 2, 3, 5, 7 (FFT- and FFDNet-friendly)."""
    size = good_fft_size(max(2, int(n)))
    while size % 2:
        size = good_fft_size(size + 1)
    return size


def _ramp(length: int) -> np.ndarray:
    """Raised-cosine weights rising from ~0 to ~1 over ``length`` samples (float32)."""
    positions = (np.arange(length, dtype=np.float64) + 1.0) / (length + 1.0)
    return (0.5 - 0.5 * np.cos(np.pi * positions)).astype(np.float32)


def smooth_periodic_fill(image: np.ndarray, shape: tuple[int, int], top: int, left: int) -> np.ndarray:
    """Place ``image`` at (top, left) in a grid of ``shape`` and fill the rest so the grid wraps smoothly.

    Along each axis the band between the image's last and first line (going around the period)
    is a raised-cosine blend of those two lines: continuous, periodic, and as flat as a blurred
    photo's border, which makes it a good starting guess for the unknown band.
    """
    height, width = image.shape[:2]
    rows, cols = int(shape[0]), int(shape[1])
    out = np.empty((rows, cols) + image.shape[2:], np.float32)
    # Rows first (only the image columns), in a grid rolled so the image starts at row 0.
    band = rows - height
    block = np.empty((rows, width) + image.shape[2:], np.float32)
    block[:height] = image
    if band:
        weight = _ramp(band).reshape((band,) + (1,) * (image.ndim - 1))
        block[height:] = (1.0 - weight) * image[-1:] + weight * image[:1]
    band = cols - width
    out[:, :width] = block
    if band:
        weight = _ramp(band).reshape((1, band) + (1,) * (image.ndim - 2))
        out[:, width:] = (1.0 - weight) * block[:, -1:] + weight * block[:, :1]
    return np.roll(out, (top, left), axis=(0, 1))


@dataclass
class PaddedGrid:
    """An FFT grid holding an observed photo (or tile) with an unknown band around it.

    ``top``/``left`` are even so the photo's 2x2 blocks stay FFDNet's blocks, whatever the tile.
    """

    shape: tuple[int, int]
    top: int
    left: int
    height: int
    width: int
    otf: np.ndarray  # rfft2 half spectrum of the kernel on the grid, complex64
    power: np.ndarray  # |otf|^2, float32
    last_steps: int = 0  # CG steps the last masked_solve took (diagnostics)

    @classmethod
    def for_image(cls, height: int, width: int, kernel: np.ndarray, guard: int = MIN_GUARD) -> "PaddedGrid":
        """A grid large enough that blurring the sharp estimate never wraps onto observed pixels."""
        reach = max(kernel.shape) // 2
        band = 2 * reach + max(guard, MIN_GUARD)
        rows = even_fft_size(height + band)
        cols = even_fft_size(width + band)
        # Centre the photo on an even offset (FFDNet's grid): >= reach + guard/2 - 1 px on each side.
        top = ((rows - height) // 2) & ~1
        left = ((cols - width) // 2) & ~1
        otf = psf_to_otf(kernel, (rows, cols), real=True)
        power = (otf.real**2 + otf.imag**2).astype(np.float32)
        return cls((rows, cols), top, left, height, width, otf, power)

    @property
    def inside(self) -> tuple[slice, slice]:
        """Index of the observed pixels in the grid."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    def coverage(self) -> np.ndarray:
        """Share of each grid pixel's light (0..1) that the kernel spreads onto observed pixels.

        1 inside the photo away from its edges, about a half on the edge, 0 far out in the band:
        the correlation of the kernel with the observed-pixel mask (float32, grid-sized).
        """
        mask = np.zeros(self.shape, np.float32)
        mask[self.inside] = 1.0
        shared = self.spatial(np.conj(self.otf) * self.spectrum(mask))
        return np.clip(shared, 0.0, 1.0)

    def embed(self, image: np.ndarray) -> np.ndarray:
        """The observed image on the grid, its band filled smoothly (first guess of the unknown band)."""
        return smooth_periodic_fill(image, self.shape, self.top, self.left)

    def crop(self, grid_image: np.ndarray) -> np.ndarray:
        """The observed region of a grid-sized array (a copy, contiguous)."""
        return np.ascontiguousarray(grid_image[self.inside])

    def spectrum(self, image: np.ndarray) -> np.ndarray:
        """Half spectrum (rfft2 over the two image axes) of a grid-sized image, complex64.

        One 2-D transform per channel: numpy's batched rfft2 over a 3-D array is several times
        slower than this loop.
        """
        if image.ndim == 2:
            return np.fft.rfft2(image).astype(np.complex64, copy=False)
        out = np.empty((self.shape[0], self.shape[1] // 2 + 1) + image.shape[2:], np.complex64)
        for channel in range(image.shape[2]):
            out[:, :, channel] = np.fft.rfft2(image[:, :, channel])
        return out

    def spatial(self, spectrum: np.ndarray) -> np.ndarray:
        """Inverse of :meth:`spectrum`, float32."""
        if spectrum.ndim == 2:
            return np.fft.irfft2(spectrum, s=self.shape).astype(np.float32, copy=False)
        out = np.empty(self.shape + spectrum.shape[2:], np.float32)
        for channel in range(spectrum.shape[2]):
            out[:, :, channel] = np.fft.irfft2(spectrum[:, :, channel], s=self.shape)
        return out

    def channel_otf(self, ndim: int) -> tuple[np.ndarray, np.ndarray]:
        """OTF and |OTF|^2 shaped to broadcast against a spectrum with ``ndim`` dimensions."""
        extra = (1,) * (ndim - 2)
        return self.otf.reshape(self.otf.shape + extra), self.power.reshape(self.power.shape + extra)

    def merge(self, observed: np.ndarray, blurred_estimate: np.ndarray) -> np.ndarray:
        """Observed pixels inside, the blurred estimate in the band: the 'full' observation to solve for.

        Writes into ``blurred_estimate`` (which the caller no longer needs) and returns it.
        """
        blurred_estimate[self.inside] = observed
        return blurred_estimate

    def inner(self, a: np.ndarray, b: np.ndarray) -> float:
        """<F^-1 a, F^-1 b> for two half spectra (Parseval: the mirrored half counts every column
        but the first and, for an even width, the last one twice)."""
        total = 2.0 * float(np.vdot(a, b).real)
        total -= float(np.vdot(a[:, 0], b[:, 0]).real)
        if self.shape[1] % 2 == 0:
            total -= float(np.vdot(a[:, -1], b[:, -1]).real)
        return total / (self.shape[0] * self.shape[1])

    def masked_solve(
        self,
        observed: np.ndarray,
        weight: float | np.ndarray,
        *,
        prior_spectrum: np.ndarray | None = None,
        start_spectrum: np.ndarray | None = None,
        full: np.ndarray | None = None,
        steps: int = 0,
        method: str = "cg",
        tolerance: float = 0.0,
    ) -> np.ndarray:
        """argmin_x ||M (k * x - y)||^2 + <x - p, R (x - p)> on the grid (float32), M = observed pixels.

        ``R`` is diagonal in the Fourier domain: ``weight`` (a scalar rho for HQS, or lambda |D|^2
        for Tikhonov), ``p`` the prior image given by its spectrum (zero when None).

        The first solve is the periodic closed form with the band of the observation filled by
        ``start_spectrum`` (default: the prior) blurred by k, or taken from ``full`` (a whole
        grid-sized observation). Then ``steps`` iterations of ``"cg"``: preconditioned conjugate
        gradients run in the Fourier domain (2 FFTs per step; the preconditioner is the periodic
        solve ``(|K|^2 + R)^-1``, exact away from the border), stopping early once the
        preconditioned residual fell below ``tolerance`` times its first value; or ``"em"``:
        refresh the band from the new estimate blurred by k and solve again (4 FFTs per step;
        converges to the same solution, slowly when R is small).
        """
        ndim = observed.ndim
        otf, power = self.channel_otf(ndim)
        conj_otf = np.conj(otf)
        if isinstance(weight, np.ndarray):
            weight = weight.reshape(weight.shape + (1,) * (ndim - weight.ndim)).astype(np.float32, copy=False)
        else:
            weight = np.float32(weight)
        denominator = power + weight
        prior_term = None if prior_spectrum is None else weight * prior_spectrum
        inside = self.inside

        if full is None:
            source = start_spectrum if start_spectrum is not None else prior_spectrum
            if source is None:
                raise ValueError("masked_solve needs a start estimate or a full observation")
            full = self.merge(observed, self.spatial(source * otf))
        full_spectrum = self.spectrum(full)

        def periodic_solve(observation_spectrum: np.ndarray) -> np.ndarray:
            numerator = conj_otf * observation_spectrum
            if prior_term is not None:
                numerator += prior_term
            return numerator / denominator

        x_spectrum = periodic_solve(full_spectrum)
        if steps <= 0:
            return self.spatial(x_spectrum)
        if method == "em":
            for _ in range(steps):
                refreshed = self.merge(observed, self.spatial(x_spectrum * otf))
                x_spectrum = periodic_solve(self.spectrum(refreshed))
            return self.spatial(x_spectrum)
        if method != "cg":
            raise ValueError(f"unknown masked solve method {method!r}")

        def masked(image: np.ndarray) -> np.ndarray:
            out = np.zeros_like(image)
            out[inside] = image[inside]
            return out

        def normal_operator(spectrum: np.ndarray) -> np.ndarray:
            """(K^T M K + R) in the Fourier domain."""
            out = self.spectrum(masked(self.spatial(spectrum * otf)))
            out *= conj_otf
            out += weight * spectrum
            return out

        data = np.zeros(self.shape + observed.shape[2:], np.float32)
        data[inside] = observed
        rhs = conj_otf * self.spectrum(data)
        if prior_term is not None:
            rhs += prior_term
        residual = rhs - normal_operator(x_spectrum)
        preconditioned = residual / denominator
        direction = preconditioned.copy()
        rz = self.inner(residual, preconditioned)
        stop = rz * float(tolerance) ** 2
        self.last_steps = 0
        for _ in range(steps):
            if rz <= stop or rz <= 0.0:
                break
            self.last_steps += 1
            a_direction = normal_operator(direction)
            curvature = self.inner(direction, a_direction)
            if curvature <= 0.0:
                break
            alpha = np.float32(rz / curvature)
            x_spectrum += alpha * direction
            residual -= alpha * a_direction
            preconditioned = residual / denominator
            rz_new = self.inner(residual, preconditioned)
            direction *= np.float32(rz_new / rz)
            direction += preconditioned
            rz = rz_new
        return self.spatial(x_spectrum)
