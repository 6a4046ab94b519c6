"""Deblur a float RGB photo with a known kernel: the one entry point for the CLI, batch and window.

Methods:

* ``"deep"``: plug-and-play half-quadratic splitting with FFDNet as the prior
  (:mod:`app.algorithms.dpir`), the quality method;
* ``"wiener"``: Wiener/Tikhonov with a gradient prior (:mod:`app.algorithms.wiener`), for
  instant previews.

Both treat the photo as the *valid* part of the blurred scene (no ringing from the borders) and
both run tile by tile (:class:`~app.engine.tiling.TiledRunner`) so a 24-megapixel photo fits in
bounded memory: each tile, with a context margin of about three kernel widths, is deconvolved on
its own and the cores are blended. Tiles that touch the photo's edge are *not* deconvolved
against the mirrored context the tiler adds there: each tile's region says which of its pixels
are real, and the rest is treated as unknown, the same way the photo's own border is, so tiled
and whole-image runs agree.

Strength (0..100) maps onto the result like this:

* 0: the photo is returned unchanged (nothing is run);
* 0 < s < 50: the default result mixed with the input, ``y + (s / 50) (x - y)``: a gentler look;
* 50: the default: the given (or estimated) noise level sets the regularisation;
* 50 < s <= 100: less regularisation, for a crisper (and noisier) result: the noise level used
  by the solver is multiplied by ``2 ** (-(s - 50) / 25)`` (a quarter at 100); for Wiener the
  balance is multiplied by the square of that factor.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Callable

import numpy as np

from app.algorithms.dpir import DpirSettings, dpir_deconvolve
from app.algorithms.wiener import default_balance, wiener_deconvolve
from app.engine.strength import DEFAULT_STRENGTH
from app.engine.oom import run_tiled
from app.engine.tiling import TileRegion, plan_tiles
from app.errors import PhotomendError
from app.physics.kernels import as_kernel, check_kernel_fits
from app.validation import (MAX_NOISE_LEVEL, check_balance, check_iterations, check_noise_level, check_strength,
                            check_tile)
from models import DEFAULT_MODEL as DEFAULT_MODELS

if TYPE_CHECKING:
    from app.engine.runner import ModelRunner

DEFAULT_MODEL = DEFAULT_MODELS["deblur"]  # the prior of 'deep'
METHODS = ("deep", "wiener")
DEFAULT_ITERATIONS = 7  # the range is app.validation.MIN_ITERATIONS..MAX_ITERATIONS
# Lowest automatic noise level for deblurring (0-255). Real photos carry JPEG and demosaicing
# errors that white-noise estimators do not see but deconvolution amplifies like noise. The
# shipped sample (motion:21,30, true sigma 1.5, JPEG q95) reads 0.37, and deep deblurring at
# 0.37 / 1.5 / 2.2 / 3.0 / 4.5 gives 17.7 / 29.8 / 30.7 / 30.0 / 28.8 dB (blurred: 19.8 dB).
AUTO_NOISE_FLOOR = 2.2
TILE_OVERLAP = 16
WIENER_SECONDS_PER_MEGAPIXEL = 1.7  # benchmarks/results/deblur.md, 2-core CPU
DATA_STEP_OVERHEAD = 1.12  # a deep run's time over its denoiser passes alone (torch FFT data steps)
AUTO_TILE_RANGE = (512, 1024)
GPU_AUTO_TILE_MAX = 2048
WIENER_AUTO_TILE = 1024
# The fast prior (see DpirSettings.fast_iterations) from this photo size up: below it, preparing
# the fast module (int8 calibration: ~2.5 s once per process on a 2-core CPU) costs more than it saves.
FAST_PRIOR_MIN_PIXELS = 500_000
FAST_PRECISIONS = ("fp16", "bf16", "int8")  # preferred order for the fast prior


def deblur_margin(kernel_side: int) -> int:
    """Context around each tile: the blur reach plus room for the deconvolution's long tails."""
    return 3 * int(kernel_side) + 32


