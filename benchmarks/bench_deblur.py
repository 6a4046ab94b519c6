"""Non-blind deblurring on CBSD68 x Levin's 8 kernels: Photomend 'deep' and 'wiener' vs Richardson-Lucy.

Protocol: the first N CBSD68 images (sorted by name) are blurred with each Levin09 kernel by *valid*
convolution (no boundary assumption: the photo is the part of the blurred scene the sensor saw,
the ground truth is the clean image cropped by ks // 2 on every side), then white Gaussian noise
of sigma 2.55 or 7.65 (0-255 scale) is added, seeded per image/kernel/sigma, not clipped. Every
method gets the true kernel and the true noise level. Outputs are clipped to [0, 1] and rounded
to 8 bits; PSNR is over the whole valid crop (no border shaving), averaged over images x kernels.

Methods:
* deep: Photomend's default (plug-and-play HQS, FFDNet prior, masked data term on a padded grid);
* wiener: Photomend's Wiener/Tikhonov at its default balance, and at the best balance of a small
  grid (chosen per noise level on the mean PSNR, i.e. an oracle for the baseline);
* wiener-plain: the Wiener filter as textbooks and scikit-image give it (periodic FFT, Laplacian
  regulariser), at the best balance of a grid per noise level: the baseline of the issue's
  "5 dB above Wiener with its best regularisation" target;
* Richardson-Lucy: skimage.restoration.richardson_lucy's iteration on the edge-padded photo, per
  channel (run by FFT, checked against skimage), the iteration count the best of a small grid.
* ablations (``--methods deep-periodic,deep-refresh,deep-x2,deep-12``, first ``--ablation-images``
  images): variants of 'deep' against the default on the same cases.

The run is resumable: results go to a cache file (default in the temp folder) and
``--max-minutes`` stops cleanly, so a slow machine can do it in pieces; the report is written from
the cache each time.

Run:  .venv/bin/python benchmarks/bench_deblur.py [--images 10] [--max-minutes 9]
Writes benchmarks/results/deblur.md. Skips (exit 0) when the shared data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

DATA_ROOT = REPO_ROOT.parent / "shared" / "data"
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "deblur.md"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "photomend_bench_deblur"

SIGMAS: tuple[float, ...] = (2.55, 7.65)
TARGETS = {2.55: 32.2, 7.65: 28.9}  # deep mean PSNR (dB) required by the issue
SPEED_LOSS = 0.1  # dB deep may lose for the 5-pass speed budget (issue 15)
WIENER_MARGIN = 5.0  # deep must beat the Wiener filter at its best regularisation by this much
# The margin is judged against the classical Wiener filter (the textbook method the issue names, with
# its regularisation tuned per noise level); Photomend's own `wiener` solves the same masked border
# model as `deep` and is reported beside it, not used as the baseline (see the report's note).
WIENER_GRID: tuple[float, ...] = (30.0, 60.0, 120.0)  # balance = c * sigma^2 (0-1 scale)
from app.algorithms.wiener import BALANCE_PER_VARIANCE as DEFAULT_WIENER  # noqa: E402 - after sys.path
from app.metrics import psnr  # noqa: E402

assert DEFAULT_WIENER in WIENER_GRID
RL_GRID: tuple[int, ...] = (5, 10, 20, 40)
# Textbook Wiener (scikit-image `restoration.wiener`: periodic boundary, Laplacian regulariser), for context:
# Photomend's own `wiener` already handles the borders like `deep` and is a much stronger baseline.
PLAIN_WIENER_GRID: tuple[float, ...] = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
SEED = 20240611
ABLATIONS: dict[str, tuple[str, dict]] = {
    # name: (description, DpirSettings changes); run on the first --ablation-images images only
    "deep-periodic": ("plain padding: smooth periodic fill, band never updated", {"boundary": "periodic"}),
    "deep-refresh": ("band refreshed once per iteration from k * z (no CG)", {"boundary": "refresh", "refresh_steps": 1}),
    "deep-x2": ("x2 flip ensemble in every iteration (16 denoiser calls)", {"ensemble": 2, "ensemble_last": 8}),
    "deep-12": ("12 iterations", {"iterations": 12}),
    "deep-exact": ("the exact (fp32) prior in every iteration: the default below 0.5 MP", {"fast_iterations": 0}),
    "deep-before": ("the default before the 5-pass budget: 8 iterations, the first at full resolution, CG tolerance 0.01",
                    {"iterations": 8, "half_iterations": 0, "cg_tolerance": 0.01}),
}
FAST_PRECISION = ["auto"]  # set from --fast-precision; part of the deep cache labels
FINGERPRINT = json.dumps({"seed": SEED, "protocol": 4})


def _load_rgb(path: Path) -> np.ndarray:
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(data[:, :, ::-1]).astype(np.float32) / 255.0


def make_case(image_path: Path, kernel: np.ndarray, sigma: float, image_index: int, kernel_index: int):
    """(observed, truth): valid blur of the clean image plus seeded AWGN; truth = the matching centre crop."""
    from app.physics.blur import blur

    clean = _load_rgb(image_path)
    reach = kernel.shape[0] // 2
    observed = blur(clean, kernel, mode="valid")
    rng = np.random.default_rng([SEED, image_index, kernel_index, int(round(sigma * 100))])
    observed = (observed + rng.normal(0.0, sigma / 255.0, observed.shape)).astype(np.float32)
    return observed, clean[reach:-reach, reach:-reach]


def _edge_padded(observed: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The photo edge-padded by the kernel reach and kept positive, as Richardson-Lucy needs."""
    reach = kernel.shape[0] // 2
    return np.pad(np.clip(observed, 1e-4, 1.0), ((reach, reach), (reach, reach), (0, 0)), mode="edge")


