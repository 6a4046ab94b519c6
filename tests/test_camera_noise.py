"""Synthetic camera noise pipeline, and "auto" against the best fixed sigma on it."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.metrics import psnr
from app.noise.estimate import estimate_noise
from app.physics.camera_noise import (
    CAMERA_PRESETS,
    DEMOSAICS,
    KINDS,
    SENSORS,
    CameraPipeline,
    demosaic_bilinear,
    demosaic_malvar,
    linear_to_srgb,
    mosaic_rggb,
    random_pipeline,
    residual_stats,
    simulate_camera,
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
    assert out.shape == clean.shape and 20 < psnr(out, clean) < 45


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

        net = load_model("ffdnet-color").module
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
            score[key] = psnr(ffdnet(noisy, key), clean)
        return score[key]

    # coarse 1.3x ladder around auto covers the optimum (auto is within ~+-30% of it here)
    ladder = [est.sigma * 1.3**k for k in (-2, -1, 0, 1, 2)]
    best = max(psnr_at(s) for s in ladder)
    auto = psnr_at(est.sigma)
    white = psnr_at(max(est.white_sigma, 0.5))
    assert best - auto <= 0.5, (est, score)
    assert auto - white >= 1.0, (est, score)


# --- CameraPipeline / simulate_camera / random_pipeline -------------------------------------------

_YCC = np.array([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])


def _luma_chroma_std(noisy: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    ycc = ((noisy.astype(np.float64) - reference) * 255.0) @ _YCC.T
    return float(ycc[..., 0].std()), float(ycc[..., 1:].std())


def _pipeline(sensor: str = "dslr", iso: float = 1600, **settings: object) -> CameraPipeline:
    """A lossless edge-aware camera unless told otherwise."""
    return CameraPipeline.from_iso(iso, sensor, **{"demosaic": "edge_aware", "jpeg_quality": None, **settings})


def test_simulate_camera_is_deterministic_for_a_seeded_rng() -> None:
    clean = _load("102061.png", 128)
    pipeline = _pipeline(noise_reduction=0.5, sharpen=0.8, jpeg_quality=90)
    a = simulate_camera(clean, pipeline, np.random.default_rng(7))
    b = simulate_camera(clean, pipeline, np.random.default_rng(7))
    c = simulate_camera(clean, pipeline, np.random.default_rng(8))
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])
    assert np.array_equal(a[1], c[1])  # the reference does not depend on the noise drawn


@pytest.mark.parametrize("demosaic", DEMOSAICS)
@pytest.mark.parametrize("demosaic_signal", [False, True])
def test_reference_is_the_same_camera_without_noise(demosaic: str, demosaic_signal: bool) -> None:
    clean = _load("108005.png", 128)
    settings = {"demosaic": demosaic, "demosaic_signal": demosaic_signal, "noise_reduction": 0.6, "sharpen": 1.0,
                "tone": 0.7}
    silent = CameraPipeline(shot=0.0, read=0.0, jpeg_quality=None, **settings)  # type: ignore[arg-type]
    noisy, reference = simulate_camera(clean, silent, np.random.default_rng(0))
    assert np.array_equal(noisy, reference)
    # JPEG is the only difference left (4:4:4: demosaicing the signal leaves pixel-scale colour
    # artefacts that 4:2:0 cannot represent).
    jpeg_camera = CameraPipeline(shot=0.0, read=0.0, jpeg_quality=95, subsampling="444", **settings)  # type: ignore[arg-type]
    jpeg, reference_jpeg = simulate_camera(clean, jpeg_camera, np.random.default_rng(0))
    assert np.array_equal(reference_jpeg, reference) and 33 < psnr(jpeg, reference) < 60
    # Without NR (which is tuned to the noise), the reference is the same at every ISO: no noise in it.
    plain = {"demosaic": demosaic, "demosaic_signal": demosaic_signal, "sharpen": 1.0, "tone": 0.7, "jpeg_quality": 90}
    references = [simulate_camera(clean, CameraPipeline.from_iso(iso, "phone", **plain), np.random.default_rng(iso))[1]
                  for iso in (100, 6400)]  # type: ignore[arg-type]
    assert np.array_equal(references[0], references[1])
    # Tone curve, colour matrix and white balance round-trip: with no in-camera processing the
    # reference is the clean image up to 8-bit rounding (and out-of-gamut clipping).
    if not demosaic_signal:
        bare = CameraPipeline(shot=0.0, read=0.0, demosaic=demosaic, tone=0.7, jpeg_quality=None)
        assert np.mean(np.abs(simulate_camera(clean, bare, np.random.default_rng(0))[1] - clean)) < 0.5 / 255


@pytest.mark.parametrize("sensor, demosaic", [("dslr", "edge_aware"), ("phone", "bilinear"), ("phone", "malvar")])
def test_residual_grows_with_iso(sensor: str, demosaic: str) -> None:
    clean = _load("102061.png", 160)
    levels = []
    for iso in (100, 400, 1600, 6400):
        pipeline = CameraPipeline.from_iso(iso, sensor, demosaic=demosaic, noise_reduction=0.3, sharpen=0.5)
        noisy, reference = simulate_camera(clean, pipeline, np.random.default_rng(iso))
        levels.append(float(np.std(noisy - reference)) * 255)
    assert all(a < b for a, b in zip(levels, levels[1:])), levels


def test_sensor_model_follows_iso_and_brooks_read_noise_line() -> None:
    for model in SENSORS.values():
        shots, reads = zip(*(model.noise_at(iso) for iso in (100, 200, 400, 800, 1600, 3200, 6400)))
        assert np.allclose(np.array(shots[1:]) / np.array(shots[:-1]), 2.0)  # gain proportional to ISO
        assert all(a < b for a, b in zip(reads, reads[1:]))
    # Where the amplified read noise dominates, it lies within two standard deviations (0.26 in
    # log variance) of the line Brooks et al. 2019 fitted to real cameras.
    for sensor, iso in (("dslr", 6400), ("phone", 1600), ("phone", 6400)):
        shot, read = SENSORS[sensor].noise_at(iso)
        assert abs(np.log(read) - (2.18 * np.log(shot) + 1.20)) < 2 * 0.26, (sensor, iso, shot, read)


def test_chroma_subsampling_changes_chroma_only() -> None:
    clean = _load("101087.png", 192)
    errors = {}
    for mode in ("444", "420"):
        pipeline = CameraPipeline(shot=0.0, read=0.0, jpeg_quality=92, subsampling=mode)
        errors[mode] = _luma_chroma_std(*simulate_camera(clean, pipeline, np.random.default_rng(0)))
    (luma444, chroma444), (luma420, chroma420) = errors["444"], errors["420"]
    assert chroma420 > 1.5 * chroma444, errors
    assert luma420 < 1.5 * luma444, errors
    # With noise, 4:2:0 averages chroma noise over 2x2 blocks: less chroma noise, the same luma noise.
    noisy_stats = {}
    for mode in ("444", "420"):
        pipeline = _pipeline(sensor="phone", iso=3200, demosaic="bilinear", jpeg_quality=92, subsampling=mode)
        noisy_stats[mode] = _luma_chroma_std(*simulate_camera(clean, pipeline, np.random.default_rng(1)))
    assert noisy_stats["420"][1] < 0.85 * noisy_stats["444"][1], noisy_stats
    assert abs(noisy_stats["420"][0] / noisy_stats["444"][0] - 1) < 0.1, noisy_stats


@pytest.mark.parametrize("sensor, iso", [("dslr", 3200), ("phone", 800)])
def test_noise_reduction_lowers_chroma_more_than_luma(sensor: str, iso: int) -> None:
    clean = _load("102061.png", 160)
    measured = {}
    for strength in (0.0, 0.6):
        pipeline = _pipeline(sensor=sensor, iso=iso, noise_reduction=strength)
        measured[strength] = _luma_chroma_std(*simulate_camera(clean, pipeline, np.random.default_rng(2)))
    luma_kept = measured[0.6][0] / measured[0.0][0]
    chroma_kept = measured[0.6][1] / measured[0.0][1]
    assert chroma_kept < 0.6 and luma_kept < 1.0, measured
    assert chroma_kept < luma_kept - 0.2, measured


def test_malvar_demosaic_is_exact_on_flat_colour_and_couples_channel_noise() -> None:
    flat = np.full((16, 16, 3), (0.7, 0.4, 0.2), np.float32)
    assert np.allclose(demosaic_malvar(mosaic_rggb(flat))[2:-2, 2:-2], flat[2:-2, 2:-2], atol=1e-6)
    noise = np.random.default_rng(0).normal(size=(128, 128)).astype(np.float32)
    for demosaic, coupled in ((demosaic_bilinear, False), (demosaic_malvar, True)):
        rgb = demosaic(noise)[4:-4, 4:-4].reshape(-1, 3)
        red_green = np.corrcoef(rgb[:, 0], rgb[:, 1])[0, 1]
        assert (red_green > 0.4) if coupled else (abs(red_green) < 0.1), (demosaic.__name__, red_green)


@pytest.mark.parametrize("kind", ["any", *KINDS])
def test_every_random_kind_gives_valid_images(kind: str) -> None:
    clean = _load("101085.png", 96)[:, :77]  # odd width: the mosaic and JPEG blocks do not tile it
    rng = np.random.default_rng(3)
    for _ in range(3):
        pipeline = random_pipeline(rng, kind)
        assert kind == "any" or KINDS[kind].iso[0] <= pipeline.iso <= KINDS[kind].iso[1]
        noisy, reference = simulate_camera(clean, pipeline, rng)
        for image in (noisy, reference):
            assert image.shape == clean.shape and image.dtype == np.float32
            assert image.min() >= 0.0 and image.max() <= 1.0
            assert np.allclose(image * 255, np.round(image * 255), atol=1e-3)
        assert 0.3 < np.std(noisy - reference) * 255 < 60, pipeline.describe()
        assert pipeline.describe().startswith(("DSLR ISO", "Phone ISO"))


def test_random_pipeline_is_reproducible_and_rejects_unknown_kinds() -> None:
    assert random_pipeline(np.random.default_rng(4), "any") == random_pipeline(np.random.default_rng(4), "any")
    with pytest.raises(KeyError):
        random_pipeline(np.random.default_rng(0), "film")


def test_describe_names_the_settings() -> None:
    pipeline = CameraPipeline.from_iso(800, "dslr", demosaic="edge_aware", sharpen=0.6, jpeg_quality=92,
                                       subsampling="444")
    assert pipeline.describe() == "DSLR ISO 800, EA demosaic, sharpen 0.6, JPEG 92 4:4:4"


def test_phone_raw_kind_matches_sidd_noise_structure() -> None:
    # Real smartphone noise (SIDD crops): the synthetic phone sensor rendered without in-camera
    # processing, on the same reference images, has the same spatial and cross-channel structure.
    folder = SHARED / "real_noise" / "SIDD12"
    if not folder.is_dir():
        pytest.skip("SIDD12 pairs not available")

    def load(name: str) -> np.ndarray:
        return cv2.imread(str(folder / name), cv2.IMREAD_COLOR)[..., ::-1].astype(np.float32) / 255.0

    rng = np.random.default_rng(0)
    real, synthetic = [], []
    for i in (2, 6, 7, 8):  # the small pairs, for speed
        clean = load(f"GT_{i}.png")
        real.append(residual_stats(load(f"NOISY_{i}.png"), clean))
        synthetic.append(residual_stats(*simulate_camera(clean, random_pipeline(rng, "phone_raw"), rng)))
    real_green = np.mean([s.lag1[1] for s in real])
    synthetic_green = np.mean([s.lag1[1] for s in synthetic])
    assert abs(synthetic_green - real_green) < 0.1, (real_green, synthetic_green)
    assert np.mean([s.luma_chroma for s in synthetic]) > 0.9  # luma-heavy like SIDD, unlike bilinear
