"""Where installed models live: the user data folder (platformdirs), or $PHOTOMEND_MODELS_DIR.

Catalogue downloads are stored under their upstream file name; files a user imports are copied
into ``imported/`` and recorded in ``imported.json`` (name, file, sha256, architecture, task,
licence), so a later run finds them by name and can tell that the copy was not altered.
"""

from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from pathlib import Path

from models.catalogue import CatalogueEntry

MODELS_DIR_ENV = "PHOTOMEND_MODELS_DIR"
INDEX_NAME = "imported.json"
MODEL_SUFFIXES = (".pth", ".pt", ".ckpt", ".safetensors")


def models_dir() -> Path:
    """The folder downloads and imports go into (created on first use)."""
    override = os.environ.get(MODELS_DIR_ENV)
    if override:
        path = Path(override)
    else:
        from platformdirs import user_data_dir

        path = Path(user_data_dir("Photomend", "Photomend")) / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def catalogue_path(entry: CatalogueEntry) -> Path:
    """Where a catalogue entry's file is (or will be) installed."""
    return models_dir() / entry.filename


def is_installed(entry: CatalogueEntry) -> bool:
    """Built-in models are always installed; a download counts once its file is in place."""
    return entry.builtin or catalogue_path(entry).is_file()


@dataclass(frozen=True)
class ImportedModel:
    """A model file the user imported, as recorded in the index."""

    name: str
    file: str  # relative to models_dir()
    sha256: str
    size: int
    architecture: str
    task: str
    licence: str
    imported_from: str

    @property
    def path(self) -> Path:
        return models_dir() / self.file


def _accept_index(data: object) -> dict[str, ImportedModel]:
    if not isinstance(data, dict):
        raise ValueError("not an object")
    fields = ImportedModel.__dataclass_fields__
    models: dict[str, ImportedModel] = {}
    for name, record in data.items():
        if not isinstance(record, dict) or set(record) != set(fields):
            raise ValueError(f"bad record for {name!r}")
        models[name] = ImportedModel(**record)
    return models


def imported_models() -> dict[str, ImportedModel]:
    """Every imported model by name (a damaged index is set aside; the files stay where they are)."""
    from app.io.json_store import load_document

    loaded = load_document(models_dir() / INDEX_NAME, _accept_index, what="model index")
    return loaded.data or {}


def save_index(models: dict[str, ImportedModel]) -> None:
    from app.io.json_store import save_document

    save_document(models_dir() / INDEX_NAME, {name: asdict(model) for name, model in sorted(models.items())})


def name_for_file(path: Path) -> str:
    """A model name from a file name: lower case, letters, digits and dashes."""
    stem = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-")
    return stem or "model"