def richardson_lucy_skimage(observed: np.ndarray, kernel: np.ndarray, iterations: int) -> np.ndarray:
    """skimage.restoration.richardson_lucy per channel on the edge-padded photo, cropped back."""
    from skimage.restoration import richardson_lucy as skimage_rl

    reach = kernel.shape[0] // 2
    padded = _edge_padded(observed, kernel)
    out = np.empty_like(padded)
    for channel in range(padded.shape[2]):
        out[:, :, channel] = skimage_rl(padded[:, :, channel], kernel, num_iter=iterations, clip=False)
    return out[reach:-reach, reach:-reach]


def richardson_lucy_sweep(observed: np.ndarray, kernel: np.ndarray, counts: tuple[int, ...]):
    """skimage's Richardson-Lucy iteration, with its 'same' zero-boundary convolutions done by FFT.

    One run yields the result after every count in ``counts`` (skimage's function restarts from
    scratch for each count and convolves directly: ~15x slower here). ``check_richardson_lucy``
    verifies this matches skimage. Yields (count, result, seconds so far).
    """
    from app.physics.blur import good_fft_size

    reach = kernel.shape[0] // 2
    padded = _edge_padded(observed, kernel).astype(np.float32)
    height, width = padded.shape[:2]
    side = kernel.shape[0]
    rows, cols = good_fft_size(height + side - 1), good_fft_size(width + side - 1)
    otf = np.fft.rfft2(kernel.astype(np.float32), s=(rows, cols))
    otf_mirror = np.fft.rfft2(np.ascontiguousarray(kernel[::-1, ::-1], dtype=np.float32), s=(rows, cols))

    def same(image: np.ndarray, transfer: np.ndarray) -> np.ndarray:
        full = np.fft.irfft2(np.fft.rfft2(image, s=(rows, cols)) * transfer, s=(rows, cols))
        return full[reach : reach + height, reach : reach + width].astype(np.float32)

    estimate = np.full(padded.shape, 0.5, np.float32)
    started = time.perf_counter()
    done = 0
    for count in sorted(counts):
        while done < count:
            for channel in range(padded.shape[2]):
                conv = same(estimate[:, :, channel], otf) + np.float32(1e-12)
                estimate[:, :, channel] *= same(padded[:, :, channel] / conv, otf_mirror)
            done += 1
        yield count, estimate[reach:-reach, reach:-reach].copy(), time.perf_counter() - started


