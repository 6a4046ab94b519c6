"""Model files of any architecture spandrel knows, turned into our ModelDescriptor.

spandrel detects the architecture and its hyperparameters from a state dict; the facts it does
not have (task, tile margin, memory, cost, safe precisions, licence) come from
models/architectures.py. Files are read here, never by spandrel's loader: its ``.pt`` path runs
``torch.jit.load``, i.e. program code from the file. Every pickle goes through
``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.
"""

from __future__ import annotations

import functools
import math
import pickle
import re
import warnings
import zipfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

import torch
from spandrel import (
    MAIN_REGISTRY,
    ArchRegistry,
    ArchSupport,
    Architecture,
    ImageModelDescriptor,
    canonicalize_state_dict,
)
from spandrel import SizeRequirements as SpandrelSize
from torch import nn
from torch.nn import functional as F

from models import ffdnet
from models.architectures import WEIGHTS_CAVEAT, ArchitectureFacts, facts_for, known_architectures
from models.descriptor import TASKS, Forward, LevelRange, ModelDescriptor, SizeRequirements
from models.errors import ModelWeightsError
from models.ffdnet.arch import FFDNet

SUFFIXES = (".pth", ".ckpt", ".pt", ".safetensors")
# spandrel's own default for FFDNet-like models (15/255); only spandrel users see it, our engine
# always passes the level.
SPANDREL_DEFAULT_LEVEL = 15 / 255
PURPOSES = {"SR": "a super-resolution model", "FaceSR": "a face super-resolution model",
            "Inpainting": "an inpainting model"}


class ModelFileError(ModelWeightsError):
    """A model file Photomend cannot use; the message names the file and says why, in one line."""


# --- reading files -------------------------------------------------------------------------------

def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of a weights file, unwrapped from the usual checkpoint containers.

    Only data is read: pickles through torch's weights-only unpickler, safetensors as they are.
    TorchScript archives and any other file type are refused.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise ModelFileError(f"{path.name}: unsupported model file type '{suffix or '(none)'}' "
                             f"(use {', '.join(SUFFIXES)})")
    if not path.is_file():
        raise ModelFileError(f"{path.name}: no such file ({path})")
    raw = _read_safetensors(path) if suffix == ".safetensors" else _read_pickle(path)
    return _tensors(path, raw)


def _read_safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    try:
        return load_file(str(path), device="cpu")
    except Exception as error:  # noqa: BLE001 - safetensors raises several kinds; all mean "unreadable"
        raise ModelFileError(f"{path.name}: not a readable safetensors file ({_first_line(error)})") from None


def _read_pickle(path: Path) -> object:
    if _is_torchscript(path):
        raise ModelFileError(f"{path.name}: a TorchScript archive (it carries program code, which Photomend "
                             "never runs); use the model's weights as .pth or .safetensors")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch's note on unusual pickle protocols
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "GLOBAL" in str(error):
            raise ModelFileError(f"{path.name}: refused: it holds Python objects besides weights "
                                 f"({_forbidden(error)}), and loading them could run code") from None
        raise ModelFileError(f"{path.name}: not a PyTorch weights file Photomend can read safely "
                             f"({_forbidden(error)})") from None
    except Exception as error:  # noqa: BLE001 - corrupt zip, truncated file, wrong format...
        # The unpickler's own errors on a file that is no pickle at all are a bare KeyError('101') and
        # the like: say what the file is not rather than quote them.
        unreadable = isinstance(error, KeyError) or "zip archive" in str(error)  # no pickle / a cut zip
        cause = "it is damaged, cut short, or not a PyTorch file" if unreadable else _first_line(error)
        raise ModelFileError(f"{path.name}: not a readable PyTorch weights file ({cause})") from None


def _is_torchscript(path: Path) -> bool:
    """TorchScript archives are zips with a constants.pkl (torch.jit.save's layout)."""
    if not zipfile.is_zipfile(path):
        return False
    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.split("/")[-1] == "constants.pkl" for name in archive.namelist())
    except zipfile.BadZipFile:
        return False