@dataclass
class DeblurResult:
    """Deblurred pixels and what was done, for status bars, logs and benchmarks."""

    pixels: np.ndarray
    seconds: float
    tile: int  # tile side used (0 = whole image)
    method: str
    noise_level: float  # 0-255, the level the solver used before strength
    estimated: bool  # whether noise_level was estimated from the photo
    device: str
    precision: str
    messages: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def mad_noise_sigma(rgb: np.ndarray) -> float:
    """White-noise sigma (0-255) from the finest diagonal Haar band: a fallback estimator."""
    grey = rgb.mean(axis=2) if rgb.ndim == 3 else rgb
    h, w = (grey.shape[0] // 2) * 2, (grey.shape[1] // 2) * 2
    g = grey[:h, :w].astype(np.float64)
    band = (g[0::2, 0::2] - g[0::2, 1::2] - g[1::2, 0::2] + g[1::2, 1::2]) / 2.0
    return float(np.median(np.abs(band)) / 0.6745 * 255.0)


def estimate_noise_level(rgb: np.ndarray) -> tuple[float, str]:
    """Noise level (0-255) of the blurred photo: the project's estimator when present, else MAD."""
    try:
        from app.noise.estimate import estimate_noise  # type: ignore[attr-defined]
    except ImportError:
        estimate_noise = None
    if estimate_noise is not None:
        try:
            return float(estimate_noise(rgb).sigma), "estimated"
        except Exception:  # noqa: BLE001 - an estimator failure must not stop deblurring
            pass
    return mad_noise_sigma(rgb), "estimated (MAD)"


def auto_deblur_noise_level(measured: float) -> float:
    """The noise level (0-255) deblurring uses for a measured one: clamped, raised to AUTO_NOISE_FLOOR.

    One rule for Deblurrer.deblur and the window's live preview, so what is tuned is what is got.
    """
    return max(min(MAX_NOISE_LEVEL, max(0.0, float(measured))), AUTO_NOISE_FLOOR)


def _as_float_image(rgb: np.ndarray) -> np.ndarray:
    """The photo as float32 HxW / HxWxC in [0, 1]; bad input is a one-line PhotomendError."""
    data = np.asarray(rgb)
    if data.dtype == object or not (np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype, np.integer)):
        raise PhotomendError(f"image has {data.dtype} values, not numbers")
    if data.ndim not in (2, 3) or (data.ndim == 3 and data.shape[2] not in (1, 3, 4)):
        raise PhotomendError(f"image must be HxW, HxWx1, HxWx3 or HxWx4, got shape {data.shape}")
    if data.shape[0] < 2 or data.shape[1] < 2:
        raise PhotomendError(f"image of {data.shape[1]}x{data.shape[0]} px is too small to deblur")
    if np.issubdtype(data.dtype, np.integer):
        return data.astype(np.float32) / np.float32(np.iinfo(data.dtype).max)
    data = data.astype(np.float32, copy=False)
    bad = int(np.count_nonzero(~np.isfinite(data)))
    if bad:
        raise PhotomendError(f"image contains {bad} NaN or infinite value(s)")
    return data


# --------------------------------------------------------------------------------------------
# Deblurrer
# --------------------------------------------------------------------------------------------