def check_richardson_lucy() -> float:
    """Largest difference between the FFT sweep and skimage's function on a small case."""
    rng = np.random.default_rng(0)
    observed = rng.random((60, 50, 3)).astype(np.float32) * 0.8 + 0.1
    kernel = rng.random((9, 9)).astype(np.float32)
    kernel /= kernel.sum()
    ours = dict((n, out) for n, out, _ in richardson_lucy_sweep(observed, kernel, (5,)))[5]
    return float(np.abs(ours - richardson_lucy_skimage(observed, kernel, 5)).max())


class Cache:
    """Results per (method, sigma, image, kernel), one small JSON file each in a folder.

    One file per cell lets several runs (e.g. one per noise level) fill the same cache at once.
    """

    def __init__(self, path: Path, fingerprint: str) -> None:
        import hashlib

        self.folder = Path(path) / hashlib.sha1(fingerprint.encode()).hexdigest()[:10]
        self.folder.mkdir(parents=True, exist_ok=True)

    def _file(self, key: str) -> Path:
        return self.folder / (key.replace("|", "__").replace(":", "-") + ".json")

    def get(self, key: str):
        try:
            return json.loads(self._file(key).read_text())
        except (OSError, ValueError):
            return None

    def put(self, key: str, value: dict) -> None:
        target = self._file(key)
        temporary = target.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(value))
        os.replace(temporary, target)


def _key(method: str, sigma: float, image: int, kernel: int) -> str:
    return f"{method}|{sigma}|{image}|{kernel}"


def _deep_label(method: str) -> str:
    """Cache label for a deep variant: includes its settings and the fast prior's precision, so
    changing them re-runs it."""
    import hashlib

    settings = repr(_deep_settings(method)) + FAST_PRECISION[0]
    return f"{method}:{hashlib.sha1(settings.encode()).hexdigest()[:8]}"


def _fast_count() -> int:
    settings = _deep_settings("deep")
    return min(settings.fast_iterations, settings.iterations - 1)


def _fast_name() -> str:
    """The fast prior's precision as the report names it."""
    from app.engine.deblur import Deblurrer

    return Deblurrer(device="cpu", fast_precision=FAST_PRECISION[0]).fast_runner().precision


def _deep_settings(method: str):
    from dataclasses import replace

    from app.algorithms.dpir import DpirSettings

    changes = ABLATIONS[method][1] if method in ABLATIONS else {}
    return replace(DpirSettings(), **changes)