def _tensors(path: Path, raw: object) -> dict[str, torch.Tensor]:
    if not isinstance(raw, dict):
        raise ModelFileError(f"{path.name}: holds a {type(raw).__name__}, not a dictionary of weights")
    state = canonicalize_state_dict(raw)
    tensors = {key: value for key, value in state.items() if isinstance(value, torch.Tensor)}
    if not tensors:
        raise ModelFileError(f"{path.name}: holds no weights (keys: {', '.join(list(map(str, state))[:5])})")
    return tensors


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0][:160] if text else type(error).__name__


def _forbidden(error: BaseException) -> str:
    """What torch's weights-only unpickler refused, in a few words."""
    text = str(error)
    named = re.search(r"GLOBAL ([\w.]+)", text)
    if named:
        return named.group(1)
    operand = re.search(r"Unsupported operand (\d+)", text)
    if operand:
        return f"unsupported pickle operand {operand.group(1)}"
    return _first_line(error)


# --- the registry --------------------------------------------------------------------------------

class FFDNetArch(Architecture[FFDNet]):
    """Our FFDNet for spandrel users (spandrel 0.4.2 takes KAIR's FFDNet layout for FDnCNN)."""

    def __init__(self) -> None:
        super().__init__(id="FFDNet", detect=ffdnet.is_ffdnet_state_dict)

    def load(self, state_dict: dict) -> ImageModelDescriptor[FFDNet]:
        net = ffdnet.build(state_dict)
        return ImageModelDescriptor(
            net, state_dict, architecture=self, purpose="Restoration", tags=[f"{net.model[0].out_channels}nf"],
            supports_half=True, supports_bfloat16=True, scale=1,
            input_channels=net.in_channels, output_channels=net.in_channels,
            size_requirements=SpandrelSize(multiple_of=2),
            call_fn=lambda model, image: model(image, SPANDREL_DEFAULT_LEVEL),
        )


@functools.cache
def registry() -> ArchRegistry:
    """spandrel's architectures plus our FFDNet, detected before DnCNN; spandrel's own is untouched."""
    ours = MAIN_REGISTRY.copy()  # copy-on-write: adding here leaves MAIN_REGISTRY as it was
    ours.add(ArchSupport(FFDNetArch(), ffdnet.is_ffdnet_state_dict, before=("DnCNN",)))
    return ours


# --- describing a state dict ---------------------------------------------------------------------

def describe_file(path: Path, *, name: str | None = None, title: str | None = None, task: str | None = None,
                  licence: str | None = None, credit: str = "", source: str = "") -> ModelDescriptor:
    """Read a weights file and describe the model in it (name defaults to the file's stem)."""
    path = Path(path)
    return describe_state_dict(read_state_dict(path), name=name or path.stem.lower(), title=title, task=task,
                               licence=licence, credit=credit, source=source or str(path))


