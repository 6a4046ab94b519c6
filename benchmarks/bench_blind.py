"""Blind kernel estimation (``--kernel auto``): error ratios, motion/defocus parameters, timing.

Protocol (every case seeded, so runs are repeatable and resumable):

* **Random trajectories**: camera-shake kernels from a random walk with inertia (Boracchi & Foi
  2012 / DeblurGAN model, :func:`app.algorithms.blind.random_trajectory_kernel`), path extent
  uniform in 9-35 px, applied to a random full CBSD68 photo (481x321) by *valid* convolution
  plus white Gaussian noise sigma uniform in 1-2 (0-255 scale). The estimate uses
  ``kind='auto'`` and ``max_size=41`` (a 35 px path centred on its centroid can need ~41 px);
  every other part uses the default ``max_size=35``.
* **Levin kernels**: the 8 Levin et al. 2009 kernels x the first ``--levin-images`` CBSD68 photos,
  same blur model, sigma 1.5.
* **Error ratio** (Levin et al. 2009): SSD(deconvolution with the estimate) / SSD(deconvolution
  with the true kernel), both by the same non-blind method (Photomend's ``Deblurrer``,
  ``--deconv deep`` by default, with the true noise level), over the valid crop minus a border
  of the larger kernel side, with each result aligned to the ground truth by the best shift
  (integer within +-5 px, then sub-pixel): an estimated kernel may be a shifted copy, which only
  translates the photo. Success: ratio <= 3.
* **Motion**: straight blurs, length uniform in 9-35 px, angle uniform in 0-180, sigma 1-2:
  errors of the motion fit (``details['fits']['motion']``) and how often ``auto`` chose it.
* **Defocus**: disks of radius uniform in 2-8 px: radius error, and the chosen kind.
* **Timing**: one 12 MP photo (a 4000x3000 mosaic of CBSD68 photos upscaled 2x, motion blur).

The run is resumable: results go to a cache file (default in the temp folder) and
``--max-minutes`` stops cleanly between cases, so a slow machine can do it in pieces; the report
is rewritten from the cache each time.

Run:  .venv/bin/python benchmarks/bench_blind.py [--cases 48] [--levin-images 2] [--max-minutes 9]
* **Varied set** (issue 15): shake 9-45 px (some with pauses, some softened by a Gaussian),
  defocus, noise 1-10, JPEG 70-95 in 40% of cases, estimated as ``--kernel auto`` does; a dev
  part and a held-out part from separate seeds (:func:`varied_case`), reported apart.

Writes benchmarks/results/blind.md (and blind_varied.md). Skips (exit 0) when the shared data folder is absent.
"""

from __future__ import annotations

import argparse
import json
import math
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
RESULTS_FILE = Path(__file__).resolve().parent / "results" / "blind.md"
DEFAULT_CACHE = Path(tempfile.gettempdir()) / "photomend_bench_blind.json"
VARIED_RESULTS_FILE = RESULTS_FILE.with_name("blind_varied.md")

SEED = 20240917
SUCCESS_RATIO = 3.0
TARGET_SUCCESS = 0.8
ANGLE_TOLERANCE = 5.0
LENGTH_TOLERANCE = 2.0
MAX_SHIFT = 5
LEVIN_SIGMA = 1.5
TRAJECTORY_MAX_SIZE = 41
"""max_size for the trajectory cases: a path of extent 35 centred on its centroid needs more room."""


def _load_rgb(path: Path) -> np.ndarray:
    """An 8-bit photo as float32 RGB in [0, 1]."""
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    return np.ascontiguousarray(data[:, :, ::-1]).astype(np.float32) / 255.0


def cbsd68_paths() -> list[Path]:
    """The CBSD68 photos, sorted by name."""
    return sorted((DATA_ROOT / "CBSD68").glob("*.png"))


def blur_valid(sharp: np.ndarray, kernel: np.ndarray, sigma255: float, seed: int) -> np.ndarray:
    """Valid convolution (no boundary assumption) plus seeded white Gaussian noise, not clipped."""
    from app.physics.blur import blur

    blurred = blur(sharp, kernel, mode="valid")
    noise = np.random.default_rng(seed).normal(0.0, sigma255 / 255.0, blurred.shape)
    return (blurred + noise).astype(np.float32)


def _fourier_shift(image: np.ndarray, d_row: float, d_col: float) -> np.ndarray:
    """``image`` translated by a (sub-pixel) offset with a Fourier phase ramp (lossless, periodic)."""
    rows, cols = image.shape[:2]
    ramp = np.exp(
        -2j * np.pi * (np.fft.fftfreq(rows)[:, None] * d_row + np.fft.fftfreq(cols)[None, :] * d_col)
    )
    if image.ndim == 3:
        ramp = ramp[:, :, None]
    return np.real(np.fft.ifft2(np.fft.fft2(image, axes=(0, 1)) * ramp, axes=(0, 1)))