def run(args: argparse.Namespace) -> int:
    from app.algorithms.dpir import dpir_deconvolve
    from app.algorithms.wiener import wiener_deconvolve
    from app.engine.deblur import Deblurrer
    from app.physics.kernels import as_kernel

    images = sorted((DATA_ROOT / "CBSD68").glob("*.png"))[: args.images]
    kernels = [as_kernel(np.load(DATA_ROOT / "kernels" / f"Levin09_0{k}.npy")) for k in range(1, 9)]
    cache = Cache(Path(args.cache), FINGERPRINT)
    FAST_PRECISION[0] = args.fast_precision
    deblurrer = Deblurrer(device="cpu", fast_precision=args.fast_precision)
    # 'deep' is measured as photos of 0.5 MP and more get it: the fast prior in the early iterations.
    deblurrer.fast_prior_min_pixels = 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    if any(m.startswith("deep") for m in methods):
        deblurrer.runner  # load the model before timing anything
    if "rl" in methods and cache.get("rl-check") is None:
        cache.put("rl-check", {"max_abs_difference": check_richardson_lucy()})
    sigmas = [float(v) for v in args.sigmas.split(",")] if args.sigmas else list(SIGMAS)
    deadline = time.monotonic() + args.max_minutes * 60.0
    finished = True
    for sigma in sigmas:
        for ii, image_path in enumerate(images):
            for ki, kernel in enumerate(kernels):
                labels = {m: (_deep_label(m) if m.startswith("deep") else m) for m in methods}
                todo = [
                    m
                    for m in methods
                    if cache.get(_key(labels[m], sigma, ii, ki)) is None
                    and (m not in ABLATIONS or ii < args.ablation_images)
                    and (m != "rl" or ii < args.rl_images)
                ]
                if not todo:
                    continue
                if time.monotonic() > deadline:
                    finished = False
                    break
                observed, truth = make_case(image_path, kernel, sigma, ii, ki)
                pixels = observed.shape[0] * observed.shape[1]
                for method in todo:
                    t0 = time.perf_counter()
                    if method == "deep":
                        out = deblurrer.deblur(observed, kernel, method="deep", noise_level=sigma).pixels
                        cell = {"psnr": psnr(out, truth, quantize_8bit=True), "seconds": time.perf_counter() - t0, "pixels": pixels}
                    elif method.startswith("deep"):
                        out = dpir_deconvolve(observed, kernel, deblurrer.runner, sigma / 255.0, _deep_settings(method),
                                              fast_denoise=deblurrer.fast_runner())
                        cell = {"psnr": psnr(out, truth, quantize_8bit=True), "seconds": time.perf_counter() - t0, "pixels": pixels}
                    elif method == "wiener":
                        grid, seconds = {}, {}
                        for c in WIENER_GRID:
                            t0 = time.perf_counter()
                            out = wiener_deconvolve(observed, kernel, balance=c * (sigma / 255.0) ** 2)
                            seconds[str(c)] = time.perf_counter() - t0
                            grid[str(c)] = psnr(out, truth, quantize_8bit=True)
                        # The default (Deblurrer's 'wiener' on a photo this size: one tile) is the grid's
                        # DEFAULT_WIENER value: the same call, so it is not run twice.
                        cell = {"psnr": grid[str(DEFAULT_WIENER)], "seconds": seconds[str(DEFAULT_WIENER)],
                                "pixels": pixels, "grid": grid, "grid_seconds": seconds}
                    elif method == "wiener-plain":
                        grid, seconds = {}, {}
                        for balance in PLAIN_WIENER_GRID:
                            t0 = time.perf_counter()
                            grid[str(balance)] = psnr(plain_wiener(observed, kernel, balance), truth, quantize_8bit=True)
                            seconds[str(balance)] = time.perf_counter() - t0
                        cell = {"grid": grid, "grid_seconds": seconds, "pixels": pixels}
                    elif method == "rl":
                        grid, seconds = {}, {}
                        for count, out, elapsed in richardson_lucy_sweep(observed, kernel, RL_GRID):
                            grid[str(count)] = psnr(out, truth, quantize_8bit=True)
                            seconds[str(count)] = elapsed
                        cell = {"grid": grid, "grid_seconds": seconds, "pixels": pixels}
                    else:
                        raise SystemExit(f"unknown method {method!r}")
                    cache.put(_key(labels[method], sigma, ii, ki), cell)
                print(f"sigma {sigma} image {ii} kernel {ki + 1}: {', '.join(todo)} done", flush=True)
            else:
                continue
            finished = False if time.monotonic() > deadline else finished
            break
    write_report(cache, len(images), methods, args.rl_images)
    if not finished:
        print("time limit reached: run the same command again to continue", flush=True)
        return 3
    return 0


def plain_wiener(observed: np.ndarray, kernel: np.ndarray, balance: float) -> np.ndarray:
    """scikit-image's Wiener filter per channel on the photo as it is (periodic boundary assumption)."""
    from skimage.restoration import wiener

    return np.stack([wiener(observed[:, :, c], kernel, balance, clip=False) for c in range(observed.shape[2])], axis=2)


def _rl_best_iterations(cache: Cache, sigma: float, n_images: int) -> int | None:
    """The grid count with the best mean PSNR over all images (an oracle choice for the baseline)."""
    cells = _collect(cache, "rl", sigma, n_images)
    if cells is None:
        return None
    return max(RL_GRID, key=lambda n: float(np.mean([c["grid"][str(n)] for c in cells])))


