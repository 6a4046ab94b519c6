"""How hard a JPEG was compressed, from its quantisation tables (no pixels needed).

Why: block and ringing artefacts are what a JPEG's quantisation leaves behind, and they carry no
white-noise signature the noise estimate could see; the tables say exactly how coarse the
quantisation was. Every encoder's luminance table is compared with the IJG (libjpeg) table at
each quality 1-100, and the nearest one (in log step size) is the file's *equivalent quality*:
exact for libjpeg/Pillow/OpenCV files, a fair summary of a camera's custom table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

# ITU-T T.81 Annex K.1 luminance table, natural (row-major) order.
_IJG_LUMA = np.array(
    [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55,
     14, 13, 16, 24, 40, 57, 69, 56, 14, 17, 22, 29, 51, 87, 80, 62,
     18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
     49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99],
    dtype=np.float64,
)


def ijg_luma_table(quality: int) -> np.ndarray:
    """libjpeg's luminance table at ``quality`` (1-100), the scaling every IJG encoder uses."""
    quality = int(min(100, max(1, quality)))
    scale = 5000 / quality if quality < 50 else 200 - 2 * quality
    return np.clip(np.floor((_IJG_LUMA * scale + 50) / 100), 1, 255)


_IJG_TABLES = np.stack([np.log(ijg_luma_table(q)) for q in range(1, 101)])


def equivalent_quality(tables: Mapping[int, Sequence[int]] | None) -> float | None:
    """The IJG quality (1-100) whose luminance table is nearest the file's, or None without tables.

    Pillow's ``Image.quantization`` gives the tables in natural order (its zig-zag is undone);
    table 0 is luminance.
    """
    if not tables or 0 not in tables:
        return None
    luma = np.asarray(list(tables[0]), dtype=np.float64)
    if luma.size != 64 or not np.all(luma > 0):
        return None
    distance = np.abs(_IJG_TABLES - np.log(luma)[None, :]).mean(axis=1)
    best = int(np.argmin(distance))
    # Sub-step refinement between the neighbouring qualities, for a smooth calibration curve.
    if 0 < best < 99:
        left, mid, right = distance[best - 1], distance[best], distance[best + 1]
        denominator = left - 2 * mid + right
        offset = 0.5 * (left - right) / denominator if denominator > 0 else 0.0
        return float(best + 1 + max(-0.5, min(0.5, offset)))
    return float(best + 1)


# Best FFDNet level for the artefacts of a clean photo, as a power of the mean luminance step:
# fitted by benchmarks/calibrate_auto_level.py on CBSD68 images the JPEG benchmark never uses.
ARTEFACT_SCALE, ARTEFACT_POWER = 1.335, 0.528
ARTEFACT_TAPER = (90.0, 95.0)  # from here the artefacts fade below what smoothing could win back


def jpeg_artefact_level(quality: float | None) -> float:
    """The denoiser level (0-255 scale) that best removes the artefacts of a JPEG of this quality.

    0 without a quality (not a JPEG) and at 95 and above, where the artefacts are below what any
    smoothing would cost in detail.
    """
    if quality is None or quality >= ARTEFACT_TAPER[1]:
        return 0.0
    step = float(np.mean(ijg_luma_table(int(round(quality)))))
    level = ARTEFACT_SCALE * step**ARTEFACT_POWER
    if quality > ARTEFACT_TAPER[0]:
        level *= (ARTEFACT_TAPER[1] - quality) / (ARTEFACT_TAPER[1] - ARTEFACT_TAPER[0])
    return float(level)
