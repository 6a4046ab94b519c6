"""Fit the automatic level (app/engine/auto_level.py, app/noise/jpeg.py) and report how it holds up.

Data (all decoded to float RGB; a case's "oracle" is FFDNet's best single level for it, found on a
ladder of 27 levels 1.0-137, ratio 1.2; levels above 75 are extrapolation the model still obeys):

* real smartphone pairs, ``../shared/data/real_noise``: SIDD12 images 0, 2, ..., 10 and SIDD1 fit
  the model; images 1, 3, ..., 11 are held out;
* simulated cameras (app.physics.camera_noise.random_pipeline, kinds dslr_jpeg_light, dslr_heavy,
  phone, phone_raw in turn, two per image) on CBSD68 images 24, 26, ..., 66 (fit) and 25, 27, ...,
  67 (held out); images 0-23 are never used here (the JPEG target set is 0-9);
* the older camera presets (iso800/3200/12800 x JPEG 90/lossless) on CBSD68 1, 5, ..., 21,
  AWGN 5/15/25/50 on CBSD68 2, 6, 18, 22, and clean photos saved as JPEG 95 (10-15, 20-42 even);
* JPEG only, for the artefact curve: CBSD68 20, 22, ..., 42 at qualities 5-95.

    python benchmarks/calibrate_auto_level.py [--cache DIR] [--keep-jpeg-curve]   # ~1.5 h on 2 cores the first time

Prints the fitted STAGE_1/STAGE_2 and JPEG constants to paste into the modules, and writes
benchmarks/results/auto_level.md (fit quality on the fitted and held-out parts).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from app.engine import auto_level  # noqa: E402
from app.engine.runner import ModelRunner  # noqa: E402
from app.metrics import psnr  # noqa: E402
from app.noise.estimate import noise_features, sigma_from_features  # noqa: E402
from app.noise.jpeg import ijg_luma_table  # noqa: E402
from app.physics.camera_noise import jpeg_roundtrip, random_pipeline, simulate_camera, simulate_preset  # noqa: E402
from models import load_model  # noqa: E402

SHARED = HERE.parent.parent / "shared" / "data"
LEVELS = [round(1.2**k, 3) for k in range(27)]
JPEG_LEVELS = [0.0] + LEVELS[:20]
KINDS = ("dslr_jpeg_light", "dslr_heavy", "phone", "phone_raw")
RIDGE = 1e-3


def load(path: Path) -> np.ndarray:
    import cv2

    return np.ascontiguousarray(cv2.imread(str(path))[:, :, ::-1]).astype(np.float32) / 255


def jpeg(x: np.ndarray, quality: int, subsampling: int = 2) -> np.ndarray:
    """JPEG round trip; ``subsampling`` in Pillow's codes (2: 4:2:0, 0: 4:4:4)."""
    return jpeg_roundtrip(x, quality, {0: "444", 1: "422", 2: "420"}[subsampling])


class Ladder:
    """FFDNet outputs at a list of levels, cached on disk (float16) by case key."""

    def __init__(self, cache: Path) -> None:
        import torch

        self.cache = cache
        cache.mkdir(parents=True, exist_ok=True)
        self.runner = ModelRunner("ffdnet-color", torch.device("cpu"), "fp32")
        self.scale = load_model("ffdnet-color").levels.scale

    def denoise(self, y: np.ndarray, level: float) -> np.ndarray:
        return np.clip(self.runner(y, self.scale * level / 255.0), 0, 1) if level > 0 else y

    def __call__(self, key: str, y: np.ndarray, levels: list[float]) -> np.ndarray:
        path = self.cache / f"{key}.npy"
        if path.exists():
            stack = np.load(path)
            if len(stack) == len(levels):  # a stack cached for another ladder is rebuilt, not misread
                return stack.astype(np.float32)
        stack = np.stack([self.denoise(y, s) for s in levels]).astype(np.float16)
        np.save(path, stack)
        return stack.astype(np.float32)


