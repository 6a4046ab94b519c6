"""What Photomend knows about each architecture that spandrel does not say, written out as one table.

spandrel detects an architecture and its hyperparameters from a state dict, but not which task
a model is for, how much context a tile needs, how much memory a pixel costs, what it costs to
run, which precisions are safe, or under which licence the code is. Those facts live here,
keyed by spandrel's architecture id, so a new architecture is one new row.

How the numbers were found:

- ``tile_margin``: a multiple of the grid, found with random weights at the catalogue models'
  *depths* (receptive fields do not depend on width). First the reach: all content beyond a
  vertical line was replaced, and the margin is the distance past which every output column
  stayed within 60 dB (15 dB of headroom over the 45 dB tiling target). Then the engine's tiler
  confirmed it: tiled = whole within 45 dB with 96-128 px tiles. tests/models/test_contract.py
  checks every row again at test widths.
- ``bytes_per_pixel``: peak fp32 memory per *input* pixel at ``reference_width``. Estimated from
  activation sizes: the largest set of feature maps alive at once, in channels per input pixel
  (a map at scale 1/2^k counts 1/4^k), times 4 bytes, e.g. DnCNN-64 holds two 64-channel maps
  (512 B) plus its input and output; NAFNet-w32's widest moment is about eight full-resolution
  maps of 32-64 channels plus the encoder skips; FFTformer keeps 6 x 48 channels at full
  resolution and their complex spectra. That count was checked against the growth of peak
  resident memory during one CPU fp32 forward of a 512 x 512 input at the catalogue configuration
  (after a warm-up at the same size), and the larger of the two, plus ~25% for the engine's
  numpy copies and allocator slack, is stored. Other widths scale linearly.
- ``macs_per_pixel``: multiply-accumulates per output pixel at the catalogue widths (from
  /work/shared/brief/models.md, counted from each architecture's code); other widths scale with
  width squared.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal, Mapping

from models.descriptor import Conditioning, Task

WEIGHTS_CAVEAT = " (architecture code; weights' licence unknown)"
"""Appended to a file's licence when only its architecture's code licence is known."""

Tiling = Literal["exact", "approximate"]


@dataclass(frozen=True)
class ArchitectureFacts:
    """One architecture's facts; ``task`` None means the catalogue entry or the user decides."""

    id: str  # spandrel's architecture id (ours for FFDNet)
    task: Task | None
    conditioning: Conditioning
    tile_margin: int  # px of context each tile needs on every side
    grid: int  # tiles must start on this grid (windows, FFT patches, down-sampling); 0: 2**levels of the model
    bytes_per_pixel: int  # peak fp32 bytes per input pixel at reference_width (tile sizing)
    reference_width: int  # the width bytes_per_pixel was estimated at
    macs_per_pixel: Mapping[int, float]  # width (channels of the first layer) -> MACs per output pixel
    width_key: str  # the state-dict key whose first dimension is the width
    precisions: Mapping[str, tuple[str, ...]]  # per device type, default first (spandrel's flags filter these)
    licence: str  # the architecture code's licence
    credit: str  # the paper
    tiling: Tiling = "exact"  # "approximate": a whole-image statistic makes tiles differ slightly (see note)
    note: str = ""
    params: Mapping[str, float] = field(default_factory=dict)  # architecture-specific constants

    @property
    def default_task(self) -> Task:
        return self.task or "denoise"

    def bytes_at(self, width: int | None) -> int:
        """Peak fp32 bytes per input pixel at ``width`` (activations scale with it)."""
        if not width or not self.reference_width:
            return self.bytes_per_pixel
        return max(64, round(self.bytes_per_pixel * width / self.reference_width))

    def macs_at(self, width: int) -> float:
        """MACs per pixel at ``width``, scaled from the nearest catalogue width."""
        if not self.macs_per_pixel:
            return 0.0
        reference = min(self.macs_per_pixel, key=lambda known: abs(known - width))
        return self.macs_per_pixel[reference] * (width / reference) ** 2


_FP32_BF16 = ("fp32", "bf16")

