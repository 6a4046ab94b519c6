"""Float RGB arrays -> QImage for display (8-bit; the engine keeps full precision)."""

from __future__ import annotations

import numpy as np
import qimage2ndarray
from PySide6.QtGui import QImage

_BAND_ROWS = 512  # convert in bands so a 24 MP photo needs no extra full-size float copy


def to_uint8(rgb: np.ndarray) -> np.ndarray:
    """Round float32 RGB in [0, 1] to 8-bit, band by band."""
    out = np.empty(rgb.shape, dtype=np.uint8)
    for row in range(0, rgb.shape[0], _BAND_ROWS):
        band = rgb[row : row + _BAND_ROWS] * 255.0
        np.clip(band, 0.0, 255.0, out=band)
        out[row : row + _BAND_ROWS] = np.rint(band)
    return out


def to_qimage(rgb: np.ndarray) -> QImage:
    """A display image of float32 RGB; grey photos arrive as three equal channels."""
    return qimage2ndarray.array2qimage(to_uint8(rgb))
