"""The one out-of-memory policy for every model run: smaller tiles first, then the CPU.

The tiler (app.engine.tiling) splits a tile that does not fit and carries on with the smaller
size; when even the smallest tiles fail on a GPU, the whole run moves to the CPU in fp32 and
says so. Denoising, learned models and deep deblurring all run through :func:`run_tiled`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from app.engine.runner import ModelRunner
from app.engine.tiling import TiledRunner, TileFunction, is_out_of_memory


def _release(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def run_tiled(
    bind: Callable[[ModelRunner | None], TileFunction],
    runner: ModelRunner | None,
    image: np.ndarray,
    *,
    tile: int,
    margin: int,
    overlap: int,
    multiple: int,
    messages: list[str],
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[np.ndarray, ModelRunner | None, int]:
    """Run ``bind(runner)`` over ``image`` in tiles; returns (output, the runner finally used, tile side).

    ``runner`` None: a model-free method (Wiener) whose memory errors are the CPU's own and final.
    The returned runner is a CPU copy when the GPU gave up, so callers keep using what worked.
    """
    device = runner.device if runner is not None else torch.device("cpu")

    def on_oom(side: int) -> None:
        messages.append(f"out of memory on {device}: continuing with {side} px tiles")
        _release(device)

    tiled = TiledRunner(bind(runner), tile=tile, margin=margin, overlap=overlap, multiple=multiple,
                        progress=progress, cancelled=cancelled, on_oom=on_oom)
    try:
        out = tiled.run(image)
    except Exception as error:  # noqa: BLE001 - only a GPU out-of-memory is handled here
        if runner is None or device.type == "cpu" or not is_out_of_memory(error):
            raise
        messages.append(f"{device} ran out of memory even with small tiles: falling back to the CPU")
        _release(device)
        runner = runner.on_cpu()
        tiled.function = bind(runner)
        tiled.max_core = 0
        out = tiled.run(image)
    return out, runner, tiled.max_core or tile
