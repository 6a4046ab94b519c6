"""ModelRunner precisions: the fast fp32 CPU path is still fp32, int8 stays within its quality bound,
unsupported precisions fail clearly, and the prepared-module cache copes with changing tile sizes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from app.engine import accelerate
from app.engine.device import resolve_precision, supported_precisions
from app.engine.runner import ModelRunner
from app.errors import PhotomendError
from app.metrics import psnr
from models import load_model

CPU = torch.device("cpu")
DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "CBSD68"
INT8_BOUND_DB = 0.05


def textured_image(height: int, width: int, seed: int = 0) -> np.ndarray:
    """Smooth shapes plus AWGN: a small stand-in photo with edges, flats and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.5 + 0.4 * np.sin(6 * xx + c) * np.cos(4 * yy - c) for c in (0.0, 1.0, 2.0)], -1)
    base[height // 3 : 2 * height // 3, width // 4 : width // 2] = rng.random(3)
    return (base + rng.normal(0, 25 / 255, base.shape)).astype(np.float32)


def eager(image: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
    """The plain eager fp32 forward, as the reference for the fast path."""
    net = load_model("ffdnet-color").module
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None]
    level = torch.from_numpy(sigma)[None, None] if isinstance(sigma, np.ndarray) else torch.tensor(sigma)
    with torch.inference_mode():
        return net(tensor, level).clamp(0, 1)[0].permute(1, 2, 0).numpy()


def test_fp32_fast_path_matches_eager_scalar_and_map() -> None:
    runner = ModelRunner("ffdnet-color", CPU, "fp32")
    image = textured_image(70, 90)
    assert np.abs(runner(image, 25 / 255) - eager(image, 25 / 255)).max() < 1e-4
    noise_map = np.linspace(5, 60, 70 * 90, dtype=np.float32).reshape(70, 90) / 255
    assert np.abs(runner(image, noise_map) - eager(image, noise_map)).max() < 1e-4


def test_prepared_cache_handles_changing_tile_sizes() -> None:
    runner = ModelRunner("ffdnet-color", CPU, "fp32")
    # Even, then different even, then odd sides (another shape class), then the first again.
    for height, width in ((64, 80), (96, 48), (65, 77), (64, 80)):
        image = textured_image(height, width, seed=height + width)
        out = runner(image, 15 / 255)
        assert out.shape == image.shape
        assert np.abs(out - eager(image, 15 / 255)).max() < 1e-4
    # A second runner reuses the process-wide prepared modules and gives identical output.
    again = ModelRunner("ffdnet-color", CPU, "fp32")
    image = textured_image(64, 80, seed=144)
    assert np.array_equal(again(image, 15 / 255), runner(image, 15 / 255))


@pytest.mark.parametrize("precision", ["fp16", "int4", ""])
def test_unsupported_precision_is_a_clear_error(precision: str) -> None:
    if precision == "":
        assert resolve_precision("", CPU) == "fp32"  # empty means the default
        return
    with pytest.raises(PhotomendError, match="precision"):
        ModelRunner("ffdnet-color", CPU, precision)


def test_bf16_offered_on_cpu_only_with_native_support() -> None:
    from app.engine.device import cpu_supports_bf16

    assert ("bf16" in supported_precisions(CPU)) == cpu_supports_bf16()
    if not cpu_supports_bf16():
        with pytest.raises(PhotomendError, match="not supported"):
            ModelRunner("ffdnet-color", CPU, "bf16")


def test_int8_refused_where_kernels_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accelerate, "int8_supported", lambda: False)
    assert "int8" not in supported_precisions(CPU)
    with pytest.raises(PhotomendError, match="int8"):
        ModelRunner("ffdnet-color", CPU, "int8")


def test_gptq_keeps_fbgemm_weight_pairs_from_saturating() -> None:
    torch.manual_seed(0)
    weight = torch.randn(8, 9 * 16) * 0.05  # tap-major columns: (ky, kx, channel)
    weight[:, 0] = 1.0  # outliers: channel 0 and its pair partner, channel 1, at the same tap
    weight[:, 1] = 0.9
    x = torch.randn(9 * 16, 512)
    scale = weight.abs().amax(1) / 127
    levels = (accelerate._gptq(weight, x @ x.T / 512, scale) / scale[:, None]).round()
    even, odd = levels[:, 0::2], levels[:, 1::2]
    assert (even.clamp(min=0) + odd.clamp(min=0)).max() <= 128
    assert ((-even).clamp(min=0) + (-odd).clamp(min=0)).max() <= 128


@pytest.mark.skipif(not accelerate.int8_supported(), reason="no fbgemm int8 kernels on this CPU")
@pytest.mark.skipif(not DATA.is_dir(), reason="shared CBSD68 data absent")
def test_int8_psnr_within_bound_of_fp32() -> None:
    import cv2

    clean = cv2.cvtColor(cv2.imread(str(DATA / "101085.png")), cv2.COLOR_BGR2RGB)[:200, :200]
    clean = clean.astype(np.float32) / 255
    fp32 = ModelRunner("ffdnet-color", CPU, "fp32")
    int8 = ModelRunner("ffdnet-color", CPU, "int8")
    losses = []
    for sigma, seed in ((15, 1), (25, 2), (50, 3)):
        noisy = (clean + np.random.default_rng(seed).normal(0, sigma / 255, clean.shape)).astype(np.float32)
        losses.append(psnr(fp32(noisy, sigma / 255), clean) - psnr(int8(noisy, sigma / 255), clean))
    assert float(np.mean(losses)) <= INT8_BOUND_DB, losses
    # Still a faithful denoiser at the extreme of the slider range.
    noisy = (clean + np.random.default_rng(4).normal(0, 75 / 255, clean.shape)).astype(np.float32)
    assert psnr(int8(noisy, 75 / 255), clean) > psnr(fp32(noisy, 75 / 255), clean) - 0.1
