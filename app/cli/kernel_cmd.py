"""`photomend kernel`: estimate a photo's blur kernel and write it with a preview picture."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from app.errors import PhotomendError


def preview_path(kernel_path: Path) -> Path:
    return kernel_path.with_name(f"{kernel_path.stem}_preview.png")


def write_kernel_and_preview(kernel: np.ndarray, path: Path, *, overwrite: bool) -> tuple[Path, Path]:
    """The kernel (.png/.npy) and a 128x128 preview beside it; refuses to replace files unless asked."""
    import cv2

    from app.physics.kernel_preview import kernel_preview
    from app.physics.kernels import save_kernel

    preview = preview_path(path)
    if preview.exists() and not overwrite:
        raise PhotomendError(f"{preview}: already exists (use --overwrite to replace it)")
    written = save_kernel(kernel, path, overwrite=overwrite)
    ok, encoded = cv2.imencode(".png", kernel_preview(kernel, 128))
    if not ok:
        raise PhotomendError(f"{preview}: cannot encode the preview")
    temp = preview.with_name(f".{preview.name}.tmp")
    temp.write_bytes(encoded.tobytes())
    temp.replace(preview)
    return written, preview


def save_kernel_for(kernel: np.ndarray | None, target: Path, source: Path, several: bool) -> str:
    """--save-kernel for deblur: a file for one input, ``<stem>_kernel.png`` in a folder for several."""
    if kernel is None:
        return f"note: no kernel to save for {source}"
    path = target
    if several or target.is_dir() or not target.suffix:
        target.mkdir(parents=True, exist_ok=True)
        path = target / f"{source.stem}_kernel.png"
    try:
        written, preview = write_kernel_and_preview(kernel, path, overwrite=False)
    except PhotomendError as error:
        return f"error: {error}"
    return f"kernel: {written} (preview {preview.name})"


def run_kernel(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from app.algorithms.blind import estimate_kernel
    from app.io.reader import read_photo

    output = Path(args.output)
    if output.suffix.lower() not in (".png", ".npy"):
        parser.exit(2, f"photomend: error: {output}: the kernel must be written as .png or .npy\n")
    if output.exists() and not args.overwrite:
        print(f"photomend: error: {output}: already exists (use --overwrite to replace it)", file=sys.stderr)
        return 1
    try:
        photo = read_photo(args.input)
        estimate = estimate_kernel(photo.pixels, max_size=args.max_size, kind=args.kind)
        written, preview = write_kernel_and_preview(estimate.kernel, output, overwrite=args.overwrite)
    except PhotomendError as error:
        print(f"photomend: error: {error}", file=sys.stderr)
        return 1
    described = estimate.spec or f"{estimate.kind} {estimate.kernel.shape[0]}x{estimate.kernel.shape[1]}"
    print(f"{written}: {described}, confidence {estimate.confidence:.2f} (preview {preview})")
    return 0
