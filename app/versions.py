"""What this installation is: Python, library versions and devices, for `photomend info` and About."""

from __future__ import annotations

import platform
from importlib import metadata


def package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def version_lines() -> list[str]:
    """Python, torch and the libraries, then each device with the precisions it offers."""
    import torch

    from app.engine.device import available_devices, supported_precisions

    lines = [
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()}",
        f"torch {torch.__version__}, numpy {package_version('numpy')}, "
        f"opencv {package_version('opencv-python-headless')}, Pillow {package_version('pillow')}, "
        f"PySide6 {package_version('PySide6-Essentials')}",
        "Devices:",
    ]
    for device in available_devices():
        precisions = ", ".join(supported_precisions(torch.device(device.key)))
        lines.append(f"  {device.key:8s} {device.name}  (precision: {precisions})")
    return lines