def describe_state_dict(state_dict: dict[str, torch.Tensor], *, name: str, title: str | None = None,
                        task: str | None = None, licence: str | None = None, credit: str = "",
                        source: str = "") -> ModelDescriptor:
    """The engine's descriptor for a state dict of any restoration architecture spandrel knows."""
    if task is not None and task not in TASKS:
        raise ValueError(f"unknown task {task!r} (one of {', '.join(TASKS)})")
    state_dict = canonicalize_state_dict(state_dict)
    if ffdnet.is_ffdnet_state_dict(state_dict):
        return _describe_ffdnet(state_dict, name=name, title=title, task=task, licence=licence,
                                credit=credit, source=source)
    loaded = _load(state_dict, name)
    arch = str(loaded.architecture.id)
    _check_usable(loaded, name, arch)
    facts = facts_for(arch)
    module = _prepare(loaded.model, facts)
    conditioning = _conditioning(facts, module)
    size = _size(loaded, facts, module)
    return ModelDescriptor(
        name=name,
        title=title or f"{arch} ({name})",
        task=task or facts.default_task,  # type: ignore[arg-type]
        conditioning=conditioning,
        architecture=arch,
        module=module,
        forward=_noise_map_forward(size) if conditioning == "noise_map" else _blind_forward(_call_fn(loaded), size),
        in_channels=loaded.input_channels,
        out_channels=loaded.output_channels,
        size=size,
        # DRUNet and FDnCNN read the level as it is (sigma/255); the grey factor is unmeasured for them.
        levels=LevelRange(maximum=75.0, scale=1.0, grey_factor=1.0) if conditioning == "noise_map" else None,
        precisions=_precisions(facts, loaded),
        tile_margin=_round_up(facts.tile_margin, size.multiple),
        bytes_per_pixel=_bytes_per_pixel(facts, state_dict),
        macs_per_pixel=_macs(facts, state_dict),
        licence=licence or _code_licence(facts),
        credit=credit or facts.credit,
        source=source,
        traceable=False,
    )


def _describe_ffdnet(state_dict: dict[str, torch.Tensor], *, name: str, title: str | None, task: str | None,
                     licence: str | None, credit: str, source: str) -> ModelDescriptor:
    facts = facts_for("FFDNet")
    try:
        net = ffdnet.build(state_dict)
    except (RuntimeError, KeyError) as error:
        raise ModelFileError(f"{name}: looks like FFDNet but its weights do not fit ({_first_line(error)})") from None
    _check_channels(name, "FFDNet", net.in_channels, net.in_channels)
    descriptor = ffdnet.describe(net, name=name, title=title or f"FFDNet ({name})", source=source,
                                 licence=licence or _code_licence(facts), credit=credit or facts.credit)
    raw = descriptor.forward
    # FFDNet predicts the image directly; clamp like every other descriptor's forward.
    return replace(descriptor, task=task or descriptor.task,
                   forward=lambda module, image, level: raw(module, image, level).clamp(0.0, 1.0))


def _load(state_dict: dict[str, torch.Tensor], name: str) -> ImageModelDescriptor:
    """spandrel's detection (our registry's order), with one-line errors."""
    for support in registry().architectures("detection"):
        if support.detect(state_dict):
            try:
                return support.architecture.load(state_dict)  # type: ignore[return-value]
            except Exception as error:  # noqa: BLE001 - any failure here means "weights do not fit"
                raise ModelFileError(f"{name}: looks like {support.architecture.id} but its weights do not fit "
                                     f"({_first_line(error)})") from None
    known = ", ".join(known_architectures())
    raise ModelFileError(f"{name}: unknown architecture: spandrel does not recognise this file "
                         f"(known: {known} and other spandrel restoration models)")


def _check_usable(loaded: object, name: str, arch: str) -> None:
    """Restoration models with three channels in and out; everything else is refused, clearly."""
    purpose = getattr(loaded, "purpose", "")
    if purpose != "Restoration" or not isinstance(loaded, ImageModelDescriptor):
        what = PURPOSES.get(purpose, f"a {purpose or 'non-image'} model")
        raise ModelFileError(f"{name}: {arch} is {what}; Photomend runs restoration models (denoise, deblur, JPEG)")
    _check_channels(name, arch, loaded.input_channels, loaded.output_channels)
    if loaded.size_requirements.square:
        raise ModelFileError(f"{name}: {arch} needs square inputs, which Photomend's tiling does not provide")


def _check_channels(name: str, arch: str, inputs: int, outputs: int) -> None:
    if inputs != 3 or outputs != 3:
        raise ModelFileError(f"{name}: {arch} model takes {inputs} channel(s) and gives {outputs}; "
                             "Photomend runs colour (3-channel) models only for now")


