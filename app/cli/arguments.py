"""Argument types and shared option groups; a bad value is a usage error (exit 2)."""

from __future__ import annotations

import argparse
import math

from app.io.writer import FORMATS

MAX_MEGAPIXELS = 10_000.0  # far beyond any photo; the limit only guards against decompression bombs
MIN_KERNEL_SIZE, MAX_KERNEL_SIZE = 3, 201  # the blind estimator's range


def noise_level(text: str) -> float | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not 'auto' or a number") from None
    if not 0.0 <= value <= 75.0:
        raise argparse.ArgumentTypeError(f"{value} is out of range (0 to 75 on the 0-255 scale)")
    return value


def amount(text: str) -> float:
    """A 0-100 control: strength, detail, colour noise."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value <= 100.0:
        raise argparse.ArgumentTypeError(f"{value} is out of range (0 to 100)")
    return value


strength = amount


def tile(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not 'auto' or a whole number") from None
    if value != 0 and value < 64:
        raise argparse.ArgumentTypeError(f"{value} is too small (0 = whole image, or 64 and up)")
    return value


def iterations(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1 to 100)")
    return value


def quality(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not 1 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{value} is out of range (1 to 100)")
    return value


def megapixels(text: str) -> int:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' must be a positive, finite number of megapixels")
    if value > MAX_MEGAPIXELS:
        raise argparse.ArgumentTypeError(f"{value:g} is too large (at most {MAX_MEGAPIXELS:g} megapixels)")
    return int(value * 1_000_000)


def kernel_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if not MIN_KERNEL_SIZE <= value <= MAX_KERNEL_SIZE:
        raise argparse.ArgumentTypeError(f"{value} is out of range ({MIN_KERNEL_SIZE} to {MAX_KERNEL_SIZE} px)")
    return value


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
    parser.add_argument("--bit-depth", type=int, choices=(8, 16), help="PNG/TIFF bit depth (default: the input's)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing files, the input included")
    parser.add_argument("--max-megapixels", type=megapixels, default=200_000_000, metavar="MP",
                        help="refuse larger images (decompression-bomb guard, default 200)")
    parser.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda, cuda:N or mps")
    parser.add_argument("--tile", type=tile, default=None, metavar="N",
                        help="tile side in pixels; auto (default) from free memory; 0 = whole image")
    parser.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    add_verbose_option(parser)
