"""Every number a user may set, checked in one place: each range once, one checker per kind.

The engine (``app.engine``), the command line (``app.cli.arguments``) and the batch queue
(``app.pipeline.batch``) call these, so a range is never restated. Each checker returns the value
in its working type and raises :class:`~app.errors.UsageError` with one line. Qt-free and
torch-free: the window, the CLI and the tests can import it cheaply.

``flag=True`` gives the wording a command-line flag shows: argparse already prints
``argument --strength:`` in front, so the message leaves the name out ("150.0 is out of range
(0 to 100)"); the CLI wraps the checkers and re-raises the same text as
``argparse.ArgumentTypeError``. Without it the message names the setting ("strength 150 is out
of range (use 0 to 100)").

A bool is never a number here (``True`` is not strength 1 or tile 1), the rule the batch queue's
file check already follows. Float settings are converted with ``float()`` as before, so a value
that is no number at all still raises TypeError/ValueError for the caller to word (see
``Deblurrer.deblur``); whole-number settings must be integers (Python or numpy).
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from app.errors import UsageError

# Noise levels are on the 0-255 scale of 8-bit pixel values.
NOISE_SCALE = 255.0  # the scale's top: what the denoise engine accepts when code (not a user) gives a level
MAX_NOISE_LEVEL = 75.0  # the range a user may set (0-255 scale): the built-in model's trained range
# A noise-map model's own top level (ModelDescriptor.levels.maximum) may differ from MAX_NOISE_LEVEL:
# the denoise engine names the model's own maximum in its message (check_noise_level(advertised=...)).

MIN_STRENGTH, MAX_STRENGTH = 0.0, 100.0  # the one strength control (app.engine.strength)
MIN_AMOUNT, MAX_AMOUNT = 0.0, 100.0  # the finishing controls: Detail, Colour noise (app.engine.finish)

WHOLE_IMAGE = 0  # tile side 0: no tiling
MIN_TILE = 64  # the smallest tile side worth its margins

MIN_ITERATIONS, MAX_ITERATIONS = 1, 100  # deep deblurring (HQS) iterations

MIN_QUALITY, MAX_QUALITY = 1, 100  # JPEG / WebP quality
BIT_DEPTHS = (8, 16)  # PNG / TIFF bit depths (None, where allowed: the input's)

MIN_KERNEL_SIZE, MAX_KERNEL_SIZE = 3, 201  # px: the blind kernel estimator's range
MAX_MEGAPIXELS = 10_000.0  # far beyond any photo; the limit only guards against decompression bombs


def _is_bool(value: Any) -> bool:
    return isinstance(value, (bool, np.bool_))


def _is_whole(value: Any) -> bool:
    """A Python or numpy integer, not a bool."""
    return isinstance(value, numbers.Integral) and not _is_bool(value)


def _shown(value: Any) -> str:
    """A whole-number setting as the message shows it: numbers plainly, anything else as written in code."""
    return str(value) if isinstance(value, numbers.Number) else repr(value)


def _in_range(value: float, low: float, high: float) -> bool:
    """Inclusive, and False for NaN (comparisons with NaN are false)."""
    return low <= value <= high


# --------------------------------------------------------------------------- levels, strength, amounts


def check_noise_level(level: Any, *, upper: float = MAX_NOISE_LEVEL, advertised: float | None = None,
                      flag: bool = False) -> float:
    """A noise level on the 0-255 scale in [0, ``upper``] (callers handle None, "automatic", first).

    ``upper`` is MAX_NOISE_LEVEL for what a user sets; the denoise engine passes NOISE_SCALE
    (code may ask a model for levels beyond its trained range) and ``advertised`` = the model's
    own maximum, which the message offers. Infinite and NaN levels are refused.
    """
    value = float(level)
    if _is_bool(level) or not _in_range(value, 0.0, upper):  # NaN and +-inf fall outside too
        if flag:
            raise UsageError(f"{value} is out of range (0 to {MAX_NOISE_LEVEL:g} on the 0-255 scale)")
        shown_max = upper if advertised is None else advertised
        raise UsageError(f"noise level {level} is out of range (use 0 to {shown_max:g}, or auto)")
    return value


def check_strength(strength: Any, *, flag: bool = False) -> float:
    """The strength control, 0 to 100 (50 = the default), as a float."""
    value = float(strength)
    if _is_bool(strength) or not _in_range(value, MIN_STRENGTH, MAX_STRENGTH):
        span = f"{MIN_STRENGTH:g} to {MAX_STRENGTH:g}"
        raise UsageError(f"{value} is out of range ({span})" if flag else
                         f"strength {strength} is out of range (use {span})")
    return value


def check_amount(name: str, amount: Any, *, flag: bool = False) -> float:
    """A 0-100 finishing control (``name``: "detail", "colour noise") as a float."""
    value = float(amount)
    if _is_bool(amount) or not _in_range(value, MIN_AMOUNT, MAX_AMOUNT):
        span = f"{MIN_AMOUNT:g} to {MAX_AMOUNT:g}"
        shown = str(amount) if _is_bool(amount) else format(amount, "g")
        raise UsageError(f"{value} is out of range ({span})" if flag else
                         f"{name} {shown} is out of range (use {span})")
    return value


# --------------------------------------------------------------------------- tiles, iterations, balance


def check_tile(tile: Any, *, flag: bool = False) -> int:
    """A tile side: WHOLE_IMAGE (0) or at least MIN_TILE px (callers handle None, "automatic", first)."""
    if not _is_whole(tile) or tile < WHOLE_IMAGE or WHOLE_IMAGE < tile < MIN_TILE:
        if flag:
            raise UsageError(f"{tile} is too small ({WHOLE_IMAGE} = whole image, or {MIN_TILE} and up)")
        raise UsageError(f"tile size {_shown(tile)} is invalid (use {WHOLE_IMAGE} for the whole image, "
                         f"or >= {MIN_TILE})")
    return int(tile)


def check_iterations(iterations: Any, *, flag: bool = False) -> int:
    """Deep deblurring iterations, a whole number from MIN_ITERATIONS to MAX_ITERATIONS."""
    if not _is_whole(iterations) or not _in_range(iterations, MIN_ITERATIONS, MAX_ITERATIONS):
        span = f"{MIN_ITERATIONS} to {MAX_ITERATIONS}"
        raise UsageError(f"{iterations} is out of range ({span})" if flag else
                         f"iterations {_shown(iterations)} is out of range (use {span})")
    return int(iterations)


def check_balance(balance: Any) -> float:
    """Wiener's regularisation weight: a finite number >= 0 (None, the default, is the caller's)."""
    value = float(balance)
    if _is_bool(balance) or not (math.isfinite(value) and value >= 0):
        raise UsageError(f"balance {balance if _is_bool(balance) else value!r} must be a finite number >= 0")
    return value


# --------------------------------------------------------------------------- output, limits, kernels


def check_quality(quality: Any, *, flag: bool = False) -> int:
    """JPEG / WebP quality, a whole number from MIN_QUALITY to MAX_QUALITY."""
    if not _is_whole(quality) or not _in_range(quality, MIN_QUALITY, MAX_QUALITY):
        span = f"{MIN_QUALITY} to {MAX_QUALITY}"
        raise UsageError(f"{quality} is out of range ({span})" if flag else f"quality {quality}: use {span}")
    return int(quality)


def check_bit_depth(depth: Any) -> int | None:
    """8 or 16 bits, or None for the input's own depth."""
    if depth is not None and (_is_bool(depth) or depth not in BIT_DEPTHS):
        raise UsageError(f"bit depth {depth}: use {' or '.join(map(str, BIT_DEPTHS))}")
    return None if depth is None else int(depth)


