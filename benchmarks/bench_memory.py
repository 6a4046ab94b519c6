"""Peak memory of `photomend denoise` on a 24-megapixel photo, CPU, end to end (read, denoise, write).

Runs the real CLI in a child process and reads its peak resident set size from the kernel
(ru_maxrss of the waited-for child), so everything the process touched is counted.

    python benchmarks/bench_memory.py [--megapixels 24]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
WORK = REPO / "benchmarks" / "_work"
LIMIT_GB = 2.5


def make_photo(megapixels: float, path: Path) -> tuple[int, int]:
    """A noisy photo of the requested size: a CBSD68 image upscaled, with sigma-20 noise, as JPEG q95."""
    width = int(round((megapixels * 1e6 * 1.5) ** 0.5))
    height = int(round(width / 1.5))
    source = sorted((SHARED / "CBSD68").glob("*.png"))[0]
    image = cv2.resize(cv2.imread(str(source)), (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    rng = np.random.default_rng(0)
    for row in range(0, height, 500):  # add noise in bands to keep this script's own memory low
        band = image[row : row + 500]
        band += rng.standard_normal(band.shape, dtype=np.float32) * 20
    cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 95])
    return width, height


def measure(args: list[str]) -> tuple[float, float, str]:
    """(seconds, peak RSS in GB, stderr) of one CLI run in a child process."""
    started = time.perf_counter()
    child = subprocess.run([sys.executable, "-m", "app.cli.main", *args], cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"photomend failed: {child.stderr}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024 / 1024, child.stderr


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megapixels", type=float, default=24.0)
    options = parser.parse_args()
    if not SHARED.exists():
        print(f"skipped: {SHARED} not found")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    photo = WORK / f"noisy_{options.megapixels:g}mp.jpg"
    output = WORK / f"noisy_{options.megapixels:g}mp_out.jpg"
    width, height = make_photo(options.megapixels, photo)
    output.unlink(missing_ok=True)
    command = ["denoise", str(photo), "-o", str(output), "--device", "cpu", "--overwrite"]
    seconds, peak_gb, log = measure(command)
    verdict = "PASS" if peak_gb <= LIMIT_GB else "FAIL"
    note = next((line for line in log.splitlines() if line.startswith("ok:")), "")
    lines = [
        "## Memory: 24-megapixel photo on the CPU",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; command: "
        f"`python benchmarks/bench_memory.py --megapixels {options.megapixels:g}` "
        f"(runs `photomend {' '.join(command[:1])} <{width}x{height} JPEG> -o out.jpg --device cpu`).",
        "",
        "| photo | peak RSS (whole process) | limit | result | seconds |",
        "|---|---|---|---|---|",
        f"| {width}x{height} ({width * height / 1e6:.1f} MP) | {peak_gb:.2f} GB | {LIMIT_GB} GB | {verdict} | {seconds:.0f} |",
        "",
        f"CLI report: `{note}`",
    ]
    text = "\n".join(lines)
    print(text)
    (REPO / "benchmarks" / "results").mkdir(exist_ok=True)
    (REPO / "benchmarks" / "results" / "memory.md").write_text(text + "\n")
    photo.unlink(missing_ok=True)
    output.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