def _collect(cache: Cache, method: str, sigma: float, n_images: int):
    cells = [cache.get(_key(method, sigma, ii, ki)) for ii in range(n_images) for ki in range(8)]
    return None if any(c is None for c in cells) else cells


def _machine() -> str:
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return (
        f"{cpu}, {os.cpu_count()} cores, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"Python {platform.python_version()}; load average at report time {load} (shared machine)"
    )


def _complete_images(cache: Cache, label: str, sigma: float, limit: int = 100) -> list[int]:
    """Images (indices) for which all 8 kernels of this method and noise level are in the cache."""
    return [
        ii for ii in range(limit) if all(cache.get(_key(label, sigma, ii, ki)) is not None for ki in range(8))
    ]


def _ablation_table(cache: Cache) -> list[str]:
    """Variants of 'deep' against the default on the same cases (those the variant has run on)."""
    rows = []
    default = _deep_label("deep")
    for name, (description, _changes) in ABLATIONS.items():
        label = _deep_label(name)
        for sigma in SIGMAS:
            images = [ii for ii in _complete_images(cache, label, sigma, 10) if ii in _complete_images(cache, default, sigma, 10)]
            if not images:
                continue
            ours = [cache.get(_key(label, sigma, ii, ki)) for ii in images for ki in range(8)]
            base = [cache.get(_key(default, sigma, ii, ki)) for ii in images for ki in range(8)]
            mean_ours, mean_base = _mean([c["psnr"] for c in ours]), _mean([c["psnr"] for c in base])
            seconds = sum(c["seconds"] for c in ours) / sum(c["seconds"] for c in base)
            rows.append(
                f"| {description} | {sigma:g} | {len(images)} x 8 | {mean_ours:.2f} | {mean_base:.2f} | "
                f"{mean_ours - mean_base:+.2f} | {seconds:.2f}x |"
            )
    if not rows:
        return []
    return [
        "Ablation: `deep` variants against the default on the same cases (first images only):",
        "",
        "| variant | σ | cases | PSNR | default | gain | time vs default |",
        "|---|---|---|---|---|---|---|",
    ] + rows + [""]


LARGE_SIZE = (4000, 6000)  # rows, cols: 24 megapixels
LARGE_KERNEL = 4  # Levin09_04, 27x27: the widest margins


def run_large(cache: Cache, method: str, iterations: int) -> None:
    """Deblur a 24-megapixel photo (a CBSD68 image enlarged, valid-blurred, noisy) in automatic
    tiles; records seconds, tile side and the process's peak memory (run it in a fresh process)."""
    import resource

    import cv2

    from app.engine.deblur import Deblurrer
    from app.physics.blur import blur
    from app.physics.kernels import as_kernel

    kernel = as_kernel(np.load(DATA_ROOT / "kernels" / f"Levin09_0{LARGE_KERNEL}.npy"))
    image_path = sorted((DATA_ROOT / "CBSD68").glob("*.png"))[1]
    rows, cols = LARGE_SIZE
    reach = kernel.shape[0] // 2
    sharp = cv2.resize(_load_rgb(image_path), (cols + 2 * reach, rows + 2 * reach), interpolation=cv2.INTER_CUBIC)
    observed = blur(sharp, kernel, mode="valid")
    del sharp
    observed += np.random.default_rng(SEED).normal(0.0, 2.55 / 255.0, observed.shape).astype(np.float32)
    deblurrer = Deblurrer(device="cpu")
    if method == "deep":
        deblurrer.runner
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    progress_marks: list[tuple[int, int]] = []
    result = deblurrer.deblur(
        observed, kernel, method=method, noise_level=2.55, iterations=iterations,
        progress=lambda done, total: progress_marks.append((done, total)),
    )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    cell = {
        "method": method, "iterations": iterations, "seconds": result.seconds, "tile": result.tile,
        "megapixels": rows * cols / 1e6, "peak_mb": peak, "before_mb": before,
        "steps": progress_marks[-1][1] if progress_marks else 0, "ok": bool(np.isfinite(result.pixels).all()),
    }
    cache.put(f"large|{method}|{iterations}", cell)
    print(json.dumps(cell), flush=True)


