"""Where icons, styles and the sample photo live: the source tree, or a PyInstaller bundle."""

from __future__ import annotations

import sys
from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon


@lru_cache(maxsize=1)
def resources_dir() -> Path:
    """``resources/`` next to the code, or inside the frozen bundle (sys._MEIPASS)."""
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        return Path(bundle) / "resources"
    return Path(__file__).resolve().parents[2] / "resources"


def sample_photo_path() -> Path:
    """The first-run sample: NASA's public-domain astronaut photo with realistic camera noise."""
    return resources_dir() / "samples" / "astronaut_noisy.jpg"


def blurred_sample_path() -> Path:
    """The deblurring sample: the same photo with a 21 px motion blur at 30 degrees."""
    return resources_dir() / "samples" / "astronaut_blurred.jpg"


def sample_clean_path() -> Path:
    return resources_dir() / "samples" / "astronaut_clean.png"


def icon(name: str) -> QIcon:
    """An icon by name; the SVG keeps it sharp on HiDPI screens, the PNG is the fallback."""
    folder = resources_dir() / "icons"
    result = QIcon()
    for candidate in (folder / f"{name}.svg", folder / f"{name}.png"):
        if candidate.exists():
            result.addFile(str(candidate))
    return result


def stylesheet() -> str:
    path = resources_dir() / "style.qss"
    return path.read_text(encoding="utf-8") if path.exists() else ""
