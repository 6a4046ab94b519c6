"""The window's settings as one small JSON document, written through ``app.io.json_store``.

QSettings writes its own file its own way; every file Photomend writes goes through the one
atomic writer instead, so a crash mid-save can never leave half a settings file, and a damaged
one is set aside (``settings.json.corrupt-<time>``) and the previous generation restored. The
window is told once what happened (``problem``) and carries on with what could be read.

The API is the small part of QSettings the window uses (``value`` / ``setValue`` / ``sync``),
so tests inject a store on a temporary path exactly as they did a QSettings.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from app.errors import PhotomendError
from app.io.json_store import DocumentRejected, load_document, save_document

SETTINGS_VERSION = 1
FILE_NAME = "settings.json"
_MISSING = object()


def default_settings_path() -> Path:
    """The per-user settings file (platformdirs config folder)."""
    from platformdirs import user_config_dir

    return Path(user_config_dir("Photomend", "Photomend")) / FILE_NAME


def _accept(document: Any) -> dict[str, Any]:
    """A settings document is {"version": 1, "values": {key: JSON value}}; anything else is damage."""
    if not isinstance(document, dict) or not isinstance(document.get("values"), dict):
        raise DocumentRejected("not a Photomend settings document")
    version = document.get("version")
    if not isinstance(version, int) or version > SETTINGS_VERSION:
        raise DocumentRejected(f"unknown settings version {version!r}")
    return {str(key): value for key, value in document["values"].items()}


def _converted(value: Any, kind: Callable[[Any], Any]) -> Any:
    """``value`` as ``kind``; raises ValueError/TypeError when it cannot be (a hand-edited file)."""
    if kind is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):
            return bool(value)
        if isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "false", "0", "no"):
            return value.strip().lower() in ("true", "1", "yes")
        raise ValueError(f"{value!r} is not true or false")
    if kind in (int, float) and isinstance(value, bool):
        raise TypeError("a truth value is not a number")
    if kind is str and not isinstance(value, str):
        raise TypeError(f"{value!r} is not text")
    return kind(value)


class SettingsStore:
    """Key/value settings ("window/geometry", "files/recent" ...) kept in one JSON file.

    Values must be JSON types (str, int, float, bool, None, lists and dicts of them); bytes such
    as the window geometry are stored by the caller as base64 text. ``setValue`` changes memory
    only; ``sync`` writes the file when something changed. A save that fails (disk full, folder
    unwritable) is reported through ``problem`` instead of crashing the window.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else default_settings_path()
        loaded = load_document(self.path, _accept, what="settings file")
        self._values: dict[str, Any] = dict(loaded.data or {})
        self._dirty = False
        self.problem: str | None = loaded.problem

    def value(self, key: str, default: Any = None, type: Callable[[Any], Any] | None = None) -> Any:  # noqa: A002
        """The stored value, or ``default`` when absent; with ``type``, converted or else ``default``.

        A value of the wrong kind (a hand-edited or old file) falls back to the default rather
        than raising, so no setting can stop the window from starting.
        """
        stored = self._values.get(key, _MISSING)
        if stored is _MISSING or stored is None:
            return default
        if type is None:
            return stored
        try:
            return _converted(stored, type)
        except (TypeError, ValueError):
            return default

    def setValue(self, key: str, value: Any) -> None:  # noqa: N802 - the QSettings name
        if isinstance(value, Path):
            value = str(value)
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            raise TypeError(f"setting {key!r}: {type(value).__name__} cannot be stored as JSON") from None
        if self._values.get(key, _MISSING) != value:
            self._values[key] = value
            self._dirty = True

    def contains(self, key: str) -> bool:
        return key in self._values

    def remove(self, key: str) -> None:
        if self._values.pop(key, _MISSING) is not _MISSING:
            self._dirty = True

    def clear(self) -> None:
        if self._values:
            self._values.clear()
            self._dirty = True

    def sync(self) -> bool:
        """Write the file if anything changed; False (and ``problem`` set) when it could not be written."""
        if not self._dirty:
            return True
        try:
            save_document(self.path, {"version": SETTINGS_VERSION, "values": self._values})
        except (PhotomendError, OSError) as error:
            self.problem = f"Settings could not be saved: {error}"
            return False
        self._dirty = False
        return True
