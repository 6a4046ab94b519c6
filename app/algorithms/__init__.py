"""Restoration algorithms that work on numpy images: deconvolution (Wiener, plug-and-play HQS).

The engine (:mod:`app.engine.deblur`) adds devices, tiling, progress and the user-facing checks.
"""

from app.algorithms.dpir import DpirSettings, dpir_deconvolve, hqs_schedule
from app.algorithms.wiener import default_balance, wiener_deconvolve

__all__ = ["DpirSettings", "dpir_deconvolve", "hqs_schedule", "default_balance", "wiener_deconvolve"]
