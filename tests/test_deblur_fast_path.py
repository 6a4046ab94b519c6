"""Deep deblurring's fast path: the fast prior's place in the loop, time estimates, deep previews.

The speed itself is a benchmark (benchmarks/deblur_speed.py), not a test; these guard what the
user relies on: the result is still made by the exact prior, estimates exist before and during a
run and follow measured speed, and previews pick deep only where it arrives quickly.
"""

from __future__ import annotations

import io

import numpy as np
import pytest

from app.algorithms.dpir import DpirSettings, dpir_deconvolve
from app.engine import throughput
from app.engine.deblur import Deblurrer
from app.physics.blur import blur
from app.physics.kernels import kernel_from_spec


def _blurred(seed: int = 0, size: tuple[int, int] = (72, 96)) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    sharp = np.clip(np.kron(rng.random((size[0] // 8, size[1] // 8, 3)), np.ones((8, 8, 1))), 0, 1).astype(np.float32)
    kernel = kernel_from_spec("motion:7,30")
    return np.clip(blur(sharp, kernel, mode="same"), 0, 1).astype(np.float32), kernel


def test_the_fast_prior_runs_the_early_iterations_and_never_the_last():
    calls: list[str] = []

    def denoiser(name: str):
        def run(image: np.ndarray, level) -> np.ndarray:
            calls.append(name)
            return image

        return run

    observed, kernel = _blurred()
    settings = DpirSettings(iterations=6, fast_iterations=4)
    dpir_deconvolve(observed, kernel, denoiser("exact"), 0.01, settings, fast_denoise=denoiser("fast"))
    assert calls == ["fast"] * 4 + ["exact"] * 2
    calls.clear()
    dpir_deconvolve(observed, kernel, denoiser("exact"), 0.01, DpirSettings(iterations=3, fast_iterations=9),
                    fast_denoise=denoiser("fast"))
    assert calls == ["fast", "fast", "exact"]  # even when asked for more, the last step is exact


def test_fast_prior_result_stays_close_to_the_exact_one():
    """The fast (int8/half) prior in the early iterations changes a photo's result by well under what a user sees.

    A photo, not random saturated blocks: int8's activation ranges are calibrated on photographic content.
    """
    from app.gui.resources import sample_clean_path
    from tests.conftest import load_rgb

    sharp = load_rgb(sample_clean_path())[100:228, 100:292].astype(np.float32)
    kernel = kernel_from_spec("motion:7,30")
    observed = np.clip(blur(sharp, kernel, mode="same"), 0, 1).astype(np.float32)
    exact = Deblurrer("cpu", fast_precision="off")
    fast = Deblurrer("cpu")
    fast.fast_prior_min_pixels = 0
    if fast.fast_runner() is fast.runner:
        pytest.skip("this CPU offers no faster precision than fp32")
    a = exact.deblur(observed, kernel, noise_level=2.0).pixels
    b = fast.deblur(observed, kernel, noise_level=2.0).pixels
    mse = float(np.mean((a - b) ** 2))
    assert 10 * np.log10(1.0 / max(mse, 1e-12)) > 40.0


def test_the_first_prior_step_runs_at_half_resolution_and_never_the_last():
    shapes: list[tuple[int, ...]] = []

    def record(image: np.ndarray, level) -> np.ndarray:
        shapes.append(tuple(sorted(image.shape[:2])))  # each step sees its own flip/rotation of the grid
        return image

    observed, kernel = _blurred()
    dpir_deconvolve(observed, kernel, record, 0.01, DpirSettings(iterations=4, half_iterations=1))
    full = shapes[-1]
    assert shapes[0] == tuple(sorted(side // 2 + (side // 2) % 2 for side in full))  # even, for FFDNet
    assert shapes[1:] == [full] * 3
    shapes.clear()
    dpir_deconvolve(observed, kernel, record, 0.01, DpirSettings(iterations=3, half_iterations=9))
    assert shapes[-1] == full and all(s != full for s in shapes[:-1])  # the step that makes the result is full size


def test_half_resolution_step_denoises_the_two_by_two_means_and_scales_the_level():
    """What the coarse step hands on: the denoiser's output on 2x2 means, brought back to full size."""
    import torch

    from app.algorithms.dpir import _denoise_at_half

    told: list[float] = []

    def denoise(planes: torch.Tensor, level) -> torch.Tensor:
        told.append(float(level))
        return planes * 0.5

    rows, cols = np.mgrid[0:40, 0:60].astype(np.float32)
    smooth = torch.from_numpy(np.stack([np.sin(rows / 9.0) + cols / 60.0] * 3))  # nothing above half-Nyquist
    out = _denoise_at_half(denoise, smooth, 0.2, 0.7, [0])
    assert told == [pytest.approx(0.14)]
    assert out.shape == smooth.shape
    inner = (slice(None), slice(2, -2), slice(2, -2))
    assert float((out - 0.5 * smooth)[inner].abs().max()) < 0.01  # smooth content passes through the means intact


def test_half_resolution_first_step_changes_the_result_by_less_than_a_user_sees():
    observed, kernel = _blurred(3, (96, 128))
    full = Deblurrer("cpu", fast_precision="off", settings=DpirSettings(half_iterations=0))
    half = Deblurrer("cpu", fast_precision="off", settings=DpirSettings(half_iterations=1))
    a = full.deblur(observed, kernel, noise_level=2.0).pixels
    b = half.deblur(observed, kernel, noise_level=2.0).pixels
    assert 10 * np.log10(1.0 / max(float(np.mean((a - b) ** 2)), 1e-12)) > 40.0


def test_the_time_estimate_counts_a_half_resolution_pass_as_a_quarter():
    assert DpirSettings(iterations=8, half_iterations=0).pass_cost() == 8.0
    assert DpirSettings(iterations=8, half_iterations=2).pass_cost() == 6.5
    assert DpirSettings(iterations=2, half_iterations=5).pass_cost() == 1.25  # never the last step
    assert DpirSettings(iterations=8, half_iterations=1).denoiser_calls() == 8  # progress still counts every call


def test_small_photos_use_the_exact_prior_throughout():
    observed, kernel = _blurred()
    deblurrer = Deblurrer("cpu")
    assert deblurrer._fast_share(deblurrer.settings, observed.shape[0] * observed.shape[1]) == 0.0
    assert deblurrer._fast_share(deblurrer.settings, 12_000_000) == pytest.approx(6 / 7)


def test_estimate_is_none_until_measured_without_probing_then_follows_the_last_run():
    throughput.forget()
    observed, kernel = _blurred(2)
    deblurrer = Deblurrer("cpu")
    assert deblurrer.estimate_seconds(observed.shape, kernel, probe=False) is None  # nothing loaded, nothing run
    heard: list[float] = []
    deblurrer.deblur(observed, kernel, noise_level=2.0, expected=heard.append)
    assert len(heard) == 1 and heard[0] > 0  # told before the work started (from a probe)
    deblurrer.deblur(observed, kernel, noise_level=2.0)  # the first run also traced the model for these shapes
    after = deblurrer.estimate_seconds(observed.shape, kernel, probe=False)
    again = deblurrer.deblur(observed, kernel, noise_level=2.0)
    assert after is not None and 0.3 * again.seconds <= after <= 3.0 * again.seconds  # measured, not guessed
    bigger = deblurrer.estimate_seconds((observed.shape[0] * 2, observed.shape[1] * 2, 3), kernel, probe=False)
    assert bigger > 2.0 * after  # four times the pixels (plus less band): clearly longer


def test_describe_seconds_reads_like_a_person_would_say_it():
    assert throughput.describe_seconds(3) == "a few seconds"
    assert throughput.describe_seconds(42) == "about 40 s"
    assert throughput.describe_seconds(200) == "about 3 min"
    assert throughput.describe_seconds(4300) == "about 1 h 12 min"


def test_cli_progress_line_shows_the_estimate_before_the_first_step():
    from app.cli.progress import ProgressLine

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    line = ProgressLine(1, stream=stream)
    line.start_file(1, "photo.jpg")
    line.expected(95.0)
    assert "s left (estimate)" in stream.getvalue().split("\r")[-1]
    line._last_draw = 0.0  # past the redraw rate limit
    line(4, 8)
    assert "(estimate)" not in stream.getvalue().split("\r")[-1] and "s left" in stream.getvalue().split("\r")[-1]


def test_deblur_preview_is_wiener_while_moving_and_deep_only_when_quick():
    from app.pipeline.operations import EngineCache, RestoreSettings
    from app.pipeline.previews import deblur_preview_method

    cache = EngineCache()
    settings = RestoreSettings(operation="deblur", device="cpu", kernel_spec="motion:9,0", deblur_method="deep")
    small, huge = (0, 0, 64, 48), (0, 0, 6000, 4000)
    deblurrer = cache.deblurrer(settings)

    def measured(seconds_per_megapixel_pass: float) -> None:
        """This process's measured deep speed, as a finished run records it (not the machine's load now)."""
        throughput.forget()
        for pixels in (64 * 48, 6000 * 4000):
            throughput.record(deblurrer._deep_rate_key(deblurrer.settings, pixels), seconds_per_megapixel_pass, 1.0)

    measured(20.0)  # a 2-core CPU on a small photo
    assert deblur_preview_method(cache, small, settings, final=False) == "wiener"
    assert deblur_preview_method(cache, small, settings, final=True) == "deep"
    assert deblur_preview_method(cache, huge, settings, final=True) == "wiener"
    measured(5000.0)  # a machine far too slow for a deep preview even of a small region
    assert deblur_preview_method(cache, small, settings, final=True) == "wiener"
    throughput.forget()
    wiener = RestoreSettings(operation="deblur", device="cpu", kernel_spec="motion:9,0", deblur_method="wiener")
    assert deblur_preview_method(cache, small, wiener, final=True) == "wiener"