class Deblurrer:
    """Non-blind deblurring bound to a device; the denoiser prior loads once, on first 'deep' use."""

    def __init__(
        self,
        device: str = "auto",
        precision: str = "fp32",
        *,
        model: str = DEFAULT_MODEL,
        settings: DpirSettings | None = None,
        notify: Callable[[str], None] | None = None,
        fast_precision: str = "auto",
    ) -> None:
        """``fast_precision``: the prior's precision in the early iterations (DpirSettings.fast_iterations):
        "auto" (the fastest this device offers: fp16/bf16 on GPUs, native bf16 or int8 on CPUs),
        a precision, or "off" (the exact prior throughout)."""
        from app.engine.device import resolve_device, resolve_precision

        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.model = model
        self.settings = settings or DpirSettings()
        self.notify = notify or (lambda message: None)
        self.fast_prior_min_pixels = FAST_PRIOR_MIN_PIXELS
        self.fast_precision = fast_precision
        self._runner: ModelRunner | None = None
        self._fast_runner: ModelRunner | None = None

    @property
    def runner(self) -> "ModelRunner":
        """The prior's runner (loaded lazily: Wiener previews never pay for the model)."""
        if self._runner is None:
            from app.engine.runner import ModelRunner

            runner = ModelRunner(self.model, self.device, self.precision)
            if runner.model.blind:
                raise PhotomendError(f"model '{runner.model.name}' takes no noise level, so it cannot be the prior "
                                     "of deep deblurring (use a noise-level model such as ffdnet-color or "
                                     "drunet-color, or run it as a learned deblurring model)")
            self._runner = runner
            self.precision = runner.precision
        return self._runner

    def fast_runner(self) -> "ModelRunner":
        """The prior in the fastest precision this device offers for it (the exact runner if none is faster).

        Only replaces fp32: a precision the user chose (bf16, int8, ...) already is the fast one.
        """
        runner = self.runner
        if self._fast_runner is None:
            self._fast_runner = runner
            if runner.precision == "fp32" and self.fast_precision != "off":
                from app.engine.device import supported_precisions
                from app.engine.runner import ModelRunner

                offered = set(runner.model.precisions_on(runner.device.type)) & set(supported_precisions(runner.device))
                order = FAST_PRECISIONS if self.fast_precision == "auto" else (self.fast_precision,)
                choice = next((p for p in order if p in offered), None)
                if choice is not None:
                    try:
                        self._fast_runner = ModelRunner(runner.model, runner.device, choice)
                    except PhotomendError:  # e.g. a model int8 cannot quantize: fp32 throughout
                        pass
        return self._fast_runner

    def estimate_seconds(self, shape: tuple[int, ...], kernel: np.ndarray, method: str = "deep",
                         iterations: int = DEFAULT_ITERATIONS, tile: int | None = None,
                         probe: bool = True) -> float | None:
        """Predicted seconds of :meth:`deblur` on a photo of ``shape`` (from this process's measured speed).

        Deep: denoiser passes x FFT-grid pixels x the measured seconds per megapixel-pass of a
        deep run (data steps included), or, before the first run, of a short model probe. With
        ``probe`` False nothing is loaded or run (safe on a UI thread): None until measured.
        """
        from app.engine import throughput

        kernel = as_kernel(kernel, "blur kernel")
        height, width = shape[:2]
        if method == "wiener":
            return height * width / 1e6 * WIENER_SECONDS_PER_MEGAPIXEL
        if not probe and self._runner is None:
            return None
        settings = replace(self.settings, iterations=int(iterations))
        tile_side = self._tile_side(tile, (height, width), kernel, "deep")
        passes = self._grid_megapixel_passes((height, width), kernel, settings, tile_side)
        deep_rate = throughput.rate(self._deep_rate_key(settings, height * width))
        if deep_rate is None:
            if not probe:  # only what is measured; the fast runner is built off the UI thread (measure_speed)
                runners = (self._runner, self._fast_runner)
                if None in runners or None in [throughput.rate(throughput.runner_key(r, "model")) for r in runners]:
                    return None
            exact = throughput.model_rate(self.runner)
            fast_share = self._fast_share(settings, height * width)
            fast = throughput.model_rate(self.fast_runner()) if fast_share else exact
            deep_rate = DATA_STEP_OVERHEAD * ((1.0 - fast_share) * exact + fast_share * fast)
        return passes * deep_rate

    def _deep_rate_key(self, settings: DpirSettings, pixels: int) -> tuple[str, str, str, str]:
        """Throughput key of deep runs with (or without) the fast prior."""
        from app.engine import throughput

        kind = "deep-deblur-fast" if self._fast_share(settings, pixels) else "deep-deblur"
        return throughput.runner_key(self.runner, kind)

    def _fast_share(self, settings: DpirSettings, pixels: int) -> float:
        """Share of the prior steps that run the fast prior on a photo of ``pixels``."""
        if pixels < self.fast_prior_min_pixels or settings.iterations <= 1:
            return 0.0
        return min(settings.fast_iterations, settings.iterations - 1) / settings.iterations

    def _grid_megapixel_passes(self, shape: tuple[int, int], kernel: np.ndarray, settings: DpirSettings,
                               tile_side: int) -> float:
        """Denoiser megapixel-passes of a deep run: each tile's FFT grid x its cost in passes (``pass_cost``)."""
        from app.algorithms.boundary import PaddedGrid

        height, width = shape
        margin = deblur_margin(kernel.shape[0])
        if tile_side == 0:
            sizes = [(height, width)]
        else:
            multiple = self.runner.model.size.multiple
            sizes = [(min(height, box.y1 + margin) - max(0, box.y0 - margin),
                      min(width, box.x1 + margin) - max(0, box.x0 - margin))
                     for box, _weights in plan_tiles(height, width, tile_side, TILE_OVERLAP, multiple)]
        total = 0.0
        for rows, cols in sizes:
            grid = PaddedGrid.grid_shape(rows, cols, kernel, settings.guard)
            total += grid[0] * grid[1] / 1e6
        return total * settings.pass_cost()

    def deblur(
        self,
        rgb: np.ndarray,
        kernel: np.ndarray,
        *,
        method: str = "deep",
        noise_level: float | None = None,
        iterations: int = DEFAULT_ITERATIONS,
        strength: float = DEFAULT_STRENGTH,
        tile: int | None = None,
        balance: float | None = None,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        expected: Callable[[float], None] | None = None,
    ) -> DeblurResult:
        """Deblur ``rgb`` (HxW[xC] float in [0, 1]) blurred by ``kernel`` (the point-spread function).

        ``noise_level`` is on the 0-255 scale (None: estimate it). ``iterations`` applies to 'deep'
        (HQS iterations; more is slower and rarely better); ``balance`` overrides Wiener's
        regularisation weight (default: 60 x the noise variance on the 0-1 scale).
        ``tile``: None = automatic, 0 = whole image, else the tile side in pixels (>= 64).
        ``expected(seconds)`` hears the predicted duration before the work starts (time estimates).
        Returns float32 in [0, 1], the same shape as the input.
        """
        started = time.perf_counter()
        messages: list[str] = []
        if method not in METHODS:
            raise PhotomendError(f"unknown deblurring method {method!r} (use {' or '.join(METHODS)})")
        image = _as_float_image(rgb)
        kernel = as_kernel(kernel, "blur kernel")
        check_kernel_fits(kernel, image.shape)
        try:
            strength = check_strength(strength)
            if balance is not None:
                float(balance)  # only whether it is a number; its range is checked below
        except (TypeError, ValueError):
            raise PhotomendError(f"strength {strength!r} and balance {balance!r} must be numbers") from None
        check_iterations(iterations)
        if balance is not None:
            balance = check_balance(balance)
        if tile is not None:
            check_tile(tile)
        if noise_level is not None:
            level = check_noise_level(noise_level)
        if strength == 0:  # nothing to do: not even the noise estimate
            return DeblurResult(
                pixels=image.copy(),
                seconds=time.perf_counter() - started,
                tile=0,
                method=method,
                noise_level=0.0 if noise_level is None else level,
                estimated=False,
                device=str(self.device),
                precision=self.precision,
                messages=messages,
            )
        estimated = noise_level is None
        if noise_level is None:
            level, how = estimate_noise_level(image[..., :3] if image.ndim == 3 else image)
            measured = min(MAX_NOISE_LEVEL, max(0.0, level))
            level = auto_deblur_noise_level(measured)
            floor_note = f" (raised to the floor {AUTO_NOISE_FLOOR:g})" if level > measured else ""
            messages.append(f"noise level {how}: {measured:.2f}{floor_note}")

        factor = 2.0 ** (-(strength - DEFAULT_STRENGTH) / 25.0) if strength > DEFAULT_STRENGTH else 1.0
        solver_sigma = level * factor / 255.0
        colour, alpha, grey = self._split_channels(image, method)
        tile_side = self._tile_side(tile, colour.shape, kernel, method)
        settings = replace(self.settings, iterations=int(iterations))
        if balance is not None:
            wiener_balance = float(balance) * factor * factor
        else:
            wiener_balance = default_balance(level / 255.0) * factor * factor
        if expected is not None:
            seconds = self.estimate_seconds(colour.shape, kernel, method, iterations, tile)
            if seconds is not None:
                expected(seconds)
        run_started = time.perf_counter()
        restored = self._run(
            colour, kernel, method, solver_sigma, wiener_balance, settings, tile_side, progress, cancelled, messages
        )
        if method == "deep":
            from app.engine import throughput

            passes = self._grid_megapixel_passes(colour.shape[:2], kernel, settings, tile_side)
            throughput.record(self._deep_rate_key(settings, colour.shape[0] * colour.shape[1]),
                              time.perf_counter() - run_started, passes)
        if strength < DEFAULT_STRENGTH:
            mix = np.float32(strength / DEFAULT_STRENGTH)
            restored = colour + mix * (restored - colour)
        np.clip(restored, 0.0, 1.0, out=restored)
        pixels = self._join_channels(restored, alpha, grey, image)
        for message in messages:
            self.notify(message)
        return DeblurResult(
            pixels=pixels,
            seconds=time.perf_counter() - started,
            tile=tile_side,
            method=method,
            noise_level=level,
            estimated=estimated,
            device=str(self.device),
            precision=self.precision,
            messages=messages,
        )

    # ----------------------------------------------------------------------------------------

    @staticmethod
    def _split_channels(image: np.ndarray, method: str) -> tuple[np.ndarray, np.ndarray | None, bool]:
        """(HxWx3 working image, alpha or None, grey?): FFDNet is a colour model, alpha is kept as is."""
        alpha = None
        if image.ndim == 3 and image.shape[2] == 4:
            alpha = image[:, :, 3].copy()
            image = image[:, :, :3]
        grey = image.ndim == 2 or image.shape[2] == 1
        if grey:
            plane = image if image.ndim == 2 else image[:, :, 0]
            # Wiener works per channel: one plane is enough; FFDNet needs three equal ones.
            image = plane[:, :, None] if method == "wiener" else np.repeat(plane[:, :, None], 3, axis=2)
        return np.ascontiguousarray(image, dtype=np.float32), alpha, grey

    @staticmethod
    def _join_channels(restored: np.ndarray, alpha: np.ndarray | None, grey: bool, original: np.ndarray) -> np.ndarray:
        """Back to the input's layout (grey planes averaged, alpha appended)."""
        if grey:
            plane = restored.mean(axis=2) if restored.shape[2] > 1 else restored[:, :, 0]
            return np.ascontiguousarray(plane[:, :, None] if original.ndim == 3 else plane, dtype=np.float32)
        if alpha is not None:
            return np.ascontiguousarray(np.concatenate([restored, alpha[:, :, None]], axis=2), dtype=np.float32)
        return restored.astype(np.float32, copy=False)

    def _tile_side(self, tile: int | None, shape: tuple[int, ...], kernel: np.ndarray, method: str) -> int:
        """0 (whole image) when the photo fits one tile; else the requested or automatic side.

        Automatic: Wiener needs little memory (1024); 'deep' takes what the memory budget allows
        for FFDNet with the deblurring margin, 512-1024 px on the CPU (larger tiles waste less
        on margins but gain nothing in speed there), up to 2048 on a GPU.
        """
        height, width = shape[:2]
        margin = deblur_margin(kernel.shape[0])
        if tile is None:
            if method == "wiener":
                side = WIENER_AUTO_TILE
            else:
                from app.engine.memory import auto_tile_size

                side = auto_tile_size(self.device, self.precision, margin=margin,
                                      bytes_per_pixel=self.runner.model.memory_per_pixel(self.precision))
                high = GPU_AUTO_TILE_MAX if self.device.type in ("cuda", "mps") else AUTO_TILE_RANGE[1]
                side = max(AUTO_TILE_RANGE[0], min(high, side))
        else:
            side = int(tile)
        # One tile (no margin to waste) when the photo is hardly larger than a tile.
        if side == 0 or (height <= side + 2 * margin and width <= side + 2 * margin):
            return 0
        return side

    def _run(
        self,
        colour: np.ndarray,
        kernel: np.ndarray,
        method: str,
        sigma: float,
        balance: float,
        settings: DpirSettings,
        tile_side: int,
        progress: Callable[[int, int], None] | None,
        cancelled: Callable[[], bool] | None,
        messages: list[str],
    ) -> np.ndarray:
        """Tiled (or whole) run of one method; out of GPU memory falls back to smaller tiles, then the CPU."""
        height, width = colour.shape[:2]
        margin = deblur_margin(kernel.shape[0])
        multiple = self.runner.model.size.multiple if method == "deep" else 1
        tiles = 1 if tile_side == 0 else len(plan_tiles(height, width, tile_side, TILE_OVERLAP, multiple))
        per_tile = settings.denoiser_calls() if method == "deep" else 1
        use_fast = method == "deep" and self._fast_share(settings, height * width) > 0
        total = tiles * per_tile
        done = [0]

        def step() -> None:
            done[0] = min(done[0] + 1, total)
            if progress is not None:
                progress(done[0], total)

        def solve(observed: np.ndarray, runner: "ModelRunner | None" = None) -> np.ndarray:
            if method == "deep":
                exact = runner or self.runner
                fast = self.fast_runner() if use_fast and exact is self.runner else None
                return dpir_deconvolve(observed, kernel, exact, sigma, settings, step=step, cancelled=cancelled,
                                       fast_denoise=fast)
            out = wiener_deconvolve(observed, kernel, balance=balance)
            step()
            return out

        if progress is not None:
            progress(0, total)
        if tile_side == 0:
            if cancelled is not None and cancelled():
                from app.errors import CancelledError

                raise CancelledError("cancelled")
            return solve(colour)

        def bind(runner: "ModelRunner | None"):
            def restore(tile: np.ndarray, region: TileRegion) -> np.ndarray:
                # Only the tile's real photo pixels are deconvolved; what the tiler mirrored in at
                # the photo's edge is treated as unknown, as the photo's own border is.
                rows, cols = region.genuine
                out = tile.copy()
                out[rows, cols] = solve(np.ascontiguousarray(tile[rows, cols]), runner)
                return out

            return restore

        out, runner, _ = run_tiled(bind, self.runner if method == "deep" else None, colour, tile=tile_side,
                                   margin=margin, overlap=TILE_OVERLAP, multiple=multiple, messages=messages,
                                   cancelled=cancelled)
        if runner is not None and runner is not self._runner:  # the GPU gave up: keep the CPU copy
            self._runner, self.device, self.precision = runner, runner.device, runner.precision
        return out
