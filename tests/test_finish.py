"""Detail and Colour noise on real smartphone noise (SIDD): each moves the photo the documented way,
on FFDNet's output and on another denoiser's, strength 0 stays untouched, tiles agree with the whole
image, and the settings reach the engine from every front end (old queue files included)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from app.engine.denoise import Denoiser
from app.engine.finish import (
    DEFAULT_COLOUR_NOISE,
    DEFAULT_DETAIL,
    finish,
    give_back_detail,
    luma,
    smooth_colour_noise,
)
from app.errors import UsageError
from app.metrics import psnr
from app.pipeline.operations import EngineCache, RestoreSettings, restore_with_settings
from tests.conftest import load_rgb, shared_path

STEPS = (0, 25, 50, 75, 100)
BLOCK = 16


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    return Denoiser(device="cpu", precision="fp32")


def _pair(index: int) -> tuple[np.ndarray, np.ndarray]:
    folder = shared_path("real_noise", "SIDD12")
    return load_rgb(folder / f"NOISY_{index}.png"), load_rgb(folder / f"GT_{index}.png")


@pytest.fixture(scope="module")
def scrabble(denoiser: Denoiser) -> dict[str, np.ndarray]:
    """SIDD12/0 (scrabble tiles: flat wood, grain, letters) and three denoisings of it.

    FFDNet at 33 (its best level on this photo) and at half of it (low strength, colour mottling
    left), and OpenCV's non-local means, a different denoiser, for the "any denoiser" claim.
    """
    noisy, clean = _pair(0)
    bgr = np.round(noisy[..., ::-1] * 255).astype(np.uint8)
    nl_means = cv2.fastNlMeansDenoisingColored(bgr, None, 7, 7, 7, 21)[..., ::-1].astype(np.float32) / 255.0
    return {
        "noisy": noisy,
        "clean": clean,
        "best": denoiser.denoise(noisy, noise_level=33, tile=0).pixels,
        "low": denoiser.denoise(noisy, noise_level=16.5, tile=0).pixels,
        "nl-means": np.ascontiguousarray(nl_means),
    }


def _chroma(rgb: np.ndarray) -> np.ndarray:
    image = np.asarray(rgb, np.float32)
    y = luma(image)
    return np.stack([image[..., 2] - y, image[..., 0] - y], axis=-1)


def fine_energy(rgb: np.ndarray) -> float:
    """Mean square of the luma band above a 1 px Gaussian: fine texture and grain (any pixel scale)."""
    y = luma(np.asarray(rgb, np.float32))
    return float(np.mean((y - cv2.GaussianBlur(y, (0, 0), 1.0)) ** 2))


def colour_speckle(rgb: np.ndarray) -> float:
    """Mean square of the fine colour variation: chroma minus its 2 px Gaussian blur."""
    chroma = _chroma(rgb)
    return float(np.mean((chroma - cv2.GaussianBlur(chroma, (0, 0), 2.0)) ** 2))


def _flat_blocks(clean: np.ndarray) -> list[tuple[int, int]]:
    """16x16 blocks where the clean photo has (nearly) one colour: any colour variation there is noise."""
    y, chroma = luma(clean), _chroma(clean)
    blocks = []
    for top in range(0, clean.shape[0] - BLOCK + 1, BLOCK):
        for left in range(0, clean.shape[1] - BLOCK + 1, BLOCK):
            window = (slice(top, top + BLOCK), slice(left, left + BLOCK))
            if y[window].std() < 0.01 and chroma[window].std(axis=(0, 1)).max() < 0.01:
                blocks.append((top, left))
    return blocks


def _flat_chroma_variance(rgb: np.ndarray, blocks: list[tuple[int, int]]) -> float:
    chroma = _chroma(rgb)
    return float(np.mean([chroma[t : t + BLOCK, l : l + BLOCK].var(axis=(0, 1)).sum() for t, l in blocks]))


@pytest.mark.parametrize("output", ["best", "low", "nl-means"])
def test_detail_gives_back_fine_texture_in_luma_only_more_at_each_step(scrabble, output: str):
    noisy, denoised = scrabble["noisy"], scrabble[output]
    results = [give_back_detail(noisy, denoised, step) for step in STEPS]
    assert results[0] is denoised  # 0: the denoiser's output itself
    energies = [fine_energy(result) for result in results]
    assert all(a < b for a, b in zip(energies, energies[1:])), energies
    for result in results[1:]:  # brightness only: no colour noise comes back with the texture
        assert np.abs(_chroma(result) - _chroma(denoised)).max() < 1e-5


def test_default_detail_brings_back_the_texture_the_best_level_flattened(scrabble):
    """At its best level FFDNet keeps ~10 % of the wood's fine texture (waxy); the default gives most back."""
    clean_energy = fine_energy(scrabble["clean"])
    today = fine_energy(scrabble["best"]) / clean_energy
    default = fine_energy(finish(scrabble["noisy"], scrabble["best"], DEFAULT_DETAIL, DEFAULT_COLOUR_NOISE)) / clean_energy
    assert today < 0.2 and 0.5 < default < 1.2, (today, default)  # measured 0.09 and 0.76
    cost = psnr(scrabble["best"], scrabble["clean"]) - psnr(
        finish(scrabble["noisy"], scrabble["best"], DEFAULT_DETAIL, DEFAULT_COLOUR_NOISE), scrabble["clean"])
    assert cost < 0.15  # a small price for the look (measured 0.04 dB)


