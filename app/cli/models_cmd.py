"""`photomend models list|download|import|remove|info`: the model library from the command line.

The work is done by models/install.py (shared with the window); this module parses, prints
and maps errors to the CLI's exit codes: 0 done, 1 failed (a download, check or load failed; a
file was refused), 2 usage (an unknown name, a name that cannot be used, the built-in model
asked to be removed), 130 / 128+N interrupted (a download keeps its ``.part`` for a resume).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
import time
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from app.errors import PhotomendError, Terminated, UsageError

if TYPE_CHECKING:
    from models.descriptor import ModelDescriptor

# As in models/descriptor.py, which imports torch: the parser must stay quick to build.
TASKS = ("denoise", "deblur", "dejpeg")
TASK_TITLES = {"denoise": "noise", "deblur": "motion blur", "dejpeg": "JPEG artefacts"}

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
COMMAND_FOR_TASK = {"denoise": "denoise", "deblur": "deblur", "dejpeg": "dejpeg"}


# --------------------------------------------------------------------------- parser


def add_models_parser(commands: argparse._SubParsersAction) -> None:
    """The `models` command and its sub-commands."""
    models = commands.add_parser(
        "models", help="list, download, import and remove models",
        description="The model library: the built-in FFDNet, catalogue models to download (verified by size "
        "and sha256) and model files you import. Without a sub-command: list.")
    sub = models.add_subparsers(dest="models_command", metavar="SUBCOMMAND")
    sub.add_parser("list", help="every known model: task, licence, size, installed or not")
    download = sub.add_parser("download", help="download a catalogue model (resumes an unfinished download)",
                              description="Download a catalogue model into the models folder "
                              "($PHOTOMEND_MODELS_DIR overrides it; $PHOTOMEND_MODEL_MIRROR is tried first). "
                              "The file is checked against its size and sha256 and loaded once before use.")
    download.add_argument("name", metavar="NAME")
    imported = sub.add_parser("import", help="copy a model file (.pth, .safetensors) into the library",
                              description="Check a model file (its architecture must be one spandrel knows; "
                              "files holding code are refused) and copy it into the library under a name.")
    imported.add_argument("file", metavar="FILE")
    imported.add_argument("--name", help="the model's name (default: from the file name)")
    imported.add_argument("--task", choices=TASKS, help="what the model is for (default: from its architecture)")
    remove = sub.add_parser("remove", help="delete a downloaded or imported model")
    remove.add_argument("name", metavar="NAME")
    info = sub.add_parser("info", help="everything about one model (a name or a model file)")
    info.add_argument("name", metavar="NAME|FILE")


def run_models(args: argparse.Namespace) -> int:
    command = args.models_command or "list"
    try:
        if command == "list":
            return run_list()
        if command == "download":
            return run_download(args.name)
        if command == "import":
            return run_import(args.file, name=args.name, task=args.task)
        if command == "remove":
            return run_remove(args.name)
        if command == "info":
            return run_info(args.name)
    except PhotomendError as error:
        return fail(error)
    raise AssertionError(f"unhandled models command {command!r}")


def fail(error: BaseException) -> int:
    """One line on stderr; unknown names and unusable requests are usage errors (2), the rest 1."""
    from models.library import UnknownModel

    print(f"photomend: error: {error}", file=sys.stderr)
    return EXIT_USAGE if isinstance(error, (UnknownModel, UsageError)) else EXIT_FAILED


# --------------------------------------------------------------------------- list


def run_list(stream: TextIO | None = None) -> int:
    from models.library import listings, short_licence

    stream = stream or sys.stdout
    rows = [("NAME", "TASK", "LICENCE", "SIZE", "INSTALLED", "ORIGIN", "GOOD FOR")]
    for row in listings():
        rows.append((row.name, row.task, short_licence(row.licence), row.size_text, _installed_text(row),
                     row.origin, _short_good_for(row)))
    widths = [max(len(row[i]) for row in rows) for i in range(6)]
    room = max(24, shutil.get_terminal_size((120, 24)).columns - sum(widths) - 2 * 6 - 1)
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:6], widths)]
        stream.write("  ".join([*cells, shorten(row[6], room)]).rstrip() + "\n")
    return EXIT_OK


def _installed_text(row) -> str:
    if row.installed:
        return "yes"
    if row.origin == "imported":
        return "missing"
    fraction = _partial_fraction(row.name)
    return f"no ({fraction:.0%} downloaded)" if fraction else "no"


def _partial_fraction(name: str) -> float:
    """How much of an unfinished download is on disk (0 when none)."""
    from models.catalogue import find_entry
    from models.download import partial_path
    from models.store import catalogue_path

    entry = find_entry(name)
    if entry is None or entry.builtin:
        return 0.0
    try:
        return min(1.0, partial_path(catalogue_path(entry)).stat().st_size / entry.size)
    except OSError:
        return 0.0


def _short_good_for(row) -> str:
    if row.origin == "imported":
        return "from " + Path(row.good_for.removeprefix("imported from ")).name
    return row.good_for.split(";")[0]


def shorten(text: str, width: int) -> str:
    """Cut at a word boundary, with "..." when anything was left out."""
    if len(text) <= width:
        return text
    cut = text[: max(1, width - 3)].rsplit(" ", 1)[0].rstrip(",:;")
    return cut + "..."


# --------------------------------------------------------------------------- download


class DownloadProgress:
    """"name  12.0 of 117 MB  10%  8.1 MB/s  13s left": one updating line on a terminal, a line
    per tenth in a log. Speed counts only this run's bytes, so a resume does not look fast."""

    def __init__(self, name: str, stream: TextIO | None = None) -> None:
        self.name = name
        self.stream = stream or sys.stderr
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.calls = 0
        self._start: tuple[float, int] | None = None
        self._last_draw = 0.0
        self._last_tenth = -1
        self._drawn = False

    def __call__(self, done: int, total: int) -> None:
        self.calls += 1
        now = time.monotonic()
        if self._start is None:
            self._start = (now, done)
        if self.interactive:
            if now - self._last_draw >= 0.1 or done >= total:
                self._last_draw = now
                self.stream.write(f"\r{self.line(done, total, now)}\033[K")
                self.stream.flush()
                self._drawn = True
        else:
            tenth = int(10 * done / total) if total else 10
            if tenth != self._last_tenth:
                self._last_tenth = tenth
                self.stream.write(self.line(done, total, now) + "\n")
                self.stream.flush()

    def line(self, done: int, total: int, now: float) -> str:
        parts = [self.name, f"{done / 1e6:.1f} of {total / 1e6:.1f} MB", f"{100 * done / total:.0f}%" if total else ""]
        started, first = self._start or (now, done)
        elapsed = now - started
        if elapsed > 0.5 and done > first:
            rate = (done - first) / elapsed
            parts.append(f"{rate / 1e6:.1f} MB/s")
            if done < total:
                parts.append(f"{duration((total - done) / rate)} left")
        return "  ".join(part for part in parts if part)

    def finish(self) -> None:
        """End the live line so the next message starts on its own line."""
        if self.interactive and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False


def duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m {seconds % 60:02d}s"
    return f"{seconds // 3600}h {seconds % 3600 // 60:02d}m"


def run_download(name: str) -> int:
    from app.termination import exit_code_for
    from models.download import partial_path
    from models.install import BuiltInModel, catalogue_entry, download_entry
    from models.store import catalogue_path

    entry = catalogue_entry(name)
    if entry.builtin:
        print(BuiltInModel(f"{entry.name} is built in: nothing to download"))
        return EXIT_OK  # the model is there, which is what was asked for
    progress = DownloadProgress(entry.name)
    try:
        path = download_entry(entry.name, progress=progress)
    except (KeyboardInterrupt, Terminated) as stop:
        progress.finish()
        part = partial_path(catalogue_path(entry))
        kept = f"the partial download is kept ({part}); " if part.exists() else ""
        print(f"\ninterrupted: {kept}run `photomend models download {entry.name}` again to resume", file=sys.stderr)
        return exit_code_for(stop.signum) if isinstance(stop, Terminated) else EXIT_INTERRUPTED
    except PhotomendError as error:
        progress.finish()
        return fail(error)
    progress.finish()
    state = "downloaded and verified" if progress.calls else "already installed and verified"
    print(f"{entry.name}: {state}: {path}")
    return EXIT_OK


# --------------------------------------------------------------------------- import, remove


def run_import(file: str, *, name: str | None, task: str | None) -> int:
    from models.catalogue import find_entry
    from models.install import import_model, licence_text

    record = import_model(file, name=name, task=task)
    if find_entry(record.name) is not None:  # the bytes of a catalogue model: installed as that model
        print(f"installed {record.name} from {file}: the catalogue's file (sha256 verified)")
        print(f"  use it:    photomend {COMMAND_FOR_TASK.get(record.task, 'denoise')} --model {record.name} PHOTO")
        return EXIT_OK
    print(f"imported {record.name}: {record.architecture}, {record.task} ({TASK_TITLES.get(record.task, '')})")
    print(f"  licence:   {licence_text(record.licence)}")
    print(f"  copied to: {record.path}")
    print(f"  use it:    photomend {COMMAND_FOR_TASK.get(record.task, 'denoise')} --model {record.name} PHOTO")
    return EXIT_OK


