"""The estimate floor of the automatic level (auto_level.floor_at_estimate): with and without it.

Lossless held-out cases only (the floor never applies to a JPEG): SIDD12 odd images, the simulated
phone_raw cameras of calibrate_auto_level's held-out split, and CBSD68 0-9 saved losslessly and
clean (PSNR against themselves: any level costs there). Side by side in one run.

    python benchmarks/auto_level_floor.py      # ~1 min on 2 cores
"""

from __future__ import annotations

import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from calibrate_auto_level import SHARED, load, noise_cases  # noqa: E402

from app.engine import auto_level  # noqa: E402
from app.engine.denoise import Denoiser  # noqa: E402
from app.metrics import psnr  # noqa: E402


def psnr_at(denoiser: Denoiser, noisy: np.ndarray, reference: np.ndarray, sigma: float) -> float:
    return psnr(denoiser.denoise(noisy, noise_level=sigma).pixels if sigma > 0 else noisy, reference)


def main() -> int:
    if not (SHARED / "real_noise").is_dir():
        raise SystemExit(f"needs {SHARED}")
    denoiser = Denoiser(device="cpu")
    cases = [c for c in noise_cases("held") if c[4] is None]
    cbsd = sorted((SHARED / "CBSD68").glob("*.png"))
    cases += [(f"clean{i}", "clean (lossless)", load(cbsd[i]), load(cbsd[i]), None) for i in range(10)]
    floored = auto_level.floor_at_estimate
    gains: dict[str, list[float]] = {}
    changed = []
    for key, group, noisy, reference, _ in cases:
        auto_level.floor_at_estimate = lambda level, estimate, quality: level
        without = denoiser.choose_level(noisy).sigma
        auto_level.floor_at_estimate = floored
        with_floor = denoiser.choose_level(noisy)
        before = psnr_at(denoiser, noisy, reference, without)
        after = before if with_floor.sigma == without else psnr_at(denoiser, noisy, reference, with_floor.sigma)
        gains.setdefault(group, []).append(after - before)
        if with_floor.sigma != without:
            changed.append(f"| {key} | {without:.1f} | {with_floor.sigma:.1f} | {before:.2f} | {after:.2f} | {after - before:+.2f} |")
    lines = ["## Automatic level: the estimate floor", "",
             f"Machine: {platform.processor() or platform.machine()}, 2 cores. Command: `python benchmarks/auto_level_floor.py`.",
             "PSNR change (dB) from flooring the regression's level at a clearly high (>= "
             f"{auto_level.CLEAR_CAMERA_NOISE:g}) classical estimate in lossless files.", "",
             "| set | cases | mean | worst | best |", "|---|---|---|---|---|",
             *[f"| {g} | {len(v)} | {np.mean(v):+.2f} | {min(v):+.2f} | {max(v):+.2f} |" for g, v in sorted(gains.items())],
             "", "Cases whose level changed:", "", "| case | level without | with | PSNR without | with | change |",
             "|---|---|---|---|---|---|", *changed, "",
             "The 'real' and 'fit' sections above were measured before the floor; these are the only lossless",
             "held-out cases whose level it changes (JPEG cases are untouched by construction)."]
    (HERE / "results" / "auto_level_floor.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
