"""One-click Deblur on real camera shake without references: a contact sheet to look at, and timings.

Runs ``photomend deblur --kernel auto``'s operation (``restore_with_settings``, kernel 'auto',
deep) on 6 photos each of Kohler et al. 2012 and Lai et al. 2016 (``../shared/data/blur_real``:
no sharp references), and writes

* ``docs/real_blur_sheet.jpg``: input | result pairs, each photo shrunk to 480 px wide;
* ``benchmarks/results/real_blur.md``: per photo the verdict, kernel, seconds, and a border check
  (high-frequency energy of the 16 px border band over that of the interior, result / input:
  ringing from the borders raises it).

    python benchmarks/real_blur_sheet.py
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "blur_real"
SHEET = ROOT / "docs" / "real_blur_sheet.jpg"
RESULTS = ROOT / "benchmarks" / "results" / "real_blur.md"
PICKS = {
    "Kohler2012_blurry": ["Blurry1_1.jpg", "Blurry1_8.jpg", "Blurry2_3.jpg", "Blurry3_5.jpg", "Blurry4_2.jpg",
                          "Blurry4_9.jpg"],
    "Lai2016_blurry": ["boat1.jpg", "book1.jpg", "bird.jpg", "Pantheon.jpg", "boy_statue.jpg", "book3.jpg"],
}
WIDTH = 480
BAND = 16


def _detail_energy(grey: np.ndarray) -> np.ndarray:
    import cv2

    return np.abs(grey - cv2.GaussianBlur(grey, (0, 0), 1.5))


def border_ratio(before: np.ndarray, after: np.ndarray) -> float:
    """(border band / interior) high-frequency energy of the result over the same ratio of the input."""
    def ratio(image: np.ndarray) -> float:
        energy = _detail_energy(image.mean(axis=2))
        inner = energy[BAND:-BAND, BAND:-BAND].mean()
        band = (energy.sum() - energy[BAND:-BAND, BAND:-BAND].sum()) / (energy.size - energy[BAND:-BAND, BAND:-BAND].size)
        return float(band / max(inner, 1e-9))

    return ratio(after) / max(ratio(before), 1e-9)


def main() -> int:
    import cv2

    from app.pipeline.operations import EngineCache, RestoreSettings, restore_with_settings

    if not DATA.is_dir():
        print(f"skipped: {DATA} not found")
        return 0
    engines = EngineCache()
    settings = RestoreSettings(operation="deblur", device="cpu", kernel_spec="auto")
    rows, tiles = [], []
    for folder, names in PICKS.items():
        for name in names:
            path = DATA / folder / "blurry" / name
            photo = cv2.imread(str(path))[:, :, ::-1].astype(np.float32) / 255.0
            started = time.perf_counter()
            pixels, report = restore_with_settings(engines, photo, settings)
            seconds = time.perf_counter() - started
            estimate = report.kernel_estimate
            kept = ("left unchanged: blur left in the result" if report.unchanged and estimate.verdict == "blur"
                    else "left unchanged" if report.unchanged else "deblurred")
            rows.append((folder.split("_")[0], name, f"{photo.shape[1]}x{photo.shape[0]}", estimate.verdict,
                         estimate.describe(), kept, seconds, border_ratio(photo, pixels)))
            print(rows[-1], flush=True)
            scale = WIDTH / photo.shape[1]
            size = (WIDTH, int(round(photo.shape[0] * scale)))
            pair = [cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in (photo, pixels)]
            tile = np.concatenate([pair[0], np.ones((size[1], 8, 3), np.float32), pair[1]], axis=1)
            label = f"{name}: {'unchanged: ' if report.unchanged else ''}{estimate.describe()}"[:90]
            tile = np.concatenate([np.ones((26, tile.shape[1], 3), np.float32), tile], axis=0)
            tile = np.ascontiguousarray(tile[:, :, ::-1] * 255).astype(np.uint8)
            cv2.putText(tile, label, (6, 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
            tiles.append(tile)
    width = max(t.shape[1] for t in tiles)
    sheet = np.concatenate([np.pad(t, ((0, 12), (0, width - t.shape[1]), (0, 0)), constant_values=255) for t in tiles])
    SHEET.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(SHEET), sheet, [cv2.IMWRITE_JPEG_QUALITY, 85])
    lines = [
        "## Real camera shake, no references (Kohler 2012, Lai 2016): one-click Deblur",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared). Command: "
        "`python benchmarks/real_blur_sheet.py`. Contact sheet (input | result): `docs/real_blur_sheet.jpg`.",
        f"Border check: high-frequency energy of the {BAND} px border band over the interior's, result / input "
        "(1 = the border changed like the interior; ringing from the borders would raise it well above 1).",
        "",
        "| set | photo | size | verdict | estimate | outcome | seconds | border check |",
        "|---|---|---|---|---|---|---|---|",
    ]
    lines += [f"| {s} | {n} | {z} | {v} | {d} | {k} | {t:.1f} | {b:.2f} |" for s, n, z, v, d, k, t, b in rows]
    done = [row for row in rows if row[5] == "deblurred"]
    lines += ["", f"{len(done)} of {len(rows)} deblurred; median {sorted(r[6] for r in rows)[len(rows) // 2]:.0f} s per "
              "photo (finding the blur, deblurring, checking the result) on this shared 2-core CPU."]
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