def _prepare(model: nn.Module, facts: ArchitectureFacts) -> nn.Module:
    """CPU, fp32, eval, no gradients; NAFNet gets its local channel attention (TLC)."""
    model = model.float().cpu().eval().requires_grad_(False)
    if facts.id == "NAFNet":
        apply_tlc(model, int(facts.params["tlc_window"]))
    return model


def _conditioning(facts: ArchitectureFacts, module: nn.Module) -> str:
    if facts.id == "DnCNN" and getattr(module, "mode", "") == "FDnCNN":
        return "noise_map"  # KAIR's FDnCNN: image plus a noise-level channel, like DRUNet
    return facts.conditioning


def _size(loaded: ImageModelDescriptor, facts: ArchitectureFacts, module: nn.Module) -> SizeRequirements:
    """spandrel's requirement, widened to the grid the network works on inside (tiles must match it)."""
    grid = facts.grid or int(getattr(module, "padder_size", 1))
    multiple = math.lcm(loaded.size_requirements.multiple_of, max(grid, 1))
    minimum = _round_up(max(loaded.size_requirements.minimum, multiple), multiple)
    return SizeRequirements(multiple=multiple, minimum=minimum)


def _precisions(facts: ArchitectureFacts, loaded: ImageModelDescriptor) -> dict[str, tuple[str, ...]]:
    """The table's precisions, less those spandrel marks unsupported; fp32 always stays."""
    def allowed(precision: str) -> bool:
        return not ((precision == "fp16" and not loaded.supports_half)
                    or (precision == "bf16" and not loaded.supports_bfloat16))

    out = {}
    for device, precisions in facts.precisions.items():
        kept = tuple(p for p in precisions if allowed(p))
        out[device] = kept if "fp32" in kept else (*kept, "fp32")
    return out


def _width(facts: ArchitectureFacts, state_dict: dict[str, torch.Tensor]) -> int | None:
    weight = state_dict.get(facts.width_key) if facts.width_key else None
    return int(weight.shape[0]) if weight is not None else None


def _macs(facts: ArchitectureFacts, state_dict: dict[str, torch.Tensor]) -> float:
    width = _width(facts, state_dict)
    return facts.macs_at(width) if width else 0.0


def _bytes_per_pixel(facts: ArchitectureFacts, state_dict: dict[str, torch.Tensor]) -> int:
    return facts.bytes_at(_width(facts, state_dict))


def _code_licence(facts: ArchitectureFacts) -> str:
    return facts.licence + WEIGHTS_CAVEAT


def _call_fn(loaded: ImageModelDescriptor) -> Callable[[nn.Module, torch.Tensor], torch.Tensor]:
    """spandrel's per-architecture call (e.g. FBCNN's ``model(image)[0]``), on any module copy.

    spandrel 0.4.2 keeps it private, and its public ``__call__`` always uses its own module, not the
    engine's device/precision copy.
    """
    return getattr(loaded, "_call_fn", None) or (lambda model, image: model(image))


# --- calling the module --------------------------------------------------------------------------

def pad_to(image: torch.Tensor, size: SizeRequirements) -> torch.Tensor:
    """Pad bottom/right to sizes the model accepts: reflection, then replication past one period
    (as spandrel's ``pad_tensor``)."""
    height, width = image.shape[-2:]
    pad_h, pad_w = size.padded(height) - height, size.padded(width) - width
    if not (pad_h or pad_w):
        return image
    reflect_h, reflect_w = min(pad_h, height - 1), min(pad_w, width - 1)
    if reflect_h or reflect_w:
        image = F.pad(image, (0, reflect_w, 0, reflect_h), mode="reflect")
    if pad_h > reflect_h or pad_w > reflect_w:
        image = F.pad(image, (0, pad_w - reflect_w, 0, pad_h - reflect_h), mode="replicate")
    return image


def _blind_forward(call: Callable[[nn.Module, torch.Tensor], torch.Tensor], size: SizeRequirements) -> Forward:
    def forward(module: nn.Module, image: torch.Tensor, level: torch.Tensor | None) -> torch.Tensor:
        height, width = image.shape[-2:]
        out = call(module, pad_to(image, size))
        return out[..., :height, :width].clamp(0.0, 1.0)

    return forward