def noise_cases(split: str) -> list[tuple[str, str, np.ndarray, np.ndarray, float | None]]:
    """(key, group, noisy, reference, JPEG quality or None) of one split ('fit' or 'held')."""
    cb = sorted((SHARED / "CBSD68").glob("*.png"))
    cases = []
    sidd = SHARED / "real_noise"
    for i in range(12):
        if (i % 2 == 1) == (split == "held"):
            y, x = load(sidd / "SIDD12" / f"NOISY_{i}.png"), load(sidd / "SIDD12" / f"GT_{i}.png")
            if y.shape[0] > 512:
                y, x = y[256:768, 256:768], x[256:768, 256:768]
            cases.append((f"sidd{i}", "sidd", y, x, None))
    if split == "fit":
        cases.append(("sidd1pair", "sidd", load(sidd / "SIDD1" / "noisy.png"), load(sidd / "SIDD1" / "clean.png"), None))
    images, seed, prefix = (range(24, 68, 2), 7, "dev") if split == "fit" else (range(25, 68, 2), 11, "held")
    for i in images:
        clean = load(cb[i])
        for j in range(2):
            rng = np.random.default_rng(seed * 10007 + i * 101 + j)
            pipeline = random_pipeline(rng, KINDS[(i + j) % 4])
            noisy, reference = simulate_camera(clean, pipeline, rng)
            cases.append((f"{prefix}_cam{i}_{j}", KINDS[(i + j) % 4], noisy.astype(np.float32),
                          reference.astype(np.float32), pipeline.jpeg_quality))
    if split == "fit":
        for i in (1, 5, 9, 13, 17, 21):
            x = load(cb[i])
            for preset in ("iso800", "iso3200", "iso12800"):
                for q in (90, None):
                    y = simulate_preset(x, preset, jpeg_quality=q, rng=np.random.default_rng(i * 31 + len(preset) + (q or 1)))
                    cases.append((f"syn{i}_{preset}_{q}", "synthetic", y, x, q))
        for i in (2, 6, 18, 22):
            x = load(cb[i])
            for s in (5, 15, 25, 50):
                y = (x + np.random.default_rng(i * 7 + s).normal(0, s / 255, x.shape)).astype(np.float32)
                cases.append((f"awgn{i}_{s}", "awgn", y, x, None))
        for i in list(range(10, 16)) + list(range(20, 43, 2)):
            x = load(cb[i])
            cases.append((f"clean{i}_q95", "clean", jpeg(x, 95), x, 95.0))
    return cases


def loss_at(curve: list[float], level: float) -> float:
    """PSNR below the case's best, at ``level`` (interpolated in log level)."""
    c = np.asarray(curve)
    logs = np.log(LEVELS)
    value = c[0] if level <= LEVELS[0] else float(np.interp(math.log(min(level, LEVELS[-1])), logs, c))
    if level <= 0:
        value = c[0]  # no denoising: the ladder starts at 1, the closest measured
    return float(c.max() - value)


def snap(level: float) -> int:
    return int(np.argmin(np.abs(np.log(LEVELS) - math.log(max(level, LEVELS[0])))))


def measure(cases, ladder: Ladder) -> dict:
    rows = {}
    for key, group, y, x, quality in cases:
        stack = ladder(key, y, LEVELS)
        feats = noise_features(y)
        crops = auto_level.sample_crops(y)
        if len(crops) != 1:
            raise SystemExit(f"{key}: calibration images are measured whole, got {len(crops)} crops")
        box = (slice(0, crops[0].shape[0]), slice(0, crops[0].shape[1]))
        per_level = [auto_level.pilot_features([y[box]], [stack[j][box]]) for j in range(len(LEVELS))]
        rows[key] = {"group": group, "quality": quality, "curve": [psnr(d, x) for d in stack], "input": psnr(y, x), "pilot": per_level,
                     "estimate": float(sigma_from_features(feats)), "s": (feats.s1, feats.s2, feats.s4)}
        if quality is not None and quality >= auto_level.HIGH_QUALITY_JPEG:
            # The near-lossless rule's faint pilot exactly as the product runs it: the ladder's
            # nearest level (2.07) reads a clean photo's chroma over the threshold (0.615 for 0.597).
            rows[key]["faint"] = auto_level.faint_pilot_chroma(crops, ladder.denoise)
        print(f"  {key}", flush=True)
    return rows