ARCHITECTURES: dict[str, ArchitectureFacts] = {
    "FFDNet": ArchitectureFacts(
        id="FFDNet", task="denoise", conditioning="noise_map",
        tile_margin=32, grid=2, bytes_per_pixel=320, reference_width=96,
        macs_per_pixel={96: 213e3}, width_key="model.0.weight",
        precisions={"cpu": ("fp32", "int8", "bf16"), "cuda": ("fp16", "bf16", "fp32"), "mps": ("fp16", "fp32")},
        licence="MIT", credit="FFDNet, Kai Zhang, Wangmeng Zuo, Lei Zhang (TIP 2018)",
    ),
    "NAFNet": ArchitectureFacts(
        id="NAFNet", task=None, conditioning="blind",
        tile_margin=256, grid=0, bytes_per_pixel=1750, reference_width=32,
        macs_per_pixel={32: 245e3, 64: 965e3}, width_key="intro.weight",
        # fp16 overflows in NAFNet's activations on CUDA; bf16 has fp32's range.
        precisions={"cpu": _FP32_BF16, "cuda": ("bf16", "fp32"), "mps": ("fp32",)},
        licence="MIT", credit="NAFNet, Liangyu Chen, Xiaojie Chu, Xiangyu Zhang, Jian Sun (ECCV 2022)",
        note="channel attention pools over a local window (TLC), so tiles need half that window as margin",
        params={"tlc_window": 384},
    ),
    "SCUNet": ArchitectureFacts(
        id="SCUNet", task="denoise", conditioning="blind",
        tile_margin=64, grid=64, bytes_per_pixel=3000, reference_width=64,
        macs_per_pixel={64: 1202e3}, width_key="m_head.0.weight",
        precisions={"cpu": _FP32_BF16, "cuda": ("fp16", "bf16", "fp32"), "mps": ("fp32", "fp16")},
        licence="Apache-2.0", credit="SCUNet, Kai Zhang, Yawei Li, Jingyun Liang et al. (MIR 2023)",
        note="Swin windows of 8 px at 1/8 scale: tiles on a 64 px grid see the same windows as the whole image",
    ),
    "DRUNet": ArchitectureFacts(
        id="DRUNet", task="denoise", conditioning="noise_map",
        tile_margin=64, grid=8, bytes_per_pixel=2100, reference_width=64,
        macs_per_pixel={64: 2118e3}, width_key="m_head.weight",
        precisions={"cpu": _FP32_BF16, "cuda": ("bf16", "fp32"), "mps": ("fp32",)},
        licence="MIT", credit="DRUNet (DPIR), Kai Zhang, Yawei Li, Wangmeng Zuo et al. (TPAMI 2021)",
    ),
    "FBCNN": ArchitectureFacts(
        id="FBCNN", task="dejpeg", conditioning="blind",
        tile_margin=128, grid=8, bytes_per_pixel=2000, reference_width=64,
        macs_per_pixel={64: 2781e3}, width_key="m_head.weight",
        precisions={"cpu": _FP32_BF16, "cuda": ("fp16", "bf16", "fp32"), "mps": ("fp32", "fp16")},
        licence="Apache-2.0", credit="FBCNN, Jiaxi Jiang, Kai Zhang, Radu Timofte (ICCV 2021)",
        tiling="approximate",
        # No margin makes it exact: the quality estimate averages the whole input (each tile's own).
        note="the JPEG quality is predicted from each tile's whole context (a global average): tiles differ slightly",
    ),
    "FFTformer": ArchitectureFacts(
        id="FFTformer", task="deblur", conditioning="blind",
        tile_margin=128, grid=32, bytes_per_pixel=18000, reference_width=48,
        macs_per_pixel={48: 2005e3}, width_key="patch_embed.proj.weight",
        # fp32 only: its frequency filters run in fp32 (``.float()``) and hand fp32 to the next
        # convolution, so a bf16/fp16 copy of the weights fails (spandrel 0.4.2 claims bf16 works).
        precisions={"cpu": ("fp32",), "cuda": ("fp32",), "mps": ("fp32",)},
        licence="MIT",
        credit="FFTformer, Lingshun Kong, Jiangxin Dong, Jianjun Ge, Mingqiang Li, Jinshan Pan (CVPR 2023)",
        note="frequency filtering in 8 px patches at 1/4 scale: tiles start on a 32 px grid",
    ),
    "DnCNN": ArchitectureFacts(
        id="DnCNN", task="denoise", conditioning="blind",
        tile_margin=32, grid=1, bytes_per_pixel=1000, reference_width=64,
        macs_per_pixel={64: 560e3}, width_key="model.0.weight",
        precisions={"cpu": _FP32_BF16, "cuda": ("bf16", "fp32"), "mps": ("fp32",)},
        licence="MIT", credit="DnCNN, Kai Zhang, Wangmeng Zuo, Yunjin Chen, Deyu Meng, Lei Zhang (TIP 2017)",
        note="KAIR's FDnCNN variant takes a noise-level map: the adapter treats it as noise_map",
    ),
}

DEFAULT = ArchitectureFacts(
    id="", task="denoise", conditioning="blind",
    tile_margin=64, grid=8, bytes_per_pixel=4000, reference_width=0,
    macs_per_pixel={}, width_key="",
    precisions={"cpu": ("fp32",), "cuda": ("fp32", "bf16", "fp16"), "mps": ("fp32",)},
    licence="unknown", credit="",
    note="an architecture Photomend has not measured: generous margin and memory, fp32 by default",
)
"""Facts for any other spandrel "Restoration" architecture: generous, and fp32 first."""


def facts_for(architecture: str) -> ArchitectureFacts:
    """The row for a spandrel architecture id, or the conservative default under that id."""
    known = ARCHITECTURES.get(architecture)
    if known is not None:
        return known
    return replace(DEFAULT, id=architecture)


def known_architectures() -> tuple[str, ...]:
    """The ids with measured facts, for messages."""
    return tuple(ARCHITECTURES)
