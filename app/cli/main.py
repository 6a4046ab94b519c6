"""`photomend` command line: denoise, deblur, dejpeg, kernel, models, info, gui (the default).

Exit codes: 0 all done, 1 some files failed (or a model is not installed, failed its check or
cannot be loaded: before any file is read), 2 usage error (an unknown model name among them),
130 interrupted (Ctrl+C), 143 / 129 stopped by SIGTERM / SIGHUP.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import NoReturn

from app import __version__
from app.cli import arguments
from app.cli.progress import ProgressLine
from app.errors import CancelledError, PhotomendError, Terminated
from app.termination import exit_code_for, install_termination_handlers, restore_handlers
from models.errors import ModelWeightsError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


def build_parser() -> argparse.ArgumentParser:
    from app.engine.finish import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL

    parser = argparse.ArgumentParser(prog="photomend", description="Restore noisy photos with deep-learning models.")
    parser.add_argument("--version", action="version", version=f"photomend {__version__}")
    parser.add_argument("--self-test", action="store_true",
                        help="denoise the bundled sample headless, check it improved, and exit (0 = passed)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    denoise = commands.add_parser("denoise", help="remove noise from photos (FFDNet)",
                                  description="Remove noise from photos. Outputs go beside the inputs as "
                                  "<stem>_denoised<ext> unless -o is given; existing files are never replaced "
                                  "without --overwrite.")
    arguments.add_batch_options(denoise)
    denoise.add_argument("--noise-level", type=arguments.noise_level, default=None, metavar="auto|N",
                         help="noise sigma on the 0-255 scale; auto (default) estimates it per photo")
    denoise.add_argument("--strength", type=arguments.strength, default=50.0, metavar="S",
                         help="0 = unchanged, 50 = the automatic level (default), 100 = twice as strong")
    denoise.add_argument("--detail", type=arguments.amount, default=DEFAULT_DETAIL, metavar="D",
                         help=f"0-100: fine texture given back so skin and hair do not look waxy; 0 = the model's "
                         f"output (default {DEFAULT_DETAIL:g})")
    denoise.add_argument("--colour-noise", "--color-noise", type=arguments.amount, default=DEFAULT_COLOUR_NOISE,
                         metavar="C", help=f"0-100: extra smoothing of colour blotches (chroma only); 0 = the "
                         f"model's output (default {DEFAULT_COLOUR_NOISE:g})")
    denoise.add_argument("--precision", default="fp32", help="fp32 (default), a fast mode where supported, or auto")
    _add_model_option(denoise, "denoise")

    deblur = commands.add_parser("deblur", help="remove blur (camera shake, missed focus, soft lens)",
                                 description="Deblur photos with the blur kernel given or estimated from each photo. "
                                 "Outputs go beside the inputs as <stem>_deblurred<ext> unless -o is given.")
    arguments.add_batch_options(deblur)
    deblur.add_argument("--kernel", default=None, metavar="auto|SPEC",
                        help="auto (estimate per photo, default), motion:LENGTH,ANGLE, defocus:RADIUS, "
                        "gaussian:SIGMA, or a .png/.npy kernel file; angle in degrees counter-clockwise from "
                        "horizontal as seen on screen. Not used with a learned deblurring model")
    deblur.add_argument("--noise-level", type=arguments.noise_level, default=None, metavar="auto|N",
                        help="noise sigma on the 0-255 scale; auto (default) estimates it")
    deblur.add_argument("--method", choices=("deep", "wiener"), default="deep",
                        help="deep: deep-prior deconvolution (default); wiener: fast, for previews")
    deblur.add_argument("--iterations", type=arguments.iterations, default=None, metavar="N",
                        help="deep-prior iterations (default 8)")
    deblur.add_argument("--strength", type=arguments.strength, default=50.0, metavar="S",
                        help="0 = unchanged, 50 = default, 100 = sharper (less regularised)")
    deblur.add_argument("--precision", default="fp32", help="fp32 (default), a fast mode where supported, or auto")
    deblur.add_argument("--save-kernel", metavar="PATH",
                        help="write the kernel used (.png or .npy; a folder for several inputs)")
    _add_model_option(deblur, "deblur", extra="; a learned deblurring model (nafnet-gopro-32, ...) needs no kernel, "
                      "a noise-level model is the prior of --method deep")

    dejpeg = commands.add_parser("dejpeg", help="remove JPEG block artefacts",
                                 description="Remove JPEG blocking and ringing. Outputs go beside the inputs as "
                                 "<stem>_dejpeg<ext> unless -o is given. The built-in model sets its level from "
                                 "the photo and its JPEG quality; fbcnn-color (once downloaded) is made for it.")
    arguments.add_batch_options(dejpeg)
    dejpeg.add_argument("--strength", type=arguments.strength, default=50.0, metavar="S",
                        help="0 = unchanged, 50 = the automatic level (default), 100 = twice as strong")
    dejpeg.add_argument("--precision", default="fp32", help="fp32 (default), a fast mode where supported, or auto")
    _add_model_option(dejpeg, "dejpeg")

    kernel = commands.add_parser("kernel", help="estimate the blur kernel of a photo",
                                 description="Estimate the blur kernel of a photo and write it (.png or .npy) "
                                 "with a preview picture beside it (<name>_preview.png).")
    kernel.add_argument("input", metavar="INPUT")
    kernel.add_argument("-o", "--output", required=True, metavar="kernel.png|.npy")
    kernel.add_argument("--kind", choices=("auto", "motion", "defocus", "general"), default="auto")
    kernel.add_argument("--max-size", type=arguments.kernel_size, default=35, metavar="PX",
                        help="largest kernel side, 3-201 (default 35)")
    kernel.add_argument("--overwrite", action="store_true", help="replace existing files (links are replaced, "
                        "never written through)")
    arguments.add_verbose_option(kernel)

    from app.cli.models_cmd import add_models_parser

    add_models_parser(commands)
    commands.add_parser("info", help="versions, devices and models")
    gui = commands.add_parser("gui", help="open the window (the default with no command)")
    gui.add_argument("file", nargs="?", help="a photo to open")
    return parser


def _add_model_option(parser: argparse.ArgumentParser, operation: str, extra: str = "") -> None:
    """--model; the default is filled in from models.DEFAULT_MODEL when the settings are built."""
    parser.add_argument("--model", default=None, metavar="NAME|FILE",
                        help="a model name (see `photomend models list`) or a model file (.pth, .safetensors); "
                        f"default: the built-in ffdnet-color{extra}")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in ("gui", None) and not args.self_test:
        from app.gui.app import run_gui

        return run_gui(getattr(args, "file", None))
    previous = install_termination_handlers()
    try:
        if args.self_test:
            from app.selftest import run_self_test

            return run_self_test()
        if args.command == "info":
            from app.cli.info_cmd import run_info

            return run_info()
        if args.command in ("denoise", "deblur", "dejpeg"):
            return run_restore(args, parser)
        if args.command == "models":
            from app.cli.models_cmd import run_models

            return run_models(args)
        if args.command == "kernel":
            from app.cli.kernel_cmd import run_kernel

            return run_kernel(args, parser)
        raise AssertionError(f"unhandled command {args.command!r}")
    except KeyboardInterrupt:
        print("\ninterrupted: no partial files were left", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as stop:
        print(f"\nstopped by signal {stop.signum}: no partial files were left", file=sys.stderr)
        return exit_code_for(stop.signum)
    except Exception as error:  # a bug outside the per-file boundary: one line here, the traceback in the log
        from app.errorlog import unexpected_error_line

        print(f"photomend: error: {unexpected_error_line('photomend ' + str(args.command), error)}", file=sys.stderr)
        return EXIT_FAILED
    finally:
        restore_handlers(previous)


def _usage_error(parser: argparse.ArgumentParser, error: BaseException | str) -> NoReturn:
    parser.exit(EXIT_USAGE, f"photomend: error: {str(error).strip(chr(39))}\n")


def _settings_from_args(args: argparse.Namespace, parser: argparse.ArgumentParser):
    """RestoreSettings for the command; a bad kernel spec or file is a usage error, caught before any file."""
    from app.pipeline.operations import RestoreSettings, learned_deblur
    from models import DEFAULT_MODEL

    args.model = args.model or DEFAULT_MODEL[args.command]
    common = {"model": args.model, "device": args.device, "precision": args.precision, "tile": args.tile,
              "strength": args.strength}
    if args.command == "dejpeg":  # the model's output as it is: no texture or chroma finishing
        return RestoreSettings(operation="dejpeg", detail=0, colour_noise=0, **common)
    if args.command == "deblur":
        if learned_deblur(args.model):  # the model deblurs by itself: no kernel, no finishing
            return RestoreSettings(operation="deblur", noise_level=args.noise_level, detail=0, colour_noise=0,
                                   **common)
        spec = (args.kernel or "auto").strip()
        if spec.lower() != "auto":
            from app.physics.kernels import kernel_from_spec

            try:
                kernel_from_spec(spec)
            except PhotomendError as error:
                parser.exit(EXIT_USAGE, f"photomend: error: --kernel: {error}\n")
        return RestoreSettings(operation="deblur", noise_level=args.noise_level, kernel_spec=spec,
                               deblur_method=args.method, iterations=args.iterations, **common)
    return RestoreSettings(operation="denoise", noise_level=args.noise_level, detail=args.detail,
                           colour_noise=args.colour_noise, **common)


def _uses_kernel(settings) -> bool:
    from app.pipeline.operations import learned_deblur

    return settings.operation == "deblur" and not learned_deblur(settings.model)


def _load_engine(cache, settings, parser: argparse.ArgumentParser):
    """Load the model and check the device before the first file: a bad choice is one line, not N.

    Returns the model that will run (None for Wiener deblurring, which uses none). A model that is
    not installed, fails its check or cannot be read exits 1; an unknown name exits 2.
    """
    from models.library import UnknownModel

    try:
        if _uses_kernel(settings):
            deblurrer = cache.deblurrer(settings)
            if settings.deblur_method != "deep":
                return None
            return deblurrer.runner.model  # loads and verifies the prior's weights now
        model = cache.denoiser(settings).model
    except UnknownModel as error:
        _usage_error(parser, error)
    except ModelWeightsError as error:
        print(f"photomend: error: {error}", file=sys.stderr)
        raise SystemExit(EXIT_FAILED) from None
    except (PhotomendError, KeyError) as error:
        _usage_error(parser, error)
    if model.blind and settings.noise_level is not None:
        _usage_error(parser, f"--noise-level: model '{model.name}' is blind: it takes no noise level "
                     "(use --strength instead)")
    return model


def _model_notes(args: argparse.Namespace, settings, model) -> list[str]:
    """What the user asked for that this model will not do, said once before the files."""
    from app.pipeline.operations import learned_deblur

    notes = []
    if settings.operation == "deblur" and learned_deblur(settings.model):
        if args.kernel is not None:
            notes.append(f"--kernel is not used: {model.name} is a learned deblurring model (it needs no kernel)")
        if args.save_kernel:
            notes.append(f"--save-kernel: no kernel is used by {model.name}, so none is saved")
    elif model is not None and model.blind and model.task != settings.operation:
        notes.append(f"{model.name} is a {model.task} model; running it for {settings.operation} as asked")
    return notes


def run_restore(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from app.pipeline.inputs import plan_outputs
    from app.pipeline.operations import SUFFIXES, EngineCache, operation_for
    from app.pipeline.process_file import OutputOptions, process_file

    try:
        plan = plan_outputs(
            [Path(p) for p in args.inputs],
            output=Path(args.output) if args.output else None,
            recursive=args.recursive,
            suffix=SUFFIXES[args.command],
            fmt=args.format,
            overwrite=args.overwrite,
        )
    except PhotomendError as error:
        _usage_error(parser, error)
    settings = _settings_from_args(args, parser)
    cache = EngineCache()
    model = _load_engine(cache, settings, parser)  # before any file is read or any line printed
    items = plan.items
    report = Report(ProgressLine(len(items), quiet=args.quiet), verbose=args.verbose)
    for note in _model_notes(args, settings, model):
        report.note(note)
    skipped = plan.expansion.skipped_summary()
    if skipped:
        report.note(f"{skipped} (not restored)")
    operation = operation_for(cache, settings)
    options = OutputOptions(format=args.format, quality=args.quality, bit_depth=args.bit_depth,
                            overwrite=args.overwrite, max_pixels=args.max_megapixels)
    failed = 0
    for index, item in enumerate(items, start=1):
        report.progress.start_file(index, item.source.name)
        if not _make_output_folder(item, report):
            failed += 1
            continue
        try:
            outcome = process_file(item, operation, options, progress=report.progress)
        except CancelledError:
            return EXIT_INTERRUPTED
        if not outcome.ok:
            failed += 1
            report.error(outcome.message, outcome.traceback)
            continue
        report.ok(item.source, outcome, settings)
        if getattr(args, "save_kernel", None) and _uses_kernel(settings):
            from app.cli.kernel_cmd import save_kernel_for

            saved, line = save_kernel_for(outcome.report.kernel, Path(args.save_kernel), item.source,
                                          len(items) > 1)
            if saved:
                report.note(line)
            else:
                failed += 1
                report.error(line)
    if len(items) > 1 or skipped:
        summary = f"done: {len(items) - failed} of {len(items)} restored" + (f", {failed} failed" if failed else "")
        report.note(summary + (f"; {skipped}" if skipped else ""), prefix="")
    return EXIT_FAILED if failed else EXIT_OK


def _make_output_folder(item, report: "Report") -> bool:
    if item.target is None or item.target.parent == item.source.parent:
        return True
    try:
        item.target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        report.error(f"{item.target}: cannot create its folder {item.target.parent} ({error.strerror})")
        return False
    return True


class Report:
    """The lines a restore run prints: ok / note / error, one per event, tracebacks only with --verbose."""

    def __init__(self, progress: ProgressLine, verbose: bool) -> None:
        self.progress = progress
        self.verbose = verbose

    def note(self, text: str, prefix: str = "note: ") -> None:
        self.progress.message(f"{prefix}{text}")

    def error(self, text: str, traceback: str | None = None) -> None:
        self.progress.message(f"error: {text}")
        if traceback and self.verbose:
            self.progress.message(traceback.rstrip())

    def ok(self, source: Path, outcome, settings) -> None:
        from models import DEFAULT_MODEL

        done = outcome.report
        parts = []
        estimate = done.kernel_estimate
        if estimate is not None:
            described = estimate.describe()
            if "confidence" not in described:
                described += f" (confidence {estimate.confidence:.2f})"
            if done.unchanged and estimate.verdict == "blur" and done.messages:  # the result kept blur: why
                parts.append(f"kernel {described}: {done.messages[0]}")
            else:
                parts.append(f"kernel {described}" if not done.unchanged else f"{described}: left unchanged")
        if done.blind:  # no level: which model ran is the useful fact
            parts.append(f"model {done.model}")
        elif not done.unchanged:
            if done.level_reason is not None:  # denoise, automatic level: what was measured and why
                parts.append(f"auto: {done.level_reason}")
            elif done.estimated_sigma is not None:
                parts.append(f"noise {done.estimated_sigma:.1f} (auto)")
            else:
                parts.append("noise set")
            parts.append(f"level used {done.sigma or 0.0:.1f}")
            if done.model and done.model != DEFAULT_MODEL.get(settings.operation):
                parts.append(f"model {done.model}")
        parts.append(f"{outcome.seconds:.1f}s")
        parts.append(f"{done.device}/{done.precision}")
        self.progress.message(f"ok: {source} -> {outcome.target}  [{', '.join(parts)}]")
        for message in done.messages if not done.unchanged else []:
            self.note(f"{source.name}: {message}")


if __name__ == "__main__":
    sys.exit(main())
