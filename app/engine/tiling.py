"""Run a model over an image in overlapping tiles, in bounded memory, without seams.

Each tile is a *core* region plus a context margin on every side (reflect-padded at the
image border). The margin is wider than the model's receptive field, so a core's pixels are
computed from the same neighbourhood as in a whole-image run; neighbouring cores also
overlap by a small band blended with raised-cosine weights that sum to exactly one, so fp16
or bf16 differences between tiles fade instead of showing as seams. A whole-image run is the
same code with one tile, so tiled and untiled outputs agree.

The tile function receives the tile and its :class:`TileRegion` (where it lies, which of its
pixels are real photo pixels, and how to cut the same region from any map the caller holds),
and may ask for a smaller tile by raising :class:`TileTooLarge`. On that, or an out-of-memory
error, the tile is split in four and the run goes on from that tile with the smaller size (as
chaiNNer does), instead of starting again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from app.errors import CancelledError

MIN_TILE = 64


class TileTooLarge(Exception):
    """Raised by a tile function to ask for smaller tiles (e.g. a model's own memory limit)."""


@dataclass(frozen=True)
class Box:
    """A half-open rectangle [y0, y1) x [x0, x1) in image coordinates."""

    y0: int
    y1: int
    x0: int
    x1: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0


@dataclass(frozen=True)
class TileRegion:
    """Where a tile lies: its core box, the context margin around it, and the image size.

    ``genuine`` is the part of the tile made of real photo pixels (the rest was mirrored in at the
    photo's edge, or is padding to the model's size multiple); ``crop`` cuts the same region,
    mirrored the same way, from any array aligned with the image (a noise map, a mask).
    """

    box: "Box"
    margin: int
    multiple: int
    image_shape: tuple[int, int]

    @property
    def genuine(self) -> tuple[slice, slice]:
        height, width = self.image_shape
        top = self.box.y0 - self.margin
        left = self.box.x0 - self.margin
        rows = slice(max(0, -top), min(height, self.box.y1 + self.margin) - top)
        cols = slice(max(0, -left), min(width, self.box.x1 + self.margin) - left)
        return rows, cols

    def crop(self, array: np.ndarray) -> np.ndarray:
        return extract(array, self.box, self.margin, self.multiple)

    def core(self, tile: np.ndarray) -> np.ndarray:
        """The core box's pixels of a restored tile."""
        return tile[self.margin : self.margin + self.box.height, self.margin : self.margin + self.box.width]


TileFunction = Callable[[np.ndarray, TileRegion], np.ndarray]
"""(tile HxWxC with context, its region) -> restored tile, same size."""


def reflect_indices(indices: np.ndarray, length: int) -> np.ndarray:
    """Map any integer positions into [0, length) by mirror reflection (no edge repeat)."""
    if length == 1:
        return np.zeros_like(indices)
    period = 2 * (length - 1)
    folded = np.abs(indices) % period
    return np.where(folded >= length, period - folded, folded)


def split_axis(length: int, tile: int, overlap: int, align: int = 1) -> list[tuple[int, int]]:
    """Even spans covering [0, length): no thin last sliver, neighbours overlap by >= overlap.

    Starts are multiples of ``align`` so a model that works on a 2x2-packed grid (FFDNet)
    sees every tile on the same grid phase as the whole image.
    """
    if tile <= 0 or tile >= length:
        return [(0, length)]
    count = max(1, math.ceil((length - overlap) / (tile - overlap)))
    if count == 1:
        return [(0, length)]
    size = math.ceil((length + (count - 1) * overlap) / count)
    size += (-size) % align
    starts = (np.linspace(0, length - size, count) / align).round().astype(int) * align
    # A coarse grid (a 64 px model) can round two starts onto one: keep each once, or its pixels
    # would be weighted twice.
    starts = sorted(set(int(start) for start in starts))
    spans = [(start, min(length, start + size)) for start in starts]
    spans[-1] = (spans[-1][0], length)
    return spans


def blend_window(spans: list[tuple[int, int]], index: int) -> np.ndarray:
    """1-D weights for span ``index``: ones, with raised-cosine ramps over the overlaps.

    The rising ramp of one span and the falling ramp of its neighbour cover the same
    pixels and sum to exactly 1, so the blended image needs no weight normalisation.
    """
    start, end = spans[index]
    weights = np.ones(end - start, dtype=np.float32)
    if index > 0:
        left = spans[index - 1][1] - start
        if left > 0:
            weights[:left] = _rising_ramp(left)
    if index + 1 < len(spans):
        right = end - spans[index + 1][0]
        if right > 0:
            weights[-right:] = 1.0 - _rising_ramp(right)
    return weights


def _rising_ramp(length: int) -> np.ndarray:
    positions = (np.arange(length, dtype=np.float64) + 0.5) / length
    return (0.5 - 0.5 * np.cos(np.pi * positions)).astype(np.float32)


def plan_tiles(height: int, width: int, tile: int, overlap: int, align: int = 1) -> list[tuple[Box, np.ndarray]]:
    """Every tile's core box with its 2-D blending weights."""
    rows = split_axis(height, tile, overlap, align)
    cols = split_axis(width, tile, overlap, align)
    plan = []
    for r, (y0, y1) in enumerate(rows):
        row_weights = blend_window(rows, r)
        for c, (x0, x1) in enumerate(cols):
            plan.append((Box(y0, y1, x0, x1), row_weights[:, None] * blend_window(cols, c)[None, :]))
    return plan


def extract(image: np.ndarray, box: Box, margin: int, multiple: int) -> np.ndarray:
    """The box plus ``margin`` context, reflect-padded at the borders, sides padded to ``multiple``."""
    height, width = image.shape[:2]
    extra_y = (-(box.height + 2 * margin)) % multiple
    extra_x = (-(box.width + 2 * margin)) % multiple
    rows = reflect_indices(np.arange(box.y0 - margin, box.y1 + margin + extra_y), height)
    cols = reflect_indices(np.arange(box.x0 - margin, box.x1 + margin + extra_x), width)
    if rows[0] == box.y0 - margin and np.all(np.diff(rows) == 1):
        rows_sel: slice | np.ndarray = slice(int(rows[0]), int(rows[-1]) + 1)
    else:
        rows_sel = rows
    if cols[0] == box.x0 - margin and np.all(np.diff(cols) == 1):
        cols_sel: slice | np.ndarray = slice(int(cols[0]), int(cols[-1]) + 1)
    else:
        cols_sel = cols
    # Slices keep the interior tiles as views until the one copy below.
    return np.ascontiguousarray(image[rows_sel][:, cols_sel])


def is_out_of_memory(error: BaseException) -> bool:
    """CUDA / MPS / allocator out-of-memory, whichever way the backend reports it."""
    name = type(error).__name__
    return (name == "OutOfMemoryError" or isinstance(error, (MemoryError, TileTooLarge))
            or "out of memory" in str(error).lower())


class TiledRunner:
    """Applies a tile function over an image with context margins, blending and OOM splitting."""

    def __init__(
        self,
        function: TileFunction,
        *,
        tile: int,
        margin: int,
        overlap: int = 16,
        multiple: int = 2,
        progress: Callable[[int, int], None] | None = None,
        cancelled: Callable[[], bool] | None = None,
        on_oom: Callable[[int], None] | None = None,
    ) -> None:
        self.function = function
        self.tile = tile
        self.margin = margin + margin % multiple  # an even margin keeps the 2x2 grid phase
        self.overlap = overlap
        self.multiple = multiple
        self.progress = progress
        self.cancelled = cancelled
        self.on_oom = on_oom
        self.max_core = 0  # 0 = no limit learnt yet; set when a tile ran out of memory

    def run(self, image: np.ndarray) -> np.ndarray:
        """Restore ``image`` (HxWxC float32)."""
        height, width = image.shape[:2]
        plan = plan_tiles(height, width, self.tile, self.overlap, self.multiple)
        output = np.zeros(image.shape, dtype=np.float32)
        for done, (box, weights) in enumerate(plan):
            self._check_cancel()
            core = self._restore_box(image, box)
            target = output[box.y0 : box.y1, box.x0 : box.x1]
            if len(plan) == 1:
                target[...] = core
            else:
                target += core * weights[..., None]
            if self.progress:
                self.progress(done + 1, len(plan))
        return output

    def _check_cancel(self) -> None:
        if self.cancelled is not None and self.cancelled():
            raise CancelledError("cancelled")

    def _restore_box(self, image: np.ndarray, box: Box) -> np.ndarray:
        """Restore one core box, splitting it while it does not fit in memory."""
        if self.max_core and max(box.height, box.width) > self.max_core:
            return self._restore_split(image, box)
        try:
            return self._restore_exact(image, box)
        except Exception as error:  # noqa: BLE001 - only OOM is handled, the rest re-raised
            if not is_out_of_memory(error):
                raise
            side = max(box.height, box.width)
            if side // 2 < MIN_TILE:
                raise
            self.max_core = side // 2
            if self.on_oom:
                self.on_oom(self.max_core)
            return self._restore_split(image, box)

    def _restore_split(self, image: np.ndarray, box: Box) -> np.ndarray:
        # With full context each sub-box computes exactly what the whole box would, so the
        # pieces are placed side by side without blending.
        out = np.empty((box.height, box.width, image.shape[2]), dtype=np.float32)
        half = lambda length: (length // 2) - (length // 2) % self.multiple  # noqa: E731 - keep grid phase
        mid_y = box.y0 + half(box.height) if box.height > self.max_core else box.y1
        mid_x = box.x0 + half(box.width) if box.width > self.max_core else box.x1
        for y0, y1 in ((box.y0, mid_y), (mid_y, box.y1)):
            for x0, x1 in ((box.x0, mid_x), (mid_x, box.x1)):
                if y1 > y0 and x1 > x0:
                    self._check_cancel()
                    sub = Box(y0, y1, x0, x1)
                    out[y0 - box.y0 : y1 - box.y0, x0 - box.x0 : x1 - box.x0] = self._restore_box(image, sub)
        return out

    def _restore_exact(self, image: np.ndarray, box: Box) -> np.ndarray:
        region = TileRegion(box, self.margin, self.multiple, image.shape[:2])
        return region.core(self.function(region.crop(image), region))
