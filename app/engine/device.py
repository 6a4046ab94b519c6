"""Pick the compute device and precision the user asked for, or the best one present."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from app.errors import PhotomendError

PRECISIONS = ("fp32", "bf16", "fp16", "int8")


@dataclass(frozen=True)
class DeviceInfo:
    """A device the user can choose, with a readable name for menus and `photomend info`."""

    key: str  # 'cpu', 'cuda:0', 'mps'
    name: str


def available_devices() -> list[DeviceInfo]:
    """Devices actually present, CUDA ones by name, so the UI never offers a missing one."""
    devices = [DeviceInfo("cpu", f"CPU ({torch.get_num_threads()} threads)")]
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            devices.append(DeviceInfo(f"cuda:{index}", torch.cuda.get_device_name(index)))
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        devices.append(DeviceInfo("mps", "Apple GPU (MPS)"))
    return devices


def resolve_device(spec: str = "auto") -> torch.device:
    """'auto' prefers CUDA, then MPS, then CPU; an explicit device that is absent is an error."""
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda:0")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise PhotomendError(f"unknown device '{spec}' (use auto, cpu, cuda, cuda:N or mps)") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise PhotomendError(f"device '{spec}': CUDA is not available on this machine (use --device cpu)")
        index = device.index or 0
        if index >= torch.cuda.device_count():
            raise PhotomendError(f"device '{spec}': only {torch.cuda.device_count()} CUDA device(s) present")
        return torch.device("cuda", index)
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise PhotomendError(f"device '{spec}': Apple MPS is not available on this machine")
    if device.type not in ("cpu", "cuda", "mps"):
        raise PhotomendError(f"unsupported device '{spec}' (use auto, cpu, cuda, cuda:N or mps)")
    return device


def cpu_supports_bf16() -> bool:
    """bf16 only pays on CPUs with native bf16 dot products (AVX512-BF16 / AMX); elsewhere it is slow."""
    probe = getattr(torch.backends.cpu, "get_cpu_capability", None)
    capability = probe() if probe else ""
    checker = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
    if checker is not None:
        try:
            return bool(checker())
        except Exception:
            pass
    return "AMX" in capability.upper()


def cpu_supports_int8() -> bool:
    """int8 needs PyTorch's fbgemm kernels (x86-64 builds); they pay on any AVX2 CPU (~2x fp32)."""
    from app.engine.accelerate import int8_supported

    return int8_supported()


def supported_precisions(device: torch.device) -> list[str]:
    """Precisions that are both correct and faster than fp32 on this device, plus fp32.

    CPUs: bf16 only with native bf16 dot products (elsewhere it is ~6x *slower* than fp32);
    int8 (fast mode, <= ~0.05 dB from fp32) wherever the fbgemm int8 kernels exist.
    """
    if device.type == "cuda":
        options = ["fp32", "fp16"]
        if torch.cuda.is_bf16_supported():
            options.append("bf16")
        return options
    if device.type == "mps":
        return ["fp32", "fp16"]
    options = ["fp32"]
    if cpu_supports_bf16():
        options.append("bf16")
    if cpu_supports_int8():
        options.append("int8")
    return options


def resolve_precision(spec: str, device: torch.device) -> str:
    """'auto' is fp32 on CPU (exact) and fp16 on GPUs; an unsupported request is an error."""
    spec = (spec or "fp32").strip().lower()
    if spec == "auto":
        return "fp16" if device.type in ("cuda", "mps") else "fp32"
    if spec not in PRECISIONS:
        raise PhotomendError(f"unknown precision '{spec}' (use fp32, bf16, fp16, int8 or auto)")
    if spec not in supported_precisions(device):
        raise PhotomendError(
            f"precision '{spec}' is not supported on {device} (supported: {', '.join(supported_precisions(device))})"
        )
    return spec


def torch_dtype(precision: str) -> torch.dtype:
    """Dtype of the tensors fed to the model (int8 models take fp32 and quantize inside)."""
    return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16, "int8": torch.float32}[precision]