def terms(row: dict, j: int) -> np.ndarray:
    s1, s2, s4 = row["s"]
    return auto_level.model_terms(LEVELS[j], row["pilot"][j], row["estimate"], s1, s2, s4)


def oracle(row: dict) -> float:
    return LEVELS[int(np.argmax(row["curve"]))]


def fit_stage(rows: dict, keys: list[str], js: list[int]) -> np.ndarray:
    X = np.array([terms(rows[k], j) for k, j in zip(keys, js)])
    y = np.log([oracle(rows[k]) for k in keys])
    return np.linalg.solve(X.T @ X + RIDGE * np.eye(X.shape[1]), X.T @ y)


def noisy_keys(rows: dict) -> list[str]:
    return [k for k, r in rows.items() if r["group"] != "clean"]


def predict(rows: dict, key: str, w1: np.ndarray, w2: np.ndarray) -> float:
    """The model's level for a case, mirroring auto_level.choose_level on cached pilots."""
    row = rows[key]
    s1, s2, s4 = row["s"]
    if s2 < auto_level.WHITE_RATIOS[0] * s1 and s4 < auto_level.WHITE_RATIOS[1] * s1:
        return row["estimate"]
    first = auto_level._clamp(math.exp(float(terms(row, snap(auto_level.FIRST_PILOT)) @ w1)))
    return min(auto_level.MAX_LEVEL, math.exp(float(terms(row, snap(first)) @ w2)))


def final_level(row: dict, noise: float, quality: float | None) -> float:
    noise = auto_level.floor_at_estimate(noise, row["estimate"], quality)
    if auto_level.leave_near_lossless_alone(quality, row["s"][0], noise, lambda: row["faint"]):
        noise = 0.0
    level = max(noise, jpeg_artefact(quality))
    return 0.0 if level < auto_level.NOTHING_TO_DO else level


def jpeg_artefact(quality: float | None) -> float:
    from app.noise.jpeg import jpeg_artefact_level

    return jpeg_artefact_level(quality)


def fit_model(rows: dict) -> tuple[np.ndarray, np.ndarray]:
    keys = noisy_keys(rows)
    w1 = fit_stage(rows, keys, [snap(auto_level.FIRST_PILOT)] * len(keys))
    first = {k: auto_level._clamp(math.exp(float(terms(rows[k], snap(auto_level.FIRST_PILOT)) @ w1))) for k in keys}
    w2 = fit_stage(rows, keys, [snap(first[k]) for k in keys])
    return w1, w2


def table(rows: dict, levels: dict[str, float], title: str) -> list[str]:
    lines = [f"| {title} | cases | input | today's auto | new auto | oracle | new auto vs oracle (mean / worst) |",
             "|---|---|---|---|---|---|---|"]
    for group in sorted({r["group"] for r in rows.values()}):
        keys = [k for k, r in rows.items() if r["group"] == group]
        best = [max(rows[k]["curve"]) for k in keys]
        new = [max(rows[k]["curve"]) - loss_at(rows[k]["curve"], levels[k]) for k in keys]
        today = [max(rows[k]["curve"]) - loss_at(rows[k]["curve"], rows[k]["estimate"]) for k in keys]
        inputs = [rows[k]["input"] for k in keys]
        gaps = [b - n for b, n in zip(best, new)]
        lines.append(f"| {group} | {len(keys)} | {np.mean(inputs):.2f} | {np.mean(today):.2f} | {np.mean(new):.2f} | "
                     f"{np.mean(best):.2f} | {np.mean(gaps):.2f} / {max(gaps):.2f} |")
    return lines


