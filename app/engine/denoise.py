"""Denoise a float RGB image: noise level (auto or given) -> strength -> tiled model run.

The one entry point the CLI, the batch queue and the window all call, so every path
restores a photo the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from app.engine.device import resolve_device, resolve_precision
from app.engine.finish import finish, validate_amount
from app.engine.memory import auto_tile_size
from app.engine.runner import ModelRunner
from app.engine.strength import DEFAULT_STRENGTH, MAX_SIGMA, sigma_for_strength, strength_factor
from app.engine.tiling import TiledRunner, is_out_of_memory
from app.errors import PhotomendError
from app.engine.auto_level import LevelChoice, choose_level
from app.noise.estimate import TooSmallToMeasure, estimate_noise

DEFAULT_MODEL = "ffdnet-color"
TILE_MARGIN = 32  # > FFDNet's 25 px receptive half-width, so tiles see all the context they need
TILE_OVERLAP = 16
# A grey photo goes through the colour model as three identical channels, so its noise is the
# same in all three. The colour model was trained on independent noise per channel, which it
# partly averages away across channels; identical noise survives that averaging, so the model
# must be told a higher level. The factor was measured on Set12 (1.4-1.9 tried at sigma
# 15/25/50; 1.6 best at all three, ~5 dB over passing sigma as is): benchmarks/RESULTS.md.
GREY_LEVEL_FACTOR = 1.6
MAX_MODEL_LEVEL = 75.0 * GREY_LEVEL_FACTOR  # a grey photo at the top user level of 75


def is_grey_rgb(rgb: np.ndarray) -> bool:
    """True when all three channels are identical (a grey photo expanded to RGB)."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


@dataclass
class DenoiseResult:
    """Restored pixels and what was done, for status bars, logs and benchmarks."""

    pixels: np.ndarray
    sigma: float  # the photo's noise level used (0-255), after strength (grey photos: the model gets 1.6x)
    choice: LevelChoice | None  # the automatic level and why, when one was chosen
    tile: int  # tile side used (0 = whole image)
    device: str
    precision: str
    seconds: float
    messages: list[str] = field(default_factory=list)


def _too_small(error: TooSmallToMeasure) -> PhotomendError:
    """A photo too small to measure is one clear error asking for a level.

    Why not a default level: on a few pixels any guess would silently over- or under-smooth.
    """
    return PhotomendError(f"{error}; set the noise level yourself (--noise-level N, or untick Auto)")