def _large_section(cache: Cache) -> list[str]:
    rows = []
    for method, iterations in (("wiener", 8), ("deep", 1), ("deep", 8)):
        cell = cache.get(f"large|{method}|{iterations}")
        if cell is None:
            continue
        label = "wiener" if method == "wiener" else f"deep, {iterations} iteration{'s' if iterations > 1 else ''}"
        rows.append(
            f"| {label} | {cell['megapixels']:.0f} MP | {cell['tile']} px | {cell['seconds']:.0f} s | "
            f"{cell['seconds'] / cell['megapixels']:.1f} | {cell['peak_mb']:.0f} MB (model and data loaded: "
            f"{cell['before_mb']:.0f} MB) | {'yes' if cell['ok'] else 'NO'} |"
        )
    if not rows:
        return []
    return [
        f"Large photo: {LARGE_SIZE[1]}x{LARGE_SIZE[0]} (24 MP), Levin kernel {LARGE_KERNEL} (27x27), automatic tiles "
        "(margin 3 kernel widths + 32 px), CPU, `--large METHOD:ITERATIONS` (one fresh process each):",
        "",
        "| run | size | tile | time | s/MP | peak memory (process) | finite output |",
        "|---|---|---|---|---|---|---|",
    ] + rows + [""]


def _mean(values: list[float]) -> float:
    return float(np.mean(values))


def _best_of_grid(
    cells: list[dict], grid: tuple[float, ...], sigma: float, values: dict[float, float], timing: list[tuple[float, int]]
) -> float:
    """The grid setting with the best mean PSNR over ``cells``; adds its mean and timings to ``values`` / ``timing``."""
    means = {setting: _mean([cell["grid"][str(setting)] for cell in cells]) for setting in grid}
    best = max(means, key=means.get)
    values[sigma] = means[best]
    timing += [(cell["grid_seconds"][str(best)], cell["pixels"]) for cell in cells]
    return best