def aligned_ssd(estimate: np.ndarray, reference: np.ndarray, border: int, max_shift: int = MAX_SHIFT) -> float:
    """SSD over the interior (``border`` px shaved) at the best shift of ``estimate``.

    Integer shifts within +-max_shift first, then a sub-pixel refinement (+-0.5 px in 1/8 px
    steps, Fourier interpolation): a kernel estimate centred on its centroid differs from the
    true kernel by a fraction of a pixel, which only translates the result; a sharp result
    translated by half a pixel would otherwise count as a large error.
    """
    rows, cols = reference.shape[:2]
    inner = border + max_shift
    ref = reference[inner : rows - inner, inner : cols - inner].astype(np.float64)
    best, best_shift = math.inf, (0, 0)
    for dr in range(-max_shift, max_shift + 1):
        for dc in range(-max_shift, max_shift + 1):
            part = estimate[inner + dr : rows - inner + dr, inner + dc : cols - inner + dc]
            value = float(((part - ref) ** 2).sum())
            if value < best:
                best, best_shift = value, (dr, dc)
    # Sub-pixel refinement on the integer-aligned interior (the periodic wrap stays in the margin).
    dr, dc = best_shift
    margin = 4
    part = estimate[inner + dr - margin : rows - inner + dr + margin, inner + dc - margin : cols - inner + dc + margin]
    part = part.astype(np.float64)
    for _ in range(2):  # two passes of coordinate-wise search: cheap and enough for a smooth optimum
        for axis in (0, 1):
            for step in np.arange(-0.5, 0.5001, 0.125):
                shift = (step, 0.0) if axis == 0 else (0.0, step)
                trial = _fourier_shift(part, *shift)[margin:-margin, margin:-margin]
                value = float(((trial - ref) ** 2).sum())
                if value < best:
                    best = value
                    part = _fourier_shift(part, *shift)
    return best


class Deconvolver:
    """The non-blind deconvolutions both kernels of a ratio go through (same method, same settings).

    The primary method (``deep`` or ``wiener``: Photomend's Deblurrer with the true noise level)
    gives the headline ratio; Wiener is always computed too (cheap) as a second opinion.
    """

    def __init__(self, primary: str) -> None:
        from app.engine.deblur import Deblurrer

        self.primary = primary
        self.methods = (primary,) if primary == "wiener" else (primary, "wiener")
        self._deblurrer = Deblurrer(device="cpu")

    def __call__(self, blurred: np.ndarray, kernel: np.ndarray, sigma255: float, method: str) -> np.ndarray:
        """Deblurred photo, the same size as ``blurred``."""
        result = self._deblurrer.deblur(blurred, kernel, method=method, noise_level=sigma255, tile=0)
        return result.pixels


def error_ratios(
    deconv: Deconvolver, sharp: np.ndarray, blurred: np.ndarray, true_k: np.ndarray, est_k: np.ndarray, sigma255: float
) -> dict[str, float]:
    """{method: SSD(with the estimate) / SSD(with the true kernel)} on the valid crop."""
    reach = true_k.shape[0] // 2
    reference = sharp[reach : sharp.shape[0] - reach, reach : sharp.shape[1] - reach]
    border = max(true_k.shape[0], est_k.shape[0])
    ratios = {}
    for method in deconv.methods:
        ssd_true = aligned_ssd(deconv(blurred, true_k, sigma255, method), reference, border)
        ssd_est = aligned_ssd(deconv(blurred, est_k, sigma255, method), reference, border)
        ratios[method] = ssd_est / max(ssd_true, 1e-12)
    return ratios


def _angle_error(a: float, b: float) -> float:
    """Distance between two undirected angles (degrees, period 180)."""
    return abs((a - b + 90.0) % 180.0 - 90.0)


# ----------------------------------------------------------------------------------------------
# Cases
# ----------------------------------------------------------------------------------------------


def trajectory_case(index: int) -> dict:
    """Parameters of random-trajectory case ``index`` (deterministic)."""
    rng = np.random.default_rng([SEED, 1, index])
    return {
        "image": int(rng.integers(0, 68)),
        "extent": float(rng.uniform(9.0, 35.0)),
        "sigma": float(rng.uniform(1.0, 2.0)),
        "kernel_seed": int(rng.integers(0, 2**31)),
        "noise_seed": int(rng.integers(0, 2**31)),
    }


