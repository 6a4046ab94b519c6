"""The engine's outputs on fixed inputs, to show that a refactor changed no pixel.

Runs the same seeded cases through today's engine (denoise at a given level, automatic, tiled,
with Detail/Colour noise, a grey photo; deep deblurring whole and tiled; Wiener) and saves them;
``--compare OLD.npz`` then reports the largest difference per case. Run it once on a checkout from
before a change (PYTHONPATH=that checkout) and once after.

    python benchmarks/engine_fingerprint.py --save /tmp/after.npz --compare /tmp/before.npz

Writes benchmarks/results/fingerprint.md when comparing.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data"


def cases() -> dict[str, np.ndarray]:
    import cv2
    import torch
    from scipy.signal import fftconvolve

    from app.engine.deblur import Deblurrer
    from app.engine.denoise import Denoiser
    from app.physics.kernels import motion_kernel

    torch.set_num_threads(2)
    paths = sorted((SHARED / "CBSD68").glob("*.png"))[:2]
    rng = np.random.default_rng(0)
    denoiser, deblurrer = Denoiser(), Deblurrer()
    kernel = motion_kernel(15, 30)
    out: dict[str, np.ndarray] = {}
    for index, path in enumerate(paths):
        clean = cv2.imread(str(path))[:, :, ::-1].astype(np.float32) / 255
        noisy = (clean + rng.normal(0, 25 / 255, clean.shape)).astype(np.float32)
        out[f"denoise at 25, photo {index}"] = denoiser.denoise(noisy, noise_level=25).pixels
        out[f"denoise auto, photo {index}"] = denoiser.denoise(noisy).pixels
        out[f"denoise 128 px tiles, photo {index}"] = denoiser.denoise(noisy, noise_level=25, tile=128).pixels
        out[f"denoise detail 30 colour 60, photo {index}"] = denoiser.denoise(noisy, detail=30, colour_noise=60,
                                                                             tile=128).pixels
        grey = np.repeat(noisy.mean(2, keepdims=True), 3, 2)
        out[f"denoise grey at 25, photo {index}"] = denoiser.denoise(grey, noise_level=25).pixels
        blurred = np.stack([fftconvolve(clean[..., c], kernel, mode="same") for c in range(3)], 2)
        blurred = (blurred + rng.normal(0, 2.55 / 255, clean.shape)).astype(np.float32)
        out[f"deep deblur, photo {index}"] = deblurrer.deblur(blurred, kernel, method="deep", iterations=4).pixels
        out[f"deep deblur 128 px tiles, photo {index}"] = deblurrer.deblur(blurred, kernel, method="deep",
                                                                           iterations=4, tile=128).pixels
        out[f"wiener deblur, photo {index}"] = deblurrer.deblur(blurred, kernel, method="wiener").pixels
    return out


def compare(new: dict[str, np.ndarray], old_path: Path) -> list[str]:
    sys.path.insert(0, str(HERE.parent))
    from app.metrics import psnr

    old = np.load(old_path)
    lines = ["## Engine fingerprint: before vs after a change", "",
             f"Command: `python benchmarks/engine_fingerprint.py --compare {old_path.name}` (the same seeded cases "
             "through both checkouts, same torch). Largest absolute difference per case, on the 0-1 scale.", "",
             "| case | max abs difference | PSNR between them |", "|---|---|---|"]
    for name, pixels in new.items():
        before = old[name] if name in old.files else None
        if before is None:
            lines.append(f"| {name} | missing before | |")
            continue
        diff = float(np.abs(before.astype(np.float64) - pixels).max())
        lines.append(f"| {name} | {diff:.1e} | {psnr(before, pixels):.1f} dB |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--save", type=Path, required=True, help=".npz to write today's outputs to")
    parser.add_argument("--compare", type=Path, help="an .npz saved by another checkout")
    parser.add_argument("--note", default="", help="a line saying what the two checkouts are")
    args = parser.parse_args()
    new = cases()
    np.savez(args.save, **new)
    if args.compare:
        lines = compare(new, args.compare)
        if args.note:
            lines.insert(2, args.note + "\n")
        (HERE / "results" / "fingerprint.md").write_text("\n".join(lines) + "\n")
        print("\n".join(lines))


if __name__ == "__main__":
    main()
