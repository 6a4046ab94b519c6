"""Choose a tile side from the memory that is actually free, so any photo fits."""

from __future__ import annotations

import math

import psutil
import torch

CPU_TILE_RANGE = (256, 1536)  # 12 MP fp32: 1536 px tiles 39 s, 1024 px 49 s (margins); 24 MP peak RSS 1.6 GB
# int8 runs best on smaller tiles (12 MP: 768 px 26.7 s, 1024 px 27.5 s, 1536 px 34.3 s; fbgemm's
# activation buffers fall out of cache), so its CPU tiles stop at 1024.
CPU_MAX_TILE_BY_PRECISION = {"int8": 1024}
GPU_TILE_RANGE = (256, 2048)
CPU_BUDGET_FRACTION = 0.25
GPU_BUDGET_FRACTION = 0.5  # PyTorch's caching allocator keeps freed blocks; leave headroom


def free_memory_bytes(device: torch.device) -> int:
    """Free RAM, or free VRAM on a CUDA device."""
    if device.type == "cuda":
        free, _total = torch.cuda.mem_get_info(device)
        return int(free)
    return int(psutil.virtual_memory().available)


def auto_tile_size(device: torch.device, precision: str, *, margin: int, bytes_per_pixel: int) -> int:
    """Largest tile (a multiple of 64) whose working set fits the memory budget.

    ``bytes_per_pixel``: the model's peak memory per input pixel at this precision
    (``ModelDescriptor.memory_per_pixel``)."""
    fraction = GPU_BUDGET_FRACTION if device.type == "cuda" else CPU_BUDGET_FRACTION
    low, high = GPU_TILE_RANGE if device.type in ("cuda", "mps") else CPU_TILE_RANGE
    budget = free_memory_bytes(device) * fraction if device.type != "mps" else 2 << 30
    side = int(math.sqrt(budget / bytes_per_pixel)) - 2 * margin
    side = (side // 64) * 64
    if device.type == "cpu":
        high = CPU_MAX_TILE_BY_PRECISION.get(precision, high)
    return max(low, min(high, side))
