"""The in-memory photo passed between the reader, the processing engine and the writer."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PHOTO_FORMATS = ("png", "jpeg", "tiff", "webp", "bmp")


@dataclass
class Photo:
    """Pixels plus everything needed to write them back faithfully.

    pixels: float32 H x W x 3 RGB in [0, 1], C-contiguous; grey inputs are expanded to three
        equal channels so processing code only ever sees RGB.
    alpha: float32 H x W in [0, 1] or None; never processed, written back at the input's depth.
    is_grey: the input had one colour channel; the writer stores grey again.
    bit_depth: 8 or 16, the input's depth (float TIFF maps to 16); the writer's default.
    format: the input's container ('png' | 'jpeg' | 'tiff' | 'webp' | 'bmp').
    icc_profile: raw ICC profile bytes or None.
    exif: EXIF block ('Exif\\0\\0' + TIFF structure) with Orientation already reset to 1
        (the reader rotated the pixels), or None.
    source: the file it was read from, if any.
    jpeg_quality: for a JPEG file, the IJG-equivalent quality (1-100) of its quantisation
        tables (see app.noise.jpeg), which the automatic level uses for compression artefacts.
    notes: one-line remarks on how the file was read that the user should see (for example
        that only the first frame of an animation was restored); front ends print them.
    """

    pixels: np.ndarray
    alpha: np.ndarray | None = None
    is_grey: bool = False
    bit_depth: int = 8
    format: str = "png"
    icc_profile: bytes | None = None
    exif: bytes | None = None
    source: Path | None = None
    notes: list[str] = field(default_factory=list)
    jpeg_quality: float | None = None

    def __post_init__(self) -> None:
        """Coerce to the documented layout and reject shapes the writer couldn't store.

        Why: callers (engine, GUI, tests) build Photos too; failing here gives a clear error
        at the source instead of a confusing one at write time.
        """
        pixels = np.ascontiguousarray(self.pixels, dtype=np.float32)
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"Photo.pixels must be H x W x 3, got shape {pixels.shape}")
        self.pixels = pixels
        if self.alpha is not None:
            alpha = np.ascontiguousarray(self.alpha, dtype=np.float32)
            if alpha.shape != pixels.shape[:2]:
                raise ValueError(
                    f"Photo.alpha shape {alpha.shape} does not match pixels {pixels.shape[:2]}"
                )
            self.alpha = alpha
        if self.bit_depth not in (8, 16):
            raise ValueError(f"Photo.bit_depth must be 8 or 16, got {self.bit_depth}")
        if self.format not in PHOTO_FORMATS:
            raise ValueError(f"Photo.format must be one of {PHOTO_FORMATS}, got {self.format!r}")
        if self.source is not None:
            self.source = Path(self.source)
        self.notes = [str(note) for note in self.notes]  # a copy: Photos never share one list

    @property
    def width(self) -> int:
        """Width in pixels (after EXIF orientation was applied)."""
        return int(self.pixels.shape[1])

    @property
    def height(self) -> int:
        """Height in pixels (after EXIF orientation was applied)."""
        return int(self.pixels.shape[0])

    @property
    def megapixels(self) -> float:
        """Pixel count in millions, for progress/size messages and memory estimates."""
        return self.width * self.height / 1_000_000

    def with_pixels(self, pixels: np.ndarray) -> Photo:
        """A copy carrying new RGB pixels but the same alpha, metadata and notes.

        Why: processing replaces pixels only; keeping ICC/EXIF/alpha/depth attached means the
        writer can reproduce the input's format without the engine knowing about it, and the
        reader's notes still reach the user after processing.
        Raises ValueError if the size no longer matches the alpha channel.
        """
        return dataclasses.replace(self, pixels=pixels)
