"""Turn the paths a user gave (files, folders) into planned (input, output) pairs.

Shared by the CLI and the batch queue so both name outputs the same way: beside the input
as ``<stem><suffix><ext>``, or inside an output folder (mirroring sub-folders of a
recursive scan), with ``-1``, ``-2`` ... on a collision unless overwriting was asked for.

All outputs are planned before any file is processed, which is what makes two promises
checkable: no output may replace another input of the same run (even with --overwrite), and
no two inputs (the same file named twice, as a relative and an absolute path) share an output.
Folder scans also say what they left out, so "14 of 14 restored" never hides skipped files.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from app.errors import PhotomendError, UsageError
from app.io.atomic import is_temporary_name
from app.io.naming import default_output_path, extension_for_format, format_from_path, numbered_names
from app.io.reader import SUPPORTED_EXTENSIONS

OUTPUT_SUFFIXES = ("_denoised", "_deblurred", "_restored")
_OWN_OUTPUT = re.compile(r"(%s)(-\d+)?$" % "|".join(OUTPUT_SUFFIXES))
RAW_EXTENSIONS = frozenset(
    ".3fr .arw .cr2 .cr3 .crw .dcr .dng .erf .iiq .k25 .kdc .mef .mos .mrw .nef .nrw .orf .pef "
    ".raf .raw .rw2 .rwl .sr2 .srf .srw .x3f".split()
)
OTHER_IMAGE_EXTENSIONS = frozenset(
    ".avif .exr .gif .hdr .heic .heif .ico .jp2 .j2k .jxl .psd .qoi .svg .tga .xcf".split()
)


@dataclass(frozen=True)
class WorkItem:
    """One photo to restore and where its result goes (None: planning failed, see error).

    base: the un-numbered default name when the output name was chosen by us (not given with
    -o): if another process takes ``target`` before it is written, the next free ``base-N``
    is used instead. None for a name the user gave, which is never changed.
    protect: the other inputs of the run, whose files the write must never replace.
    """

    source: Path
    target: Path | None
    error: str | None = None
    base: Path | None = None
    protect: tuple[Path, ...] = ()

    def alternatives(self) -> Iterator[Path] | None:
        """Later free names the writer may take, or None for a name the user fixed."""
        if self.base is None or self.target is None:
            return None
        return numbered_names(self.base, self.target)


@dataclass(frozen=True)
class SkippedInput:
    """A file or folder a folder scan left out, and the reason in a few words."""

    path: Path
    reason: str


@dataclass
class Expansion:
    """What a scan of the user's paths found: files to process, and what was left out."""

    found: list[tuple[Path, Path | None]] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)

    def skipped_summary(self) -> str:
        """'skipped 3: 2 RAW files (.CR2), 1 not an image', or '' when nothing was skipped."""
        if not self.skipped:
            return ""
        counts = Counter(item.reason for item in self.skipped)
        parts = [_plural(reason, n) for reason, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
        return f"skipped {len(self.skipped)}: " + ", ".join(parts)


def _plural(reason: str, n: int) -> str:
    """'2 RAW files (.CR2)' from the reason 'RAW file (.CR2)'."""
    if n == 1:
        return f"1 {reason}"
    head, sep, tail = reason.partition(" (")
    words = head.split(" ")
    if words[:2] == ["not", "an"]:  # "not an image" -> "not images"
        return f"{n} not " + " ".join(words[2:]) + "s" + (f" ({tail}" if sep else "")
    if words[-1] == "image" or words[-1] in ("file", "folder", "result", "sub-folder"):
        words[-1] += "s"
    elif words[-1].endswith("y"):
        words[-1] = words[-1][:-1] + "ies"
    return f"{n} " + " ".join(words) + (f" ({tail}" if sep else "")


def skip_reason(path: Path) -> str | None:
    """Why a file found inside a folder is not processed, or None when it is a photo to restore."""
    name = path.name
    ext = path.suffix.lower()
    if name.startswith("."):
        return "hidden file"
    if ext in SUPPORTED_EXTENSIONS:
        return "earlier Photomend result" if _OWN_OUTPUT.search(path.stem) else None
    if ext in RAW_EXTENSIONS:
        return f"RAW file ({path.suffix.upper()})"
    if ext in OTHER_IMAGE_EXTENSIONS:
        return f"unsupported image ({path.suffix.upper()})"
    return "not an image"


def expand_inputs(paths: Iterable[Path], *, recursive: bool) -> Expansion:
    """Files as given, folders expanded to their photos: (file, folder it was found under).

    Inside folders only supported photos count; our own earlier outputs (``*_denoised.*``), hidden
    files, RAW and other files are recorded as skipped with a reason, as are sub-folders that
    cannot be read (and, without ``recursive``, sub-folders not scanned). A path given
    explicitly is always kept, so a bad one is reported rather than ignored.
    """
    result = Expansion()
    for path in paths:
        path = Path(path)
        if path.is_dir():
            _scan_folder(path, recursive, result)
        else:
            result.found.append((path, None))
    return result


def _scan_folder(root: Path, recursive: bool, result: Expansion) -> None:
    def unreadable(error: OSError) -> None:
        result.skipped.append(SkippedInput(Path(error.filename or root), "unreadable folder"))

    for folder, dirs, files in os.walk(root, onerror=unreadable, followlinks=False):
        here = Path(folder)
        dirs.sort()
        for name in list(dirs):
            if os.path.islink(here / name):
                result.skipped.append(SkippedInput(here / name, "linked folder (not followed)"))
                dirs.remove(name)
        if not recursive:
            for name in dirs:
                result.skipped.append(SkippedInput(here / name, "sub-folder (use -r to include it)"))
            dirs.clear()
        for name in sorted(files):
            if is_temporary_name(name):
                continue  # a writer's temporary file: neither a photo nor worth a word
            candidate = here / name
            reason = skip_reason(candidate)
            if reason is None and not candidate.is_file():
                reason = "not a regular file"
            if reason is None:
                result.found.append((candidate, root))
            else:
                result.skipped.append(SkippedInput(candidate, reason))


def looks_like_file_target(output: Path) -> bool:
    """-o names a file when it has an image extension and is not an existing folder."""
    return not output.is_dir() and output.suffix.lower() in SUPPORTED_EXTENSIONS


def entry_key(path: Path) -> str:
    """The directory entry a path names (folder links resolved, the final name kept as is)."""
    path = Path(path)
    return os.path.normcase(os.path.join(os.path.realpath(path.parent), path.name))


def input_keys(path: Path) -> set[str]:
    """Every entry whose replacement would destroy this input: its own, and its link's target."""
    return {entry_key(path), os.path.normcase(os.path.realpath(path))}


@dataclass
class Plan:
    """Planned work for a run: the items (in order) and what the scan left out."""

    items: list[WorkItem]
    expansion: Expansion


def plan_outputs(
    paths: list[Path],
    *,
    output: Path | None,
    recursive: bool = False,
    suffix: str = "_denoised",
    fmt: str | None = None,
    overwrite: bool = False,
) -> Plan:
    """Pair every input with a distinct output path; an output that is another input is refused.

    Raises UsageError when nothing can be planned (no inputs, several inputs for one -o file).
    An item that must not run gets ``target=None`` and a one-line ``error``.
    """
    if not paths:
        raise UsageError("no input files given")
    expansion = expand_inputs(paths, recursive=recursive)
    inputs = expansion.found
    if not inputs:
        detail = f" ({expansion.skipped_summary()})" if expansion.skipped else ""
        raise UsageError("no photos found in " + ", ".join(str(p) for p in paths) + detail)
    ext = extension_for_format(fmt) if fmt else None
    if output is not None and looks_like_file_target(output):
        if len(inputs) > 1:
            raise UsageError(f"{output}: several inputs need an output folder, not a file name")
        if fmt and format_from_path(output) != format_from_path(Path("x" + ext)):
            raise UsageError(f"{output}: extension does not match --format {fmt}")
        items = [WorkItem(inputs[0][0], output)]
    else:
        items = _default_names(inputs, output, recursive, suffix, ext, overwrite)
    return Plan(_guard_inputs(items, overwrite), expansion)


def _default_names(
    inputs: list[tuple[Path, Path | None]], output: Path | None, recursive: bool, suffix: str,
    ext: str | None, overwrite: bool,
) -> list[WorkItem]:
    taken: set[str] = set()
    items = []
    for source, root in inputs:
        out_dir = source.parent if output is None else output
        if output is not None and root is not None and recursive:
            out_dir = output / source.parent.relative_to(root)
        base = out_dir / f"{source.stem}{suffix}{ext or source.suffix}"
        target = _free_name(source, base, overwrite, taken)
        taken.add(entry_key(target))
        items.append(WorkItem(source, target, base=None if overwrite else base))
    return items


def _free_name(source: Path, base: Path, overwrite: bool, taken: set[str]) -> Path:
    """The default name, stepping past names given to earlier inputs and (unless overwriting) files on disk."""
    if overwrite and entry_key(base) not in taken and entry_key(base) not in input_keys(source):
        return base
    for candidate in [base, *numbered_names(base)]:
        if entry_key(candidate) in taken or os.path.lexists(candidate):
            continue
        return candidate
    raise PhotomendError(f"{base}: no free output name")


def _guard_inputs(items: list[WorkItem], overwrite: bool) -> list[WorkItem]:
    """Refuse outputs that would replace another input; with --overwrite, also tell the writer which."""
    keys = [input_keys(item.source) for item in items]
    owners: dict[str, Path] = {}
    for item, own in zip(items, keys):
        for key in own:
            owners.setdefault(key, item.source)
    everyone = [(path, key) for item, own in zip(items, keys) for path, key in _protected(item.source, own)]
    guarded = []
    for item, own in zip(items, keys):
        if item.target is not None:
            target_key = entry_key(item.target)
            if target_key in owners and target_key not in own:
                message = (f"{item.source}: its output {item.target} is another input of this run; "
                           "not written (choose another output name or folder)")
                guarded.append(WorkItem(item.source, None, message))
                continue
        # Without --overwrite the writer replaces nothing at all; with it, never another input.
        protect = tuple(path for path, key in everyone if key not in own) if overwrite else ()
        guarded.append(WorkItem(item.source, item.target, item.error, item.base, protect))
    return guarded


def _protected(source: Path, own: set[str]) -> Iterator[tuple[Path, str]]:
    """The input and, for a link, the file it points to, each with one of its keys."""
    yield source, entry_key(source)
    real = Path(os.path.realpath(source))
    if real != source:
        yield real, os.path.normcase(str(real))
