"""`photomend info`: versions, devices and models, for bug reports and first-run checks."""

from __future__ import annotations

import sys

from app import __version__
from app.versions import version_lines
from models import ModelListing, find_entry, listings, load_model
from models.store import catalogue_path
from models.errors import ModelWeightsError


def info_lines() -> list[str]:
    """Everything `info` prints, as lines (the About box shows the same facts)."""
    lines = [f"Photomend {__version__}", *version_lines()]
    lines.append("Models:")
    lines += [f"  {row.name:18s} {row.title} [{row.task}, {row.licence}] {_model_state(row)}" for row in listings()]
    return lines


def _model_state(row: ModelListing) -> str:
    """Installed or not, from the file system only: the built-in model is loaded (it is small),
    the others are checked when first used (hashing and loading them all would take seconds)."""
    if row.origin == "built in":
        try:
            load_model(row.name)
        except ModelWeightsError as error:
            return f"UNAVAILABLE: {error}"
        return "weights OK"
    if not row.installed:
        if row.origin == "imported":
            return "MISSING its file: import it again"
        return f"not installed ({row.size_text}): photomend models download {row.name}"
    entry = find_entry(row.name)
    if entry is not None and _size_of(catalogue_path(entry)) != entry.size:
        return f"DAMAGED (wrong size): photomend models download {row.name}"
    return "installed (checked when first used)"


def _size_of(path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return -1


def run_info() -> int:
    print("\n".join(info_lines()))
    return 0


if __name__ == "__main__":
    sys.exit(run_info())
