"""The model contract, for every catalogue architecture (spandrel's ``test_<arch>`` pattern).

Each architecture is built for real at a small width with seeded random weights, saved as .pth
and .safetensors under tmp_path, and loaded back through the adapter the way a user's file is.
Then: the descriptor's facts, odd sizes, tiled = whole within 45 dB with the descriptor's own
margin and size multiple, identical outputs from both file formats, and the engine's habit of
calling a dtype-converted copy of the module. File-safety and refusal cases follow.
"""

from __future__ import annotations

import copy
import math
import os
import pickle
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from torch import nn

pytest.importorskip("spandrel", reason="spandrel (and torchvision) are needed for the model library")
pytest.importorskip("safetensors")

from safetensors.torch import save_file  # noqa: E402
from spandrel import MAIN_REGISTRY  # noqa: E402
from spandrel.architectures.Compact import Compact  # noqa: E402
from spandrel.architectures.DnCNN import DnCNN  # noqa: E402
from spandrel.architectures.DRUNet import DRUNet  # noqa: E402
from spandrel.architectures.FBCNN import FBCNN  # noqa: E402
from spandrel.architectures.FFTformer import FFTformer  # noqa: E402
from spandrel.architectures.NAFNet import NAFNet  # noqa: E402
from spandrel.architectures.SCUNet import SCUNet  # noqa: E402

from app.engine.tiling import TiledRunner, plan_tiles  # noqa: E402
from app.metrics import psnr  # noqa: E402
from models import ffdnet  # noqa: E402
from models.architectures import ARCHITECTURES, facts_for  # noqa: E402
from models.descriptor import ModelDescriptor  # noqa: E402
from models.ffdnet.arch import FFDNet  # noqa: E402
from models.spandrel_adapter import (  # noqa: E402
    LocalAvgPool2d,
    ModelFileError,
    apply_tlc,
    describe_file,
    describe_state_dict,
    read_state_dict,
    registry,
)

LEVEL = 25 / 255
MIN_TILED_PSNR = 45.0


# --- building real architectures with random weights ------------------------------------------

@dataclass(frozen=True)
class Case:
    """One architecture at test size: how to build it and what the adapter must report."""

    id: str
    architecture: str
    build: Callable[[], nn.Module]
    tail: Callable[[nn.Module], nn.Conv2d]  # the last conv, rescaled so outputs look like images
    residual: bool  # the network adds its input back (its tail predicts a residual)
    task: str
    conditioning: str
    multiple: int
    level_input: bool = False  # the raw module takes the level as an extra input channel


CASES = [
    Case("ffdnet", "FFDNet", lambda: FFDNet(features=16, depth=8), lambda n: n.model[-1], False,
         "denoise", "noise_map", 2),
    Case("nafnet-sidd", "NAFNet",
         lambda: NAFNet(width=8, enc_blk_nums=[1, 1, 1, 2], middle_blk_num=2, dec_blk_nums=[1, 1, 1, 1]),
         lambda n: n.ending, True, "denoise", "blind", 16),
    Case("nafnet-gopro", "NAFNet",
         lambda: NAFNet(width=8, enc_blk_nums=[1, 1, 1, 4], middle_blk_num=1, dec_blk_nums=[1, 1, 1, 1]),
         lambda n: n.ending, True, "denoise", "blind", 16),
    Case("scunet", "SCUNet", lambda: SCUNet(config=[2, 1, 1, 2, 1, 1, 2], dim=64), lambda n: n.m_tail[0], False,
         "denoise", "blind", 64),
    Case("drunet", "DRUNet", lambda: DRUNet(in_nc=4, out_nc=3, nc=[8, 16, 32, 64], nb=2), lambda n: n.m_tail,
         False, "denoise", "noise_map", 8, level_input=True),
    Case("fbcnn", "FBCNN", lambda: FBCNN(nc=[8, 16, 32, 512], nb=2), lambda n: n.m_tail, False,
         "dejpeg", "blind", 8),
    Case("fftformer", "FFTformer", lambda: FFTformer(dim=8, num_blocks=[1, 1, 1], num_refinement_blocks=1),
         lambda n: n.output, True, "deblur", "blind", 32),
    Case("dncnn", "DnCNN", lambda: DnCNN(in_nc=3, out_nc=3, nc=8, nb=9, act_mode="R", mode="DnCNN"),
         lambda n: n.model[-1], True, "denoise", "blind", 1),
    Case("fdncnn", "DnCNN", lambda: DnCNN(in_nc=4, out_nc=3, nc=8, nb=9, act_mode="R", mode="FDnCNN"),
         lambda n: n.model[-1], False, "denoise", "noise_map", 1, level_input=True),
]