def fit_jpeg(ladder: Ladder) -> tuple[float, float]:
    cb = sorted((SHARED / "CBSD68").glob("*.png"))
    logs, targets = [], []
    for i in range(20, 43, 2):
        x = load(cb[i])
        for q in (5, 10, 15, 20, 30, 40, 60, 80, 90):
            for sub in (2, 0) if q in (10, 30, 60, 90) else (2,):
                stack = ladder(f"jcal{i}_q{q}_s{sub}", jpeg(x, q, sub), JPEG_LEVELS)
                best = JPEG_LEVELS[int(np.argmax([psnr(d, x) for d in stack]))]
                if best > 0:
                    logs.append(math.log(float(np.mean(ijg_luma_table(q)))))
                    targets.append(math.log(best))
    power, offset = np.polyfit(logs, targets, 1)
    return float(math.exp(offset)), float(power)


def ladder_from_arguments(description: str, *, calibration: bool = False) -> tuple[Ladder, argparse.Namespace]:
    """The --cache option shared by the calibration and bench_real (same cases, same keys)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--cache", type=Path, default=Path("/tmp/photomend_calibrate_auto_level"))
    if calibration:
        parser.add_argument("--keep-jpeg-curve", action="store_true",
                            help="report with the module's JPEG artefact curve instead of refitting it (saves ~20 min)")
    args = parser.parse_args()
    if not (SHARED / "real_noise").is_dir():
        raise SystemExit(f"needs {SHARED}")
    return Ladder(args.cache), args


def main() -> int:
    ladder, args = ladder_from_arguments(__doc__.splitlines()[0], calibration=True)
    if args.keep_jpeg_curve:
        from app.noise.jpeg import ARTEFACT_POWER, ARTEFACT_SCALE

        scale, power = ARTEFACT_SCALE, ARTEFACT_POWER
    else:
        scale, power = fit_jpeg(ladder)
    print(f"JPEG: ARTEFACT_SCALE, ARTEFACT_POWER = {scale:.3f}, {power:.3f}")
    fit_rows = measure(noise_cases("fit"), ladder)
    held_rows = measure(noise_cases("held"), ladder)
    w1, w2 = fit_model(fit_rows)
    print("STAGE_1 = (" + ", ".join(f"{v:.4f}" for v in w1) + ")")
    print("STAGE_2 = (" + ", ".join(f"{v:.4f}" for v in w2) + ")")
    fit_levels = {k: final_level(r, predict(fit_rows, k, w1, w2), r["quality"]) for k, r in fit_rows.items()}
    held_levels = {k: final_level(r, predict(held_rows, k, w1, w2), r["quality"]) for k, r in held_rows.items()}
    lines = ["## Automatic level: fit", "",
             f"Machine: {platform.processor() or platform.machine()}, 2 cores. Command: "
             f"`python benchmarks/calibrate_auto_level.py{' --keep-jpeg-curve' if args.keep_jpeg_curve else ''}`.",
             "PSNR in dB (mean per group); 'oracle' = each case's best single FFDNet level; 'today's auto' = the",
             "classical noise estimate used directly (the previous release). Fit and held-out parts are disjoint.",
             "", *table(fit_rows, fit_levels, "fitted part"), "", *table(held_rows, held_levels, "held-out part"),
             "", f"JPEG artefact curve: level = {scale:.3f} x (mean luminance step)^{power:.3f}, tapered to 0 at quality 95."]
    (HERE / "results" / "auto_level.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    json.dump({"STAGE_1": list(w1), "STAGE_2": list(w2), "jpeg": [scale, power]}, open(ladder.cache / "fit.json", "w"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