def motion_case(index: int) -> dict:
    """Parameters of straight-motion case ``index``."""
    rng = np.random.default_rng([SEED, 2, index])
    return {
        "image": int(rng.integers(0, 68)),
        "length": float(rng.uniform(9.0, 35.0)),
        "angle": float(rng.uniform(0.0, 180.0)),
        "sigma": float(rng.uniform(1.0, 2.0)),
        "noise_seed": int(rng.integers(0, 2**31)),
    }


def defocus_case(index: int) -> dict:
    """Parameters of defocus case ``index``."""
    rng = np.random.default_rng([SEED, 3, index])
    return {
        "image": int(rng.integers(0, 68)),
        "radius": float(rng.uniform(2.0, 8.0)),
        "sigma": float(rng.uniform(1.0, 2.0)),
        "noise_seed": int(rng.integers(0, 2**31)),
    }


VARIED_KINDS = ("shake", "shake with pauses", "soft shake", "defocus")
VARIED_SPLITS = {"dev": 4, "held-out": 5}
"""Seed family of each split of the varied set: the held-out part is drawn apart and only run at the end."""


def varied_case(index: int, split: str) -> dict:
    """Case ``index`` of the varied set: shake 9-45 px (some with pauses, some softened), defocus,
    noise 1-10 (log-uniform), and JPEG 70-95 in 40% of cases."""
    rng = np.random.default_rng([SEED, VARIED_SPLITS[split], index])
    kind = VARIED_KINDS[int(rng.choice(4, p=[0.35, 0.3, 0.15, 0.2]))]
    return {
        "split": split,
        "image": int(rng.integers(0, 68)),
        "blur": kind,
        "extent": float(rng.uniform(9.0, 45.0)),
        "radius": float(rng.uniform(2.0, 10.0)),
        "softness": float(rng.uniform(0.5, 1.2)),
        "pauses": int(rng.integers(1, 4)),
        "sigma": float(math.exp(rng.uniform(math.log(1.0), math.log(10.0)))),
        "jpeg": int(rng.integers(70, 96)) if rng.random() < 0.4 else None,
        "kernel_seed": int(rng.integers(0, 2**31)),
        "noise_seed": int(rng.integers(0, 2**31)),
    }


def varied_kernel(case: dict) -> np.ndarray:
    """The true kernel of a varied case."""
    from app.algorithms.blind import random_trajectory_kernel
    from app.physics.blur import blur
    from app.physics.kernels import as_kernel, defocus_kernel, gaussian_kernel, pad_kernel

    if case["blur"] == "defocus":
        return defocus_kernel(case["radius"])
    rng = np.random.default_rng(case["kernel_seed"])
    pauses = case["pauses"] if case["blur"] == "shake with pauses" else 0
    kernel = random_trajectory_kernel(case["extent"], rng, pauses=pauses)
    if case["blur"] == "soft shake":
        soft = gaussian_kernel(case["softness"])
        side = kernel.shape[0] + soft.shape[0] - 1
        kernel = blur(pad_kernel(kernel, side)[:, :, None], soft, mode="same")[:, :, 0]
        kernel = as_kernel(np.clip(kernel, 0, None), "soft shake kernel")
    return kernel


def run_varied(index: int, split: str, deconv: "Deconvolver", max_size: int) -> dict:
    """One case of the varied set, estimated as ``--kernel auto`` does (with ``max_size``)."""
    case = varied_case(index, split)
    sharp = _load_rgb(cbsd68_paths()[case["image"]])
    kernel = varied_kernel(case)
    blurred = blur_valid(sharp, kernel, case["sigma"], case["noise_seed"])
    if case["jpeg"] is not None:
        from app.physics.camera_noise import jpeg_roundtrip

        blurred = jpeg_roundtrip(blurred, case["jpeg"])
    estimate, seconds = _estimate(blurred, max_size=max_size)
    ratios = error_ratios(deconv, sharp, blurred, kernel, estimate.kernel, case["sigma"])
    return {**case, **_summary(estimate, seconds), "verdict": estimate.verdict, "max_size": max_size,
            "true_side": int(kernel.shape[0]), "ratio": ratios[deconv.primary], "ratios": ratios}


def _estimate(blurred: np.ndarray, **kwargs) -> tuple[object, float]:
    """estimate_kernel and its wall time."""
    from app.algorithms.blind import estimate_kernel

    started = time.perf_counter()
    estimate = estimate_kernel(blurred, **kwargs)
    return estimate, time.perf_counter() - started


