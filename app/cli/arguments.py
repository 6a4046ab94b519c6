"""Argument types and shared option groups; a bad value is a usage error (exit 2)."""

from __future__ import annotations

import argparse
from typing import Any, Callable, TypeVar

from app.errors import UsageError
from app.io.writer import FORMATS
from app.validation import (
    BIT_DEPTHS,
    check_amount,
    check_iterations,
    check_kernel_size,
    check_megapixels,
    check_noise_level,
    check_quality,
    check_strength,
    check_tile,
)

Checked = TypeVar("Checked")


def _flag(check: Callable[..., Checked], *args: Any, **kwargs: Any) -> Checked:
    """The shared rule (app.validation) in a flag's wording, as argparse wants it."""
    try:
        return check(*args, **kwargs)
    except UsageError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _number(text: str, whole: bool = False) -> Any:
    """The text as a number; what is not one is told in the flag's wording."""
    try:
        return int(text) if whole else float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a {'whole number' if whole else 'number'}") from None


def noise_level(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not 'auto' or a number") from None
    return _flag(check_noise_level, value, flag=True)


def amount(text: str) -> float:
    """A 0-100 finishing control: detail, colour noise."""
    return _flag(check_amount, "amount", _number(text), flag=True)


def strength(text: str) -> float:
    """The 0-100 strength control."""
    return _flag(check_strength, _number(text), flag=True)


def tile(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not 'auto' or a whole number") from None
    return _flag(check_tile, value, flag=True)


def iterations(text: str) -> int:
    return _flag(check_iterations, _number(text, whole=True), flag=True)


def quality(text: str) -> int:
    return _flag(check_quality, _number(text, whole=True), flag=True)


def megapixels(text: str) -> int:
    """The --max-megapixels limit, in pixels."""
    return _flag(check_megapixels, _number(text), shown=text)


def kernel_size(text: str) -> int:
    return _flag(check_kernel_size, _number(text, whole=True), flag=True)


def add_verbose_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the full traceback of an unexpected error (it always goes to the log file)")


def add_batch_options(parser: argparse.ArgumentParser) -> None:
    """Inputs, output naming and format options every restore command shares."""
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="photos or folders")
    parser.add_argument("-o", "--output", metavar="FILE|DIR", help="output file (one input) or folder")
    parser.add_argument("-r", "--recursive", action="store_true", help="include sub-folders of folder inputs")
    parser.add_argument("--format", choices=FORMATS, help="output format (default: the input's)")
    parser.add_argument("--quality", type=quality, default=95, help="JPEG/WebP quality 1-100 (default 95)")
    parser.add_argument("--bit-depth", type=int, choices=BIT_DEPTHS, help="PNG/TIFF bit depth (default: the input's)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files, the input included")
    parser.add_argument("--max-megapixels", type=megapixels, default=200_000_000, metavar="MP",
                        help="refuse larger images (decompression-bomb guard, default 200)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N or mps")
    parser.add_argument("--tile", type=tile, default=None, metavar="N",
                        help="tile side in pixels; auto (default) from free memory; 0 = whole image")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    add_verbose_option(parser)