@pytest.mark.parametrize("output", ["best", "low", "nl-means"])
def test_colour_noise_flattens_colour_in_flat_areas_more_at_each_step_and_keeps_brightness(scrabble, output: str):
    denoised = scrabble[output]
    blocks = _flat_blocks(scrabble["clean"])
    assert len(blocks) > 100
    results = [smooth_colour_noise(denoised, step) for step in STEPS]
    assert results[0] is denoised  # 0: the denoiser's chroma exactly
    variances = [_flat_chroma_variance(result, blocks) for result in results]
    assert all(a > b for a, b in zip(variances, variances[1:])), variances
    for result in results[1:]:
        assert np.abs(luma(result) - luma(denoised)).max() < 1e-5


def test_default_colour_noise_removes_the_mottling_of_a_low_strength(scrabble):
    today = psnr(scrabble["low"], scrabble["clean"])
    default = psnr(smooth_colour_noise(scrabble["low"], DEFAULT_COLOUR_NOISE), scrabble["clean"])
    assert default > today + 1.0, (today, default)  # measured 30.06 -> 32.2 dB
    blocks = _flat_blocks(scrabble["clean"])
    ratio = _flat_chroma_variance(smooth_colour_noise(scrabble["low"], DEFAULT_COLOUR_NOISE), blocks) / \
        _flat_chroma_variance(scrabble["low"], blocks)
    assert ratio < 0.2, ratio  # the blotches' colour variance falls five-fold or more
    at_best = psnr(smooth_colour_noise(scrabble["best"], DEFAULT_COLOUR_NOISE), scrabble["clean"])
    assert at_best > psnr(scrabble["best"], scrabble["clean"]) - 0.02  # and costs nothing where none is left


def test_colours_do_not_bleed_across_outlines():
    """A clean photo (red marker against grey) through Colour noise 100 barely changes, unlike a chroma blur."""
    _noisy, clean = _pair(7)
    guided = psnr(smooth_colour_noise(clean, 100), clean)
    y, chroma = luma(clean), _chroma(clean)
    blurred_chroma = cv2.blur(cv2.blur(chroma, (17, 17)), (17, 17))  # the same 16 px reach, edge-blind
    blurred = np.empty_like(clean)
    blurred[..., 2], blurred[..., 0] = y + blurred_chroma[..., 0], y + blurred_chroma[..., 1]
    blurred[..., 1] = (y - 0.299 * blurred[..., 0] - 0.114 * blurred[..., 2]) / 0.587
    assert guided > 44.0 and guided > psnr(blurred, clean) + 1.5, (guided, psnr(blurred, clean))


