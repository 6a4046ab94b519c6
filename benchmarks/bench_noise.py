"""Benchmark for automatic noise estimation ("--noise-level auto") and the camera-noise pipeline.

Run: ``.venv/bin/python benchmarks/bench_noise.py`` (about 5-10 minutes on an idle 2-core CPU). Writes
``benchmarks/results/noise.md``. Options: ``--images N`` camera-noise test images (default 12),
``--full`` adds lossless (no JPEG) camera cases, ``--calibrate`` refits the correlated-noise
model on the tuning half of CBSD68 (slow: ~100 images x presets x ~11 FFDNet runs; prints the
dict to paste into ``app/noise/estimate.py``).

Splits (CBSD68 sorted by name): tuning = images 0, 4, 8, ... (used to fit the calibration);
test = images 2, 6, 10, ... (reported here). AWGN accuracy uses all 68.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from app.metrics import psnr  # noqa: E402
from app.noise.estimate import (  # noqa: E402
    CALIBRATION,
    estimate_noise,
    noise_features,
    sigma_from_features,
)
from app.physics.camera_noise import CAMERA_PRESETS, simulate_camera_noise  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
RESULTS = ROOT / "benchmarks" / "results" / "noise.md"
AWGN_SIGMAS = (5, 10, 15, 25, 35, 50)


def load_rgb(path: Path) -> np.ndarray:
    """Float32 RGB in [0, 1]; grey files come back as three equal channels."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(path)
    return np.ascontiguousarray(image[..., ::-1]).astype(np.float32) / 255.0


class Denoiser:
    """FFDNet colour on the CPU, called directly (images here are at most 0.15 MP)."""

    def __init__(self) -> None:
        import torch

        from models import load_model

        self.torch = torch
        self.net = load_model("ffdnet-color").module
        self.calls = 0

    def __call__(self, rgb: np.ndarray, sigma: float | np.ndarray) -> np.ndarray:
        """Denoise with a scalar level or a full-resolution HxW map (0-255 scale)."""
        torch = self.torch
        self.calls += 1
        x = torch.from_numpy(np.ascontiguousarray(rgb.transpose(2, 0, 1)))[None]
        if isinstance(sigma, np.ndarray):
            s = torch.from_numpy(np.ascontiguousarray(sigma / 255.0, dtype=np.float32))[None, None]
        else:
            s = torch.as_tensor(float(sigma) / 255.0, dtype=torch.float32)
        with torch.inference_mode():
            return self.net(x, s)[0].clamp(0, 1).numpy().transpose(1, 2, 0)


def best_fixed_sigma(noisy: np.ndarray, clean: np.ndarray, denoise: Denoiser, start: float) -> tuple[float, float, dict]:
    """Oracle: the fixed sigma with the highest PSNR against the clean image.

    Walks a 1.25x ladder from ``start`` uphill, then refines with a parabola in log-sigma through
    the best three rungs (PSNR is smooth and unimodal in log-sigma). Returns (sigma, psnr, tried).
    """
    tried: dict[float, float] = {}

    def score(sigma: float) -> float:
        sigma = float(np.clip(sigma, 0.5, 100.0))
        key = round(sigma, 3)
        if key not in tried:
            tried[key] = psnr(denoise(noisy, key), clean)
        return tried[key]

    ratio = 1.25
    centre = max(start, 1.0)
    down, mid, up = score(centre / ratio), score(centre), score(centre * ratio)
    step = ratio if up > down else 1.0 / ratio
    if max(down, up) > mid:
        centre *= step
        while score(centre * step) > score(centre) and 0.6 < centre < 90:
            centre *= step
    # parabola through log-sigma (-1, 0, +1) rungs around the best one
    y0, y1, y2 = score(centre / ratio), score(centre), score(centre * ratio)
    denom = y0 - 2 * y1 + y2
    if denom < 0:
        offset = float(np.clip(0.5 * (y0 - y2) / denom, -1.0, 1.0))
        score(centre * ratio**offset)
    sigma, value = max(tried.items(), key=lambda item: item[1])
    return sigma, value, tried


