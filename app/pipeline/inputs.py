"""Turn the paths a user gave (files, folders) into (input, output) pairs.

Shared by the CLI and the batch queue so both name outputs the same way: beside the input
as ``<stem><suffix><ext>``, or inside an output folder (mirroring sub-folders of a
recursive scan), with ``-1``, ``-2`` ... on a collision unless overwriting was asked for.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from app.errors import PhotomendError
from app.io.naming import default_output_path, extension_for_format, format_from_path
from app.io.reader import SUPPORTED_EXTENSIONS

OUTPUT_SUFFIXES = ("_denoised", "_deblurred", "_restored")
_OWN_OUTPUT = re.compile(r"(%s)(-\d+)?$" % "|".join(OUTPUT_SUFFIXES))


@dataclass(frozen=True)
class WorkItem:
    """One photo to restore and where its result goes (None: planning failed, see error)."""

    source: Path
    target: Path | None
    error: str | None = None


def expand_inputs(paths: list[Path], *, recursive: bool) -> list[tuple[Path, Path | None]]:
    """Files as given, folders expanded to their photos: (file, folder it was found under).

    Inside folders only supported extensions count and our own earlier outputs
    (``*_denoised.*``) are left out, so re-running over a folder does not restore results again.
    A path given explicitly is always kept, so a bad one is reported rather than ignored.
    """
    found: list[tuple[Path, Path | None]] = []
    for path in paths:
        if path.is_dir():
            pattern = "**/*" if recursive else "*"
            for candidate in sorted(path.glob(pattern)):
                if (
                    candidate.is_file()
                    and candidate.suffix.lower() in SUPPORTED_EXTENSIONS
                    and not candidate.name.startswith(".")
                    and not _OWN_OUTPUT.search(candidate.stem)
                ):
                    found.append((candidate, path))
        else:
            found.append((path, None))
    return found


def looks_like_file_target(output: Path) -> bool:
    """-o names a file when it has an image extension and is not an existing folder."""
    return not output.is_dir() and output.suffix.lower() in SUPPORTED_EXTENSIONS


def plan_outputs(
    paths: list[Path],
    *,
    output: Path | None,
    recursive: bool = False,
    suffix: str = "_denoised",
    fmt: str | None = None,
    overwrite: bool = False,
) -> list[WorkItem]:
    """Pair every input with a distinct output path; never pick the input itself as output."""
    if not paths:
        raise PhotomendError("no input files given")
    inputs = expand_inputs(paths, recursive=recursive)
    if not inputs:
        raise PhotomendError("no photos found in " + ", ".join(str(p) for p in paths))
    ext = extension_for_format(fmt) if fmt else None
    if output is not None and looks_like_file_target(output):
        if len(inputs) > 1:
            raise PhotomendError(f"{output}: several inputs need an output folder, not a file name")
        if fmt and format_from_path(output) != format_from_path(Path("x" + ext)):
            raise PhotomendError(f"{output}: extension does not match --format {fmt}")
        return [WorkItem(inputs[0][0], output)]
    taken: set[Path] = set()
    items = []
    for source, root in inputs:
        out_dir = source.parent if output is None else output
        if output is not None and root is not None and recursive:
            out_dir = output / source.parent.relative_to(root)
        target = _free_name(source, out_dir, suffix, ext or source.suffix, overwrite, taken)
        taken.add(target)
        items.append(WorkItem(source, target))
    return items


def _free_name(source: Path, out_dir: Path, suffix: str, ext: str, overwrite: bool, taken: set[Path]) -> Path:
    """Default name, stepping past files on disk (unless overwriting) and names given to earlier inputs."""
    candidate = out_dir / f"{source.stem}{suffix}{ext}"
    if overwrite and candidate not in taken and candidate.resolve() != source.resolve():
        return candidate
    candidate = default_output_path(source, suffix=suffix, out_dir=out_dir, ext=ext)
    counter = 1
    while candidate in taken or candidate.exists():
        candidate = out_dir / f"{source.stem}{suffix}-{counter}{ext}"
        counter += 1
    return candidate