class Denoiser:
    """A model bound to a device, reusable across many photos (the model loads once)."""

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        device: str = "auto",
        precision: str = "fp32",
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.precision = resolve_precision(precision, self.device)
        self.runner = ModelRunner(model, self.device, self.precision)
        self.notify = notify or (lambda message: None)

    def choose_level(self, rgb: np.ndarray, *, jpeg_quality: float | None = None,
                     cancelled: Callable[[], bool] | None = None) -> LevelChoice:
        """The automatic level for this photo (app.engine.auto_level), measured with this model."""
        scale = self.runner.spec.level_scale

        def denoise_at(crop: np.ndarray, level: float) -> np.ndarray:
            return self.runner(crop, scale * level / 255.0)

        try:
            return choose_level(rgb, denoise_at, jpeg_quality=jpeg_quality, cancelled=cancelled)
        except TooSmallToMeasure as error:
            raise _too_small(error) from error

    def denoise(
        self,
        rgb: np.ndarray,
        *,
        noise_level: float | None = None,
        strength: float = DEFAULT_STRENGTH,
        tile: int | None = None,
        use_noise_map: bool = False,
        jpeg_quality: float | None = None,
        detail: float = 0.0,
        colour_noise: float = 0.0,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> DenoiseResult:
        """Restore ``rgb`` (HxWx3 float32 in [0,1]); ``noise_level`` None means choose it automatically.

        ``jpeg_quality``: the source JPEG's quality (Photo.jpeg_quality), so the automatic level
        includes its compression artefacts; only meaningful for the pixels as decoded.

        ``detail`` and ``colour_noise`` (0-100, app.engine.finish) default to 0 here, the model's
        own output, which is what published-quality benchmarks measure; RestoreSettings carries
        the defaults a photographer gets.
        """
        finishing = (validate_amount("detail", detail), validate_amount("colour noise", colour_noise))
        started = time.perf_counter()
        messages: list[str] = []
        choice = None
        noise_map = None
        if noise_level is None:
            choice = self.choose_level(rgb, jpeg_quality=jpeg_quality, cancelled=cancelled)
            base_sigma = choice.sigma
            if use_noise_map and base_sigma > 0 and not is_grey_rgb(rgb):
                estimate = estimate_noise(rgb, with_map=True)
                if estimate.noise_map is not None and estimate.sigma > 0:
                    noise_map = estimate.noise_map * (base_sigma / estimate.sigma)  # its RMS: the chosen level
        else:
            if not 0.0 <= noise_level <= 255.0:
                raise PhotomendError(f"noise level {noise_level} is out of range (use 0 to 75, or auto)")
            base_sigma = float(noise_level)
        sigma = sigma_for_strength(base_sigma, strength)
        tile_side = auto_tile_size(self.device, self.precision, margin=TILE_MARGIN) if tile is None else int(tile)
        if tile_side < 0:
            raise PhotomendError(f"tile size {tile} is invalid (use 0 for the whole image, or >= 64)")
        if strength == 0 or sigma == 0:  # nothing to remove: the model would only cost detail
            pixels = rgb.copy()
        else:
            grey = is_grey_rgb(rgb)
            model_sigma = sigma * self.runner.spec.level_scale
            if grey:
                model_sigma = min(model_sigma * GREY_LEVEL_FACTOR, MAX_MODEL_LEVEL)
            level: float | np.ndarray = model_sigma / 255.0
            if noise_map is not None:
                scale = strength_factor(strength) * self.runner.spec.level_scale
                level = np.minimum(noise_map * scale, MAX_SIGMA).astype(np.float32) / 255.0
            pixels, tile_side = self._run(rgb, level, tile_side, progress, cancelled, messages, finishing)
            if grey:
                pixels = np.repeat(pixels.mean(axis=2, keepdims=True), 3, axis=2)  # a grey photo stays grey
        for message in messages:
            self.notify(message)
        return DenoiseResult(
            pixels=pixels,
            sigma=sigma,
            choice=choice,
            tile=tile_side,
            device=str(self.runner.device),
            precision=self.runner.precision,
            seconds=time.perf_counter() - started,
            messages=messages,
        )

    def _run(self, rgb, level, tile_side, progress, cancelled, messages,
             finishing: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, int]:
        """Tiled run; out-of-memory halves tiles, and a GPU that still fails hands over to the CPU."""
        scalar = not isinstance(level, np.ndarray)

        def tile_function(runner: ModelRunner):
            # Detail and Colour noise finish each tile inside its context margin (their reach is
            # far smaller), so tiled and whole-image runs agree and memory stays per tile.
            return lambda tile, tile_map: finish(tile, runner(tile, level if scalar else tile_map), *finishing)

        def on_oom(side: int) -> None:
            messages.append(f"out of memory on {self.runner.device}: continuing with {side} px tiles")
            if self.runner.device.type == "cuda":
                torch.cuda.empty_cache()

        tiled = TiledRunner(
            tile_function(self.runner),
            tile=tile_side,
            margin=TILE_MARGIN,
            overlap=TILE_OVERLAP,
            multiple=self.runner.spec.scale_multiple,
            progress=progress,
            cancelled=cancelled,
            on_oom=on_oom,
        )
        noise_map = None if scalar else level
        try:
            out = tiled.run(rgb, noise_map)
        except Exception as error:  # noqa: BLE001
            if not (is_out_of_memory(error) and self.runner.device.type != "cpu"):
                raise
            messages.append(f"{self.runner.device} ran out of memory even with small tiles: falling back to the CPU")
            if self.runner.device.type == "cuda":
                torch.cuda.empty_cache()
            self.runner = self.runner.on_cpu()
            self.device = self.runner.device
            tiled.function = tile_function(self.runner)
            tiled.max_core = 0
            out = tiled.run(rgb, noise_map)
        used = tiled.max_core or tile_side
        return out, used
