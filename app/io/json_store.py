"""Small JSON documents that must survive kills and damage: the batch queue, the settings.

Saving writes the new generation atomically (``app.io.atomic``) and keeps the previous good one
beside it as ``<name>.bak``. Loading never crashes and never loses data: a document that cannot
be read or parsed, or that its owner rejects, is renamed aside as ``<name>.corrupt-<time>`` (so
nothing is overwritten by the next save) and the backup generation is tried instead. What went
wrong is returned as one sentence for the user, once.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.io.atomic import atomic_write

BACKUP_SUFFIX = ".bak"
CORRUPT_MARK = ".corrupt-"


@dataclass
class LoadedDocument:
    """What :func:`load_document` found.

    data: the parsed and accepted document, or None (nothing usable: start empty).
    problem: one sentence for the user when something was damaged, else None.
    set_aside: where a damaged file was moved, if one was.
    from_backup: the data came from the previous generation.
    """

    data: Any = None
    problem: str | None = None
    set_aside: Path | None = None
    from_backup: bool = False


class DocumentRejected(ValueError):
    """Raised by an ``accept`` callback: the JSON parsed but is not a document of this kind."""


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def save_document(path: str | Path, data: Any) -> Path:
    """Write ``data`` as JSON atomically; the replaced generation becomes ``<name>.bak`` if it parses."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps(data, indent=1, ensure_ascii=False).encode("utf-8")
    previous = _read_if_valid_json(path)
    if previous is not None:
        atomic_write(backup_path(path), previous, overwrite=True)
    return atomic_write(path, payload, overwrite=True)


def load_document(path: str | Path, accept: Callable[[Any], Any], *, what: str = "file") -> LoadedDocument:
    """Read ``path`` (falling back to its backup) and pass the parsed JSON through ``accept``.

    ``accept`` returns the usable document or raises DocumentRejected / ValueError / TypeError /
    KeyError for one that is not. ``what`` names the document in the message ("batch queue").
    """
    path = Path(path)
    if not os.path.lexists(path):
        if os.path.lexists(backup_path(path)):
            return _from_backup(path, accept, what, LoadedDocument())
        return LoadedDocument()
    try:
        return LoadedDocument(data=_parse(path, accept))
    except _Unusable as damage:
        aside = set_aside(path)
        kept = f" (kept as {aside.name})" if aside is not None else ""
        loaded = LoadedDocument(set_aside=aside, problem=f"The {what} {path.name} {damage}{kept}.")
        return _from_backup(path, accept, what, loaded)


def set_aside(path: Path) -> Path | None:
    """Rename a damaged file (or a folder in its place) to ``<name>.corrupt-<time>``; never delete it."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for n in range(100):
        suffix = "" if n == 0 else f"-{n}"
        aside = path.with_name(f"{path.name}{CORRUPT_MARK}{stamp}{suffix}")
        if os.path.lexists(aside):
            continue
        try:
            os.rename(path, aside)
        except OSError:
            return None
        return aside
    return None


# --------------------------------------------------------------------------- internals


class _Unusable(Exception):
    """The file exists but cannot be used; str() completes 'The <what> <name> ...'."""


def _parse(path: Path, accept: Callable[[Any], Any]) -> Any:
    if path.is_dir():
        raise _Unusable("is a folder, not a file")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise _Unusable(f"could not be read ({exc.strerror or exc})") from exc
    try:
        parsed = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _Unusable("was damaged (not valid JSON; perhaps cut short)") from exc
    try:
        return accept(parsed)
    except (DocumentRejected, ValueError, TypeError, KeyError, AttributeError) as exc:
        detail = str(exc).strip() or "unexpected content"
        raise _Unusable(f"was damaged ({detail})") from exc


def _from_backup(path: Path, accept: Callable[[Any], Any], what: str, loaded: LoadedDocument) -> LoadedDocument:
    backup = backup_path(path)
    if not os.path.lexists(backup):
        if loaded.problem:
            loaded.problem += " No backup was available."
        return loaded
    try:
        loaded.data = _parse(backup, accept)
    except _Unusable as damage:
        extra = f" Its backup {backup.name} {damage} too."
        loaded.problem = (loaded.problem or f"The {what} {path.name} was missing.") + extra
        return loaded
    loaded.from_backup = True
    if loaded.problem:
        loaded.problem += f" The previous version was restored from {backup.name}."
    return loaded


def _read_if_valid_json(path: Path) -> bytes | None:
    """The current file's bytes when they are a parseable JSON document, else None."""
    with suppress(OSError, UnicodeDecodeError, ValueError):
        if path.is_file() and not path.is_symlink():
            raw = path.read_bytes()
            json.loads(raw.decode("utf-8"))
            return raw
    return None
