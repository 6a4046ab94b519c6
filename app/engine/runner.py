"""Run one registry model on one device and precision: numpy tile in, numpy tile out.

This is the only place that touches torch tensors during restoration, so device moves,
precision and the fast CPU paths live here and nowhere else.
"""

from __future__ import annotations

import numpy as np
import torch

from app.engine.device import torch_dtype
from models import get_model_spec, load_model


class ModelRunner:
    """A noise-level-conditioned model bound to a device and precision."""

    def __init__(self, model_name: str, device: torch.device, precision: str = "fp32") -> None:
        self.spec = get_model_spec(model_name)
        self.device = device
        self.precision = precision
        self._dtype = torch_dtype(precision)
        self._net = self._prepare(load_model(model_name))

    def _prepare(self, net: torch.nn.Module) -> torch.nn.Module:
        # channels_last lets oneDNN/cuDNN skip a layout reorder before every convolution.
        import copy

        net = copy.deepcopy(net) if self.device.type != "cpu" or self._dtype != torch.float32 else net
        return net.to(self.device, dtype=self._dtype, memory_format=torch.channels_last).eval()

    def __call__(self, tile: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
        """Restore ``tile`` (HxWx3 float32 in [0,1]); ``sigma`` on the 0-1 scale, scalar or HxW map."""
        image = torch.from_numpy(np.ascontiguousarray(tile.transpose(2, 0, 1)))[None]
        image = image.to(self.device, dtype=self._dtype).contiguous(memory_format=torch.channels_last)
        if isinstance(sigma, np.ndarray):
            level = torch.from_numpy(np.ascontiguousarray(sigma, dtype=np.float32))[None, None]
            level = level.to(self.device, dtype=self._dtype)
        else:
            level = torch.tensor(float(sigma), device=self.device, dtype=self._dtype)
        with torch.inference_mode():
            out = self._net(image, level).float().clamp_(0.0, 1.0)
            return out[0].permute(1, 2, 0).cpu().numpy()

    def on_cpu(self) -> "ModelRunner":
        """Same model on the CPU in fp32: the fallback when a GPU runs out of memory."""
        return ModelRunner(self.spec.name, torch.device("cpu"), "fp32")
