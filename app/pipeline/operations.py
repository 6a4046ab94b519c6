"""The operation layer: typed settings -> the operation they name -> pixels and a typed report.

One path for the CLI, the window and the batch queue. ``RestoreSettings`` is what a user chose
(operation, model, device, strength, noise level, kernel...); ``EngineCache`` keeps the loaded
engines; ``restore_with_settings`` runs one whole photo and returns a ``RestoreReport``;
``operation_for`` turns settings into the RestoreFunction that ``process_file`` applies to files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np

from app.engine.auto_level import LevelChoice
from app.engine.denoise import Denoiser
from app.engine.finish import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL
from app.engine.strength import DEFAULT_STRENGTH
from app.engine.throughput import describe_seconds
from app.errors import PhotomendError
from app.pipeline.process_file import Cancelled, Progress, RestoreFunction
from models import DEFAULT_MODEL, load_model

OPERATIONS = ("denoise", "deblur", "dejpeg")
SUFFIXES = {"denoise": "_denoised", "deblur": "_deblurred", "dejpeg": "_dejpeg"}


@dataclass(frozen=True)
class RestoreSettings:
    """Everything that decides a restoration, captured when a run is asked for."""

    operation: str = "denoise"  # 'denoise' | 'deblur' | 'dejpeg'
    model: str = DEFAULT_MODEL["denoise"]  # a catalogue or imported name, or a model file
    device: str = "auto"
    precision: str = "fp32"
    tile: int | None = None  # None = auto, 0 = whole image
    strength: float = 50.0
    noise_level: float | None = None  # None = estimated per photo
    kernel_spec: str = "motion:15,0"
    deblur_method: str = "deep"
    # The kernel is this photo's own blind estimate (the window's Auto, or kernel_spec 'auto'): the
    # result is then checked for blur left behind and the photo kept as it was when some is.
    kernel_estimated: bool = False
    iterations: int | None = None  # deblur; None = the method's default
    detail: float = DEFAULT_DETAIL  # denoise, 0-100: fine luma texture given back (app.engine.finish)
    colour_noise: float = DEFAULT_COLOUR_NOISE  # denoise, 0-100: extra chroma smoothing

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "RestoreSettings":
        """Unknown keys are ignored and missing ones take their defaults, so older queue files load."""
        known = {name: data[name] for name in cls.__dataclass_fields__ if name in data}
        return cls(**known)

    def summary(self) -> str:
        """Short text for batch rows and logs."""
        noise = "auto" if self.noise_level is None else f"{self.noise_level:g}"
        model = "" if self.model == DEFAULT_MODEL["denoise"] else f", model {self.model}"
        if self.operation == "deblur" and learned_deblur(self.model):
            return f"Deblur with {self.model}, strength {self.strength:g}"
        if self.operation == "dejpeg":
            return f"JPEG artefacts{model}, strength {self.strength:g}"
        if self.operation == "deblur":
            return f"Deblur {self.kernel_spec} ({self.deblur_method}), strength {self.strength:g}, noise {noise}"
        return (f"Denoise{model}, strength {self.strength:g}, noise {noise}, detail {self.detail:g}, "
                f"colour noise {self.colour_noise:g}, {self.device}/{self.precision}")


def learned_deblur(model: str) -> bool:
    """Whether ``model`` deblurs by itself (a blind learned model: no kernel), without loading it
    when the catalogue already says (a user file is loaded to find out)."""
    from models import find_entry

    entry = find_entry(model)
    if entry is not None:
        return entry.task == "deblur"
    try:
        descriptor = load_model(model)
    except Exception:  # noqa: BLE001 - the engine reports a bad model when it loads it
        return False
    return descriptor.blind and descriptor.task == "deblur"


class EngineCache:
    """One loaded engine per (operation, model, device, precision): switching back is instant."""

    def __init__(self, notify: Callable[[str], None] | None = None) -> None:
        self._engines: dict[tuple[str, str, str, str], Any] = {}
        self.notify = notify

    def denoiser(self, settings: RestoreSettings, precision: str | None = None) -> Denoiser:
        key = ("denoise", settings.model, settings.device, precision or settings.precision)
        if key not in self._engines:
            self._engines[key] = Denoiser(model=key[1], device=key[2], precision=key[3], notify=self.notify)
        return self._engines[key]

    def deblurrer(self, settings: RestoreSettings, precision: str | None = None) -> Any:
        from app.engine.deblur import Deblurrer

        key = ("deblur", settings.model, settings.device, precision or settings.precision)
        if key not in self._engines:
            self._engines[key] = Deblurrer(device=key[2], precision=key[3], model=key[1], notify=self.notify)
        return self._engines[key]


@dataclass
class RestoreReport:
    """What one restoration did: the ok line, batch rows, the status bar and logs read it."""

    operation: str
    model: str | None = None  # the model that ran (None: Wiener, or nothing was run)
    blind: bool = False  # the model took no noise level
    sigma: float | None = None  # the level used (0-255, after strength); None for blind models
    estimated_sigma: float | None = None  # the automatic level, when one was measured
    level_reason: str | None = None  # why ("camera noise, measured 9.8; JPEG quality 85")
    kernel: np.ndarray | None = None  # deblurring with a kernel: the one used
    kernel_estimate: Any = None  # its blind estimate (app.algorithms.blind.KernelEstimate), if any
    unchanged: bool = False  # deliberately left as it was (e.g. no clear blur found)
    device: str = ""
    precision: str = ""
    tile: int = 0
    messages: list[str] = field(default_factory=list)  # notes for the user, in order
    notes: list[str] = field(default_factory=list)  # what the input itself said (first frame only...)


Restored = tuple[np.ndarray, RestoreReport]


def restore_with_settings(
    cache: EngineCache,
    rgb: np.ndarray,
    settings: RestoreSettings,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
    jpeg_quality: float | None = None,
    level_choice: LevelChoice | None = None,
) -> Restored:
    """Restore a whole photo: the operation the settings name, and what it did.

    ``jpeg_quality``: the source JPEG's quality when ``rgb`` are its decoded pixels, so the
    automatic denoise level includes its compression artefacts. ``level_choice``: the automatic
    level already measured on these pixels (``Denoiser.choose_level``), so it is not measured again.
    """
    if settings.operation == "deblur" and not learned_deblur(settings.model):
        return _deblur_with_kernel(cache, rgb, settings, progress, cancelled)
    return _run_model(cache, rgb, settings, progress, cancelled, jpeg_quality, level_choice)


def _run_model(cache: EngineCache, rgb: np.ndarray, settings: RestoreSettings, progress: Progress | None,
               cancelled: Cancelled | None, jpeg_quality: float | None,
               level_choice: LevelChoice | None = None) -> Restored:
    """Denoise, JPEG artefacts, and deblurring with a learned model: one model over the photo."""
    denoiser = cache.denoiser(settings)
    result = denoiser.denoise(
        rgb, noise_level=settings.noise_level, strength=settings.strength, tile=settings.tile,
        detail=settings.detail, colour_noise=settings.colour_noise, progress=progress, cancelled=cancelled,
        jpeg_quality=jpeg_quality, choice=None if settings.noise_level is not None else level_choice,
    )
    choice = result.choice
    report = RestoreReport(
        operation=settings.operation, model=denoiser.model.name, blind=denoiser.model.blind, sigma=result.sigma,
        estimated_sigma=None if choice is None else choice.sigma, level_reason=None if choice is None else choice.reason,
        device=result.device, precision=result.precision, tile=result.tile, messages=list(result.messages))
    return result.pixels, report


def _deblur_with_kernel(cache: EngineCache, rgb: np.ndarray, settings: RestoreSettings, progress: Progress | None,
                        cancelled: Cancelled | None) -> Restored:
    """Deconvolution with a given or estimated kernel (the deep prior is settings.model)."""
    kernel, estimate = kernel_for(settings.kernel_spec, rgb, cancelled)
    if estimate is not None and estimate.verdict != "blur":
        # One-click deblur must do no harm: a near-delta kernel can only add artefacts, and a
        # kernel the estimate does not trust can ruin a sharp photo. The user can still give one.
        note = ("no clear blur found: the photo was left unchanged" if estimate.verdict == "no_blur" else
                f"{estimate.describe()}: the photo was left unchanged (give --kernel to deblur it anyway)")
        return rgb.copy(), RestoreReport(operation="deblur", sigma=0.0, kernel=kernel, kernel_estimate=estimate,
                                         unchanged=True, device=settings.device, precision=settings.precision,
                                         messages=[note])
    kwargs: dict[str, Any] = {}
    if settings.iterations is not None:
        kwargs["iterations"] = settings.iterations
    # The check is calibrated on the deep method's results (Wiener, a preview method, keeps more blur).
    verify = ((estimate is not None or settings.kernel_estimated) and settings.strength >= DEFAULT_STRENGTH
              and settings.deblur_method == "deep")
    bar = _CheckedProgress(progress) if verify and progress is not None else None
    result = cache.deblurrer(settings).deblur(
        rgb, kernel, method=settings.deblur_method,
        noise_level=settings.noise_level, strength=settings.strength, tile=settings.tile,
        progress=bar or progress, cancelled=cancelled, expected=getattr(bar or progress, "expected", None), **kwargs,
    )
    left = _blur_left(result.pixels, kernel, cancelled, bar.check if bar else None) if verify else None
    if left is not None:
        from app.algorithms.blind.estimate import support_side

        note = (f"deblurring with the estimated kernel left blur about {support_side(left.kernel)} px across behind, "
                "so one kernel does not explain this photo (a moving subject?): the photo was left unchanged (give "
                "the kernel to deblur it anyway, or use a learned deblurring model)")
        return rgb.copy(), RestoreReport(operation="deblur", sigma=0.0, kernel=kernel, kernel_estimate=estimate,
                                         unchanged=True, device=settings.device, precision=settings.precision,
                                         messages=[note])
    report = RestoreReport(
        operation="deblur", model=settings.model if settings.deblur_method == "deep" else None,
        sigma=result.noise_level, estimated_sigma=result.noise_level if result.estimated else None,
        kernel=kernel, kernel_estimate=estimate, device=str(result.device), precision=result.precision,
        tile=result.tile, messages=list(result.messages))
    return result.pixels, report


def estimate_seconds(cache: EngineCache, shape: tuple[int, ...], settings: RestoreSettings) -> float | None:
    """Predicted seconds of Deblur with ``settings`` on a photo of ``shape``, from measured speed.

    Loads and runs nothing (safe on a UI thread): None until :func:`measure_speed` or a run has
    measured this machine, and for operations without an estimate. An automatic kernel counts
    at its largest size.
    """
    if settings.operation != "deblur" or learned_deblur(settings.model):
        return None
    from app.algorithms.blind.estimate import DEFAULT_MAX_SIZE
    from app.physics.kernels import kernel_from_spec

    spec = settings.kernel_spec.strip().lower() or ("auto" if settings.kernel_estimated else "")
    if not spec:
        return None
    try:
        kernel = (np.ones((DEFAULT_MAX_SIZE, DEFAULT_MAX_SIZE), np.float32) if spec == "auto"
                  else kernel_from_spec(settings.kernel_spec))
    except PhotomendError:
        return None
    from app.engine import throughput
    from app.engine.deblur import DEFAULT_ITERATIONS

    iterations = settings.iterations or DEFAULT_ITERATIONS
    seconds = cache.deblurrer(settings).estimate_seconds(shape, kernel, settings.deblur_method, iterations,
                                                         settings.tile, probe=False)
    if seconds is None:
        return None
    # Finding the blur first (when not yet found), and the check of the result for blur left.
    estimates = (spec == "auto") + (spec == "auto" or settings.kernel_estimated)
    return seconds + estimates * throughput.blind_estimate_seconds()


class _CheckedProgress:
    """One progress bar over a deblur and the check of its result, each its share of the predicted time."""

    STEPS = 1000

    def __init__(self, progress: Progress) -> None:
        from app.engine import throughput

        self.progress = progress
        self.check_seconds = throughput.blind_estimate_seconds()
        self.share = 0.8  # of the bar for the deblur, until its own estimate tells

    def __call__(self, done: int, total: int) -> None:
        self.progress(int(self.STEPS * self.share * done / max(1, total)), self.STEPS)

    def expected(self, seconds: float) -> None:
        self.share = seconds / max(1e-6, seconds + self.check_seconds)
        forward = getattr(self.progress, "expected", None)
        if forward is not None:
            forward(seconds + self.check_seconds)

    def check(self, done: int, total: int) -> None:
        fraction = self.share + (1.0 - self.share) * done / max(1, total)
        self.progress(self.STEPS if done >= total else int(self.STEPS * fraction), self.STEPS)  # full, not 99.9%


def _blur_left(pixels: np.ndarray, kernel: np.ndarray, cancelled: Cancelled | None,
               progress: Progress | None = None):
    """The blur an estimated kernel left in its result (see app.algorithms.blind.blur_left), or None."""
    from app.algorithms.blind import blur_left

    return timed_estimate(lambda: blur_left(pixels, kernel.shape[0], cancelled, progress))


def timed_estimate(estimate: Callable[[], Any]) -> Any:
    """Run a blind kernel estimate and record how long it took (for Deblur's time estimates)."""
    import time

    from app.engine import throughput

    started = time.perf_counter()
    result = estimate()
    throughput.record(throughput.BLIND_ESTIMATE, time.perf_counter() - started, 1.0)
    return result


def measure_speed(cache: EngineCache, settings: RestoreSettings) -> None:
    """Load Deblur's prior and time it (exact and fast precision) so estimates exist before the first run.

    Seconds (int8 calibration where that is the fast precision); for a worker thread at start-up.
    """
    if settings.deblur_method != "deep" or learned_deblur(settings.model):
        return
    from app.engine import throughput

    deblurrer = cache.deblurrer(settings)
    throughput.model_rate(deblurrer.runner)
    throughput.model_rate(deblurrer.fast_runner())


def kernel_for(spec: str, rgb: np.ndarray, cancelled: Cancelled | None = None) -> tuple[np.ndarray, Any]:
    """The kernel a spec names; 'auto' estimates it from this photo (blind), per photo."""
    if spec.strip().lower() == "auto":
        from app.algorithms.blind import estimate_kernel

        estimate = timed_estimate(lambda: estimate_kernel(rgb, cancelled=cancelled))
        return estimate.kernel, estimate
    from app.physics.kernels import kernel_from_spec

    return kernel_from_spec(spec), None


def operation_for(cache: EngineCache, settings: RestoreSettings) -> RestoreFunction:
    """Bind settings into the function ``process_file`` applies to each photo."""

    def restore(rgb: np.ndarray, progress: Progress | None, cancelled: Cancelled | None,
                jpeg_quality: float | None = None) -> Restored:
        return restore_with_settings(cache, rgb, settings, progress, cancelled, jpeg_quality)

    return restore