def run_remove(name: str) -> int:
    from models.install import remove_model

    print(remove_model(name))
    return EXIT_OK


# --------------------------------------------------------------------------- info


def run_info(name: str) -> int:
    from models.catalogue import find_entry
    from models.library import UnknownModel, is_model_file
    from models.store import imported_models

    entry = find_entry(name)
    if entry is not None:
        return _print_info(_entry_lines(entry), entry.name if _entry_installed(entry) else None)
    record = imported_models().get(name.strip().lower())
    if record is not None:
        return _print_info(_imported_lines(record), record.name)
    if is_model_file(name):
        path = Path(name).expanduser()
        if not path.is_file():
            raise UnknownModel(f"{path}: no such model file")
        return _print_info([f"{path}: a model file (not imported)"], str(path))
    raise UnknownModel(f"unknown model '{name}' (see `photomend models list`)")


def _entry_installed(entry) -> bool:
    from models.store import is_installed

    return is_installed(entry)


def _print_info(lines: list[str], load: str | None) -> int:
    """The facts, then (for a model that is there) what the loaded model says about itself."""
    from models.library import load_model

    print("\n".join(lines))
    if load is None:
        return EXIT_OK
    try:
        descriptor = load_model(load)
    except PhotomendError as error:
        print(_field("loads", f"NO: {error}"))
        return fail(error)
    print("\n".join(descriptor_lines(descriptor)))
    return EXIT_OK


def _field(label: str, value: str) -> str:
    """'  label:     value', long values wrapped under the value column."""
    head = f"  {(label + ':') if label else '':<15}"
    wrapped = textwrap.wrap(value, width=max(40, _columns() - len(head)), break_long_words=False,
                            break_on_hyphens=False) or [""]
    return "\n".join([head + wrapped[0], *[" " * len(head) + line for line in wrapped[1:]]])


def _columns() -> int:
    return shutil.get_terminal_size((100, 24)).columns


def _entry_lines(entry) -> list[str]:
    from models.download import mirror_urls, partial_path
    from models.install import licence_text
    from models.store import catalogue_path

    lines = [f"{entry.name}: {entry.title}" + ("  (built in)" if entry.builtin else ""),
             _field("task", f"{entry.task} ({TASK_TITLES.get(entry.task, entry.task)})"),
             _field("architecture", entry.architecture),
             _field("licence", licence_text(entry.licence)),
             _field("size", entry.size_text + (f" ({entry.size:,} bytes)" if entry.size else "")),
             _field("sha256", entry.sha256)]
    urls = mirror_urls(entry.urls, entry.filename) if entry.urls else ()
    lines += [_field("urls" if i == 0 else "", url) for i, url in enumerate(urls)]
    lines += [_field("credit", entry.credit), _field("good for", entry.good_for),
              _field("published", entry.published),
              _field("cost", f"{entry.gmacs_per_megapixel:g} GMACs per megapixel")]
    if entry.builtin:
        lines.append(_field("installed", "built in (comes with the program)"))
    else:
        path = catalogue_path(entry)
        if path.is_file():
            lines.append(_field("installed", str(path)))
        else:
            part = partial_path(path)
            resume = ""
            if part.is_file():
                resume = f"; {part.stat().st_size / entry.size:.0%} downloaded, a re-run resumes"
            lines.append(_field("installed", f"not installed: run `photomend models download {entry.name}`{resume}"))
    return lines


def _imported_lines(record) -> list[str]:
    from models.install import licence_text

    return [f"{record.name}: imported model",
            _field("task", f"{record.task} ({TASK_TITLES.get(record.task, record.task)})"),
            _field("architecture", record.architecture),
            _field("licence", licence_text(record.licence)),
            _field("size", f"{record.size / 1e6:.1f} MB ({record.size:,} bytes)"),
            _field("sha256", record.sha256),
            _field("installed", str(record.path) if record.path.is_file() else f"MISSING: {record.path}"),
            _field("imported from", record.imported_from)]


def descriptor_lines(descriptor: ModelDescriptor) -> list[str]:
    """What the loaded model says about itself (the engine reads these)."""
    precisions = "; ".join(f"{device} {', '.join(values)}" for device, values in descriptor.precisions.items())
    conditioning = ("noise-level map (the automatic level, Detail and Colour noise apply)"
                    if descriptor.conditioning == "noise_map" else "blind (no noise-level input; strength blends)")
    return [_field("model", descriptor.summary()),
            _field("conditioning", conditioning),
            _field("size multiple", f"{descriptor.size.multiple} (at least {descriptor.size.minimum} px)"),
            _field("tile margin", f"{descriptor.tile_margin} px"),
            _field("precisions", precisions)]


__all__ = ["DownloadProgress", "add_models_parser", "descriptor_lines", "run_models"]
