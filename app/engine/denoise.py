"""Denoise a float RGB image: noise level (auto or given) -> strength -> tiled model run.

The one entry point the CLI, the batch queue and the window all call, so every path
restores a photo the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from app.engine.auto_level import LevelChoice, choose_level
from app.engine.device import resolve_device
from app.engine.finish import finish
from app.engine.memory import auto_tile_size
from app.engine.runner import ModelRunner
from app.engine.strength import DEFAULT_STRENGTH, MAX_SIGMA, blend_for_strength, sigma_for_strength, strength_factor
from app.engine.oom import run_tiled
from app.engine.tiling import TileFunction, TileRegion
from app.errors import PhotomendError, UsageError
from app.noise.estimate import TooSmallToMeasure
from app.validation import NOISE_SCALE, check_amount, check_noise_level, check_tile
from models import DEFAULT_MODEL as DEFAULT_MODELS
from models import ModelDescriptor

DEFAULT_MODEL = DEFAULT_MODELS["denoise"]
LEVEL_MODEL = DEFAULT_MODELS["denoise"]  # the model the automatic level is calibrated on (app.engine.auto_level)
TILE_OVERLAP = 16


def is_grey_rgb(rgb: np.ndarray) -> bool:
    """True when all three channels are identical (a grey photo expanded to RGB)."""
    return bool(np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


@dataclass
class DenoiseResult:
    """Restored pixels and what was done, for status bars, logs and benchmarks."""

    pixels: np.ndarray
    sigma: float | None  # the noise level used (0-255), after strength; None for a blind model
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
        model: str | ModelDescriptor = DEFAULT_MODEL,
        device: str = "auto",
        precision: str = "fp32",
        notify: Callable[[str], None] | None = None,
    ) -> None:
        self.device = resolve_device(device)
        self.runner = ModelRunner(model, self.device, precision)
        self.precision = self.runner.precision
        self.notify = notify or (lambda message: None)
        self._level_runner: ModelRunner | None = None

    @property
    def model(self) -> ModelDescriptor:
        return self.runner.model

    @property
    def level_runner(self) -> ModelRunner:
        """The model the automatic level is measured with: the calibrated built-in one.

        The level is a property of the photo, so a noise-map model other than the built-in one
        receives the same measured level (scaled by its own descriptor).
        """
        if self._level_runner is None:
            if self.model.name == LEVEL_MODEL:
                self._level_runner = self.runner
            else:
                self._level_runner = ModelRunner(LEVEL_MODEL, self.device, "auto")
        return self._level_runner

    def choose_level(self, rgb: np.ndarray, *, jpeg_quality: float | None = None,
                     cancelled: Callable[[], bool] | None = None) -> LevelChoice:
        """The automatic level for this photo (app.engine.auto_level), measured with the built-in model."""
        runner = self.level_runner
        scale = runner.model.levels.scale if runner.model.levels else 1.0

        def denoise_at(crop: np.ndarray, level: float) -> np.ndarray:
            return runner(crop, scale * level / 255.0)

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
        choice: LevelChoice | None = None,
        jpeg_quality: float | None = None,
        detail: float = 0.0,
        colour_noise: float = 0.0,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
    ) -> DenoiseResult:
        """Restore ``rgb`` (HxWx3 float32 in [0,1]); ``noise_level`` None means choose it automatically.

        ``jpeg_quality``: the source JPEG's quality (Photo.jpeg_quality), so the automatic level
        includes its compression artefacts; only meaningful for the pixels as decoded.
        ``choice``: the automatic level already chosen for these pixels (the window measures it
        when a photo is shown), used instead of choosing again; camera noise then follows
        brightness, as it does in the photo. For a region of the photo, its pixels give the map.

        ``detail`` and ``colour_noise`` (0-100, app.engine.finish) default to 0 here, the model's
        own output, which is what published-quality benchmarks measure; RestoreSettings carries
        the defaults a photographer gets.
        """
        finishing = (check_amount("detail", detail), check_amount("colour noise", colour_noise))
        started = time.perf_counter()
        messages: list[str] = []
        if self.model.blind:
            return self._denoise_blind(rgb, noise_level, strength, tile, finishing, progress, cancelled, started)
        levels = self.model.levels
        noise_map = None
        if noise_level is None:
            if choice is None:
                choice = self.choose_level(rgb, jpeg_quality=jpeg_quality, cancelled=cancelled)
            base_sigma = choice.sigma
            if not is_grey_rgb(rgb):
                noise_map = choice.level_map(rgb, base_sigma)  # its RMS: the chosen level
        else:
            choice = None
            # Code may ask for any level on the 0-255 scale; the message offers the model's own maximum.
            base_sigma = check_noise_level(noise_level, upper=NOISE_SCALE, advertised=levels.maximum)
        sigma = sigma_for_strength(base_sigma, strength)
        tile_side = self._tile_side(tile)
        if strength == 0 or sigma == 0:  # nothing to remove: the model would only cost detail
            pixels = rgb.copy()
        else:
            grey = is_grey_rgb(rgb)
            model_sigma = sigma * levels.scale
            if grey:
                model_sigma = min(model_sigma * levels.grey_factor, levels.maximum * levels.grey_factor)
            level: float | np.ndarray = model_sigma / 255.0
            if noise_map is not None:
                mapped = np.minimum(noise_map * strength_factor(strength), MAX_SIGMA) * levels.scale
                level = mapped.astype(np.float32) / 255.0
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

    def _tile_side(self, tile: int | None) -> int:
        if tile is None:
            return auto_tile_size(self.device, self.precision, margin=self.model.tile_margin,
                                  bytes_per_pixel=self.model.memory_per_pixel(self.precision))
        return check_tile(tile)

    def _denoise_blind(self, rgb, noise_level, strength, tile, finishing, progress, cancelled,
                       started: float) -> DenoiseResult:
        """A blind model takes no level: strength blends its output with the photo (app.engine.strength)."""
        if noise_level is not None:
            raise UsageError(f"model '{self.model.name}' is blind: it takes no noise level (use the strength instead)")
        messages: list[str] = []
        tile_side = self._tile_side(tile)
        if strength == 0:
            pixels = rgb.copy()
        else:
            pixels, tile_side = self._run(rgb, None, tile_side, progress, cancelled, messages, finishing)
            pixels = blend_for_strength(rgb, pixels, strength)
        for message in messages:
            self.notify(message)
        return DenoiseResult(pixels=pixels, sigma=None, choice=None, tile=tile_side, device=str(self.runner.device),
                             precision=self.runner.precision, seconds=time.perf_counter() - started,
                             messages=messages)

    def _run(self, rgb, level, tile_side, progress, cancelled, messages,
             finishing: tuple[float, float] = (0.0, 0.0)) -> tuple[np.ndarray, int]:
        """Tiled run under the one out-of-memory policy (app.engine.oom)."""
        level_map = level if isinstance(level, np.ndarray) else None  # else a scalar, or None (blind)

        def bind(runner: ModelRunner) -> TileFunction:
            # Detail and Colour noise finish each tile inside its context margin (their reach is
            # far smaller), so tiled and whole-image runs agree and memory stays per tile.
            def restore(tile: np.ndarray, region: TileRegion) -> np.ndarray:
                tile_level = level if level_map is None else region.crop(level_map)
                return finish(tile, runner(tile, tile_level), *finishing)

            return restore

        out, runner, used = run_tiled(bind, self.runner, rgb, tile=tile_side, margin=self.model.tile_margin,
                                      overlap=TILE_OVERLAP, multiple=self.model.size.multiple, messages=messages,
                                      progress=progress, cancelled=cancelled)
        self.runner, self.device, self.precision = runner, runner.device, runner.precision
        return out, used
