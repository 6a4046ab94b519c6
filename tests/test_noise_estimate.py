"""Automatic noise level: accuracy on white noise, behaviour on clean and grey photos, API contract."""

from __future__ import annotations

import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.noise.estimate import (
    NoiseEstimate,
    TooSmallToMeasure,
    estimate_noise,
    noise_features,
    white_noise_sigma,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
# CBSD68 images from the half not used to fit the calibration (names sorted: indices 2, 6, 10).
COLOUR = ("102061.png", "108005.png", "119082.png")


def _load(folder: str, name: str) -> np.ndarray:
    path = SHARED / folder / name
    if not path.is_file():
        pytest.skip(f"test image {path} not available")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(image[..., ::-1]).astype(np.float32) / 255.0


def _awgn(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    return clean + np.random.default_rng(seed).normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)


@pytest.mark.parametrize("name", COLOUR)
def test_awgn_colour_within_10_percent(name: str) -> None:
    clean = _load("CBSD68", name)
    for sigma in (5, 15, 25, 50):
        est = estimate_noise(_awgn(clean, sigma, seed=sigma))
        assert abs(est.sigma / sigma - 1) <= 0.10, (name, sigma, est)
        assert abs(est.white_sigma / sigma - 1) <= 0.10


def test_awgn_clipped_to_8bit_range_within_10_percent() -> None:
    clean = _load("CBSD68", COLOUR[0])
    for sigma in (15, 50):
        noisy = np.clip(_awgn(clean, sigma, seed=7), 0.0, 1.0)
        assert abs(estimate_noise(noisy).sigma / sigma - 1) <= 0.10


def test_awgn_grey_set12_expanded_to_three_channels() -> None:
    grey = _load("Set12", "08.png")  # read as three equal channels
    assert noise_features(grey).grey
    for sigma in (5, 15, 25, 50):
        # noise added after expansion (independent per channel), as FFDNet colour sees it
        est = estimate_noise(_awgn(grey, sigma, seed=sigma))
        assert abs(est.sigma / sigma - 1) <= 0.10, (sigma, est)


def test_grey_identical_noise_uses_grey_path() -> None:
    # a noisy grey file: the same noise in all three channels (weak-texture PCA, white estimate)
    grey = _load("Set12", "02.png")
    for sigma in (15, 50):
        noise = np.random.default_rng(sigma).normal(0.0, sigma / 255.0, grey.shape[:2] + (1,)).astype(np.float32)
        est = estimate_noise(grey + noise)
        assert est.method.startswith("grey")
        assert abs(est.sigma / sigma - 1) <= 0.10, (sigma, est)


def test_clean_photo_gives_small_sigma() -> None:
    clean = _load("CBSD68", "14037.png")
    assert estimate_noise(clean).sigma < 3.0


def test_synthetic_clean_image_gives_near_zero() -> None:
    y, x = np.mgrid[0:300, 0:400].astype(np.float32)
    image = np.stack([x / 400, y / 300, 0.5 + 0.3 * np.sin(x / 40) * np.cos(y / 50)], axis=2)
    cv2.circle(image, (200, 150), 60, (0.9, 0.2, 0.1), -1)
    assert estimate_noise(image.astype(np.float32)).sigma < 1.0


def test_result_contract_and_determinism() -> None:
    clean = _load("CBSD68", COLOUR[1])
    noisy = _awgn(clean, 20, seed=3)
    first = estimate_noise(noisy, with_map=True)
    second = estimate_noise(noisy.copy(), with_map=True)
    assert isinstance(first, NoiseEstimate)
    assert first.sigma == second.sigma and first.white_sigma == second.white_sigma
    assert np.array_equal(first.noise_map, second.noise_map)
    assert first.noise_map.shape == noisy.shape[:2] and first.noise_map.dtype == np.float32
    # the map is scaled so that its root-mean-square is the global level
    assert np.sqrt(np.mean(first.noise_map.astype(np.float64) ** 2)) == pytest.approx(first.sigma, rel=1e-3)
    # white noise: the map stays nearly flat
    assert first.noise_map.max() / first.noise_map.min() < 1.3
    assert estimate_noise(noisy).noise_map is None
    assert isinstance(first.method, str) and first.method
    assert white_noise_sigma(noisy) == pytest.approx(first.white_sigma)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        estimate_noise(np.zeros((64, 64, 4), np.float32))
    with pytest.raises(ValueError):
        estimate_noise(np.zeros((8, 8, 3), np.float32))


@pytest.mark.parametrize("shape", [(1, 1), (2, 3), (2, 2), (3, 200), (11, 11)])
def test_too_small_to_measure_is_a_clear_error(shape: tuple[int, int]) -> None:
    with pytest.raises(TooSmallToMeasure, match=f"image is {shape[1]}x{shape[0]} pixels, too small"):
        estimate_noise(np.full(shape + (3,), 0.5, np.float32))
    assert issubclass(TooSmallToMeasure, ValueError)


@pytest.mark.parametrize("shape", [(8, 20000), (20000, 8), (40, 40)])
def test_thin_strips_get_the_white_estimate(shape: tuple[int, int]) -> None:
    """Too thin for the binned scales: measured as white noise, the map still matches the image."""
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)
    clean = np.stack([0.2 + 0.6 * x / shape[1], 0.3 + 0.4 * y / shape[0], np.full(shape, 0.5, np.float32)], axis=2)
    est = estimate_noise(_awgn(clean, 15, seed=1), with_map=True)
    assert abs(est.sigma / 15 - 1) <= 0.10, est
    assert "too small to test for camera noise" in est.method
    assert est.noise_map is None or est.noise_map.shape == shape


def test_large_photo_is_sampled_and_fast() -> None:
    # 12 MP: the estimate works on a fixed set of full-resolution crops, so the cost is bounded.
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:3000, 0:4000]
    base = (0.3 + 0.4 * (x / 4000.0) * (y / 3000.0)).astype(np.float32)
    image = np.repeat(base[..., None], 3, axis=2) * np.array([1.0, 0.9, 0.8], np.float32)
    image += rng.standard_normal(image.shape, dtype=np.float32) * np.float32(12 / 255)
    estimate_noise(image)  # warm-up (lazy imports, caches)
    start = time.perf_counter()
    est = estimate_noise(image)
    elapsed = time.perf_counter() - start
    assert abs(est.sigma / 12 - 1) <= 0.10
    assert elapsed < 2.5  # ~0.1-0.4 s on a 2-core CPU; generous for shared CI machines
