"""`photomend kernel`: estimate a photo's blur kernel and write it with a preview picture."""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import suppress
from pathlib import Path

import numpy as np

from app.errors import PhotomendError, WriteError
from app.io.atomic import EXISTS_MESSAGE, atomic_write


def preview_path(kernel_path: Path) -> Path:
    return kernel_path.with_name(f"{kernel_path.stem}_preview.png")


def write_kernel_and_preview(kernel: np.ndarray, path: Path, *, overwrite: bool) -> tuple[Path, Path]:
    """The kernel (.png/.npy) and a 128x128 preview beside it, both atomically, or neither.

    Refuses to replace files (or links) unless asked; with ``overwrite`` a link is replaced
    itself. If the preview cannot be written the kernel just written is removed again.
    """
    import cv2

    from app.physics.kernel_preview import kernel_preview
    from app.physics.kernels import save_kernel

    preview = preview_path(path)
    if not overwrite:
        for target in (path, preview):
            if os.path.lexists(target):
                raise WriteError(target, EXISTS_MESSAGE)
    ok, encoded = cv2.imencode(".png", kernel_preview(kernel, 128))
    if not ok:
        raise WriteError(preview, "cannot encode the preview")
    written = save_kernel(kernel, path, overwrite=overwrite)
    try:
        atomic_write(preview, encoded.tobytes(), overwrite=overwrite)
    except BaseException:
        with suppress(OSError):
            os.unlink(written)
        raise
    return written, preview


def save_kernel_for(kernel: np.ndarray | None, target: Path, source: Path, several: bool) -> tuple[bool, str]:
    """--save-kernel for deblur: a file for one input, ``<stem>_kernel.png`` in a folder for several.

    Returns (saved, the line to print); a failure is an error of the run (exit code 1).
    """
    if kernel is None:
        return True, f"no kernel to save for {source}"
    path = target
    try:
        if several or target.is_dir() or not target.suffix:
            target.mkdir(parents=True, exist_ok=True)
            path = target / f"{source.stem}_kernel.png"
        written, preview = write_kernel_and_preview(kernel, path, overwrite=False)
    except PhotomendError as error:
        return False, f"{source}: kernel not saved: {error}"
    except OSError as error:
        return False, f"{source}: kernel not saved: {target}: {error.strerror or error}"
    return True, f"kernel: {written} (preview {preview.name})"


def run_kernel(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from app.algorithms.blind import estimate_kernel
    from app.errorlog import format_exception, unexpected_error_line
    from app.io.reader import read_photo

    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".npy"):
        parser.exit(2, f"photomend: error: {output}: the kernel must be written as .png or .npy\n")
    try:
        if not args.overwrite:
            for target in (output, preview_path(output)):
                if os.path.lexists(target):
                    raise WriteError(target, EXISTS_MESSAGE)  # before seconds of estimation
        photo = read_photo(args.input)
        estimate = estimate_kernel(photo.pixels, max_size=args.max_size, kind=args.kind)
        written, preview = write_kernel_and_preview(estimate.kernel, output, overwrite=args.overwrite)
    except PhotomendError as error:
        message = str(error)
        if args.input not in message and str(output) not in message:
            message = f"{args.input}: {message}"
        print(f"photomend: error: {message}", file=sys.stderr)
        return 1
    except Exception as error:  # noqa: BLE001 - one line for a bug too; the traceback goes to the log
        print(f"photomend: error: {unexpected_error_line(args.input, error)}", file=sys.stderr)
        if args.verbose:
            print(format_exception(error), file=sys.stderr)
        return 1
    print(f"{written}: {estimate.describe()} (preview {preview})")
    return 0
