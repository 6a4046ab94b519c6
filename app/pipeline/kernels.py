"""Blur kernels for the window: estimate one from a photo, and read, describe and draw a spec.

Why here: the window reaches blind estimation and the kernel physics only through the operation
layer. The spec functions are the physics' own (``app.physics.kernels``: the same parsing, words
and ``KernelError``, a PhotomendError), so the panel's preview, the CLI's ``--kernel`` and the
batch queue read a spec the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from app.algorithms.blind.estimate import CONFIDENCE_MEANING
from app.physics.kernel_preview import kernel_preview
from app.physics.kernels import KernelError, describe_kernel_spec, kernel_from_spec

__all__ = [
    "CONFIDENCE_MEANING",
    "EstimatedKernel",
    "KernelError",
    "describe_kernel_spec",
    "estimate_kernel_for_photo",
    "kernel_from_spec",
    "kernel_preview",
]


@dataclass(frozen=True)
class EstimatedKernel:
    """A blur kernel estimated from one photo, as the window shows and uses it.

    ``spec``: 'motion:L,A' / 'defocus:R' when the estimate is parametric, else a saved .npy path.
    ``verdict``: 'blur', 'low_confidence' or 'no_blur' (see KernelEstimate.verdict).
    ``description``: plain words ("motion blur 15.2 px at 31°, confidence 0.83").
    """

    spec: str
    verdict: str
    description: str
    confidence: float


def estimate_kernel_for_photo(
    rgb: np.ndarray,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool] | None,
    *,
    folder: Path,
) -> EstimatedKernel:
    """Estimate the blur of this photo; a general kernel is saved in ``folder`` under a name unique to its pixels.

    ``folder`` is the caller's (the window passes its per-user kernel cache), so this layer
    knows no user folders.
    """
    from app.algorithms.blind import estimate_kernel
    from app.physics.kernels import save_kernel

    from app.pipeline.operations import timed_estimate

    estimate = timed_estimate(lambda: estimate_kernel(rgb, progress=progress, cancelled=cancelled))
    spec = estimate.spec
    if spec is None:
        digest = hashlib.blake2b(np.ascontiguousarray(rgb).data, digest_size=10).hexdigest()
        spec = str(save_kernel(estimate.kernel, Path(folder) / f"estimated-{digest}.npy", overwrite=True))
    return EstimatedKernel(spec, estimate.verdict, estimate.describe(), float(estimate.confidence))
