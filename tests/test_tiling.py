"""Tiling: seamless, equal to a whole-image run, bounded, cancellable, and robust to out-of-memory."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from app.engine.tiling import TiledRunner, TileTooLarge, blend_window, reflect_indices, split_axis
from app.errors import CancelledError
from tests.conftest import psnr


def test_spans_cover_the_axis_evenly_and_stay_on_the_even_grid():
    for length in (100, 513, 1000, 2001):
        spans = split_axis(length, 256, 16, align=2)
        assert spans[0][0] == 0 and spans[-1][1] == length
        sizes = [end - start for start, end in spans]
        assert max(sizes) - min(sizes) <= 2  # no thin last sliver
        for (s0, e0), (s1, _e1) in zip(spans, spans[1:]):
            assert s1 % 2 == 0
            assert e0 - s1 >= 16  # neighbours overlap by at least the blend band


def test_blend_weights_form_a_partition_of_unity():
    spans = split_axis(1000, 256, 16, align=2)
    total = np.zeros(1000, np.float32)
    for index, (start, end) in enumerate(spans):
        total[start:end] += blend_window(spans, index)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)


def test_reflect_indices_mirror_without_repeating_the_edge():
    assert reflect_indices(np.array([-2, -1, 0, 4, 5, 6]), 5).tolist() == [2, 1, 0, 4, 3, 2]


def _local_filter(tile: np.ndarray, _region) -> np.ndarray:
    """A position-independent 9x9 box filter: its output depends on a 4 px neighbourhood."""
    import cv2

    return cv2.blur(tile, (9, 9), borderType=cv2.BORDER_REFLECT_101)


def test_tiled_equals_whole_image_for_a_local_operator():
    rng = np.random.default_rng(0)
    image = rng.random((301, 457, 3), dtype=np.float32)
    whole = TiledRunner(_local_filter, tile=0, margin=8).run(image)
    tiled = TiledRunner(_local_filter, tile=96, margin=8).run(image)
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_progress_is_reported_per_tile_and_cancel_stops_the_run():
    image = np.zeros((300, 300, 3), np.float32)
    seen: list[tuple[int, int]] = []
    TiledRunner(_local_filter, tile=128, margin=8, progress=lambda d, t: seen.append((d, t))).run(image)
    assert seen[-1][0] == seen[-1][1] == len(seen) > 1
    calls = []

    def cancel_after_two() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(CancelledError):
        TiledRunner(_local_filter, tile=128, margin=8, cancelled=cancel_after_two).run(image)


def test_out_of_memory_halves_the_tile_and_continues_with_the_same_result():
    rng = np.random.default_rng(1)
    image = rng.random((400, 400, 3), dtype=np.float32)
    sizes: list[int] = []

    def picky(tile: np.ndarray, region) -> np.ndarray:
        if max(tile.shape[:2]) > 200:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        sizes.append(max(tile.shape[:2]))
        return _local_filter(tile, region)

    reported: list[int] = []
    runner = TiledRunner(picky, tile=0, margin=8, on_oom=reported.append)
    out = runner.run(image)
    expected = TiledRunner(_local_filter, tile=0, margin=8).run(image)
    assert reported and reported[0] == 200
    assert psnr(out, expected) > 80


def test_other_errors_are_not_mistaken_for_out_of_memory():
    def broken(tile, region):
        raise ValueError("bad weights")

    with pytest.raises(ValueError):
        TiledRunner(broken, tile=0, margin=8).run(np.zeros((100, 100, 3), np.float32))


def test_a_map_cut_through_the_region_lines_up_with_the_tile():
    image = np.zeros((200, 300, 3), np.float32)
    noise_map = np.tile(np.linspace(0, 1, 300, dtype=np.float32), (200, 1))

    def echo_map(tile, region):
        return np.repeat(region.crop(noise_map)[..., None], 3, axis=2)

    out = TiledRunner(echo_map, tile=64, margin=8).run(image)
    np.testing.assert_allclose(out[..., 0], noise_map, atol=1e-6)


def test_the_region_says_which_pixels_the_tiler_mirrored_in():
    height, width = 300, 290
    image = np.stack([*np.meshgrid(np.arange(height), np.arange(width), indexing="ij"), np.zeros((height, width))],
                     axis=2).astype(np.float32)
    seen = []

    def record(tile, region):
        rows, cols = region.genuine
        box = region.box
        # The genuine part is exactly the photo's own pixels around the core, in place.
        expected_rows = np.arange(max(0, box.y0 - region.margin), min(height, box.y1 + region.margin))
        expected_cols = np.arange(max(0, box.x0 - region.margin), min(width, box.x1 + region.margin))
        np.testing.assert_array_equal(tile[rows, cols, 0][:, 0], expected_rows)
        np.testing.assert_array_equal(tile[rows, cols, 1][0, :], expected_cols)
        seen.append((rows.start, cols.start))
        return tile

    TiledRunner(record, tile=128, margin=40, overlap=16, multiple=2).run(image)
    assert seen[0] == (40, 40)  # top-left tile: 40 mirrored rows and columns before the photo starts
    assert (0, 0) in seen  # an inner tile is all photo


def test_a_tile_function_may_ask_for_smaller_tiles():
    image = np.random.default_rng(2).random((300, 300, 3), dtype=np.float32)

    def limited(tile, region):
        if max(tile.shape[:2]) > 150:
            raise TileTooLarge("this model takes at most 150 px")
        return _local_filter(tile, region)

    out = TiledRunner(limited, tile=0, margin=8).run(image)
    np.testing.assert_allclose(out, TiledRunner(_local_filter, tile=0, margin=8).run(image), atol=1e-5)


@pytest.mark.parametrize("length, tile, align", [(200, 80, 64), (200, 96, 32), (1000, 300, 64), (301, 96, 2)])
def test_blend_weights_sum_to_one_on_coarse_model_grids(length, tile, align):
    spans = split_axis(length, tile, 16, align)
    total = np.zeros(length, np.float32)
    for index, (start, end) in enumerate(spans):
        assert start % align == 0
        total[start:end] += blend_window(spans, index)
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
