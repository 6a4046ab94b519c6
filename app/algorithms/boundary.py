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

The grid works in torch on a chosen device: images are float32 ``C x H x W`` tensors (spectra
complex64, batched over channels), so the data step of deep deblurring runs on the model's
device (no numpy round trip per iteration on a GPU) and uses torch's threaded FFTs on the CPU.
The grid is only a kernel width (plus a small guard band) larger than the photo or tile, so
memory stays a small multiple of the tile size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

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


def to_planes(image: np.ndarray, device: torch.device | str = "cpu") -> torch.Tensor:
    """An HxW or HxWxC float array as a float32 ``C x H x W`` tensor on ``device``."""
    data = np.asarray(image, dtype=np.float32)
    planes = data[None] if data.ndim == 2 else np.moveaxis(data, 2, 0)
    return torch.from_numpy(np.ascontiguousarray(planes)).to(device)


def from_planes(planes: torch.Tensor, ndim: int = 3) -> np.ndarray:
    """A ``C x H x W`` tensor back as an HxWxC (``ndim`` 3) or HxW (``ndim`` 2) float32 array."""
    data = planes.detach().float().cpu().numpy()
    return np.ascontiguousarray(data[0] if ndim == 2 else np.moveaxis(data, 0, 2))


@dataclass
class PaddedGrid:
    """An FFT grid holding an observed photo (or tile) with an unknown band around it.

    ``top``/``left`` are even so the photo's 2x2 blocks stay FFDNet's blocks, whatever the tile.
    Images on the grid are ``C x rows x cols`` float32 tensors on ``device``.
    """

    shape: tuple[int, int]
    top: int
    left: int
    height: int
    width: int
    otf: torch.Tensor  # rfft2 half spectrum of the kernel on the grid, complex64
    power: torch.Tensor  # |otf|^2, float32
    device: torch.device
    last_steps: int = 0  # CG steps the last masked_solve took (diagnostics)

    @staticmethod
    def grid_shape(height: int, width: int, kernel: np.ndarray, guard: int = MIN_GUARD) -> tuple[int, int]:
        """The FFT grid's (rows, cols) for a photo of ``height`` x ``width`` and this kernel."""
        band = 2 * (max(kernel.shape) // 2) + max(guard, MIN_GUARD)
        return even_fft_size(height + band), even_fft_size(width + band)

    @classmethod
    def for_image(
        cls, height: int, width: int, kernel: np.ndarray, guard: int = MIN_GUARD, device: torch.device | str = "cpu"
    ) -> "PaddedGrid":
        """A grid large enough that blurring the sharp estimate never wraps onto observed pixels."""
        rows, cols = cls.grid_shape(height, width, kernel, guard)
        # Centre the photo on an even offset (FFDNet's grid): >= reach + guard/2 - 1 px on each side.
        top = ((rows - height) // 2) & ~1
        left = ((cols - width) // 2) & ~1
        device = torch.device(device)
        otf = torch.from_numpy(psf_to_otf(kernel, (rows, cols), real=True)).to(device)
        power = (otf.real**2 + otf.imag**2).float()
        return cls((rows, cols), top, left, height, width, otf, power, device)

    @property
    def inside(self) -> tuple[slice, slice]:
        """Index of the observed pixels in the grid (rows, columns)."""
        return slice(self.top, self.top + self.height), slice(self.left, self.left + self.width)

    def coverage(self) -> torch.Tensor:
        """Share of each grid pixel's light (0..1) that the kernel spreads onto observed pixels.

        1 inside the photo away from its edges, about a half on the edge, 0 far out in the band:
        the correlation of the kernel with the observed-pixel mask (float32, rows x cols).
        """
        mask = torch.zeros((1,) + self.shape, dtype=torch.float32, device=self.device)
        rows, cols = self.inside
        mask[:, rows, cols] = 1.0
        shared = self.spatial(torch.conj(self.otf) * self.spectrum(mask))
        return shared[0].clamp_(0.0, 1.0)

    def embed(self, image: np.ndarray) -> torch.Tensor:
        """The observed HxW[xC] image on the grid, its band filled smoothly (first guess of the band)."""
        return to_planes(smooth_periodic_fill(np.asarray(image, np.float32), self.shape, self.top, self.left),
                         self.device)

    def crop(self, planes: torch.Tensor) -> torch.Tensor:
        """The observed region of grid-sized planes (a contiguous copy)."""
        rows, cols = self.inside
        return planes[:, rows, cols].contiguous()

    def spectrum(self, planes: torch.Tensor) -> torch.Tensor:
        """Half spectrum (rfft2 over the last two axes) of grid-sized planes, complex64."""
        return torch.fft.rfft2(planes)

    def spatial(self, spectrum: torch.Tensor) -> torch.Tensor:
        """Inverse of :meth:`spectrum`, float32."""
        return torch.fft.irfft2(spectrum, s=self.shape)

    def merge(self, observed: torch.Tensor, blurred_estimate: torch.Tensor) -> torch.Tensor:
        """Observed pixels inside, the blurred estimate in the band: the 'full' observation to solve for.

        Writes into ``blurred_estimate`` (which the caller no longer needs) and returns it.
        """
        rows, cols = self.inside
        blurred_estimate[:, rows, cols] = observed
        return blurred_estimate

    def inner(self, a: torch.Tensor, b: torch.Tensor) -> float:
        """<F^-1 a, F^-1 b> for two half spectra (Parseval: the mirrored half counts every column
        but the first and, for an even width, the last one twice)."""
        total = 2.0 * torch.vdot(a.reshape(-1), b.reshape(-1)).real
        total = total - torch.vdot(a[..., 0].reshape(-1), b[..., 0].reshape(-1)).real
        if self.shape[1] % 2 == 0:
            total = total - torch.vdot(a[..., -1].reshape(-1), b[..., -1].reshape(-1)).real
        return float(total) / (self.shape[0] * self.shape[1])

    def masked_solve(
        self,
        observed: torch.Tensor,
        weight: float | torch.Tensor,
        *,
        prior_spectrum: torch.Tensor | None = None,
        start_spectrum: torch.Tensor | None = None,
        full: torch.Tensor | None = None,
        steps: int = 0,
        method: str = "cg",
        tolerance: float = 0.0,
    ) -> torch.Tensor:
        """argmin_x ||M (k * x - y)||^2 + <x - p, R (x - p)> on the grid, M = observed pixels.

        ``observed`` is ``C x height x width`` (on the grid's device). ``R`` is diagonal in the
        Fourier domain: ``weight`` (a scalar rho for HQS, or lambda |D|^2 for Tikhonov, a half
        spectrum-sized tensor), ``p`` the prior image given by its spectrum (zero when None).

        The first solve is the periodic closed form with the band of the observation filled by
        ``start_spectrum`` (default: the prior) blurred by k, or taken from ``full`` (whole
        grid-sized planes). Then ``steps`` iterations of ``"cg"``: preconditioned conjugate
        gradients run in the Fourier domain (2 FFTs per step; the preconditioner is the periodic
        solve ``(|K|^2 + R)^-1``, exact away from the border), stopping early once the
        preconditioned residual fell below ``tolerance`` times its first value; or ``"em"``:
        refresh the band from the new estimate blurred by k and solve again (4 FFTs per step;
        converges to the same solution, slowly when R is small).
        """
        otf, power = self.otf, self.power
        conj_otf = torch.conj(otf)
        if not isinstance(weight, torch.Tensor):
            weight = torch.tensor(float(weight), dtype=torch.float32, device=self.device)
        denominator = power + weight
        prior_term = None if prior_spectrum is None else weight * prior_spectrum
        rows, cols = self.inside

        if full is None:
            source = start_spectrum if start_spectrum is not None else prior_spectrum
            if source is None:
                raise ValueError("masked_solve needs a start estimate or a full observation")
            full = self.merge(observed, self.spatial(source * otf))
        full_spectrum = self.spectrum(full)

        def periodic_solve(observation_spectrum: torch.Tensor) -> torch.Tensor:
            numerator = conj_otf * observation_spectrum
            if prior_term is not None:
                numerator = numerator + prior_term
            return numerator / denominator

        x_spectrum = periodic_solve(full_spectrum)
        self.last_steps = 0
        if steps <= 0:
            return self.spatial(x_spectrum)
        if method == "em":
            for _ in range(steps):
                refreshed = self.merge(observed, self.spatial(x_spectrum * otf))
                x_spectrum = periodic_solve(self.spectrum(refreshed))
            return self.spatial(x_spectrum)
        if method != "cg":
            raise ValueError(f"unknown masked solve method {method!r}")

        mask = torch.zeros(self.shape, dtype=torch.float32, device=self.device)
        mask[rows, cols] = 1.0
        inverse_denominator = 1.0 / denominator

        def normal_operator(spectrum: torch.Tensor) -> torch.Tensor:
            """(K^T M K + R) in the Fourier domain (in place where it can: large temporaries are slow)."""
            out = self.spectrum(self.spatial(spectrum * otf).mul_(mask))
            out.mul_(conj_otf)
            out.add_(spectrum * weight)
            return out

        data = torch.zeros((observed.shape[0],) + self.shape, dtype=torch.float32, device=self.device)
        data[:, rows, cols] = observed
        rhs = conj_otf * self.spectrum(data)
        if prior_term is not None:
            rhs += prior_term
        residual = rhs.sub_(normal_operator(x_spectrum))
        preconditioned = residual * inverse_denominator
        direction = preconditioned.clone()
        rz = self.inner(residual, preconditioned)
        stop = rz * float(tolerance) ** 2
        for _ in range(steps):
            if rz <= stop or rz <= 0.0:
                break
            self.last_steps += 1
            a_direction = normal_operator(direction)
            curvature = self.inner(direction, a_direction)
            if curvature <= 0.0:
                break
            alpha = rz / curvature
            x_spectrum.add_(direction, alpha=alpha)
            residual.sub_(a_direction, alpha=alpha)
            torch.mul(residual, inverse_denominator, out=preconditioned)
            rz_new = self.inner(residual, preconditioned)
            direction.mul_(rz_new / rz).add_(preconditioned)
            rz = rz_new
        return self.spatial(x_spectrum)