def photo(height: int, width: int, seed: int = 0) -> np.ndarray:
    """A smooth colour pattern with mild noise: image-like statistics, no files needed."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / max(height, width)
    base = np.stack([0.5 + 0.3 * np.sin(6 * x + 2 * c) * np.cos(5 * y - c) for c in range(3)], axis=-1)
    return np.clip(base + rng.normal(0, 0.08, base.shape), 0, 1).astype(np.float32)


def randomise(net: nn.Module, seed: int) -> nn.Module:
    """Variance-preserving random weights; NAFNet's zero-initialised block scales made non-zero."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in net.named_parameters():
            noise = torch.randn(param.shape, generator=generator)
            if param.dim() >= 2:
                param.copy_(noise / math.sqrt(param[0].numel()))
            elif name.endswith(("beta", "gamma")) or name.endswith(".fft"):
                param.copy_(noise * 0.5 + (1.0 if name.endswith(".fft") else 0.0))
            else:
                param.copy_(noise * 0.02 + (1.0 if name.endswith("weight") else 0.0))
    return net.eval()


def calibrate_tail(net: nn.Module, case: Case) -> None:
    """Rescale the last conv so outputs sit mostly inside [0, 1]: a 0.05 residual, or an image
    around 0.5 (random networks otherwise saturate, and clipped outputs compare as equal)."""
    image = torch.from_numpy(photo(64, 64, 1).transpose(2, 0, 1))[None]
    if case.level_input or case.architecture == "FFDNet":
        level = torch.full_like(image[:, :1], LEVEL)
    seen: dict[str, torch.Tensor] = {}
    tail = case.tail(net)
    hook = tail.register_forward_hook(lambda module, args, out: seen.update(x=args[0], y=out))
    with torch.no_grad():
        if case.architecture == "FFDNet":
            net(image, LEVEL)
        else:
            net(torch.cat([image, level], 1) if case.level_input else image)
        hook.remove()
        inputs, outputs = seen["x"], seen["y"]
        if tail.bias is not None:
            outputs = outputs - tail.bias.view(1, -1, 1, 1)
            tail.bias.zero_()
        mean, std = (0.0, 0.05) if case.residual else (0.5, 0.15)
        gain = std / (outputs.std(dim=(0, 2, 3)) + 1e-8)
        tail.weight.mul_(gain.view(-1, 1, 1, 1))
        # Shift each output channel's mean by a term along the mean input direction.
        in_mean = inputs.mean(dim=(0, 2, 3))
        shift = mean - gain * outputs.mean(dim=(0, 2, 3))
        taps = tail.weight.shape[2] * tail.weight.shape[3]
        tail.weight.add_(shift.view(-1, 1, 1, 1) * in_mean.view(1, -1, 1, 1) / (taps * in_mean.square().sum()))


def state_dict_for(case: Case, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    net = randomise(case.build(), seed)
    calibrate_tail(net, case)
    return {key: value.detach().clone().contiguous() for key, value in net.state_dict().items()}


def save_both(state_dict: dict[str, torch.Tensor], folder: Path, stem: str) -> tuple[Path, Path]:
    pth, safetensors = folder / f"{stem}.pth", folder / f"{stem}.safetensors"
    torch.save(state_dict, pth)
    save_file(state_dict, str(safetensors))
    return pth, safetensors


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    """Every case's weights as .pth and .safetensors, built once for the module."""
    folder = tmp_path_factory.mktemp("weights")
    return {case.id: save_both(state_dict_for(case), folder, case.id) for case in CASES}


@pytest.fixture(scope="module")
def described(saved: dict[str, tuple[Path, Path]]) -> dict[str, ModelDescriptor]:
    return {case_id: describe_file(paths[0]) for case_id, paths in saved.items()}


# --- running a descriptor like the engine does --------------------------------------------------

def run(descriptor: ModelDescriptor, image: np.ndarray, module: nn.Module | None = None,
        dtype: torch.dtype = torch.float32) -> np.ndarray:
    """HxWx3 in, HxWx3 out, through the descriptor's one call (channels_last, like the runner)."""
    tensor = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1)))[None].to(dtype)
    tensor = tensor.contiguous(memory_format=torch.channels_last)
    level = None if descriptor.blind else torch.tensor(LEVEL, dtype=dtype)
    with torch.inference_mode():
        out = descriptor.forward(descriptor.module if module is None else module, tensor, level)
    return out[0].float().permute(1, 2, 0).numpy()


