"""Per-user folders (platformdirs): estimated kernels, the batch queue file."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_cache_dir, user_data_dir


def kernel_cache_dir() -> Path:
    path = Path(user_cache_dir("Photomend", "Photomend")) / "kernels"
    path.mkdir(parents=True, exist_ok=True)
    return path


def data_dir() -> Path:
    path = Path(user_data_dir("Photomend", "Photomend"))
    path.mkdir(parents=True, exist_ok=True)
    return path
