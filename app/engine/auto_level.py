"""The automatic level ("--noise-level auto"), measured per photo with the denoiser itself.

Why not the noise estimate alone (app.noise.estimate): it reads the noise from the fine scales and
the colour directions that carry no picture, which is right for white noise but not for what a
camera saves. Demosaicing, in-camera noise reduction, sharpening and JPEG move real noise to
coarse scales, where it cannot be told from texture in the noisy pixels; a denoiser trained on
white noise then needs a level several times the pixel noise. What does separate coarse noise
from texture is the denoiser: so a *pilot* denoise of a few crops is run, and what it removed in
the flattest blocks (where nothing but noise can be removed) is measured:

* ``Y1``: the luma of that residual, per pixel; ``C21``, ``C22``: its red-minus-luma chroma per
  pixel and 2x2-binned (chroma noise survives the camera best, and its coarse part is what the
  model must be told about); ``E``: the residual over the whole crop (noise plus lost detail,
  which says how textured the photo is for this noise);
* plus the noise estimate's own measurements (white level, multi-scale levels) and its answer.

Two stages: a pilot at a fixed level gives a first level; a second pilot at that level gives the
final one (the residual is most telling near the right level). Each stage is a log-linear model
fitted to the per-photo best level of FFDNet on real smartphone pairs and on simulated camera
pipelines (`benchmarks/calibrate_auto_level.py`, figures in benchmarks/RESULTS.md). White noise
(the estimate's multi-scale test says so) keeps the estimate, which is exact there.
In a lossless file a clearly high estimate is also a floor for the camera-noise level
(floor_at_estimate): fine-scale noise alone needs that much.

JPEG compression artefacts are not noise-like: they get their own level from the file's
quantisation tables (app.noise.jpeg), and the photo gets the larger of the two. A level under
NOTHING_TO_DO means there is nothing to remove: FFDNet at such levels only costs detail. A
near-lossless JPEG with little fine grain is left alone unless it is a camera's: cameras save at
95+ and their noise survives as chroma mottling, which a faint pilot finds in the flat blocks
(or the measured level is clearly high, CLEAR_CAMERA_NOISE).

Camera noise is shot noise first, so it grows with brightness: the choice carries the photo's
noise level function (app.noise.estimate.NoiseLevelFunction) and the model gets a map that
follows it, at the chosen level's RMS. Any region (a preview) builds its map from its own pixels.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from app.noise.estimate import NoiseLevelFunction, grid_crops, noise_features, noise_level_function, sigma_from_features
from app.noise.jpeg import jpeg_artefact_level

DenoiseAt = Callable[[np.ndarray, float], np.ndarray]
"""(float RGB crop in [0, 1], level on the 0-255 scale) -> denoised crop."""

BLOCK = 32  # measuring block; crops are whole multiples of it
CROP = 192
MAX_CROP_PIXELS = 270_000  # seven 192 px crops (a 512 px photo whole): two pilot passes, ~2 s on a CPU
FLAT_FRACTION = 0.25  # the flattest quarter of the blocks (of the pilot) measures the noise
FIRST_PILOT = 26.6
MIN_LEVEL, MAX_LEVEL = 1.0, 130.0  # the model is still monotonic up to ~130 (trained to 75)
NOTHING_TO_DO = 1.0
WHITE_RATIOS = (1.25, 3.0)  # s2/s1 and s4/s1 below these: white noise, the estimate is exact
HIGH_QUALITY_JPEG = 95.0  # at and above: only clearly visible noise is removed
VISIBLE_NOISE = 1.0  # white-noise estimate (0-255) that counts as clearly visible
CLEAR_CAMERA_NOISE = 11.0  # a measured camera level this high is grain, even in a near-lossless JPEG
FAINT_PILOT = 2.0  # a near-lossless JPEG under that level: what a faint denoise takes from its flat blocks
CLEAN_CHROMA = 0.61  # ... in chroma (0-255) below this: a clean photo (its own grain and tables' error); above: camera grain

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
_R_MINUS_Y = np.array([0.5, -0.419, -0.081], np.float32)

# Fitted by benchmarks/calibrate_auto_level.py (see its docstring for the data); the terms are
# [1, log pilot, log Y1, log C21, log C22, log E, log estimate, log s2/s1, log s4/s1, log s1, log s4].
STAGE_1 = (-0.1515, -0.4973, 0.2143, -0.8605, 2.0085, 0.4313, -0.3277, -0.2902, 0.2211, 0.1021, 0.3233)
STAGE_2 = (0.9179, -0.7218, -0.0047, -2.3751, 2.7164, 1.5098, 0.0596, -0.0044, -0.2358, -0.0339, -0.2697)


@dataclass(frozen=True)
class LevelChoice:
    """The automatic level and why, for the engine and for the user's one-line report."""

    sigma: float  # level handed to the denoiser (0-255 scale); 0 = nothing to remove
    noise: float  # the part attributed to camera noise
    jpeg: float  # the part attributed to JPEG compression
    jpeg_quality: float | None
    estimate: float  # the classical noise estimate, for comparison
    method: str  # "camera noise", "white noise", "JPEG compression", "nothing to remove"
    seconds: float
    brightness: NoiseLevelFunction | None = None  # camera noise: how its level follows brightness

    def level_map(self, rgb: np.ndarray, sigma: float) -> np.ndarray | None:
        """HxW level (0-255) for these pixels at RMS ``sigma``, or None where one level serves."""
        return None if self.brightness is None or sigma <= 0 else self.brightness.level_map(rgb, sigma)

    @property
    def reason(self) -> str:
        """One line for the user: "camera noise, measured 9.8; JPEG quality 85"."""
        if self.sigma <= 0:
            text = "no noise to remove"
        elif self.method == "JPEG compression":
            text = f"JPEG compression artefacts, level {self.sigma:.1f}"
        else:
            text = f"{self.method}, measured {self.noise:.1f}"
        if self.jpeg_quality is not None:
            text += f"; JPEG quality {self.jpeg_quality:.0f}"
        return text


