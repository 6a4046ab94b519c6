"""`photomend --self-test`: a headless check that an install (or a PyInstaller bundle) really works.

It loads the FFDNet weights (sha256-verified), denoises the bundled sample photo on the CPU with
the same engine every front end uses, and compares both the noisy input and the result with the
clean reference: the self-test passes (exit 0) only when denoising gains at least MIN_GAIN_DB of
PSNR. No Qt is imported, so it also runs on a machine without a display.
"""

from __future__ import annotations

import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Callable

import numpy as np

from app import __version__
from app.metrics import psnr

# The sample gains +3.4 dB (27.7 -> 31.0 dB); the best plain Gaussian blur gains only +0.4 dB, so
# under +2 dB means the model or the pipeline is broken, while leaving room for platform differences.
MIN_GAIN_DB = 2.0
NOISY_SAMPLE = "astronaut_noisy.jpg"
CLEAN_SAMPLE = "astronaut_clean.png"


def samples_dir() -> Path:
    """resources/samples in the bundle (sys._MEIPASS) or the source tree; as app.gui.resources, without Qt."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parents[1]
    return root / "resources" / "samples"


def run_self_test(out: Callable[[str], None] = print) -> int:
    """Print a summary; 0 when the sample improved by at least MIN_GAIN_DB, 1 on any failure."""
    try:
        return _self_test(out)
    except Exception as error:  # noqa: BLE001 - any failure is a failed self-test, reported, never a crash
        out(traceback.format_exc().rstrip())
        out(f"self-test FAILED: {type(error).__name__}: {error}")
        return 1


def _self_test(out: Callable[[str], None]) -> int:
    started = time.perf_counter()
    import torch

    from app.engine.denoise import Denoiser
    from app.io.reader import read_photo
    from models.ffdnet.weights import find_weights_file

    mode = "frozen bundle" if getattr(sys, "frozen", False) else "source tree"
    out(f"Photomend {__version__} self-test ({mode})")
    out(f"  Python {platform.python_version()} on {platform.system()} {platform.machine()}, "
        f"torch {torch.__version__}, numpy {np.__version__}")
    out(f"  weights: {find_weights_file()}")
    folder = samples_dir()
    noisy = read_photo(folder / NOISY_SAMPLE).pixels
    clean = read_photo(folder / CLEAN_SAMPLE).pixels
    if noisy.shape != clean.shape:
        raise RuntimeError(f"sample {noisy.shape} and reference {clean.shape} differ in size")
    loaded = time.perf_counter()
    denoiser = Denoiser(device="cpu")  # loads and verifies the weights
    model_seconds = time.perf_counter() - loaded
    result = denoiser.denoise(noisy)
    # both scored as the 8-bit photos they are or would be saved as; the reference is an 8-bit PNG
    before, after = psnr(noisy, clean, quantize_8bit=True), psnr(result.pixels, clean, quantize_8bit=True)
    gain = after - before
    sigma = f"{result.choice.sigma:.1f} ({result.choice.reason})" if result.choice is not None else f"{result.sigma:.1f}"
    out(f"  device {result.device}, precision {result.precision}, model load {model_seconds:.1f} s")
    out(f"  sample {NOISY_SAMPLE} {noisy.shape[1]}x{noisy.shape[0]}, noise sigma {sigma}")
    out(f"  PSNR vs {CLEAN_SAMPLE}: {before:.2f} dB -> {after:.2f} dB ({gain:+.2f} dB, need >= +{MIN_GAIN_DB:.1f})")
    out(f"  denoise {result.seconds:.1f} s, total {time.perf_counter() - started:.1f} s")
    if not np.isfinite(result.pixels).all() or result.pixels.shape != noisy.shape:
        out("self-test FAILED: the result is not a finite image of the input's size")
        return 1
    if gain < MIN_GAIN_DB:
        out(f"self-test FAILED: PSNR gain {gain:.2f} dB is under {MIN_GAIN_DB:.1f} dB")
        return 1
    out("self-test passed")
    return 0


if __name__ == "__main__":
    sys.exit(run_self_test())