def _summary(estimate, seconds: float) -> dict:
    """What the report needs from a KernelEstimate."""
    details = estimate.details
    return {
        "kind": estimate.kind,
        "params": estimate.params,
        "confidence": estimate.confidence,
        "kernel_side": int(estimate.kernel.shape[0]),
        "seconds": seconds,
        "motion_fit": details.get("fits", {}).get("motion", {}).get("params"),
        "defocus_fit": details.get("fits", {}).get("defocus", {}).get("params"),
        # Raw diagnostics, kept so the confidence formula can be re-calibrated from the cache.
        "diagnostics": {
            key: details[key]
            for key in ("stability", "split_agreement", "effective_pixels", "canvas", "energies")
            if key in details
        },
        "mismatch": {name: fit.get("mismatch") for name, fit in details.get("fits", {}).items()},
    }


def run_trajectory(index: int, deconv: Deconvolver) -> dict:
    """One random-trajectory case: estimate, then the error ratio."""
    from app.algorithms.blind import random_trajectory_kernel

    case = trajectory_case(index)
    sharp = _load_rgb(cbsd68_paths()[case["image"]])
    kernel = random_trajectory_kernel(case["extent"], np.random.default_rng(case["kernel_seed"]))
    blurred = blur_valid(sharp, kernel, case["sigma"], case["noise_seed"])
    estimate, seconds = _estimate(blurred, max_size=TRAJECTORY_MAX_SIZE)
    ratios = error_ratios(deconv, sharp, blurred, kernel, estimate.kernel, case["sigma"])
    return {
        **case,
        **_summary(estimate, seconds),
        "true_side": int(kernel.shape[0]),
        "ratio": ratios[deconv.primary],
        "ratios": ratios,
    }


def run_levin(kernel_index: int, image_index: int, deconv: Deconvolver) -> dict:
    """One Levin kernel x CBSD68 photo case."""
    from app.physics.kernels import as_kernel

    kernel = as_kernel(np.load(DATA_ROOT / "kernels" / f"Levin09_0{kernel_index}.npy"))
    sharp = _load_rgb(cbsd68_paths()[image_index])
    seed = SEED + 100 * kernel_index + image_index
    blurred = blur_valid(sharp, kernel, LEVIN_SIGMA, seed)
    estimate, seconds = _estimate(blurred)
    ratios = error_ratios(deconv, sharp, blurred, kernel, estimate.kernel, LEVIN_SIGMA)
    return {
        "kernel": kernel_index,
        "image": image_index,
        **_summary(estimate, seconds),
        "ratio": ratios[deconv.primary],
        "ratios": ratios,
    }


def run_motion(index: int) -> dict:
    """One straight-motion case: the motion fit's errors and the kind auto chose."""
    from app.physics.kernels import motion_kernel

    case = motion_case(index)
    sharp = _load_rgb(cbsd68_paths()[case["image"]])
    blurred = blur_valid(sharp, motion_kernel(case["length"], case["angle"]), case["sigma"], case["noise_seed"])
    estimate, seconds = _estimate(blurred)
    summary = _summary(estimate, seconds)
    fit = summary["motion_fit"] or {}
    return {
        **case,
        **summary,
        "angle_error": _angle_error(float(fit.get("angle", math.nan)), case["angle"]),
        "length_error": float(fit.get("length", math.nan)) - case["length"],
    }


def run_defocus(index: int) -> dict:
    """One defocus case: the disk fit's radius error and the kind auto chose."""
    from app.physics.kernels import defocus_kernel

    case = defocus_case(index)
    sharp = _load_rgb(cbsd68_paths()[case["image"]])
    blurred = blur_valid(sharp, defocus_kernel(case["radius"]), case["sigma"], case["noise_seed"])
    estimate, seconds = _estimate(blurred)
    summary = _summary(estimate, seconds)
    fit = summary["defocus_fit"] or {}
    return {**case, **summary, "radius_error": float(fit.get("radius", math.nan)) - case["radius"]}


def run_timing() -> dict:
    """Seconds for one 12 MP photo (4000x3000), the crop being what bounds the cost."""
    import cv2

    from app.physics.kernels import motion_kernel

    paths = cbsd68_paths()
    tiles = []
    for index in range(20):
        photo = _load_rgb(paths[index])
        if photo.shape[0] > photo.shape[1]:
            photo = np.ascontiguousarray(np.rot90(photo))
        tiles.append(cv2.resize(photo, (805, 755), interpolation=cv2.INTER_CUBIC))
    rows = [np.concatenate(tiles[r * 5 : r * 5 + 5], axis=1) for r in range(4)]
    mosaic = np.concatenate(rows, axis=0)[:3020, :4020]  # valid blur by 21 px -> 3000 x 4000
    blurred = blur_valid(np.clip(mosaic, 0, 1), motion_kernel(21.0, 30.0), 1.5, SEED)
    cpu_started = time.process_time()
    estimate, seconds = _estimate(blurred)
    cpu = time.process_time() - cpu_started
    return {"shape": list(blurred.shape), **_summary(estimate, seconds), "cpu_seconds": cpu}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(values, np.float64), q)) if values else math.nan


