"""app.metrics.psnr: the one PSNR of tests and benchmarks, and each of its options."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.metrics import psnr


def test_a_known_mse_gives_the_known_db() -> None:
    clean = np.full((8, 10, 3), 0.5)
    assert psnr(clean + 0.1, clean) == pytest.approx(20.0, abs=1e-9)  # MSE 0.01
    assert psnr((clean + 0.1).astype(np.float32), clean.astype(np.float32)) == pytest.approx(20.0, abs=1e-5)
    off = clean.copy()
    off[0, 0, 0] += 0.5  # one value of 240 off by 0.5: MSE 0.25 / 240
    assert psnr(off, clean) == pytest.approx(10 * math.log10(240 / 0.25), abs=1e-9)
    assert psnr(clean, clean) == math.inf


def test_every_channel_counts_and_the_order_is_the_result_first() -> None:
    clean = np.zeros((4, 4, 3))
    result = clean.copy()
    result[:, :, 2] = 0.3  # one channel of three: MSE 0.03
    assert psnr(result, clean) == pytest.approx(10 * math.log10(1 / 0.03))
    grey = np.zeros((4, 4))
    assert psnr(grey + 0.1, grey) == pytest.approx(20.0)


def test_shapes_must_match() -> None:
    with pytest.raises(ValueError, match="different shapes"):
        psnr(np.zeros((8, 8, 3)), np.zeros((8, 8, 1)))  # no broadcasting
    with pytest.raises(ValueError, match="different shapes"):
        psnr(np.zeros((8, 8)), np.zeros((8, 9)))


def test_quantize_8bit_scores_the_result_as_a_saved_8_bit_file() -> None:
    levels = np.arange(256, dtype=np.float64).reshape(16, 16) / 255
    reference = np.tile(levels[:, :, None], (1, 1, 3))
    near = reference + 0.4 / 255  # rounds back onto the reference's levels
    assert psnr(near, reference) == pytest.approx(20 * math.log10(255 / 0.4), abs=1e-9)
    assert psnr(near, reference, quantize_8bit=True) == math.inf
    far = reference + 0.6 / 255  # rounds one level up, except at the top (clipped to 1)
    expected_mse = (255 / 256) / 255**2  # one level off in 255 of every 256 values
    assert psnr(far, reference, quantize_8bit=True) == pytest.approx(10 * math.log10(1 / expected_mse), abs=1e-9)
    # clipped to [0, 1] before rounding; the reference is never rounded
    assert psnr(np.full((4, 4), 1.7), np.ones((4, 4)), quantize_8bit=True) == math.inf
    assert psnr(np.ones((4, 4)), np.full((4, 4), 0.999), quantize_8bit=True) == pytest.approx(60.0)


def test_clip_brings_the_result_into_range_without_rounding() -> None:
    reference = np.full((4, 4, 3), 230 / 255)
    result = reference.copy()
    result[0] = 1.3  # 12 of 48 values overshoot; clipped, they are 25 levels off
    assert psnr(result, reference) == pytest.approx(10 * math.log10(48 / (12 * (1.3 - 230 / 255) ** 2)))
    assert psnr(result, reference, clip=True) == pytest.approx(10 * math.log10(48 * 255**2 / (12 * 25**2)))
    assert psnr(result, reference, clip=True) == psnr(result, reference, quantize_8bit=True)  # on levels: the same
    result[1] = reference[1] + 0.3 / 255  # inside the range: clip keeps the error, 8-bit rounding removes it
    assert psnr(result, reference, clip=True) < psnr(result, reference, quantize_8bit=True)


def test_border_leaves_out_the_edge_band_of_both_images() -> None:
    reference = np.zeros((20, 30, 3))
    result = reference.copy()
    result[:3] = result[-3:] = result[:, :3] = result[:, -3:] = 1.0  # wrong only in a 3 px band
    result[10, 15] = 0.1  # one interior pixel slightly off
    whole = psnr(result, reference)
    assert psnr(result, reference, border=3) == pytest.approx(10 * math.log10(14 * 24 * 3 / (3 * 0.01)))
    assert psnr(result, reference, border=3) > whole + 20
    assert psnr(result, reference, border=3) == psnr(result[3:-3, 3:-3], reference[3:-3, 3:-3])
    tiny = reference.copy()
    tiny[:3] = 1.0
    tiny[10, 15] = 0.001  # rounds to level 0
    assert psnr(tiny, reference, border=3) < math.inf
    assert psnr(tiny, reference, border=3, quantize_8bit=True) == math.inf  # the band is out, the rest rounds away
    with pytest.raises(ValueError, match="border"):
        psnr(result, reference, border=10)  # nothing left of 20 rows
    with pytest.raises(ValueError, match="border"):
        psnr(result, reference, border=-1)
