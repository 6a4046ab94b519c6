"""Synthetic camera noise pipeline, and "auto" against the best fixed sigma on it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.noise.estimate import estimate_noise
from app.physics.camera_noise import (
    CAMERA_PRESETS,
    demosaic_bilinear,
    linear_to_srgb,
    mosaic_rggb,
    simulate_camera_noise,
    simulate_preset,
    srgb_to_linear,
)

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def _load(name: str, size: int = 256) -> np.ndarray:
    path = SHARED / "CBSD68" / name
    if not path.is_file():
        pytest.skip(f"test image {path} not available")
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0
    y0, x0 = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return np.ascontiguousarray(image[y0 : y0 + size, x0 : x0 + size])


def _synthetic(height: int = 128, width: int = 160) -> np.ndarray:
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    return np.stack([x / width, y / height, 0.5 + 0.25 * np.sin(x / 9.0)], axis=2).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(1.0 / np.mean((a.astype(np.float64) - b) ** 2)))


def test_output_shape_range_dtype() -> None:
    clean = _synthetic()
    for quality in (90, None):
        out = simulate_camera_noise(clean, shot=2e-3, read=1e-5, jpeg_quality=quality, rng=np.random.default_rng(0))
        assert out.shape == clean.shape and out.dtype == np.float32
        assert out.min() >= 0.0 and out.max() <= 1.0
        # 8-bit like a camera file
        assert np.allclose(out * 255, np.round(out * 255), atol=1e-3)


def test_deterministic_with_seeded_rng() -> None:
    clean = _synthetic()
    a = simulate_preset(clean, "iso3200", rng=np.random.default_rng(42))
    b = simulate_preset(clean, "iso3200", rng=np.random.default_rng(42))
    c = simulate_preset(clean, "iso3200", rng=np.random.default_rng(43))
    assert np.array_equal(a, b)
    assert not np.array_equal(a, c)


def test_no_noise_round_trips() -> None:
    clean = _synthetic()
    out = simulate_camera_noise(clean, shot=0.0, read=0.0, jpeg_quality=None, rng=np.random.default_rng(0))
    assert np.abs(out - clean).max() <= 0.5 / 255 + 1e-6
    assert np.allclose(linear_to_srgb(srgb_to_linear(clean)), clean, atol=1e-5)


def test_noise_grows_with_preset_strength() -> None:
    clean = _synthetic(192, 192)
    levels = [float(np.std(simulate_preset(clean, name, rng=np.random.default_rng(1)) - clean)) for name in ("iso800", "iso3200", "iso12800")]
    assert set(CAMERA_PRESETS) >= {"iso800", "iso3200", "iso12800"}
    assert levels[0] < levels[1] < levels[2]
    assert levels[0] * 255 > 2 and levels[2] * 255 > 15  # visibly light ... heavy


def test_demosaiced_noise_is_spatially_correlated() -> None:
    clean = np.full((128, 128, 3), 0.45, np.float32)
    for quality in (None, 90):
        residual = simulate_preset(clean, "iso3200", jpeg_quality=quality, rng=np.random.default_rng(5)) - clean
        residual -= residual.mean(axis=(0, 1))
        horizontal = np.mean(residual[:, 1:] * residual[:, :-1]) / np.mean(residual**2)
        vertical = np.mean(residual[1:] * residual[:-1]) / np.mean(residual**2)
        assert horizontal > 0.1 and vertical > 0.1, (quality, horizontal, vertical)


def test_bilinear_demosaic_is_exact_on_flat_colour_and_linear() -> None:
    flat = np.full((16, 16, 3), (0.7, 0.4, 0.2), np.float32)
    assert np.allclose(demosaic_bilinear(mosaic_rggb(flat))[2:-2, 2:-2], flat[2:-2, 2:-2], atol=1e-6)
    rng = np.random.default_rng(0)
    a, b = rng.random((16, 16)).astype(np.float32), rng.random((16, 16)).astype(np.float32)
    assert np.allclose(demosaic_bilinear(a + b), demosaic_bilinear(a) + demosaic_bilinear(b), atol=1e-5)


def test_full_demosaic_path_runs() -> None:
    clean = _synthetic()
    out = simulate_camera_noise(clean, shot=1e-3, read=1e-5, rng=np.random.default_rng(0), demosaic_signal=True)
    assert out.shape == clean.shape and 20 < _psnr(out, clean) < 45


def test_white_estimator_underestimates_camera_noise_but_auto_does_not() -> None:
    clean = _load("102061.png")
    noisy = simulate_preset(clean, "iso3200", rng=np.random.default_rng(3))
    est = estimate_noise(noisy)
    assert est.white_sigma < 0.3 * est.sigma
    assert est.method.startswith("correlated")


@pytest.fixture(scope="module")
def ffdnet():
    try:
        import torch

        from models import load_model

        net = load_model("ffdnet-color")
    except Exception as exc:  # weights not installed
        pytest.skip(f"FFDNet not available: {exc}")

    def run(rgb: np.ndarray, sigma: float) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
        with torch.inference_mode():
            out = net(x, torch.as_tensor(sigma / 255.0, dtype=torch.float32))
        return out[0].clamp(0, 1).numpy().transpose(1, 2, 0)

    return run


@pytest.mark.parametrize("name, preset", [("102061.png", "iso3200"), ("108005.png", "iso12800")])
def test_auto_close_to_best_fixed_sigma(ffdnet, name: str, preset: str) -> None:
    # Images from the half of CBSD68 not used for calibration; 256x256 centre crops for speed.
    clean = _load(name)
    noisy = simulate_preset(clean, preset, rng=np.random.default_rng(11))
    est = estimate_noise(noisy)
    score = {}

    def psnr_at(sigma: float) -> float:
        key = round(sigma, 2)
        if key not in score:
            score[key] = _psnr(ffdnet(noisy, key), clean)
        return score[key]

    # coarse 1.3x ladder around auto covers the optimum (auto is within ~+-30% of it here)
    ladder = [est.sigma * 1.3**k for k in (-2, -1, 0, 1, 2)]
    best = max(psnr_at(s) for s in ladder)
    auto = psnr_at(est.sigma)
    white = psnr_at(max(est.white_sigma, 0.5))
    assert best - auto <= 0.5, (est, score)
    assert auto - white >= 1.0, (est, score)
