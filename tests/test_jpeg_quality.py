"""The JPEG's compression level is read from its quantisation tables, whatever encoder wrote it."""

from __future__ import annotations

import io
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.io.reader import read_photo
from app.noise.jpeg import equivalent_quality, ijg_luma_table


def _photo(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)


@pytest.mark.parametrize("quality", [5, 10, 20, 40, 75, 90, 95, 98])
@pytest.mark.parametrize("subsampling", [0, 2])
def test_pillow_jpeg_quality_is_recovered(tmp_path: Path, quality: int, subsampling: int):
    path = tmp_path / "p.jpg"
    Image.fromarray(_photo()).save(path, quality=quality, subsampling=subsampling)
    assert read_photo(path).jpeg_quality == pytest.approx(quality, abs=0.5)


def test_opencv_jpeg_quality_is_recovered(tmp_path: Path):
    ok, data = cv2.imencode(".jpg", _photo(), [cv2.IMWRITE_JPEG_QUALITY, 37])
    path = tmp_path / "p.jpg"
    path.write_bytes(data.tobytes())
    assert read_photo(path).jpeg_quality == pytest.approx(37, abs=0.5)


def test_other_formats_and_missing_tables_have_no_quality(tmp_path: Path):
    path = tmp_path / "p.png"
    Image.fromarray(_photo()).save(path)
    assert read_photo(path).jpeg_quality is None
    assert equivalent_quality(None) is None and equivalent_quality({1: [1] * 64}) is None


def test_a_custom_camera_table_maps_to_its_nearest_quality():
    custom = {0: list(np.clip(ijg_luma_table(85) * 1.1, 1, 255).astype(int))}  # a bit coarser than q85
    quality = equivalent_quality(custom)
    assert 80 < quality < 85
    buffer = io.BytesIO()
    Image.fromarray(_photo()).save(buffer, format="JPEG", qtables=[custom[0], custom[0]])
    assert equivalent_quality(Image.open(io.BytesIO(buffer.getvalue())).quantization) == pytest.approx(quality)
