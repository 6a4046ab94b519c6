"""Measured speed of models and operations in this process, for time estimates before a run.

Rates are seconds per megapixel-pass (one pass of the model over a megapixel), keyed by what was
run where: ``(model, device, precision, kind)``. ``kind`` "model" is a plain forward pass (a
short probe measures it when nothing has been recorded yet); "deep-deblur" is the whole cost of a
deep-deblurring run per denoiser pass on its FFT grid, data steps included, recorded after each
run, so estimates follow what this machine actually does, load included.
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from app.engine.runner import ModelRunner

PROBE_SIDE = 384
SMOOTHING = 0.5  # weight of the newest measurement in the running rate

BLIND_ESTIMATE = ("blind-estimate", "cpu", "fp32", "estimate")
"""Key of one blind kernel estimate (the crop is at most 640 px square, so seconds per estimate)."""
BLIND_ESTIMATE_SECONDS = 8.0
"""Before any estimate was timed in this process: a 2-core CPU's median (benchmarks/results/blind.md)."""

_rates: dict[tuple[str, str, str, str], float] = {}
_lock = threading.Lock()


def runner_key(runner: "ModelRunner", kind: str) -> tuple[str, str, str, str]:
    """The rate key of ``kind`` work done by ``runner``."""
    return (runner.model.name, str(runner.device), runner.precision, kind)


def record(key: tuple[str, str, str, str], seconds: float, megapixel_passes: float) -> None:
    """Fold one measurement (``seconds`` for ``megapixel_passes``) into the running rate."""
    if megapixel_passes <= 0 or seconds <= 0:
        return
    rate = seconds / megapixel_passes
    with _lock:
        old = _rates.get(key)
        _rates[key] = rate if old is None else (1.0 - SMOOTHING) * old + SMOOTHING * rate


def rate(key: tuple[str, str, str, str]) -> float | None:
    """Seconds per megapixel-pass measured so far for ``key``, or None."""
    with _lock:
        return _rates.get(key)


def blind_estimate_seconds() -> float:
    """Seconds one blind kernel estimate takes here (measured, else the 2-core figure)."""
    return rate(BLIND_ESTIMATE) or BLIND_ESTIMATE_SECONDS


def forget() -> None:
    """Drop every measurement (tests)."""
    with _lock:
        _rates.clear()


def model_rate(runner: "ModelRunner") -> float:
    """Seconds per megapixel-pass of ``runner``'s model: recorded, else measured now by a short probe.

    The probe runs the model twice on a small grey image (the first call also prepares the fast
    path) and times the second: a fraction of a second on a CPU.
    """
    key = runner_key(runner, "model")
    known = rate(key)
    if known is not None:
        return known
    side = runner.model.size.padded(PROBE_SIDE)
    image = np.full((side, side, 3), 0.5, np.float32)
    runner(image, 0.05)
    started = time.perf_counter()
    runner(image, 0.05)
    record(key, time.perf_counter() - started, side * side / 1e6)
    return rate(key) or 0.0


def describe_seconds(seconds: float) -> str:
    """'about 40 s', 'about 3 min', 'about 1 h 10 min': a rounded duration for people."""
    seconds = max(0.0, float(seconds))
    if seconds < 10:
        return "a few seconds"
    if seconds < 90:
        return f"about {int(round(seconds / 5.0) * 5)} s"
    minutes = seconds / 60.0
    if minutes < 60:
        return f"about {int(round(minutes))} min"
    hours, rest = divmod(int(round(minutes)), 60)
    return f"about {hours} h {rest} min" if rest else f"about {hours} h"