def _ratio_table(rows: list[dict]) -> list[str]:
    ratios = [row["ratio"] for row in rows]
    success = float(np.mean([r <= SUCCESS_RATIO for r in ratios])) if ratios else math.nan
    confident = [row for row in rows if row["confidence"] >= 0.5]
    unsure = [row for row in rows if row["confidence"] < 0.5]

    def rate(part: list[dict]) -> str:
        if not part:
            return "-"
        return f"{np.mean([r['ratio'] <= SUCCESS_RATIO for r in part]) * 100:.0f}% of {len(part)}"

    wiener = [row["ratios"]["wiener"] for row in rows if "wiener" in row.get("ratios", {})]
    second = []
    if wiener and any(row.get("ratios", {}).keys() - {"wiener"} for row in rows):
        second = [
            "",
            f"Same estimates judged by Photomend's Wiener deconvolution (default balance for the true noise level): "
            f"success {np.mean([r <= SUCCESS_RATIO for r in wiener]) * 100:.0f}%, median {_percentile(wiener, 50):.2f}, "
            f"80th pct {_percentile(wiener, 80):.2f}.",
        ]
    return [
        "| cases | success (ratio <= 3) | median ratio | 80th pct | 90th pct | max | kinds chosen | s / estimate (median) |",
        "|---:|---:|---:|---:|---:|---:|---|---:|",
        f"| {len(rows)} | {success * 100:.0f}% | {_percentile(ratios, 50):.2f} | {_percentile(ratios, 80):.2f} | "
        f"{_percentile(ratios, 90):.2f} | {max(ratios) if ratios else math.nan:.2f} | "
        + ", ".join(f"{k}: {sum(r['kind'] == k for r in rows)}" for k in ("general", "motion", "defocus"))
        + f" | {_percentile([r['seconds'] for r in rows], 50):.1f} |",
        "",
        f"Success by confidence: confidence >= 0.5: {rate(confident)}; confidence < 0.5: {rate(unsure)}.",
    ] + second


def wilson_interval(successes: int, count: int, z: float = 1.96) -> tuple[float, float]:
    """95% Wilson score interval of a success rate: with a few dozen cases the rate itself is noisy."""
    if count == 0:
        return math.nan, math.nan
    rate = successes / count
    centre = (rate + z * z / (2 * count)) / (1 + z * z / count)
    half = z * math.sqrt(rate * (1 - rate) / count + z * z / (4 * count * count)) / (1 + z * z / count)
    return max(0.0, centre - half), min(1.0, centre + half)


def _block_rates(rows: list[dict], block: int = 24) -> str:
    """Success rate of each run of ``block`` consecutive cases, and the interval of the whole set."""
    hits = [row["ratio"] <= SUCCESS_RATIO for row in rows]
    parts = [
        f"cases {start}-{min(start + block, len(hits)) - 1}: {np.mean(hits[start : start + block]) * 100:.0f}%"
        for start in range(0, len(hits), block)
    ]
    low, high = wilson_interval(sum(hits), len(hits))
    return (
        f"Success by block of {block} cases: {'; '.join(parts)}. "
        f"95% interval of the rate over all {len(hits)} cases (Wilson): {low * 100:.0f}-{high * 100:.0f}%."
    )


def _refresh_confidence(rows: list[dict]) -> None:
    """Recompute each case's confidence from its stored diagnostics with the current formula."""
    from app.algorithms.blind.estimate import confidence_from_features

    for row in rows:
        diagnostics = row.get("diagnostics") or {}
        if "split_agreement" in diagnostics and "stability" in diagnostics:
            row["confidence"] = confidence_from_features(diagnostics)


def _rate(rows: list[dict]) -> str:
    """'83% (70-91%) of 48': the success rate with its Wilson interval."""
    if not rows:
        return "-"
    hits = sum(r["ratio"] <= SUCCESS_RATIO for r in rows)
    low, high = wilson_interval(hits, len(rows))
    return f"{hits / len(rows) * 100:.0f}% ({low * 100:.0f}-{high * 100:.0f}%) of {len(rows)}"


