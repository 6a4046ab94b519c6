"""Shared fixtures: the ../shared test data (skipped cleanly when absent) and small test photos."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from app.metrics import psnr  # noqa: F401 - re-exported: test_cli and test_gui import it from here

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_path(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test when the data is not there."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not available: {path}")
    return path


def load_rgb(path: Path) -> np.ndarray:
    """An 8-bit test image as float32 RGB in [0, 1] (cv2 directly, independent of app.io)."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(data[:, :, ::-1]).astype(np.float32) / 255.0


@pytest.fixture(scope="session")
def cbsd68() -> Path:
    return shared_path("CBSD68")
