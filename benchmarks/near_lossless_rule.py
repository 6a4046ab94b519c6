"""How the automatic level tells a clean near-lossless JPEG from a camera's (auto_level.CLEAN_CHROMA).

A JPEG saved at quality 95+ with little fine grain is left alone unless its measured level is
clearly high or a faint pilot finds chroma mottling in its flattest blocks. This script rebuilds
the study the threshold was chosen on: CBSD68 10-67, each saved clean at quality 95 and 98 and
through three simulated cameras (light DSLR, heavy DSLR, phone) at quality 95-99
(bench_real.near_lossless_cases). Per case: the model's own level (the leave-alone rule off),
the faint pilot's chroma, and the PSNR gain of denoising at that level. Thresholds are judged on
the even images; the odd ones (bench_real's held-out near-lossless set) only report.

    python benchmarks/near_lossless_rule.py [--cache FILE]     # ~15 min on 2 cores without a cache
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

THRESHOLDS = (0.55, 0.58, 0.60, 0.61, 0.62, 0.63, 0.65, 0.70)
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "photomend_near_lossless_rule.json"


def measure(cases, cache: dict, cache_path: Path) -> dict:
    """Per case key: image index, kind, level (rule off), faint chroma, s1, input and at-level PSNR."""
    from app.engine import auto_level
    from app.engine.denoise import Denoiser
    from app.metrics import psnr
    from app.noise.estimate import noise_features

    denoiser = Denoiser(device="cpu")
    runner = denoiser.level_runner
    scale = runner.model.levels.scale

    def denoise_at(crop: np.ndarray, level: float) -> np.ndarray:
        return runner(crop, scale * level / 255.0)

    for key, group, y, x, quality in cases:
        if key in cache:
            continue
        # The model's own level, the rule under study off: at quality 95+ the file's quality adds
        # no artefact level, so measuring without it differs only by that rule.
        level = denoiser.choose_level(y).sigma
        out = denoiser.denoise(y, noise_level=level).pixels if level > 0 else y
        cache[key] = {
            "image": int(key[2:key.index("_")]), "kind": group.split(",")[0], "quality": quality, "level": level,
            "chroma": auto_level.faint_pilot_chroma(auto_level.sample_crops(y), denoise_at),
            "s1": noise_features(y).s1, "input": psnr(y, x), "at_level": psnr(out, x),
        }
        cache_path.write_text(json.dumps(cache))
        print(key, {k: round(v, 3) if isinstance(v, float) else v for k, v in cache[key].items()}, flush=True)
    return cache


def left_alone(row: dict, threshold: float) -> bool:
    """The product's rule (auto_level.leave_near_lossless_alone) with ``threshold`` for CLEAN_CHROMA."""
    from app.engine import auto_level

    return auto_level.leave_near_lossless_alone(row["quality"], row["s1"], row["level"], lambda: row["chroma"],
                                                clean_chroma=threshold)


def gaps(rows: list[dict], threshold: float) -> dict[str, tuple[float, float]]:
    """Per kind: mean and worst dB below the better of 'leave it' and 'denoise at the model's level'."""
    per_kind: dict[str, list[float]] = {}
    for row in rows:
        gain = row["at_level"] - row["input"]
        got = 0.0 if left_alone(row, threshold) else gain
        per_kind.setdefault(row["kind"], []).append(max(0.0, gain) - got)
    return {kind: (float(np.mean(v)), float(np.max(v))) for kind, v in sorted(per_kind.items())}


def report(cache: dict, command: str) -> list[str]:
    from app.engine import auto_level

    rows = list(cache.values())
    even = [r for r in rows if r["image"] % 2 == 0]
    odd = [r for r in rows if r["image"] % 2 == 1]
    kinds = sorted({r["kind"] for r in rows})
    clean_max = {name: max(r["chroma"] for r in part if r["kind"] == "clean") for name, part in (("even", even), ("odd", odd))}
    lines = [
        "## Near-lossless JPEGs: clean or a camera's? (the faint pilot's chroma threshold)", "",
        f"Machine: {platform.processor() or platform.machine()}, 2-core CPU. Command: `{command}`.",
        "CBSD68 10-67: each clean at quality 95 and 98, and through a light DSLR, a heavy DSLR and a phone at quality",
        "95-99. dB below the better of leaving the photo and denoising at the model's own level; a rule leaves a",
        "photo alone when its fine grain s1 < 1, its level < 11 and the faint pilot's chroma is under the threshold.",
        f"Largest chroma of a clean photo: even images {clean_max['even']:.3f}, odd {clean_max['odd']:.3f}. "
        f"The product's threshold: {auto_level.CLEAN_CHROMA:g} (the first above every even clean photo, plus 0.01).", "",
        "| threshold | " + " | ".join(f"even: {k}" for k in kinds) + " | " + " | ".join(f"odd (held out): {k}" for k in kinds) + " |",
        "|---|" + "---|" * (2 * len(kinds)),
    ]
    for threshold in THRESHOLDS:
        cells = [f"{m:.2f} / {w:.2f}" for part in (even, odd) for m, w in gaps(part, threshold).values()]
        mark = " (product)" if abs(threshold - auto_level.CLEAN_CHROMA) < 1e-9 else ""
        lines.append(f"| {threshold:g}{mark} | " + " | ".join(cells) + " |")
    lines += ["", "Cells: mean / worst dB over the kind's photos."]
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    args = parser.parse_args()
    from calibrate_auto_level import SHARED

    if not (SHARED / "CBSD68").is_dir():
        print(f"skipped: {SHARED} not found")
        return 0
    from bench_real import near_lossless_cases

    cache = json.loads(args.cache.read_text()) if args.cache.exists() else {}
    cache = measure(near_lossless_cases(range(10, 68)), cache, args.cache)
    lines = report(cache, "python benchmarks/near_lossless_rule.py")
    (HERE / "results" / "near_lossless_rule.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