def write_report(cache: Cache, n_images: int, methods: list[str], rl_images: int | None = None) -> None:
    """benchmarks/results/deblur.md from whatever the cache holds (unfinished cells show as n/a)."""
    cases = n_images * 8
    lines = [
        "## Deblurring (non-blind)",
        "",
        f"Machine: {_machine()}.",
        f"Command: `.venv/bin/python benchmarks/bench_deblur.py --images {n_images} --methods {','.join(methods)} "
        f"--ablation-images 10 --rl-images 3 --fast-precision {FAST_PRECISION[0]}` "
        "(resumable: `--max-minutes 9` runs it in pieces). `deep` is measured with the fast prior in the first "
        f"{_fast_count()} iterations (what photos of 0.5 MP and more get; here {_fast_name()})"
        f"{', `deep-exact` without it' if 'deep-exact' in methods else ''}. "
        "Speed: `deblur_speed.md` (s/MP here is inflated by other jobs on the machine during this run).",
        "",
        f"CBSD68, first {n_images} images (sorted by name) x Levin's 8 kernels = {cases} cases per noise level. "
        "Blur by *valid* convolution (no boundary assumption; ground truth = the clean image cropped by ks//2), "
        "seeded AWGN, not clipped; every method gets the true kernel and noise level. PSNR (dB) of the 8-bit "
        "rounded, clipped output over the whole valid crop (no border shaving), mean over the cases. "
        "s/MP = seconds per megapixel of output (mean over both noise levels), whole image as one tile, CPU, "
        "on a shared machine (timings include the load of other jobs).",
        "",
        "| method | " + " | ".join(f"PSNR σ={s:g}" for s in SIGMAS) + " | s/MP |",
        "|---|" + "---|" * (len(SIGMAS) + 1),
    ]
    rl_images = n_images if rl_images is None else min(rl_images, n_images)
    summary: dict[str, dict[float, float]] = {}

    def fmt(value: float | None, digits: int = 2) -> str:
        return "n/a" if value is None else f"{value:.{digits}f}"

    def rate(pairs: list[tuple[float, int]]) -> float | None:
        pixels = sum(p for _, p in pairs)
        return sum(t for t, _ in pairs) / (pixels / 1e6) if pixels else None

    def add_row(label: str, key: str, values: dict[float, float], timing: list[tuple[float, int]]) -> None:
        summary[key] = values
        cells = [fmt(values.get(s)) for s in SIGMAS]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {fmt(rate(timing), 1)} |")

    values, timing = {}, []
    for s in SIGMAS:
        cells = _collect(cache, _deep_label("deep"), s, n_images)
        if cells:
            values[s] = _mean([c["psnr"] for c in cells])
            timing += [(c["seconds"], c["pixels"]) for c in cells]
    add_row(f"Photomend `deep` (default: {_deep_settings('deep').iterations} iterations)", "deep", values, timing)
    if "wiener" in methods:
        values, timing, best_values, best_timing, labels = {}, [], {}, [], []
        for s in SIGMAS:
            cells = _collect(cache, "wiener", s, n_images)
            if not cells:
                labels.append("?")
                continue
            values[s] = _mean([c["psnr"] for c in cells])
            timing += [(c["seconds"], c["pixels"]) for c in cells]
            best = _best_of_grid(cells, WIENER_GRID, s, best_values, best_timing)
            labels.append(f"{best:g}σ²")
        add_row("Photomend `wiener` (default balance 60σ²)", "wiener", values, timing)
        add_row(
            f"Wiener, best balance of {', '.join(f'{c:g}' for c in WIENER_GRID)} x σ² ({', '.join(labels)})",
            "wiener-best",
            best_values,
            best_timing,
        )
    if "wiener-plain" in methods:
        values, timing, labels = {}, [], []
        for s in SIGMAS:
            cells = _collect(cache, "wiener-plain", s, n_images)
            if not cells:
                labels.append("?")
                continue
            best = _best_of_grid(cells, PLAIN_WIENER_GRID, s, values, timing)
            labels.append(f"{best:g}")
        add_row(
            "Wiener, textbook (scikit-image `restoration.wiener`, periodic), best balance of "
            f"{', '.join(f'{b:g}' for b in PLAIN_WIENER_GRID)} ({', '.join(labels)})",
            "wiener-plain",
            values,
            timing,
        )
    if "rl" in methods:
        values, timing, labels = {}, [], []
        for s in SIGMAS:
            cells = _collect(cache, "rl", s, rl_images)
            best = _rl_best_iterations(cache, s, rl_images)
            if not cells or best is None:
                labels.append("?")
                continue
            values[s] = _mean([c["grid"][str(best)] for c in cells])
            timing += [(c["grid_seconds"][str(best)], c["pixels"]) for c in cells]
            labels.append(str(best))
        add_row(
            f"Richardson-Lucy, edge padding, best of {', '.join(map(str, RL_GRID))} iterations ({', '.join(labels)})"
            + (f"; first {rl_images} images only" if rl_images < n_images else ""),
            "rl",
            values,
            timing,
        )
    lines.append("")
    check = cache.get("rl-check")
    if check is not None:
        lines.append(
            "Richardson-Lucy is skimage.restoration.richardson_lucy's iteration (same start, update and zero-boundary "
            "'same' convolutions) run by FFT so one sweep gives every iteration count; it matches skimage's "
            f"function to {check['max_abs_difference']:.1e} (checked at the start of the run)."
        )
        lines.append("")
    verdicts = []
    deep = summary.get("deep", {})
    for s in SIGMAS:
        target = TARGETS[s]
        if s not in deep:
            verdicts.append(f"- σ={s:g}: deep ≥ {target} dB: not measured yet")
            continue
        verdicts.append(f"- σ={s:g}: deep {deep[s]:.4f} dB ≥ {target} dB: **{'PASS' if deep[s] >= target else 'FAIL'}**")
        before = _collect(cache, _deep_label("deep-before"), s, n_images)
        if before and len(before) == n_images * 8:
            loss = _mean([c["psnr"] for c in before]) - deep[s]
            verdicts.append(f"- σ={s:g}: loss against the default before the 5-pass budget (same cases, same fast "
                            f"prior) {loss:+.3f} dB ≤ {SPEED_LOSS:g} dB: **{'PASS' if loss <= SPEED_LOSS else 'FAIL'}**")
        plain = summary.get("wiener-plain", {}).get(s)
        if plain is not None:
            gap = deep[s] - plain
            verdict = "PASS" if gap >= WIENER_MARGIN else "FAIL"
            verdicts.append(
                f"- σ={s:g}: deep − Wiener filter at its best regularisation (textbook, scikit-image) = {gap:.2f} dB "
                f"≥ {WIENER_MARGIN:g} dB: **{verdict}**"
            )
        wiener_best = summary.get("wiener-best", {}).get(s)
        if wiener_best is not None:
            verdicts.append(
                f"  (deep − Photomend's own border-aware `wiener` at its best balance = {deep[s] - wiener_best:.2f} dB: "
                "that preview method borrows deep's boundary model, so it is much stronger than the Wiener filter)"
            )
    lines += ["Targets:", ""] + verdicts + [""]
    per_kernel_rows = []
    for s in SIGMAS:
        cells = _collect(cache, _deep_label("deep"), s, n_images)
        if cells:
            per_kernel = [_mean([cells[ii * 8 + ki]["psnr"] for ii in range(n_images)]) for ki in range(8)]
            per_kernel_rows.append(f"| {s:g} | " + " | ".join(f"{v:.2f}" for v in per_kernel) + " |")
    if per_kernel_rows:
        lines += [
            "`deep` (default), mean PSNR per Levin kernel:",
            "",
            "| σ | " + " | ".join(f"k{k}" for k in range(1, 9)) + " |",
            "|---|" + "---|" * 8,
        ] + per_kernel_rows + [""]
    lines += _ablation_table(cache)
    lines += _large_section(cache)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_FILE.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=10, help="first N CBSD68 images (sorted by name)")
    parser.add_argument(
        "--methods", default="deep,wiener,wiener-plain,rl", help=f"comma list of deep, wiener, wiener-plain, rl and ablations: {', '.join(ABLATIONS)}"
    )
    parser.add_argument("--ablation-images", type=int, default=2, help="ablations run on the first N images only")
    parser.add_argument("--rl-images", type=int, default=10**6, help="Richardson-Lucy on the first N images only (it is slow)")
    parser.add_argument("--sigmas", default="", help="only these noise levels this time (e.g. 2.55)")
    parser.add_argument("--cache", default=str(DEFAULT_CACHE), help="resumable results file")
    parser.add_argument("--fast-precision", default="auto", help="the fast prior's precision (auto, int8, bf16, off)")
    parser.add_argument("--max-minutes", type=float, default=1e9, help="stop cleanly after this long (resume later)")
    parser.add_argument("--report-only", action="store_true", help="only rewrite the report from the cache")
    parser.add_argument("--large", default="", help="METHOD:ITERATIONS, e.g. deep:1 or wiener:8: the 24 MP check")
    args = parser.parse_args()
    if not (DATA_ROOT / "CBSD68").is_dir() or not (DATA_ROOT / "kernels").is_dir():
        print(f"shared data not found under {DATA_ROOT}: skipping", flush=True)
        return 0
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    FAST_PRECISION[0] = args.fast_precision
    if args.large:
        method, _, iterations = args.large.partition(":")
        cache = Cache(Path(args.cache), FINGERPRINT)
        run_large(cache, method, int(iterations or 8))
        write_report(cache, args.images, methods, args.rl_images)
        return 0
    if args.report_only:
        write_report(Cache(Path(args.cache), FINGERPRINT), args.images, methods, args.rl_images)
        return 0
    return run(args)


if __name__ == "__main__":
    raise SystemExit(main())