# --------------------------------------------------------------------------- measurement


def sample_crops(rgb: np.ndarray) -> list[np.ndarray]:
    """The whole photo (cut to whole blocks) when small, else a grid of full-resolution crops."""
    height, width = rgb.shape[:2]
    if height * width <= MAX_CROP_PIXELS or height < 2 * CROP or width < 2 * CROP:
        h, w = height // BLOCK * BLOCK, width // BLOCK * BLOCK
        return [rgb[:h, :w]] if h >= BLOCK and w >= BLOCK else []
    return grid_crops(rgb, CROP, MAX_CROP_PIXELS)


def _blocks(image: np.ndarray) -> np.ndarray:
    """(n, BLOCK, BLOCK, ...) view of an image whose sides are multiples of BLOCK."""
    h, w = image.shape[:2]
    tiled = image.reshape(h // BLOCK, BLOCK, w // BLOCK, BLOCK, *image.shape[2:]).swapaxes(1, 2)
    return tiled.reshape(-1, BLOCK, BLOCK, *image.shape[2:])


def _binned_std(blocks: np.ndarray, k: int) -> float:
    """Std (0-255) of k x k block means within each block, times k: white noise gives its own std."""
    n = blocks.shape[0]
    means = blocks.reshape(n, BLOCK // k, k, BLOCK // k, k).mean(axis=(2, 4))
    means = means - means.mean(axis=(1, 2), keepdims=True)
    cells = (BLOCK // k) ** 2
    return float(np.sqrt(np.mean(means**2) * cells / (cells - 1)) * k * 255.0)


def pilot_features(crops: list[np.ndarray], pilots: list[np.ndarray]) -> dict[str, float]:
    """What the pilot removed: in its flattest blocks (Y1, C21, C22) and overall (E), 0-255 scale."""
    residual_y, residual_c, flatness, energy, count = [], [], [], 0.0, 0
    for crop, pilot in zip(crops, pilots):
        residual = crop - pilot
        guide = cv2.GaussianBlur(np.ascontiguousarray(pilot @ _LUMA), (0, 0), 1.0)
        gradient = np.hypot(cv2.Sobel(guide, cv2.CV_32F, 1, 0), cv2.Sobel(guide, cv2.CV_32F, 0, 1))
        blocks = _blocks(crop)
        clipped = ((blocks >= 0.995).mean(axis=(1, 2, 3)) + (blocks <= 0.005).mean(axis=(1, 2, 3))) > 0.02
        score = _blocks(gradient).mean(axis=(1, 2))
        flatness.append(np.where(clipped, np.inf, score))
        residual_y.append(_blocks(np.ascontiguousarray(residual @ _LUMA)))
        residual_c.append(_blocks(np.ascontiguousarray(residual @ _R_MINUS_Y)))
        energy += float(np.sum(residual**2))
        count += residual.size
    score = np.concatenate(flatness)
    usable = int(np.isfinite(score).sum())
    chosen = np.argsort(score)[: max(4, int(FLAT_FRACTION * usable))]
    luma_blocks = np.concatenate(residual_y)[chosen]
    chroma_blocks = np.concatenate(residual_c)[chosen]
    return {
        "Y1": max(_binned_std(luma_blocks, 1), 0.05),
        "C21": max(_binned_std(chroma_blocks, 1), 0.05),
        "C22": max(_binned_std(chroma_blocks, 2), 0.05),
        "E": max(math.sqrt(energy / max(count, 1)) * 255.0, 0.05),
    }


def model_terms(pilot: float, features: dict[str, float], estimate: float, s1: float, s2: float, s4: float) -> np.ndarray:
    """The regression's terms, in the order of STAGE_1 / STAGE_2 (see the module docstring)."""
    s1, s2, s4 = (max(v, 0.05) for v in (s1, s2, s4))
    return np.array([
        1.0, math.log(pilot), math.log(features["Y1"]), math.log(features["C21"]), math.log(features["C22"]),
        math.log(features["E"]), math.log(max(estimate, 0.1)), math.log(s2 / s1), math.log(s4 / s1),
        math.log(s1), math.log(s4),
    ])


def _clamp(level: float) -> float:
    return float(min(MAX_LEVEL, max(MIN_LEVEL, level)))


def floor_at_estimate(level: float, estimate: float, jpeg_quality: float | None) -> float:
    """The regression's level, never under a clearly high classical estimate in a lossless photo.

    The estimate reads only the fine-scale noise, and coarse (demosaiced) noise only adds to what
    the model must be told, so where it is clearly noise (CLEAR_CAMERA_NOISE) in a lossless file it
    is a lower bound; the regression, fitted mostly on JPEG pipelines, can fall far under it on
    heavy raw-developed noise. Under that level the estimate also reads a clean photo's texture,
    and in a JPEG the fine scales carry the tables' error: there the bound does not hold.
    """
    if jpeg_quality is not None or estimate < CLEAR_CAMERA_NOISE:
        return level
    return max(level, estimate)


def faint_pilot_chroma(crops: list[np.ndarray], denoise: DenoiseAt) -> float:
    """The chroma (C21, 0-255) a faint denoise (FAINT_PILOT) removes from the flattest blocks."""
    if not crops:
        return 0.0
    pilots = [np.clip(denoise(crop, FAINT_PILOT), 0.0, 1.0) for crop in crops]
    return pilot_features(crops, pilots)["C21"]


def leave_near_lossless_alone(jpeg_quality: float | None, fine_grain: float, noise: float,
                              faint_chroma: Callable[[], float], clean_chroma: float = CLEAN_CHROMA) -> bool:
    """Whether a JPEG is a clean photo saved near-losslessly, to be left as it is.

    Quality 95+, little fine grain (``fine_grain``: the estimate's s1) and no clearly high level
    (``noise``). Cameras also save at 95+, and their noise survives as chroma mottling in flat
    areas, which a faint denoise removes; a clean photo saved so has only its own fine grain and
    its tables' tiny error there (benchmarks/near_lossless_rule.py chose CLEAN_CHROMA).
    ``faint_chroma`` (faint_pilot_chroma) is called only when the rest holds: it costs a pass.
    ``clean_chroma``: the threshold (another one only in that study).
    """
    return (jpeg_quality is not None and jpeg_quality >= HIGH_QUALITY_JPEG and fine_grain < VISIBLE_NOISE
            and noise < CLEAR_CAMERA_NOISE and faint_chroma() < clean_chroma)


# --------------------------------------------------------------------------- the choice


def choose_level(
    rgb: np.ndarray,
    denoise: DenoiseAt,
    *,
    jpeg_quality: float | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> LevelChoice:
    """The level to denoise this photo at, and why. ``rgb``: float32 HxWx3 in [0, 1].

    Raises app.noise.estimate.TooSmallToMeasure for a photo too small to measure.
    """
    started = time.perf_counter()
    if jpeg_quality is not None:
        jpeg_quality = float(round(jpeg_quality))  # the table's equivalent quality, as users know it
    features = noise_features(rgb)
    estimate = float(sigma_from_features(features))
    jpeg = jpeg_artefact_level(jpeg_quality)
    s1, s2, s4 = features.s1, features.s2, features.s4
    white = features.grey or (s2 < WHITE_RATIOS[0] * max(s1, 1e-6) and s4 < WHITE_RATIOS[1] * max(s1, 1e-6))
    crops = sample_crops(rgb)
    if white or not crops:
        noise, method = estimate, "white noise"
    else:
        level = FIRST_PILOT
        for weights in (STAGE_1, STAGE_2):
            if cancelled is not None and cancelled():
                from app.errors import CancelledError

                raise CancelledError("cancelled")
            pilot = _clamp(level)  # a pilot must denoise; the answer itself may say "nothing to remove"
            pilots = [np.clip(denoise(crop, pilot), 0.0, 1.0) for crop in crops]
            terms = model_terms(pilot, pilot_features(crops, pilots), estimate, s1, s2, s4)
            level = min(MAX_LEVEL, math.exp(float(np.dot(weights, terms))))
        noise, method = floor_at_estimate(level, estimate, jpeg_quality), "camera noise"
    if leave_near_lossless_alone(jpeg_quality, s1, noise, lambda: faint_pilot_chroma(crops, denoise)):
        noise = 0.0  # a near-lossless JPEG of a clean photo: any smoothing only costs detail
    sigma = max(noise, jpeg)
    if jpeg > noise:
        method = "JPEG compression"
    if sigma < NOTHING_TO_DO:
        sigma, method = 0.0, "nothing to remove"
    # Camera noise grows with brightness (shot noise): the level follows it. White noise and JPEG
    # artefacts do not, and one exact level serves them best.
    brightness = noise_level_function(rgb, features) if method == "camera noise" else None
    return LevelChoice(sigma=float(sigma), noise=float(noise), jpeg=float(jpeg), jpeg_quality=jpeg_quality,
                       estimate=estimate, method=method, seconds=time.perf_counter() - started,
                       brightness=brightness)
