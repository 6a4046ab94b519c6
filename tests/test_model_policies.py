"""Policies every model shares: the blind strength control and the one out-of-memory policy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine.denoise import Denoiser
from app.metrics import psnr


@pytest.fixture(scope="module")
def blind_model():
    """A real NAFNet (small width, random weights) described through the model-file path."""
    pytest.importorskip("spandrel")
    from spandrel.architectures.NAFNet import NAFNet

    from models.spandrel_adapter import describe_state_dict

    torch.manual_seed(3)
    net = NAFNet(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])
    state = {key: value.contiguous() for key, value in net.state_dict().items()}
    return describe_state_dict(state, name="tiny-blind", task="denoise")


def _photo(seed: int = 0, side: int = 96) -> np.ndarray:
    rng = np.random.default_rng(seed)
    smooth = np.repeat(np.linspace(0.2, 0.8, side, dtype=np.float32)[None, :, None], side - 16, axis=0).repeat(3, axis=2)
    return np.clip(smooth + rng.normal(0, 0.05, smooth.shape).astype(np.float32), 0, 1)


def test_blind_strength_goes_from_the_photo_to_the_model_output_monotonically(blind_model):
    denoiser = Denoiser(model=blind_model, device="cpu")
    photo = _photo()
    at = {s: denoiser.denoise(photo, strength=s, tile=0).pixels for s in (0, 25, 50, 75, 100)}
    model_output = at[50]
    np.testing.assert_array_equal(at[0], photo)  # 0 = unchanged
    change = {s: float(np.abs(at[s] - photo).mean()) for s in at}
    assert change[0] < change[25] < change[50] < change[75] < change[100]
    np.testing.assert_allclose(at[25], photo + 0.5 * (model_output - photo), atol=1e-6)  # half of the model's change
    assert denoiser.denoise(photo, tile=0).sigma is None  # no level for a blind model
    with pytest.raises(Exception, match="blind"):
        denoiser.denoise(photo, noise_level=10)


class _GpuThatRunsOutOfMemory:
    """A runner on a (pretend) GPU whose every call fails as CUDA does when memory runs out."""

    def __init__(self, cpu_runner) -> None:
        self.cpu_runner = cpu_runner
        self.model = cpu_runner.model
        self.device = torch.device("cuda")
        self.precision = "fp16"

    def __call__(self, tile, sigma=None):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    def on_cpu(self):
        return self.cpu_runner


def test_out_of_memory_on_the_gpu_splits_tiles_then_finishes_on_the_cpu_and_says_so(monkeypatch):
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: None)
    photo = _photo(1, side=300)  # large enough for the tiler to try smaller tiles first
    reference = Denoiser(device="cpu").denoise(photo, noise_level=15, tile=0)
    denoiser = Denoiser(device="cpu")
    denoiser.runner = _GpuThatRunsOutOfMemory(denoiser.runner)
    result = denoiser.denoise(photo, noise_level=15, tile=0)
    assert psnr(result.pixels, reference.pixels) > 60  # the same photo, finished on the CPU
    assert any("out of memory on cuda" in m for m in result.messages)
    assert any("falling back to the CPU" in m for m in result.messages)
    assert (result.device, result.precision) == ("cpu", "fp32")  # what really ran, not what was asked
