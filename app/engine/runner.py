"""Run one model on one device and precision: numpy tile in, numpy tile out.

This is the only place that touches torch tensors during restoration, so device moves,
precision and the fast CPU paths live here and nowhere else.

Prepared modules (the traced/fused fp32 CPU graph, the int8 model, the half-precision GPU
copy) are cached for the whole process, keyed by (model, device, precision, shape class),
so their one-off cost is paid once per process rather than once per photo or per tile.
"""

from __future__ import annotations

import copy
import threading
from typing import Callable

import numpy as np
import torch

from app.engine import accelerate
from app.engine.device import resolve_precision, supported_precisions, torch_dtype
from app.errors import PhotomendError
from models import ModelDescriptor, load_model

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]

_CACHE: dict[tuple, Forward] = {}
_CACHE_LOCK = threading.Lock()


def clear_prepared_cache() -> None:
    """Forget every prepared module (tests; freeing memory after switching models)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def _cached(key: tuple, build: Callable[[], Forward]) -> Forward:
    with _CACHE_LOCK:
        if key not in _CACHE:
            _CACHE[key] = build()
        return _CACHE[key]


def _channels_last(net: torch.nn.Module) -> torch.nn.Module:
    """The NHWC layout oneDNN and cuDNN run fastest, for the 2-D convolutions that have it
    (some architectures also hold 5-D weights, which have no such layout)."""
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
            module.to(memory_format=torch.channels_last)
    return net


class ModelRunner:
    """A model (noise-level-conditioned or blind) bound to a device and precision.

    CPU fp32 runs a traced, frozen graph fused by ``torch.jit.optimize_for_inference``
    (numerically fp32; ~1.6-2x the eager speed on AVX2); CPU int8 runs the quantized model
    from :mod:`app.engine.accelerate`; CUDA/MPS run the model in fp16/bf16 (or fp32).
    """

    def __init__(self, model: str | ModelDescriptor, device: torch.device, precision: str = "fp32") -> None:
        self.model = load_model(model) if isinstance(model, str) else model
        offered = self.model.precisions_on(device.type)
        if precision == "auto":  # the model's preferred precision among those this device runs
            precision = next((p for p in offered if p in supported_precisions(device)), "fp32")
        precision = resolve_precision(precision, device)  # PhotomendError when unsupported here
        if precision not in offered:
            raise PhotomendError(f"precision '{precision}' is not available for model '{self.model.name}' on "
                                 f"{device.type} (use {' or '.join(offered)})")
        self.device = device
        self.precision = precision
        # Tensors enter the network in this dtype; int8 models take fp32 and quantize inside.
        self._dtype = torch.float32 if precision == "int8" else torch_dtype(precision)
        self._key = (self.model.name, self.model.source, str(device), precision)
        self._eager = self._prepare_eager(self.model.module)
        if precision == "int8" and not (self.model.traceable and accelerate.can_quantize(self._eager)):
            raise PhotomendError(f"precision 'int8' is not available for model '{self.model.name}' (use fp32)")

    def _prepare_eager(self, net: torch.nn.Module) -> torch.nn.Module:
        """The eager module on the target device/dtype (fallback, and the source for fast paths)."""
        if self.device.type == "cpu" and self._dtype == torch.float32:
            # Shared weights: the loaded copy is CPU fp32 already; only the layout changes.
            return _channels_last(net).eval()
        if self.precision == "int8":
            return net
        # channels_last lets cuDNN pick its NHWC kernels (tensor cores for fp16/bf16).
        net = copy.deepcopy(net).to(self.device, dtype=self._dtype)
        return _channels_last(net).eval()

    def _forward_for(self, image: torch.Tensor, level: torch.Tensor) -> Forward:
        """The fastest prepared callable for this input's shape class (built once per process)."""
        if self.precision == "int8":
            return _cached(self._key, lambda: accelerate.quantize_for_inference(self._eager))
        if self.device.type != "cpu" or self.precision != "fp32" or not self.model.traceable:
            return self._call_eager
        shape = accelerate.shape_class(image, level, self.model.size.multiple)
        return _cached(self._key + shape, lambda: self._trace(image, level))

    def _call_eager(self, image: torch.Tensor, level: torch.Tensor | None) -> torch.Tensor:
        return self.model.forward(self._eager, image, level)

    def _trace(self, image: torch.Tensor, level: torch.Tensor) -> Forward:
        """Trace on a small example of the same shape class; eager if the model cannot be traced."""
        multiple = self.model.size.multiple
        height = 8 * multiple + image.shape[-2] % multiple
        width = 8 * multiple + image.shape[-1] % multiple
        example_image = torch.rand(1, image.shape[1], height, width).contiguous(memory_format=torch.channels_last)
        example_level = level if level.dim() < 4 else torch.rand(1, 1, height, width)
        try:
            return accelerate.trace_for_inference(self._eager, (example_image, example_level))
        except Exception:  # noqa: BLE001 - a model TorchScript cannot trace still runs, only slower
            return self._call_eager

    def __call__(self, tile: np.ndarray, sigma: float | np.ndarray | None = None) -> np.ndarray:
        """Restore ``tile`` (HxWx3 float32 in [0,1]); ``sigma`` on the 0-1 scale, scalar or HxW map
        (ignored by blind models)."""
        planes = torch.from_numpy(np.ascontiguousarray(tile.transpose(2, 0, 1), dtype=np.float32))
        if isinstance(sigma, np.ndarray):
            sigma = torch.from_numpy(np.ascontiguousarray(sigma, dtype=np.float32))
        return self.run_planes(planes, sigma).permute(1, 2, 0).cpu().numpy()

    def run_planes(self, planes: torch.Tensor, sigma: "float | torch.Tensor | None" = None) -> torch.Tensor:
        """Restore a 3 x H x W float tensor (any device); returns 3 x H x W float32 on this device.

        The tensor form lets iterative solvers (deep deblurring) keep their data on the model's
        device between passes. ``sigma`` is a scalar or an H x W tensor, 0-1 scale.
        """
        image = planes[None].to(self.device, dtype=self._dtype).contiguous(memory_format=torch.channels_last)
        if self.model.blind or sigma is None:
            level = None
        elif isinstance(sigma, torch.Tensor) and sigma.dim() >= 2:
            level = sigma.reshape((1, 1) + tuple(sigma.shape[-2:])).to(self.device, dtype=self._dtype)
        else:
            level = torch.tensor(float(sigma), device=self.device, dtype=self._dtype)
        forward = self._forward_for(image, level)
        with torch.inference_mode():
            return forward(image, level).float().clamp_(0.0, 1.0)[0]

    def prepare(self) -> None:
        """Build the fast module now (trace, or int8 calibration: seconds, once per process).

        Front ends can call this from a worker thread at start-up so that the first photo or
        preview does not wait for it.
        """
        side = self.model.size.padded(4 * self.model.size.multiple * 8)
        self(np.zeros((side, side, 3), dtype=np.float32), 0.1)

    def on_cpu(self) -> "ModelRunner":
        """Same model on the CPU in fp32: the fallback when a GPU runs out of memory."""
        return ModelRunner(self.model, torch.device("cpu"), "fp32")