def _varied_section(rows: list[dict], split: str) -> list[str]:
    """Success by blur kind, size, noise, JPEG and confidence band for one split of the varied set."""
    size = rows[0]["max_size"]
    lines = [f"### Varied blur, {split} part (shake 9-45 px with pauses and softness, defocus, noise 1-10, "
             f"JPEG 70-95; `estimate_kernel(max_size={size})`)", "",
             f"All cases: success (ratio <= 3) **{_rate(rows)}**, median ratio "
             f"{_percentile([r['ratio'] for r in rows], 50):.2f}.", "",
             "| group | success (95% interval) |", "|---|---|"]
    groups = [(f"blur: {kind}", [r for r in rows if r["blur"] == kind]) for kind in VARIED_KINDS]
    groups += [("true kernel side <= 35 px", [r for r in rows if r["true_side"] <= 35]),
               ("true kernel side > 35 px", [r for r in rows if r["true_side"] > 35]),
               ("noise sigma < 3", [r for r in rows if r["sigma"] < 3]),
               ("noise sigma >= 3", [r for r in rows if r["sigma"] >= 3]),
               ("JPEG", [r for r in rows if r["jpeg"] is not None]),
               ("no JPEG", [r for r in rows if r["jpeg"] is None])]
    groups += [(f"confidence {name}", [r for r in rows if lo <= r["confidence"] < hi])
               for name, lo, hi in (("< 0.5", 0.0, 0.5), ("0.5-0.9", 0.5, 0.9), (">= 0.9", 0.9, 2.0))]
    groups += [(f"verdict {v}", [r for r in rows if r["verdict"] == v]) for v in ("blur", "low_confidence", "no_blur")]
    lines += [f"| {name} | {_rate(part)} |" for name, part in groups if part]
    lines += ["", "| case | image | blur | side | sigma | JPEG | chosen | side | confidence | verdict | ratio |",
              "|---:|---:|---|---:|---:|---:|---|---:|---:|---|---:|"]
    for index, row in enumerate(rows):
        lines.append(f"| {index} | {row['image']} | {row['blur']} | {row['true_side']} | {row['sigma']:.1f} | "
                     f"{row['jpeg'] or '-'} | {row['kind']} | {row['kernel_side']} | {row['confidence']:.2f} | "
                     f"{row['verdict']} | {row['ratio']:.2f} |")
    return lines


def write_varied_report(cache: dict, deconv_method: str, command: str) -> str:
    """Markdown report of the varied set (its own file: it is run apart from the classic parts)."""
    lines = ["## Blind kernel estimation on varied blur", "",
             f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs while measured). "
             f"Command: `{command}`. Error ratio as above (`method='{deconv_method}'`, true noise level for both "
             "kernels; JPEG cases are deconvolved from the decoded JPEG). Nothing was tuned on either part; the "
             "held-out part was run once, after the dev part."]
    for split in VARIED_SPLITS:
        rows = [cache["varied"][k] for k in sorted(cache.get("varied", {}), key=lambda k: int(k.split(":")[1]))
                if k.startswith(split + ":")]
        if rows:
            _refresh_confidence(rows)
            lines += ["", *_varied_section(rows, split)]
    return "\n".join(lines) + "\n"