def machine() -> str:
    """One line describing where the numbers came from."""
    return f"{platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}"


def awgn_section(lines: list[str]) -> None:
    """AWGN: estimated vs true sigma on all CBSD68 (colour) and Set12 (grey) images."""
    rng = np.random.default_rng(2024)
    rows = []
    files = sorted((DATA / "CBSD68").glob("*.png"))
    t0 = time.perf_counter()
    errors: dict[int, list[float]] = {s: [] for s in AWGN_SIGMAS}
    clipped: dict[int, list[float]] = {s: [] for s in AWGN_SIGMAS}
    clean_levels = []
    for path in files:
        clean = load_rgb(path)
        clean_levels.append(estimate_noise(clean).sigma)
        for sigma in AWGN_SIGMAS:
            noisy = clean + rng.normal(0.0, sigma / 255.0, clean.shape).astype(np.float32)
            errors[sigma].append(estimate_noise(noisy).sigma / sigma - 1.0)
            clipped[sigma].append(estimate_noise(np.clip(noisy, 0.0, 1.0)).sigma / sigma - 1.0)
    elapsed = time.perf_counter() - t0
    lines += [
        "## AWGN: estimated vs true sigma",
        "",
        f"CBSD68, all {len(files)} images (481x321), Gaussian noise added in float (and, second block, clipped to [0, 1]",
        "as an 8-bit file would be). Error = estimate / true - 1.",
        "",
        "| sigma | mean abs error | max abs error | mean signed | within 10% | clipped: mean abs | clipped: max abs |",
        "|---|---|---|---|---|---|---|",
    ]
    for sigma in AWGN_SIGMAS:
        e, c = np.array(errors[sigma]), np.array(clipped[sigma])
        lines.append(
            f"| {sigma} | {100 * np.abs(e).mean():.1f}% | {100 * np.abs(e).max():.1f}% | {100 * e.mean():+.1f}% | "
            f"{int(np.sum(np.abs(e) <= 0.1))}/{len(e)} | {100 * np.abs(c).mean():.1f}% | {100 * np.abs(c).max():.1f}% |"
        )
        rows.append((sigma, np.abs(e).mean(), np.abs(e).max()))
    cl = np.array(clean_levels)
    lines += [
        "",
        f"({len(files) * len(AWGN_SIGMAS) * 2 + len(files)} estimates in {elapsed:.0f} s.)",
        "",
        f"Clean CBSD68 images (no noise added): median {np.median(cl):.2f}, 90th percentile {np.percentile(cl, 90):.2f}, "
        f"max {cl.max():.2f}; {int(np.sum(cl < 3))}/{len(cl)} below 3. The images with the highest values "
        "(e.g. " + ", ".join(f"{files[i].stem} {cl[i]:.1f}" for i in np.argsort(cl)[-3:][::-1]) + ") carry visible "
        "film grain: correlated noise the estimator cannot tell apart from camera noise.",
        "",
    ]
    print(f"AWGN done in {elapsed:.0f} s: " + ", ".join(f"sigma {s}: mean {100 * m:.1f}% max {100 * x:.1f}%" for s, m, x in rows))

    # Grey: Set12 as three equal channels, noise either per channel (what FFDNet colour sees when
    # a grey photo is loaded and noise is added afterwards) or identical in all three (a noisy grey file).
    set12 = sorted((DATA / "Set12").glob("*.png"))
    lines += [
        f"Set12 ({len(set12)} grey images, as three equal channels): per-channel noise (colour path) | identical noise in all channels (grey path, weak-texture PCA):",
        "",
        "| sigma | per-channel: mean abs | max abs | identical: mean abs | max abs |",
        "|---|---|---|---|---|",
    ]
    for sigma in AWGN_SIGMAS:
        per, same = [], []
        for path in set12:
            grey = load_rgb(path)
            per.append(estimate_noise(grey + rng.normal(0, sigma / 255.0, grey.shape).astype(np.float32)).sigma / sigma - 1)
            n1 = rng.normal(0, sigma / 255.0, grey.shape[:2] + (1,)).astype(np.float32)
            same.append(estimate_noise(grey + n1).sigma / sigma - 1)
        per_a, same_a = np.abs(per), np.abs(same)
        lines.append(f"| {sigma} | {100 * per_a.mean():.1f}% | {100 * per_a.max():.1f}% | {100 * same_a.mean():.1f}% | {100 * same_a.max():.1f}% |")
    lines.append("")