def tiled(descriptor: ModelDescriptor, image: np.ndarray, tile: int) -> np.ndarray:
    """The engine's tiler with the descriptor's margin and size multiple (tile 0: one tile)."""
    runner = TiledRunner(lambda part, part_map: run(descriptor, part), tile=tile,
                         margin=descriptor.tile_margin, multiple=descriptor.size.multiple)
    return runner.run(image)


def tile_side(descriptor: ModelDescriptor) -> int:
    """96 px, or two grid cells: app/engine/tiling.py's split_axis over-weights pixels where three
    aligned spans overlap, which happens for tiles under ~2x the size multiple."""
    return max(96, 2 * descriptor.size.multiple)


def blend_weights_sum_to_one(height: int, width: int, tile: int, multiple: int) -> bool:
    total = np.zeros((height, width))
    for box, weights in plan_tiles(height, width, tile, 16, multiple):
        total[box.y0:box.y1, box.x0:box.x1] += weights
    return bool(np.allclose(total, 1.0, atol=1e-5))


def contrasted(height: int, width: int, seed: int) -> np.ndarray:
    """A photo with a dark left third and a bright right part: tiles differ in their statistics."""
    image = photo(height, width, seed)
    image[:, : width // 3] *= 0.15
    image[:, width // 3:] = 0.6 + 0.4 * image[:, width // 3:]
    return image


# --- per architecture ---------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_descriptor_reports_the_architecture(case: Case, described: dict[str, ModelDescriptor]) -> None:
    descriptor = described[case.id]
    facts = facts_for(case.architecture)
    assert descriptor.name == case.id
    assert descriptor.architecture == case.architecture
    assert descriptor.task == case.task
    assert descriptor.conditioning == case.conditioning
    assert (descriptor.in_channels, descriptor.out_channels) == (3, 3)
    assert descriptor.size.multiple == case.multiple
    assert descriptor.size.minimum % descriptor.size.multiple == 0
    assert descriptor.tile_margin >= facts.tile_margin and descriptor.tile_margin % descriptor.size.multiple == 0
    assert (descriptor.levels is not None) == (case.conditioning == "noise_map")
    assert descriptor.traceable == (case.architecture == "FFDNet")
    assert descriptor.licence == facts.licence + " (architecture code; weights' licence unknown)"
    assert descriptor.macs_per_pixel > 0 and descriptor.bytes_per_pixel > 0
    for device in ("cpu", "cuda", "mps"):
        assert "fp32" in descriptor.precisions_on(device)
    assert not any(p.requires_grad for p in descriptor.module.parameters())
    assert not descriptor.module.training
    assert all(p.dtype == torch.float32 and p.device.type == "cpu" for p in descriptor.module.parameters())


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_runs_on_odd_sizes(case: Case, described: dict[str, ModelDescriptor]) -> None:
    descriptor = described[case.id]
    for height, width in ((37, 53), (61, 29)):
        out = run(descriptor, photo(height, width, 2))
        assert out.shape == (height, width, 3)
        assert np.isfinite(out).all() and out.min() >= 0.0 and out.max() <= 1.0
        assert out.std() > 0.01  # not saturated: the tiling comparison below means something


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_tiled_equals_whole(case: Case, described: dict[str, ModelDescriptor]) -> None:
    descriptor = described[case.id]
    image = contrasted(170, 200, 3)
    side = tile_side(descriptor)
    assert blend_weights_sum_to_one(170, 200, side, descriptor.size.multiple), "the tiler's plan is broken"
    whole = tiled(descriptor, image, tile=0)
    pieces = tiled(descriptor, image, tile=side)
    assert psnr(whole, pieces) >= MIN_TILED_PSNR, f"margin {descriptor.tile_margin} is too small"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_pth_and_safetensors_agree(case: Case, saved: dict[str, tuple[Path, Path]],
                                   described: dict[str, ModelDescriptor]) -> None:
    from_safetensors = describe_file(saved[case.id][1])
    assert from_safetensors.architecture == case.architecture
    image = photo(48, 72, 4)
    np.testing.assert_array_equal(run(from_safetensors, image), run(described[case.id], image))


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_forward_uses_the_module_it_is_given(case: Case, described: dict[str, ModelDescriptor]) -> None:
    """The engine calls its own copy (other dtype/device): forward must use that, not the original."""
    descriptor = described[case.id]
    image = photo(40, 56, 5)
    reference = run(descriptor, image)
    if "bf16" in {p for device in ("cpu", "cuda") for p in descriptor.precisions_on(device)}:
        copy_bf16 = copy.deepcopy(descriptor.module).to(torch.bfloat16)
        assert psnr(reference, run(descriptor, image, copy_bf16, torch.bfloat16)) > 25.0
    zeroed = copy.deepcopy(descriptor.module)
    with torch.no_grad():
        for param in zeroed.parameters():
            param.zero_()
    assert not np.array_equal(run(descriptor, image, zeroed), reference)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_runs_through_the_engine_runner(case: Case, described: dict[str, ModelDescriptor]) -> None:
    from app.engine.runner import ModelRunner

    descriptor = described[case.id]
    runner = ModelRunner(replace(descriptor, module=copy.deepcopy(descriptor.module)), torch.device("cpu"), "fp32")
    out = runner(photo(45, 61, 8), LEVEL)
    assert out.shape == (45, 61, 3) and 0.0 <= out.min() and out.max() <= 1.0


# --- architecture specifics ---------------------------------------------------------------------

def test_nafnet_channel_attention_is_local(described: dict[str, ModelDescriptor]) -> None:
    module = described["nafnet-gopro"].module
    pools = [block.sca[0] for stage in (*module.encoders, module.middle_blks, *module.decoders) for block in stage]
    window = int(ARCHITECTURES["NAFNet"].params["tlc_window"])
    assert pools and all(isinstance(pool, LocalAvgPool2d) for pool in pools)
    assert pools[0].window == window and module.middle_blks[0].sca[0].window == window >> len(module.encoders)


def test_nafnet_with_tlc_ignores_far_content(saved: dict[str, tuple[Path, Path]]) -> None:
    """Why TLC is applied: with spandrel's global pool, content 500 px away changes a pixel."""
    descriptor = describe_file(saved["nafnet-gopro"][0])
    global_pool = copy.deepcopy(descriptor.module)
    for stage in (*global_pool.encoders, global_pool.middle_blks, *global_pool.decoders):
        for block in stage:
            block.sca[0] = nn.AdaptiveAvgPool2d(1)
    near, far = photo(64, 768, 1), photo(64, 768, 1)
    far[:, 512:] = 1.0 - far[:, 512:]

    def left_part_psnr(module: nn.Module) -> float:
        return psnr(run(descriptor, near, module)[:, :128], run(descriptor, far, module)[:, :128])

    assert left_part_psnr(global_pool) < MIN_TILED_PSNR
    assert left_part_psnr(descriptor.module) > 60.0


def test_local_pool_matches_a_box_mean_and_the_global_pool() -> None:
    x = torch.randn(1, 2, 20, 30, dtype=torch.float64)
    torch.testing.assert_close(LocalAvgPool2d(32)(x), nn.AdaptiveAvgPool2d(1)(x))
    torch.testing.assert_close(LocalAvgPool2d(30)(x), x.mean(dim=(-2, -1), keepdim=True))
    window = 7
    out = LocalAvgPool2d(window)(x)
    for i, j in ((0, 0), (10, 15), (19, 29), (3, 27)):
        top = min(max(i - (window - 1) // 2, 0), 20 - window)
        left = min(max(j - (window - 1) // 2, 0), 30 - window)
        expected = x[0, :, top:top + window, left:left + window].mean(dim=(-2, -1))
        torch.testing.assert_close(out[0, :, i, j], expected)


def test_tlc_leaves_the_weights_alone() -> None:
    net = randomise(NAFNet(width=8, enc_blk_nums=[1], middle_blk_num=1, dec_blk_nums=[1]), 0)
    before = {key: value.clone() for key, value in net.state_dict().items()}
    after = apply_tlc(net, 384).state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)


def test_nafnet_never_offers_fp16_on_cuda(described: dict[str, ModelDescriptor]) -> None:
    precisions = described["nafnet-sidd"].precisions_on("cuda")
    assert "fp16" not in precisions and precisions[0] == "bf16"


def test_drunet_reads_the_level_it_is_given(described: dict[str, ModelDescriptor]) -> None:
    """Not spandrel's fixed 15/255: a constant map equals the scalar, and the level matters."""
    descriptor = described["drunet"]
    image = torch.from_numpy(photo(37, 53, 6).transpose(2, 0, 1))[None]
    with torch.inference_mode():
        scalar = descriptor.forward(descriptor.module, image, torch.tensor(LEVEL))
        as_map = descriptor.forward(descriptor.module, image, torch.full((1, 1, 37, 53), LEVEL))
        other = descriptor.forward(descriptor.module, image, torch.tensor(50 / 255))
    torch.testing.assert_close(scalar, as_map)
    assert not torch.allclose(scalar, other)
    assert descriptor.levels is not None and descriptor.levels.maximum == 75.0 and descriptor.levels.scale == 1.0


def test_fbcnn_keeps_its_own_quality_estimate(described: dict[str, ModelDescriptor]) -> None:
    descriptor = described["fbcnn"]
    image = torch.from_numpy(photo(40, 48, 7).transpose(2, 0, 1))[None]
    with torch.inference_mode():
        expected = descriptor.module(image)[0].clamp(0, 1)
        out = descriptor.forward(descriptor.module, image, None)
    torch.testing.assert_close(out, expected)


# --- the registry -------------------------------------------------------------------------------

def test_ffdnet_file_loads_as_ffdnet_not_dncnn(tmp_path: Path) -> None:
    net = ffdnet.build(state_dict_for(CASES[0]))
    path = tmp_path / "ffdnet_small.pth"
    torch.save(net.state_dict(), path)
    state_dict = read_state_dict(path)
    loaded = registry().load(state_dict)
    assert loaded.architecture.id == "FFDNet"
    image = torch.rand(1, 3, 33, 47)
    assert loaded(image).shape == image.shape  # spandrel's own call, at its default level
    descriptor = describe_file(path)
    assert descriptor.architecture == "FFDNet" and descriptor.name == "ffdnet_small"
    assert descriptor.licence == "MIT (architecture code; weights' licence unknown)"


def test_registry_is_ours_and_cached() -> None:
    ids = [support.architecture.id for support in registry().architectures("detection")]
    assert ids.index("FFDNet") < ids.index("DnCNN")
    assert "FFDNet" not in MAIN_REGISTRY
    assert registry() is registry()


def test_unknown_architecture_is_refused(tmp_path: Path) -> None:
    mlp = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 4))
    path = tmp_path / "mlp.pth"
    torch.save(mlp.state_dict(), path)
    with pytest.raises(ModelFileError, match="unknown architecture: spandrel does not recognise") as error:
        describe_file(path)
    assert "mlp" in str(error.value) and "NAFNet" in str(error.value) and "\n" not in str(error.value)


def test_super_resolution_model_is_refused(tmp_path: Path) -> None:
    sr = Compact(num_feat=8, num_conv=2, upscale=2)
    path = tmp_path / "tiny_sr.safetensors"
    save_file({k: v.contiguous() for k, v in sr.state_dict().items()}, str(path))
    with pytest.raises(ModelFileError, match="is a super-resolution model; Photomend runs restoration models"):
        describe_file(path)


@pytest.mark.parametrize("grey", [DRUNet(in_nc=2, out_nc=1, nc=[8, 16, 32, 64], nb=2),
                                  FFDNet(in_channels=1, features=8, depth=4)], ids=["drunet", "ffdnet"])
def test_grey_models_are_refused(grey: nn.Module) -> None:
    with pytest.raises(ModelFileError, match="takes 1 channel\\(s\\).*colour \\(3-channel\\) models only"):
        describe_state_dict(grey.state_dict(), name="grey")


def test_wrong_shapes_for_a_detected_architecture_are_refused() -> None:
    state_dict = state_dict_for(CASES[4])
    state_dict["m_tail.weight"] = state_dict["m_tail.weight"][:, :4]
    with pytest.raises(ModelFileError, match="looks like DRUNet but its weights do not fit"):
        describe_state_dict(state_dict, name="broken")


# --- reading files safely -----------------------------------------------------------------------

class Payload:
    """A pickle that would run a command when loaded by an ordinary unpickler."""

    def __init__(self, marker: Path, how: str) -> None:
        self.marker, self.how = marker, how

    def __reduce__(self):
        if self.how == "system":
            return os.system, (f"touch '{self.marker}'",)
        return exec, (f"open({str(self.marker)!r}, 'w').close()",)


@pytest.mark.parametrize("how", ["system", "exec"])
@pytest.mark.parametrize("writer", ["torch.save", "pickle-2", "pickle-5"])
@pytest.mark.parametrize("suffix", [".pth", ".ckpt", ".pt"])
def test_pickle_payload_never_runs(tmp_path: Path, how: str, writer: str, suffix: str) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / f"evil{suffix}"
    content = {"model.0.weight": torch.zeros(1), "extra": Payload(marker, how)}
    if writer == "torch.save":
        torch.save(content, path)
    else:
        path.write_bytes(pickle.dumps(content, protocol=int(writer[-1])))
    with pytest.raises(ModelFileError, match=f"evil{suffix}: ") as error:
        describe_file(path)
    assert not marker.exists()
    assert "\n" not in str(error.value)
    if writer != "pickle-5":  # protocol 5 frames are refused before any name is read
        assert "could run code" in str(error.value)


def test_torchscript_is_refused_without_running_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "scripted.pt"
    torch.jit.save(torch.jit.script(nn.Conv2d(3, 3, 3)), str(path))

    def no_jit(*args, **kwargs):
        raise AssertionError("torch.jit.load must never be called on a user's file")

    monkeypatch.setattr(torch.jit, "load", no_jit)
    with pytest.raises(ModelFileError, match="scripted.pt: a TorchScript archive"):
        read_state_dict(path)


@pytest.mark.parametrize("name", ["weights.txt", "weights.onnx", "weights"])
def test_other_extensions_are_refused(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    path.write_text("not weights")
    with pytest.raises(ModelFileError, match="unsupported model file type"):
        read_state_dict(path)


def test_containers_and_prefixes_are_unwrapped(tmp_path: Path) -> None:
    state_dict = state_dict_for(CASES[4])
    path = tmp_path / "checkpoint.ckpt"
    torch.save({"params_ema": {f"module.{k}": v for k, v in state_dict.items()}, "epoch": 3}, path)
    assert read_state_dict(path).keys() == state_dict.keys()
    assert describe_file(path).architecture == "DRUNet"


@pytest.mark.parametrize("content,message", [
    (b"\x00garbage that is no pickle", "not a PyTorch weights file Photomend can read safely"),
    (b"", "not a readable PyTorch weights file"),
    (None, "not a dictionary of weights"),
])
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "odd.pth"
    if content is None:
        torch.save(torch.zeros(3), path)
    else:
        path.write_bytes(content)
    with pytest.raises(ModelFileError, match=message):
        read_state_dict(path)


def test_corrupt_safetensors_and_missing_files_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "broken.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json")
    with pytest.raises(ModelFileError, match="broken.safetensors: not a readable safetensors file"):
        read_state_dict(path)
    with pytest.raises(ModelFileError, match="no such file"):
        read_state_dict(tmp_path / "absent.pth")


# --- the table ----------------------------------------------------------------------------------

def test_unknown_restoration_architectures_get_conservative_facts() -> None:
    facts = facts_for("SwinIR")
    assert facts.id == "SwinIR" and facts.tile_margin >= 64
    assert all(precisions[0] == "fp32" for precisions in facts.precisions.values())


def test_the_table_covers_the_catalogue() -> None:
    assert set(ARCHITECTURES) == {"FFDNet", "NAFNet", "SCUNet", "DRUNet", "FBCNN", "FFTformer", "DnCNN"}
    assert ARCHITECTURES["NAFNet"].task is None and ARCHITECTURES["NAFNet"].default_task == "denoise"
    licences = {arch: facts.licence for arch, facts in ARCHITECTURES.items()}
    assert licences == {"FFDNet": "MIT", "NAFNet": "MIT", "SCUNet": "Apache-2.0", "DRUNet": "MIT",
                        "FBCNN": "Apache-2.0", "FFTformer": "MIT", "DnCNN": "MIT"}
    assert ARCHITECTURES["NAFNet"].macs_at(32) == pytest.approx(245e3)
    assert ARCHITECTURES["NAFNet"].macs_at(64) == pytest.approx(965e3)


def test_given_names_licence_and_task_win(saved: dict[str, tuple[Path, Path]]) -> None:
    descriptor = describe_file(saved["nafnet-gopro"][0], name="nafnet-gopro-32", title="NAFNet GoPro",
                               task="deblur", licence="MIT", credit="someone", source="https://example.org/x.pth")
    assert (descriptor.name, descriptor.title, descriptor.task) == ("nafnet-gopro-32", "NAFNet GoPro", "deblur")
    assert (descriptor.licence, descriptor.credit, descriptor.source) == ("MIT", "someone", "https://example.org/x.pth")