def write_report(cache: dict, deconv_method: str, command: str) -> str:
    """Markdown report from the cached results."""
    traj = [cache["trajectory"][k] for k in sorted(cache.get("trajectory", {}), key=int)]
    levin = [cache["levin"][k] for k in sorted(cache.get("levin", {}))]
    motion = [cache["motion"][k] for k in sorted(cache.get("motion", {}), key=int)]
    defocus = [cache["defocus"][k] for k in sorted(cache.get("defocus", {}), key=int)]
    timing = cache.get("timing")
    _refresh_confidence(traj + levin + motion + defocus)
    lines = [
        "## Blind kernel estimation",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores (shared with other jobs while measured), "
        f"Python {platform.python_version()}, numpy {np.__version__}. Command: `{command}`.",
        f"Error ratios use `Deblurrer(device='cpu').deblur(..., method='{deconv_method}', noise_level=true sigma)`"
        " for both kernels; SSD over the valid crop minus a border of the larger kernel side, each"
        f" result aligned by the best shift (integer within +-{MAX_SHIFT} px, then sub-pixel to 1/8 px).",
        "",
    ]
    traj_success = np.mean([r["ratio"] <= SUCCESS_RATIO for r in traj]) if traj else math.nan
    lines += [f"### Random-trajectory camera shake (extent 9-35 px, CBSD68 481x321, sigma 1-2)", ""]
    lines += _ratio_table(traj) if traj else ["(not run)"]
    if traj:
        lines += [
            "",
            f"Target: ratio <= 3 in >= 80% of cases: **{'PASS' if traj_success >= TARGET_SUCCESS else 'FAIL'}** "
            f"({traj_success * 100:.0f}%).",
            "",
            _block_rates(traj),
            "",
            "| case | image | extent px | true side | chosen | side | confidence | ratio | ratio (Wiener) | s |",
            "|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|",
        ]
        for index, row in enumerate(traj):
            lines.append(
                f"| {index} | {row['image']} | {row['extent']:.1f} | {row['true_side']} | {row['kind']} | "
                f"{row['kernel_side']} | {row['confidence']:.2f} | {row['ratio']:.2f} | "
                f"{row.get('ratios', {}).get('wiener', math.nan):.2f} | {row['seconds']:.1f} |"
            )
    lines += ["", f"### Levin et al. 2009 kernels x CBSD68 (sigma {LEVIN_SIGMA})", ""]
    if levin:
        lines += _ratio_table(levin)
        lines += ["", "| kernel | " + " | ".join(f"image {i}" for i in sorted({r['image'] for r in levin})) + " |"]
        images = sorted({r["image"] for r in levin})
        lines.append("|---:|" + "---:|" * len(images))
        for kernel_index in sorted({r["kernel"] for r in levin}):
            cells = []
            for image in images:
                match = [r for r in levin if r["kernel"] == kernel_index and r["image"] == image]
                cells.append(f"{match[0]['ratio']:.2f}" if match else "-")
            lines.append(f"| {kernel_index} | " + " | ".join(cells) + " |")
    else:
        lines.append("(not run)")
    lines += ["", "### Straight motion blur (length 9-35 px, angle 0-180)", ""]
    if motion:
        angle_errors = [r["angle_error"] for r in motion]
        length_errors = [abs(r["length_error"]) for r in motion]
        ok = all(a <= ANGLE_TOLERANCE for a in angle_errors) and all(e <= LENGTH_TOLERANCE for e in length_errors)
        lines += [
            "| cases | angle error mean / max (deg) | length error mean / max (px) | within 5 deg and 2 px | auto chose motion |",
            "|---:|---:|---:|---:|---:|",
            f"| {len(motion)} | {np.mean(angle_errors):.2f} / {max(angle_errors):.2f} | "
            f"{np.mean(length_errors):.2f} / {max(length_errors):.2f} | "
            f"{sum(a <= ANGLE_TOLERANCE and e <= LENGTH_TOLERANCE for a, e in zip(angle_errors, length_errors))}/{len(motion)} | "
            f"{sum(r['kind'] == 'motion' for r in motion)}/{len(motion)} |",
            "",
            f"Target: angle within 5 deg and length within 2 px: **{'PASS' if ok else 'FAIL'}**.",
            "",
            "| image | length | angle | fitted length | fitted angle | chosen | confidence | s |",
            "|---:|---:|---:|---:|---:|---|---:|---:|",
        ]
        for row in motion:
            fit = row["motion_fit"] or {}
            lines.append(
                f"| {row['image']} | {row['length']:.1f} | {row['angle']:.1f} | {fit.get('length', math.nan):.2f} | "
                f"{fit.get('angle', math.nan):.1f} | {row['kind']} | {row['confidence']:.2f} | {row['seconds']:.1f} |"
            )
    else:
        lines.append("(not run)")
    lines += ["", "### Defocus (radius 2-8 px)", ""]
    if defocus:
        errors = [abs(r["radius_error"]) for r in defocus]
        lines += [
            "| cases | radius error mean / max (px) | auto chose defocus |",
            "|---:|---:|---:|",
            f"| {len(defocus)} | {np.mean(errors):.2f} / {max(errors):.2f} | "
            f"{sum(r['kind'] == 'defocus' for r in defocus)}/{len(defocus)} |",
            "",
            "| image | radius | fitted | chosen | confidence |",
            "|---:|---:|---:|---|---:|",
        ]
        for row in defocus:
            fit = row["defocus_fit"] or {}
            lines.append(
                f"| {row['image']} | {row['radius']:.2f} | {fit.get('radius', math.nan):.2f} | {row['kind']} | "
                f"{row['confidence']:.2f} |"
            )
    else:
        lines.append("(not run)")
    lines += ["", "### Timing", ""]
    if timing:
        lines.append(
            f"12 MP photo ({timing['shape'][1]}x{timing['shape'][0]}, motion 21 px at 30 deg): "
            f"**{timing['seconds']:.1f} s** wall, {timing.get('cpu_seconds', math.nan):.1f} s CPU per estimate "
            f"(640 px crop; result {timing['kind']} {timing['params']})."
        )
    else:
        lines.append("(not run)")
    all_seconds = [r["seconds"] for r in traj + levin + motion + defocus]
    if all_seconds:
        lines.append(
            f"CBSD68-sized photos: median {_percentile(all_seconds, 50):.1f} s, max {max(all_seconds):.1f} s per estimate "
            "(machine shared with other jobs; single-threaded numpy/OpenCV)."
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the benchmark and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=48, help="random-trajectory cases (reported in blocks of 24)")
    parser.add_argument("--levin-images", type=int, default=2, help="CBSD68 photos per Levin kernel")
    parser.add_argument("--motion", type=int, default=10, help="straight-motion cases")
    parser.add_argument("--defocus", type=int, default=5, help="defocus cases")
    parser.add_argument("--no-timing", action="store_true", help="skip the 12 MP timing")
    parser.add_argument("--deconv", choices=("deep", "wiener"), default="deep", help="method of the headline ratio")
    parser.add_argument("--parts", default="trajectory,levin,motion,defocus,timing,varied-dev,varied-held-out",
                        help="varied-held-out: run it only after any tuning on varied-dev (results/blind_varied.md)")
    parser.add_argument("--varied", type=int, default=48, help="cases per split of the varied set")
    parser.add_argument("--varied-max-size", type=int, default=35, help="max_size of the varied set (the product's)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--fresh", action="store_true", help="ignore cached results")
    parser.add_argument("--max-minutes", type=float, default=0.0, help="stop cleanly after this long (0: no limit)")
    args = parser.parse_args(argv)
    if not (DATA_ROOT / "CBSD68").exists():
        print(f"shared data not found at {DATA_ROOT}; skipping")
        return 0
    cache: dict = {}
    if args.cache.exists() and not args.fresh:
        cache = json.loads(args.cache.read_text())
    if cache.get("deconv") not in (None, args.deconv):
        print(f"cache was made with --deconv {cache.get('deconv')}; use --fresh or another --cache")
        return 2
    cache["deconv"] = args.deconv
    deconv = Deconvolver(args.deconv)
    parts = set(args.parts.split(","))
    started = time.perf_counter()
    deadline = started + args.max_minutes * 60.0 if args.max_minutes > 0 else math.inf
    jobs: list[tuple[str, str, object]] = []
    if "trajectory" in parts:
        jobs += [("trajectory", str(i), lambda i=i: run_trajectory(i, deconv)) for i in range(args.cases)]
    if "levin" in parts:
        jobs += [
            ("levin", f"{k}-{i}", lambda k=k, i=i: run_levin(k, i, deconv))
            for i in range(args.levin_images)
            for k in range(1, 9)
        ]
    if "motion" in parts:
        jobs += [("motion", str(i), lambda i=i: run_motion(i)) for i in range(args.motion)]
    if "defocus" in parts:
        jobs += [("defocus", str(i), lambda i=i: run_defocus(i)) for i in range(args.defocus)]
    for split in ("dev", "held-out"):
        if f"varied-{split}" in parts:
            jobs += [("varied", f"{split}:{i}", lambda i=i, split=split: run_varied(i, split, deconv, args.varied_max_size))
                     for i in range(args.varied)]
    if "timing" in parts and not args.no_timing:
        jobs.append(("timing", "", run_timing))
    command = "python benchmarks/bench_blind.py " + " ".join(argv if argv is not None else sys.argv[1:])
    done_all = True
    for part, key, job in jobs:
        section = cache.setdefault(part, {}) if part != "timing" else None
        if (part == "timing" and cache.get("timing")) or (section is not None and key in section):
            continue
        if time.perf_counter() > deadline:
            done_all = False
            break
        result = job()  # type: ignore[operator]
        if part == "timing":
            cache["timing"] = result
        else:
            section[key] = result
        args.cache.write_text(json.dumps(cache, indent=1, default=float))
        print(f"{part} {key}: " + ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.items()
              if k in ("ratio", "kind", "confidence", "seconds", "angle_error", "length_error", "radius_error")), flush=True)
    RESULTS_FILE.parent.mkdir(parents=True, exist_ok=True)
    if any(cache.get(part) for part in ("trajectory", "levin", "motion", "defocus", "timing")):
        report = write_report(cache, args.deconv, command.strip())
        RESULTS_FILE.write_text(report)
        print(report)
    if cache.get("varied"):
        report = write_varied_report(cache, args.deconv, command.strip())
        VARIED_RESULTS_FILE.write_text(report)
        print(report)
    if not done_all:
        print("stopped at --max-minutes; run the same command again to continue")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
