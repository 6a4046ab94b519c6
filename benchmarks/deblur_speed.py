"""Deep deblurring's cost in denoiser passes: this checkout against an older one, side by side.

Each round runs one child process per checkout on the same photo: it warms up (traces, int8
calibration), then times the Denoise operation (automatic level, as the user runs it), one
plain model pass, and Deblur 'deep' with the true kernel and automatic noise level, and reports
the ratios. Rounds alternate the checkouts so both share the machine's load.

    python benchmarks/deblur_speed.py --baseline /tmp/old-checkout --rounds 3

Writes ``benchmarks/results/deblur_speed.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "deblur_speed.md"
DATA_ROOT = ROOT.parent / "shared" / "data"

CHILD = r"""
import json, sys, time
import numpy as np, cv2, torch
torch.set_num_threads(int(sys.argv[2]))
from app.engine.denoise import Denoiser
from app.engine.deblur import Deblurrer
from app.engine.runner import ModelRunner
from app.physics.blur import blur
from app.physics.kernels import as_kernel
from app.metrics import psnr
data = sys.argv[1]
clean = cv2.imread(data + "/CBSD68/101085.png")[:, :, ::-1].astype(np.float32) / 255
clean = cv2.resize(clean, (clean.shape[1] * 2, clean.shape[0] * 2), interpolation=cv2.INTER_CUBIC)
kernel = as_kernel(np.load(data + "/kernels/Levin09_04.npy"))
rng = np.random.default_rng(7)
observed = blur(clean, kernel, mode="valid")
observed = np.clip(observed + rng.normal(0, 2.55 / 255, observed.shape), 0, 1).astype(np.float32)
reach = kernel.shape[0] // 2
truth = clean[reach:-reach, reach:-reach]
denoiser = Denoiser(device="cpu")
fast = sys.argv[3]
deblurrer = Deblurrer(device="cpu", fast_precision=fast) if fast != "-" else Deblurrer(device="cpu")
runner = ModelRunner("ffdnet-color", torch.device("cpu"), "fp32")
def timed(fn):
    t = time.perf_counter(); out = fn(); return time.perf_counter() - t, out
estimate = getattr(deblurrer, "estimate_seconds", None)
before = estimate(observed.shape, kernel) if estimate else None
timed(lambda: denoiser.denoise(observed)); timed(lambda: runner(observed, 0.01))
warm, _ = timed(lambda: deblurrer.deblur(observed, kernel))
after = estimate(observed.shape, kernel) if estimate else None
den, _ = timed(lambda: denoiser.denoise(observed))
one, _ = timed(lambda: runner(observed, 0.01))
deep, result = timed(lambda: deblurrer.deblur(observed, kernel))
fast_used = getattr(deblurrer, "fast_runner", None)
fast_used = fast_used().precision if fast_used else "fp32"
print(json.dumps({"fast": fast_used, "denoise": den, "pass": one, "deep": deep, "first_deep": warm, "estimate_cold": before,
                  "estimate_warm": after, "psnr": psnr(np.round(result.pixels * 255) / 255, truth),
                  "shape": list(observed.shape)}))
"""


def run_child(checkout: Path, threads: int, fast: str = "-") -> dict:
    env = dict(os.environ, PYTHONPATH=str(checkout))
    done = subprocess.run([sys.executable, "-c", CHILD, str(DATA_ROOT), str(threads), fast], cwd=checkout, env=env,
                          capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="", help="an older checkout to compare against (e.g. a git worktree)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fast", default="auto", help="also run this checkout with these fast-prior precisions "
                        "(comma list of auto, int8, bf16, off)")
    parser.add_argument("--baseline-fast", default="-", help="the baseline's fast-prior precision (default: its own default)")
    args = parser.parse_args()
    if not (DATA_ROOT / "CBSD68").is_dir():
        print(f"skipped: {DATA_ROOT} not found")
        return 0
    checkouts = {f"this checkout, fast prior {fast}": (ROOT, fast) for fast in args.fast.split(",")}
    if args.baseline:
        label = "baseline" if args.baseline_fast == "-" else f"baseline, fast prior {args.baseline_fast}"
        checkouts = {label: (Path(args.baseline).resolve(), args.baseline_fast), **checkouts}
    rows: dict[str, list[dict]] = {name: [] for name in checkouts}
    started = time.time()
    for round_index in range(args.rounds):
        for name, (path, fast) in checkouts.items():
            rows[name].append(run_child(path, args.threads, fast))
            print(f"round {round_index + 1} {name}: {rows[name][-1]}", flush=True)
    write_report(rows, args, time.time() - started)
    return 0


def write_report(rows: dict[str, list[dict]], args: argparse.Namespace, seconds: float) -> None:
    import torch

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in rows[name])

    shape = next(iter(rows.values()))[0]["shape"]
    lines = [
        "## Deep deblurring speed in denoiser passes",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{args.threads} threads; load average at the end {os.getloadavg()[0]:.1f} (shared machine).",
        f"Command: `python benchmarks/deblur_speed.py{' --baseline ' + args.baseline if args.baseline else ''} "
        f"--rounds {args.rounds} --fast {args.fast}"
        f"{' --baseline-fast ' + args.baseline_fast if args.baseline_fast != '-' else ''}` "
        "(baseline: a git worktree of the commit before this change); "
        f"{seconds / 60:.1f} min.",
        f"Photo: CBSD68 101085 upscaled 2x, valid-blurred by Levin kernel 4 (27x27), AWGN 2.55: "
        f"{shape[1]}x{shape[0]} ({shape[0] * shape[1] / 1e6:.2f} MP). Each checkout runs in its own process: warm-up "
        "(traces, int8 calibration), then Denoise (automatic level), one plain fp32 model pass, and Deblur 'deep' "
        "(true kernel, automatic noise level), timed; rounds alternate the checkouts. Medians of the rounds.",
        "",
        "| checkout | Denoise s | model pass s | Deblur deep s | deep / Denoise | deep / model pass | PSNR dB | "
        "estimate before any run s | estimate after one run s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name in rows:
        deep, den, one = median(name, "deep"), median(name, "denoise"), median(name, "pass")
        cold = [r["estimate_cold"] for r in rows[name] if r["estimate_cold"] is not None]
        warm = [r["estimate_warm"] for r in rows[name] if r["estimate_warm"] is not None]
        lines.append(
            f"| {name} | {den:.2f} | {one:.2f} | {deep:.2f} | {deep / den:.2f} | {deep / one:.2f} | "
            f"{median(name, 'psnr'):.2f} | {statistics.median(cold) if cold else float('nan'):.1f} | "
            f"{statistics.median(warm) if warm else float('nan'):.1f} |")
    names = list(rows)
    if args.baseline:
        lines += [""] + [f"Deblur deep, {name} vs baseline, same rounds: "
                         f"{median(names[0], 'deep') / median(name, 'deep'):.2f}x faster "
                         f"(the fast prior ran in {rows[name][0]['fast']})." for name in names[1:]]
    lines += ["", "Per round (seconds, deep / Denoise):", "", "| round | " + " | ".join(rows) + " |",
              "|---|" + "---|" * len(rows)]
    for index in range(args.rounds):
        cells = [f"{rows[n][index]['deep']:.1f} s ({rows[n][index]['deep'] / rows[n][index]['denoise']:.2f})"
                 for n in rows]
        lines.append(f"| {index + 1} | " + " | ".join(cells) + " |")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
