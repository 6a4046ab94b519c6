"""What the engine knows about a loaded model: one descriptor per model, in the spirit of spandrel's.

The engine reads margins, tile memory, size padding, precision choices and level ranges from
here, so a new architecture needs a descriptor and nothing else in the engine changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Literal

if TYPE_CHECKING:  # torch is only needed to run a model, not to list or describe one
    import torch

Task = Literal["denoise", "deblur", "dejpeg"]
Conditioning = Literal["noise_map", "blind"]
TASKS: tuple[str, ...] = ("denoise", "deblur", "dejpeg")
TASK_TITLES = {"denoise": "noise", "deblur": "motion blur", "dejpeg": "JPEG artefacts"}

Forward = Callable[["torch.nn.Module", "torch.Tensor", "torch.Tensor | None"], "torch.Tensor"]
"""(module, image N,C,H,W in [0,1], level on the 0-1 scale: scalar tensor or N,1,H,W map; None for blind
models) -> image. The module is passed in so the engine can call its own device/precision copy."""


@dataclass(frozen=True)
class SizeRequirements:
    """Input sides must be a multiple of ``multiple`` and at least ``minimum`` pixels."""

    multiple: int = 1
    minimum: int = 1

    def padded(self, side: int) -> int:
        """The smallest side >= ``side`` the model accepts."""
        side = max(side, self.minimum)
        return side + (-side) % self.multiple


@dataclass(frozen=True)
class LevelRange:
    """How a noise-map model reads its level input (only for conditioning == "noise_map").

    ``maximum`` is the top level a user may ask for (0-255 scale); ``scale`` multiplies the
    photo's level before it reaches the model (where its trained optimum lies); ``grey_factor``
    is the level multiplier for a grey photo fed to a colour model as three equal channels.
    """

    maximum: float = 75.0
    scale: float = 1.0
    grey_factor: float = 1.0


@dataclass(frozen=True)
class ModelDescriptor:
    """A loaded model with everything the engine needs to run it well, and its one call."""

    name: str
    title: str
    task: Task
    conditioning: Conditioning
    architecture: str
    module: torch.nn.Module  # CPU, fp32, eval mode
    forward: Forward
    in_channels: int = 3
    out_channels: int = 3
    size: SizeRequirements = SizeRequirements()
    levels: LevelRange | None = None
    # precisions per device type; the first is the default there
    precisions: dict[str, tuple[str, ...]] = field(
        default_factory=lambda: {"cpu": ("fp32",), "cuda": ("fp16", "fp32"), "mps": ("fp32",)})
    tile_margin: int = 32  # context each tile needs on every side (> the receptive half-width)
    bytes_per_pixel: int = 320  # peak memory per input pixel in fp32 (half precision: ~0.6x)
    macs_per_pixel: float = 0.0  # multiply-accumulates per output pixel, for time estimates
    licence: str = "unknown"
    credit: str = ""
    source: str = ""  # where the weights came from: a package, a URL, a user file
    traceable: bool = False  # the fp32 CPU fast path (traced, fused graph) and int8 apply

    @property
    def blind(self) -> bool:
        return self.conditioning == "blind"

    def precisions_on(self, device_type: str) -> tuple[str, ...]:
        return self.precisions.get(device_type, ("fp32",))

    def memory_per_pixel(self, precision: str) -> int:
        """Peak bytes per input pixel at this precision (tile sizing)."""
        return self.bytes_per_pixel if precision == "fp32" else int(self.bytes_per_pixel * 0.625)

    def summary(self) -> str:
        """One line for `photomend models info` and the window's tooltips."""
        kind = "noise-level map" if self.conditioning == "noise_map" else "blind"
        return (f"{self.title}: {TASK_TITLES.get(self.task, self.task)}, {kind}, {self.architecture}, "
                f"sides x{self.size.multiple} (min {self.size.minimum}), licence {self.licence}")