def test_strength_zero_returns_the_photo_unchanged_whatever_the_controls(denoiser: Denoiser):
    noisy, _clean = _pair(8)
    out = denoiser.denoise(noisy, noise_level=24, strength=0, detail=100, colour_noise=100).pixels
    assert np.array_equal(out, noisy)


def test_the_engine_applies_the_controls_and_zero_is_the_model_output(denoiser: Denoiser):
    noisy, _clean = _pair(8)
    raw = denoiser.denoise(noisy, noise_level=24, tile=0).pixels
    assert np.array_equal(denoiser.denoise(noisy, noise_level=24, tile=0, detail=0, colour_noise=0).pixels, raw)
    finished = denoiser.denoise(noisy, noise_level=24, tile=0, detail=40, colour_noise=70).pixels
    inner = (slice(20, -20), slice(20, -20))  # the engine finishes the mirror-padded tile: borders differ slightly
    assert np.allclose(finished[inner], finish(noisy, raw, 40, 70)[inner], atol=1e-5)


@pytest.mark.slow
def test_tiled_and_whole_image_agree_with_both_controls_at_full(denoiser: Denoiser):
    noisy = cv2.resize(_pair(3)[0], (2000, 1500), interpolation=cv2.INTER_CUBIC)
    whole = denoiser.denoise(noisy, noise_level=24, tile=0, detail=100, colour_noise=100)
    tiled = denoiser.denoise(noisy, noise_level=24, tile=512, detail=100, colour_noise=100)
    assert whole.tile == 0 and tiled.tile == 512
    assert psnr(tiled.pixels, whole.pixels) >= 50.0


def test_out_of_range_controls_are_usage_errors(denoiser: Denoiser):
    image = np.full((32, 32, 3), 0.5, np.float32)
    with pytest.raises(UsageError, match="detail 101"):
        denoiser.denoise(image, noise_level=10, detail=101)
    with pytest.raises(UsageError, match="colour noise -1"):
        denoiser.denoise(image, noise_level=10, strength=0, colour_noise=-1)
    with pytest.raises(UsageError, match="detail"):
        finish(image, image, 150, 0)


def test_settings_carry_the_controls_and_older_queue_files_still_load(denoiser: Denoiser):
    from app.pipeline.batch import BatchPreset

    assert (RestoreSettings().detail, RestoreSettings().colour_noise) == (DEFAULT_DETAIL, DEFAULT_COLOUR_NOISE)
    chosen = RestoreSettings(detail=12.5, colour_noise=80)
    assert RestoreSettings.from_dict(chosen.to_dict()) == chosen
    old = {"settings": {"operation": "denoise", "model": "ffdnet-color", "device": "cpu", "strength": 70.0,
                        "noise_level": None, "retired_option": 3}, "pattern": "{stem}_restored"}
    loaded = BatchPreset.from_dict(old).settings  # a queue saved before the controls existed
    assert loaded.strength == 70.0 and (loaded.detail, loaded.colour_noise) == (DEFAULT_DETAIL, DEFAULT_COLOUR_NOISE)
    with pytest.raises(ValueError, match="detail"):
        BatchPreset.from_dict({"settings": {"detail": "lots"}})

    noisy, _clean = _pair(8)
    cache = EngineCache()
    settings = RestoreSettings(device="cpu", tile=0, noise_level=24, detail=40, colour_noise=70)
    pixels, _report = restore_with_settings(cache, noisy, settings)
    assert np.array_equal(pixels, denoiser.denoise(noisy, noise_level=24, tile=0, detail=40, colour_noise=70).pixels)


def test_the_window_preview_of_a_region_is_what_the_full_run_gives_there(denoiser: Denoiser):
    from app.pipeline.previews import restore_region

    noisy, _clean = _pair(0)
    settings = RestoreSettings(device="cpu", tile=0, noise_level=33, detail=60, colour_noise=90)
    full, _report = restore_with_settings(EngineCache(), noisy, settings)
    x, y, width, height = 150, 120, 200, 160
    patch = restore_region(EngineCache(), noisy, (x, y, width, height), settings, noise_level=33)
    assert psnr(patch, full[y : y + height, x : x + width]) > 60
