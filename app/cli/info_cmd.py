"""`photomend info`: versions, devices and models, for bug reports and first-run checks."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

import torch

from app import __version__
from app.engine.device import available_devices, supported_precisions
from models import listings, load_model
from models.errors import ModelWeightsError


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def info_lines() -> list[str]:
    """Everything `info` prints, as lines (the About box shows the same facts)."""
    lines = [
        f"Photomend {__version__}",
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"torch {torch.__version__}, numpy {_version('numpy')}, opencv {_version('opencv-python-headless')}, "
        f"Pillow {_version('pillow')}, PySide6 {_version('PySide6-Essentials')}",
        "Devices:",
    ]
    for device in available_devices():
        precisions = ", ".join(supported_precisions(torch.device(device.key)))
        lines.append(f"  {device.key:8s} {device.name}  (precision: {precisions})")
    lines.append("Models:")
    for row in listings():
        if not row.installed:
            state = f"not installed ({row.size_text}): photomend models download {row.name}"
        else:
            try:
                load_model(row.name)
                state = "weights OK"
            except ModelWeightsError as error:
                state = f"UNAVAILABLE: {error}"
        lines.append(f"  {row.name:18s} {row.title} [{row.task}, {row.licence}] {state}")
    return lines


def run_info() -> int:
    print("\n".join(info_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(run_info())