def camera_section(lines: list[str], n_images: int, full: bool) -> None:
    """Camera noise: auto vs white estimate vs per-image best fixed sigma, in PSNR."""
    denoise = Denoiser()
    files = sorted((DATA / "CBSD68").glob("*.png"))[2::4][:n_images]
    qualities: list[int | None] = [90, None] if full else [90]
    t0 = time.perf_counter()
    cases = []
    for index, path in enumerate(files):
        clean = load_rgb(path)
        for p_index, (preset, params) in enumerate(CAMERA_PRESETS.items()):
            for quality in qualities:
                rng = np.random.default_rng(10_000 + 100 * index + 10 * p_index + (quality is None))
                noisy = simulate_camera_noise(clean, shot=params.shot, read=params.read, jpeg_quality=quality, rng=rng)
                est = estimate_noise(noisy, with_map=True)
                best_sigma, best_psnr, tried = best_fixed_sigma(noisy, clean, denoise, est.sigma)
                auto_psnr = tried.get(round(float(np.clip(est.sigma, 0.5, 100.0)), 3))
                if auto_psnr is None:
                    auto_psnr = psnr(denoise(noisy, est.sigma), clean)
                white_psnr = psnr(denoise(noisy, max(est.white_sigma, 0.0)), clean)
                map_psnr = psnr(denoise(noisy, est.noise_map), clean) if est.noise_map is not None else float("nan")
                case = dict(
                    image=path.stem, preset=preset, jpeg=quality, noisy=psnr(noisy, clean), best=best_sigma, auto=est.sigma,
                    white=est.white_sigma, p_best=best_psnr, p_auto=auto_psnr, p_white=white_psnr, p_map=map_psnr,
                )
                cases.append(case)
                print(
                    f"  {path.stem} {preset} q={quality}: best {best_sigma:5.1f} ({best_psnr:.2f})  auto {est.sigma:5.1f} "
                    f"({auto_psnr:.2f})  white {est.white_sigma:4.1f} ({white_psnr:.2f})  map ({map_psnr:.2f})",
                    flush=True,
                )
    elapsed = time.perf_counter() - t0
    lines += [
        "## Camera noise: auto vs the best fixed sigma",
        "",
        "Synthetic camera pipeline (`app/physics/camera_noise.py`): sRGB -> linear -> inverse colour matrix and white balance ->",
        "RGGB mosaic -> Poisson shot + Gaussian read noise -> bilinear demosaic -> white balance, colour matrix -> sRGB gamma -> 8 bit",
        "-> JPEG (OpenCV, 4:2:0).",
        f"Test images: CBSD68 images 2, 6, 10, ... in name order, first {len(files)} ({', '.join(p.stem for p in files)});",
        "the calibration was fitted on images 0, 4, 8, ... only.",
        "`best` = fixed sigma with the highest PSNR (1.25x ladder + parabolic refinement, FFDNet colour); `auto` = `estimate_noise().sigma`;",
        "`white` = plain white-noise estimate (Chen et al. patch PCA, `white_sigma`); `map` = `estimate_noise(with_map=True).noise_map`.",
        "",
        "| preset | JPEG | cases | noisy PSNR | best sigma (mean) | auto sigma | white sigma | best PSNR | auto gap dB (mean / max) | white gap dB (mean / max) | map vs auto dB (mean, wins) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for preset in CAMERA_PRESETS:
        for quality in qualities:
            group = [c for c in cases if c["preset"] == preset and c["jpeg"] == quality]
            gap = np.array([c["p_best"] - c["p_auto"] for c in group])
            wgap = np.array([c["p_best"] - c["p_white"] for c in group])
            mgain = np.array([c["p_map"] - c["p_auto"] for c in group])
            lines.append(
                f"| {preset} | {quality or 'none'} | {len(group)} | {np.mean([c['noisy'] for c in group]):.2f} | "
                f"{np.mean([c['best'] for c in group]):.1f} | {np.mean([c['auto'] for c in group]):.1f} | "
                f"{np.mean([c['white'] for c in group]):.1f} | {np.mean([c['p_best'] for c in group]):.2f} | "
                f"{gap.mean():.2f} / {gap.max():.2f} | {wgap.mean():.2f} / {wgap.max():.2f} | "
                f"{mgain.mean():+.3f}, {int(np.sum(mgain > 0))}/{len(mgain)} |"
            )
    gap = np.array([c["p_best"] - c["p_auto"] for c in cases])
    wgap = np.array([c["p_best"] - c["p_white"] for c in cases])
    mgain = np.array([c["p_map"] - c["p_auto"] for c in cases])
    ratio = np.array([c["auto"] / c["best"] for c in cases])
    lines += [
        f"| **all** | | {len(cases)} | | | | | | **{gap.mean():.2f}** / {gap.max():.2f} | **{wgap.mean():.2f}** / {wgap.max():.2f} | {mgain.mean():+.3f}, {int(np.sum(mgain > 0))}/{len(mgain)} |",
        "",
        f"auto / best sigma: median {np.median(ratio):.2f}, 10-90% {np.percentile(ratio, 10):.2f}-{np.percentile(ratio, 90):.2f}. "
        f"({denoise.calls} FFDNet runs in {elapsed:.0f} s.)",
        "",
        "Per case:",
        "",
        "| image | preset | JPEG | best sigma | auto | white | best PSNR | auto PSNR | white PSNR | map PSNR |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cases:
        lines.append(
            f"| {c['image']} | {c['preset']} | {c['jpeg'] or 'none'} | {c['best']:.1f} | {c['auto']:.1f} | {c['white']:.1f} | "
            f"{c['p_best']:.2f} | {c['p_auto']:.2f} | {c['p_white']:.2f} | {c['p_map']:.2f} |"
        )
    lines.append("")
    print(f"camera: auto gap {gap.mean():.2f} dB (max {gap.max():.2f}), white gap {wgap.mean():.2f} dB, map {mgain.mean():+.3f} dB, {elapsed:.0f} s")


def timing_section(lines: list[str]) -> None:
    """estimate_noise on a 12 MP camera-noise photo (median of 3 runs, after one warm-up)."""
    clean = load_rgb(sorted((DATA / "CBSD68").glob("*.png"))[0])
    big = np.clip(cv2.resize(clean, (4000, 3000), interpolation=cv2.INTER_CUBIC), 0.0, 1.0)
    params = CAMERA_PRESETS["iso3200"]
    noisy = simulate_camera_noise(big, shot=params.shot, read=params.read, rng=np.random.default_rng(0))
    results = {}
    for with_map in (False, True):
        estimate_noise(noisy, with_map=with_map)
        runs, cpu = [], []
        for _ in range(3):
            t0, c0 = time.perf_counter(), time.process_time()
            est = estimate_noise(noisy, with_map=with_map)
            runs.append(time.perf_counter() - t0)
            cpu.append(time.process_time() - c0)
        results[with_map] = (float(np.median(runs)), float(np.median(cpu)), est)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines += [
        "## Speed",
        "",
        f"`estimate_noise` on a 4000x3000 (12 MP) iso3200 JPEG photo (sigma {results[False][2].sigma:.1f}): "
        f"wall {results[False][0] * 1000:.0f} ms, CPU {results[False][1] * 1000:.0f} ms; with the map: wall "
        f"{results[True][0] * 1000:.0f} ms, CPU {results[True][1] * 1000:.0f} ms. Median of 3 runs. 1-minute load "
        f"average during the run {load:.1f} on {os.cpu_count()} CPUs: when the machine is shared, wall time is several "
        "times the CPU time, which is what an idle machine would take (the estimate is single-threaded numpy).",
        "",
    ]
    print(f"timing: wall {results[False][0] * 1000:.0f} ms (CPU {results[False][1] * 1000:.0f}), with map wall {results[True][0] * 1000:.0f} ms (CPU {results[True][1] * 1000:.0f})")


def calibrate(n_images: int) -> None:
    """Refit a, b, c of the correlated model on the tuning split (floor fixed) and print them.

    Per case: PSNR on an 11-point 1.2x sigma grid around the current estimate, a cubic spline in
    log-sigma; start from least squares on log(best sigma), then minimise the mean PSNR loss.
    """
    from scipy.interpolate import CubicSpline
    from scipy.optimize import minimize

    denoise = Denoiser()
    files = sorted((DATA / "CBSD68").glob("*.png"))[0::4][:n_images]
    floor = CALIBRATION["floor"]
    data = []
    for index, path in enumerate(files):
        clean = load_rgb(path)
        for p_index, params in enumerate(CAMERA_PRESETS.values()):
            for quality in (90, None):
                rng = np.random.default_rng(1000 * index + 10 * p_index + (quality is None))
                noisy = simulate_camera_noise(clean, shot=params.shot, read=params.read, jpeg_quality=quality, rng=rng)
                features = noise_features(noisy)
                centre = max(sigma_from_features(features), 1.0)
                grid = centre * 1.2 ** np.arange(-5, 6)
                values = [psnr(denoise(noisy, s), clean) for s in grid]
                curve = CubicSpline(np.log(grid), values)
                fine = np.linspace(np.log(grid[0]), np.log(grid[-1]), 400)
                best = float(np.exp(fine[np.argmax(curve(fine))]))
                data.append((features, curve, float(np.max(curve(fine))), best, grid))
                print(f"  {path.stem} q={quality}: best {best:.1f}", flush=True)

    def mean_loss(x: np.ndarray) -> float:
        cal = {"a": x[0], "b": x[1], "c": x[2], "floor": floor}
        losses = []
        for features, curve, top, _, grid in data:
            s = np.clip(sigma_from_features(features, cal), grid[0], grid[-1])
            losses.append(top - float(curve(np.log(s))))
        return float(np.mean(losses))

    # least squares on log(best sigma) for a start, then minimise the mean PSNR loss directly
    rows, target = [], []
    for features, _, _, best, _ in data:
        coarse = np.sqrt(max(features.s4**2 - floor**2, 0.25))
        rows.append([1.0, np.log(coarse), np.log(max(features.texture, 1e-3) / coarse)])
        target.append(np.log(best))
    start = np.linalg.lstsq(np.array(rows), np.array(target), rcond=None)[0]
    result = minimize(mean_loss, start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-4})
    print(f"mean loss {mean_loss(start):.3f} -> {result.fun:.3f} dB")
    print("CALIBRATION =", {"a": round(result.x[0], 3), "b": round(result.x[1], 3), "c": round(result.x[2], 3), "floor": floor})


def main() -> None:
    """Run all sections, print and write the markdown report."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=12, help="camera-noise images (max 17; with --calibrate: tuning images)")
    parser.add_argument("--full", action="store_true", help="also lossless (no JPEG) camera cases")
    parser.add_argument("--calibrate", action="store_true", help="refit the calibration on the tuning split (slow)")
    args = parser.parse_args()
    if not (DATA / "CBSD68").is_dir():
        sys.exit(f"test images not found under {DATA}")
    if args.calibrate:
        calibrate(args.images if "--images" in sys.argv else 17)
        return
    t0 = time.perf_counter()
    lines = [
        "# Noise estimation benchmark",
        "",
        f"- Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- Machine: {machine()}",
        f"- Command: `.venv/bin/python benchmarks/bench_noise.py{' ' + ' '.join(sys.argv[1:]) if sys.argv[1:] else ''}`",
        f"- Calibration in use: `{CALIBRATION}`",
        "",
    ]
    awgn_section(lines)
    camera_section(lines, args.images, args.full)
    timing_section(lines)
    lines.append(f"Total run time {time.perf_counter() - t0:.0f} s.")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
