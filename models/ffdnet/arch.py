"""FFDNet (Zhang, Zuo & Zhang, TIP 2018), laid out to load KAIR's MIT weights as they are.

Pixel-unshuffle x2 of the RGB image (12 channels) plus one noise-map channel -> conv3x3
13->96 + ReLU -> 10 x (conv3x3 96->96 + ReLU) -> conv3x3 96->12 -> pixel-shuffle. The
network predicts the clean image directly (not the residual). The noise map may vary per
pixel, which is what makes the strength control and spatially varying noise work.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


class FFDNet(nn.Module):
    """Colour FFDNet with a per-pixel noise-level input."""

    def __init__(self, in_channels: int = 3, features: int = 96, depth: int = 12) -> None:
        super().__init__()
        self.in_channels = in_channels
        layers: list[nn.Module] = [nn.Conv2d(in_channels * 4 + 1, features, 3, padding=1), nn.ReLU(inplace=True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(features, features, 3, padding=1), nn.ReLU(inplace=True)]
        layers.append(nn.Conv2d(features, in_channels * 4, 3, padding=1))
        # Named "model" so KAIR's state-dict keys (model.0.weight ... model.22.bias) load unchanged.
        self.model = nn.Sequential(*layers)
        self.unshuffle = nn.PixelUnshuffle(2)
        self.shuffle = nn.PixelShuffle(2)

    def forward(self, image: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        """Denoise ``image`` (N,3,H,W in [0,1]) given ``sigma`` on the [0,1] scale.

        ``sigma`` is a scalar, an (N,) tensor, or a noise map (N,1,H,W) at full resolution;
        maps are averaged to half resolution to match the network's working grid.
        """
        height, width = image.shape[-2:]
        pad_bottom, pad_right = height % 2, width % 2
        if pad_bottom or pad_right:
            image = F.pad(image, (0, pad_right, 0, pad_bottom), mode="replicate")
        packed = self.unshuffle(image)
        noise_map = self._noise_map(sigma, packed, pad_bottom, pad_right)
        out = self.model(torch.cat((packed, noise_map), dim=1))
        return self.shuffle(out)[..., :height, :width]

    @staticmethod
    def _noise_map(sigma: torch.Tensor, packed: torch.Tensor, pad_bottom: int, pad_right: int) -> torch.Tensor:
        batch, _, half_h, half_w = packed.shape
        sigma = torch.as_tensor(sigma, dtype=packed.dtype, device=packed.device)
        if sigma.dim() == 4:
            if pad_bottom or pad_right:
                sigma = F.pad(sigma, (0, pad_right, 0, pad_bottom), mode="replicate")
            return F.avg_pool2d(sigma, 2).to(memory_format=torch.contiguous_format).expand(batch, 1, half_h, half_w)
        return sigma.reshape(-1, 1, 1, 1).expand(batch, 1, half_h, half_w)
