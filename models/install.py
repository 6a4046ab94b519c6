"""Install and uninstall models: download a catalogue entry, import a user file, remove either.

The CLI (`photomend models ...`) and the window's Models dialog both call these, so the rules
live in one place: a download is verified (size, sha256) and then loaded once before it counts
as installed; an import is loaded through the adapter (models/spandrel_adapter.py) before a byte
is copied, so a file that would run code, an unknown architecture or an upscaler never enters
the store; copies go through the project's one writer (app/io/atomic.py), never through a link.
Qt-free; errors are one-line :class:`~app.errors.PhotomendError`\\ s.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

from app.errors import PhotomendError, UsageError
from models.catalogue import CatalogueEntry, entry_with_hash, find_entry
from models.descriptor import TASKS, ModelDescriptor
from models.library import UnknownModel, forget_loaded, load_model
from models.store import (ImportedModel, catalogue_path, imported_models, models_dir, name_for_file,
                          save_index)

IMPORTED_FOLDER = "imported"
_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_NON_COMMERCIAL = re.compile(r"non[-\s_]?commercial", re.IGNORECASE)
_NC = re.compile(r"(?<![A-Za-z])NC(?![A-Za-z])")  # CC-BY-NC-4.0, "NC" (capitals: not "inc")

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


class InstallError(PhotomendError):
    """A download, import or removal that cannot be done; the message says why (CLI exit 1)."""


class NameRefused(InstallError, UsageError):
    """The name asked for cannot be used (taken, reserved, malformed): the user picks another (exit 2)."""


class BuiltInModel(InstallError, UsageError):
    """The built-in model comes with the program: nothing to download or remove."""


# --------------------------------------------------------------------------- download


def download_entry(name: str, progress: Progress | None = None, cancelled: Cancelled | None = None) -> Path:
    """Download the catalogue model ``name`` (resuming a ``.part``), verify it and check it loads.

    Returns the installed path; an installed, verified file returns at once without a fetch or
    a progress call. Raises UnknownModel, BuiltInModel, DownloadError, CancelledError (the
    ``.part`` is kept) or InstallError (verified bytes that do not load: the file is removed).
    """
    from models.download import DownloadRequest, download, mirror_urls

    entry = catalogue_entry(name)
    if entry.builtin:
        raise BuiltInModel(f"{entry.name} is built in: nothing to download")
    if is_verified(entry):
        return catalogue_path(entry)
    request = DownloadRequest(mirror_urls(entry.urls, entry.filename), entry.sha256, entry.size,
                              catalogue_path(entry))
    path = download(request, progress, cancelled)
    _check_loads(entry, path)
    return path


def catalogue_entry(name: str) -> CatalogueEntry:
    """The catalogue entry called ``name``; an imported or unknown name is a usage error."""
    entry = find_entry(name)
    if entry is not None:
        return entry
    if name.strip().lower() in imported_models():
        raise UnknownModel(f"'{name}' is an imported model, not a catalogue one: nothing to download")
    from models.catalogue import CATALOGUE

    known = ", ".join(e.name for e in CATALOGUE)
    raise UnknownModel(f"unknown model '{name}' (the catalogue has: {known})")


def is_verified(entry: CatalogueEntry) -> bool:
    """Whether the entry's file is in place, a regular file, with the catalogue's size and sha256."""
    if entry.builtin:
        return True
    from models.download import holds_verified_file

    return holds_verified_file(catalogue_path(entry), entry.size, entry.sha256)


def _check_loads(entry: CatalogueEntry, path: Path) -> None:
    """Verified bytes that still do not load (a catalogue mistake) must not stay installed."""
    try:
        load_model(entry.name)
    except Exception as error:  # noqa: BLE001 - whatever the cause, the file is not usable
        _unlink_quietly(path)
        forget_loaded()
        raise InstallError(f"{entry.name}: the downloaded file does not load ({error}); it was removed") from error


# --------------------------------------------------------------------------- import


def import_model(path: str | Path, *, name: str | None = None, task: str | None = None) -> ImportedModel:
    """Copy a model file into the store under ``name`` after the adapter accepted it.

    The file is read once: those bytes are checked by the adapter's loader, hashed and written
    (atomically, never through a link) to ``<models dir>/imported/<name><suffix>``, then
    recorded in the index. Raises InstallError (missing or unreadable file), NameRefused, or the
    adapter's ModelFileError (its one-line refusal) — nothing is copied in any of those cases.
    """
    source = Path(path).expanduser().absolute()
    if task is not None and task not in TASKS:
        raise NameRefused(f"task '{task}' is unknown (use one of: {', '.join(TASKS)})")
    data = _read_source(source)
    digest = hashlib.sha256(data).hexdigest()
    entry = entry_with_hash(digest)
    if entry is not None and name is None:  # a catalogue file downloaded elsewhere: install it as such
        return _install_catalogue_copy(entry, source, data)
    chosen = _checked_name(name if name is not None else name_for_file(source))
    records = imported_models()
    _refuse_taken(chosen, records)
    descriptor = _describe(source, chosen, task)
    record = ImportedModel(
        name=chosen,
        file=f"{IMPORTED_FOLDER}/{chosen}{source.suffix.lower()}",
        sha256=digest,
        size=len(data),
        architecture=descriptor.architecture,
        task=task or descriptor.task,
        licence=descriptor.licence,
        imported_from=str(source.resolve()),
    )
    _write_copy(record, data)
    try:
        save_index({**records, chosen: record})
    except BaseException:
        _unlink_quietly(record.path)  # no copy without its record
        raise
    forget_loaded()
    return record


def _install_catalogue_copy(entry: CatalogueEntry, source: Path, data: bytes) -> ImportedModel:
    """The offline route the download error suggests: the file's sha256 is the catalogue's, so it is
    that model, placed where a download would have put it (and checked to load)."""
    from app.io.atomic import atomic_write

    target = catalogue_path(entry)
    atomic_write(target, data, overwrite=True)
    forget_loaded()
    try:
        descriptor = load_model(entry.name)
    except BaseException:
        _unlink_quietly(target)
        raise
    return ImportedModel(name=entry.name, file=entry.filename, sha256=entry.sha256, size=len(data),
                         architecture=descriptor.architecture, task=entry.task, licence=entry.licence,
                         imported_from=str(source.resolve()))


def _checked_name(name: str) -> str:
    wanted = name.strip().lower()
    if not _NAME.fullmatch(wanted):
        raise NameRefused(f"'{name}' cannot be a model name: use lower-case letters, digits and dashes "
                          "(at most 64, starting with a letter or digit)")
    return wanted


def _refuse_taken(name: str, records: dict[str, ImportedModel]) -> None:
    if find_entry(name) is not None:
        raise NameRefused(f"'{name}' is the name of a catalogue model: choose another with --name")
    if name in records:
        raise NameRefused(f"a model named '{name}' is already imported (from {records[name].imported_from}): "
                          f"remove it first with `photomend models remove {name}`, or choose another --name")


def _read_source(source: Path) -> bytes:
    if not source.is_file():
        raise InstallError(f"{source}: no such model file" if not source.exists() else f"{source}: is not a file")
    try:
        return source.read_bytes()
    except OSError as error:
        raise InstallError(f"{source}: cannot read it ({error.strerror or error})") from error


def _describe(source: Path, name: str, task: str | None) -> ModelDescriptor:
    """The adapter's verdict on the file: refusals (code in pickles, TorchScript, unknown or
    super-resolution architectures) propagate as its own one-line ModelFileError."""
    from models.library import spandrel_adapter

    return spandrel_adapter().describe_file(source, name=name, task=task, source=str(source))


def _write_copy(record: ImportedModel, data: bytes) -> None:
    from app.io.atomic import atomic_write

    folder = models_dir() / IMPORTED_FOLDER
    if folder.is_symlink():
        raise InstallError(f"{folder}: is a symbolic link; refusing to copy models through it (remove it)")
    try:
        folder.mkdir(exist_ok=True)
    except OSError as error:
        raise InstallError(f"{folder}: cannot create it ({error.strerror or error})") from error
    # The name is not in the index, so a file already there is a leftover: replace it (a link
    # there is replaced itself, never written through).
    atomic_write(record.path, data, overwrite=True)


# --------------------------------------------------------------------------- remove


def remove_model(name: str) -> str:
    """Uninstall a downloaded catalogue model or an imported one; returns what was done, as a line.

    A catalogue model's unfinished download (``.part``) goes too. Raises BuiltInModel,
    UnknownModel, or InstallError (not installed; a file that cannot be removed).
    """
    try:
        entry = find_entry(name)
        if entry is not None:
            return _remove_download(entry)
        record = imported_models().get(name.strip().lower())
        if record is not None:
            return _remove_imported(record)
        raise UnknownModel(f"unknown model '{name}' (see `photomend models list`)")
    finally:
        forget_loaded()


def _remove_download(entry: CatalogueEntry) -> str:
    from models.download import partial_path, remove_partial

    if entry.builtin:
        raise BuiltInModel(f"{entry.name} is built in: it cannot be removed")
    path = catalogue_path(entry)
    had_part = os.path.lexists(partial_path(path))
    remove_partial(path)
    if not os.path.lexists(path):
        if had_part:
            return f"removed the unfinished download of {entry.name}"
        raise InstallError(f"{entry.name} is not installed: nothing to remove")
    _unlink(path)
    return f"removed {entry.name} ({path})"


def _remove_imported(record: ImportedModel) -> str:
    folder = Path(os.path.normpath((models_dir() / IMPORTED_FOLDER).absolute()))
    path = Path(os.path.normpath((models_dir() / record.file).absolute()))
    inside = path.parent == folder
    if inside and os.path.lexists(path):
        _unlink(path)
    records = imported_models()
    records.pop(record.name, None)
    save_index(records)
    if not inside:  # a hand-edited index must not make us delete files elsewhere
        return f"removed {record.name} from the index (its file {record.file} is outside {folder}: left alone)"
    return f"removed {record.name} ({path})"


def _unlink(path: Path) -> None:
    """Remove a directory entry (a link itself, never its target)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise InstallError(f"{path}: cannot remove it ({error.strerror or error})") from error


def _unlink_quietly(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


# --------------------------------------------------------------------------- licences


def is_non_commercial(licence: str) -> bool:
    """Whether a licence text restricts commercial use (CC-BY-NC, "non-commercial", ...)."""
    return bool(_NON_COMMERCIAL.search(licence or "") or _NC.search(licence or ""))


def licence_text(licence: str) -> str:
    """The licence as shown to users, with the restriction spelled out when there is one."""
    licence = licence or "unknown"
    if is_non_commercial(licence):
        return f"{licence} (NON-COMMERCIAL use only)"
    if licence == "unknown":
        return "unknown (check the weights' licence before you publish results)"
    return licence