def check_kernel_size(size: Any, *, flag: bool = False) -> int:
    """The largest blur kernel side to estimate, MIN_KERNEL_SIZE to MAX_KERNEL_SIZE px."""
    if not _is_whole(size) or not _in_range(size, MIN_KERNEL_SIZE, MAX_KERNEL_SIZE):
        if flag:
            raise UsageError(f"{size} is out of range ({MIN_KERNEL_SIZE} to {MAX_KERNEL_SIZE} px)")
        raise UsageError(f"kernel size {_shown(size)} px is out of range (use {MIN_KERNEL_SIZE} to {MAX_KERNEL_SIZE})")
    return int(size)


def check_megapixels(megapixels: Any, *, shown: str | None = None) -> int:
    """The decompression-bomb guard: a positive, finite number of megapixels up to MAX_MEGAPIXELS.

    Returns the limit in pixels. ``shown`` is the value as the user typed it (the message quotes
    it); only the command line sets this limit, so the wording is the flag's.
    """
    value = float(megapixels)
    if _is_bool(megapixels) or not math.isfinite(value) or value <= 0:
        typed = f"{value:g}" if shown is None else shown
        raise UsageError(f"'{typed}' must be a positive, finite number of megapixels")
    if value > MAX_MEGAPIXELS:
        raise UsageError(f"{value:g} is too large (at most {MAX_MEGAPIXELS:g} megapixels)")
    return int(value * 1_000_000)