def _noise_map_forward(size: SizeRequirements) -> Forward:
    """``module(cat(image, level map))``: DRUNet's and FDnCNN's input (spandrel's call fixes 15/255)."""
    def forward(module: nn.Module, image: torch.Tensor, level: torch.Tensor | None) -> torch.Tensor:
        if level is None:
            raise ValueError("this model needs a noise level (0-1 scale)")
        height, width = image.shape[-2:]
        batch = image.shape[0]
        level = torch.as_tensor(level, dtype=image.dtype, device=image.device)
        if level.dim() == 4:
            level_map = pad_to(level, size).expand(batch, 1, -1, -1)
        else:
            padded_h, padded_w = size.padded(height), size.padded(width)
            level_map = level.reshape(-1, 1, 1, 1).expand(batch, 1, padded_h, padded_w)
        padded = pad_to(image, size)
        out = module(torch.cat([padded, level_map.to(memory_format=torch.contiguous_format)], dim=1))
        return out[..., :height, :width].clamp(0.0, 1.0)

    return forward


# --- NAFNet's test-time local converter (TLC) ----------------------------------------------------

class LocalAvgPool2d(nn.Module):
    """TLC's local average: the mean over a ``window`` x ``window`` box around each position.

    As in the NAFNet authors' ``AvgPool2d`` (their NAFNetLocal): boxes stay inside the map (at the
    edges the nearest full box is used), and a map no larger than the box gets the global mean,
    exactly what ``AdaptiveAvgPool2d(1)`` gives. Unlike a global pool it is local, so tiles agree.
    """

    def __init__(self, window: int) -> None:
        super().__init__()
        self.window = max(1, int(window))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = _box_mean(_box_mean(x.float(), self.window, dim=-2), self.window, dim=-1)
        return out.to(x.dtype)

    def extra_repr(self) -> str:
        return f"window={self.window}"


def _box_mean(x: torch.Tensor, window: int, dim: int) -> torch.Tensor:
    """Mean over ``window`` consecutive positions along ``dim``, box shifted inside at the ends."""
    length = x.shape[dim]
    if window >= length:
        return x.mean(dim=dim, keepdim=True)  # broadcasts like AdaptiveAvgPool2d(1)'s output
    sums = F.pad(x.cumsum(dim=dim).movedim(dim, -1), (1, 0)).movedim(-1, dim)
    valid = (sums.narrow(dim, window, length - window + 1) - sums.narrow(dim, 0, length - window + 1)) / window
    before = (window - 1) // 2
    index = (torch.arange(length, device=x.device) - before).clamp_(0, length - window)
    return valid.index_select(dim, index)


def apply_tlc(model: nn.Module, window: int) -> nn.Module:
    """Swap NAFNet's global channel-attention pools for local ones of ``window`` px at full scale.

    A block at scale 1/2^k pools over window / 2^k feature pixels, i.e. the same image area at
    every depth. The weights are untouched (the pools have none).
    """
    levels = len(model.encoders)
    stages = [(i, stage) for i, stage in enumerate(model.encoders)]
    stages.append((levels, model.middle_blks))
    stages += [(levels - 1 - j, stage) for j, stage in enumerate(model.decoders)]
    for level, stage in stages:
        for block in stage:
            if isinstance(block.sca[0], (nn.AdaptiveAvgPool2d, LocalAvgPool2d)):
                block.sca[0] = LocalAvgPool2d(max(1, window >> level))
    return model


# --- small helpers -------------------------------------------------------------------------------

def _round_up(value: int, multiple: int) -> int:
    return value + (-value) % max(multiple, 1)


__all__ = ["ModelFileError", "LocalAvgPool2d", "apply_tlc", "describe_file", "describe_state_dict", "pad_to",
           "read_state_dict", "registry"]
