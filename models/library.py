"""Find and load models by name or file: the built-in FFDNet, catalogue downloads, user files.

The one place that turns what a user typed (``--model NAME|FILE``, the window's selector) into a
loaded :class:`~models.descriptor.ModelDescriptor`. Files are checked before use: catalogue
downloads and imported copies against their recorded sha256, every file through
``weights_only`` / safetensors loading (models/spandrel_adapter.py), never executing code.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

from models.catalogue import CATALOGUE, CatalogueEntry, find_entry
from models.descriptor import ModelDescriptor
from models.errors import ModelWeightsError
from models.store import MODEL_SUFFIXES, ImportedModel, catalogue_path, imported_models, is_installed


class ModelNotInstalled(ModelWeightsError):
    """A catalogue model the user has not downloaded yet; the message says how."""


class UnknownModel(ModelWeightsError):
    """Neither a catalogue name, an imported model nor a model file."""


@dataclass(frozen=True)
class ModelListing:
    """One row of `photomend models list` and of the window's model selectors."""

    name: str
    title: str
    task: str
    licence: str
    size_text: str
    installed: bool
    origin: str  # "built in", "catalogue", "imported"
    good_for: str
    blind: bool = False  # measures the noise (or the blur) itself: no noise-level input

    @property
    def label(self) -> str:
        """A selector row's text: title, licence and size, a download marked as such."""
        licence = short_licence(self.licence)
        if not self.installed:
            return f"{self.title} · {licence} (download, {self.size_text})"
        return f"{self.title} · {licence} · {self.size_text}"


def size_text(size: int) -> str:
    """Megabytes, as the catalogue writes them; a small file is not shown as "0 MB"."""
    return f"{size / 1e6:.0f} MB" if size >= 1e6 else f"{max(1, round(size / 1e3))} kB"


def short_licence(licence: str) -> str:
    """A licence that fits a row; a non-commercial restriction or a doubt about the weights stays visible."""
    from models.architectures import WEIGHTS_CAVEAT
    from models.install import is_non_commercial

    if is_non_commercial(licence):
        return f"{licence.replace(WEIGHTS_CAVEAT, '')}, NON-COMMERCIAL"
    if licence.endswith(WEIGHTS_CAVEAT) or not licence or licence == "unknown":
        return "licence unknown"
    return licence


_LOADED: dict[tuple, ModelDescriptor] = {}
_LOCK = threading.Lock()


def listings(task: str | None = None) -> list[ModelListing]:
    """The catalogue (installed or not), then imported models; only those that serve ``task`` if given.

    Read from the catalogue and the store only (no model is loaded), so listing is instant.
    A noise-level denoiser also serves deblurring, as the prior of the deep method.
    """
    from models.architectures import facts_for
    from models.catalogue import entries_for

    def blind(architecture: str) -> bool:
        return facts_for(architecture).conditioning == "blind"

    entries = CATALOGUE if task is None else entries_for(task)
    rows = [ModelListing(e.name, e.title, e.task, e.licence, e.size_text, is_installed(e),
                         "built in" if e.builtin else "catalogue", e.good_for, blind(e.architecture)) for e in entries]
    for model in imported_models().values():
        serves = task is None or model.task == task or (
            task == "deblur" and model.task == "denoise" and not blind(model.architecture))
        if serves:
            rows.append(ModelListing(model.name, model.name, model.task, model.licence, size_text(model.size),
                                     model.path.is_file(), "imported",
                                     f"an imported {model.architecture} model, from {model.imported_from}",
                                     blind(model.architecture)))
    return rows


def is_model_file(text: str) -> bool:
    """Whether ``--model`` names a file rather than a model."""
    return Path(text).suffix.lower() in MODEL_SUFFIXES or "/" in text or "\\" in text


def load_model(name_or_path: str) -> ModelDescriptor:
    """The loaded model (once per process) for a catalogue name, an imported name or a file path."""
    entry = find_entry(name_or_path)
    if entry is not None:
        return _cached(("catalogue", entry.name), lambda: _load_entry(entry))
    imported = imported_models().get(name_or_path.strip().lower())
    if imported is not None:
        return _cached(("imported", imported.name, imported.sha256), lambda: _load_imported(imported))
    if is_model_file(name_or_path):
        path = Path(name_or_path).expanduser()
        if not path.is_file():
            raise UnknownModel(f"{path}: no such model file")
        stat = path.stat()
        return _cached(("file", str(path.resolve()), stat.st_size, stat.st_mtime_ns), lambda: _load_file(path))
    known = ", ".join(row.name for row in listings())
    raise UnknownModel(f"unknown model '{name_or_path}' (known: {known}; or give a model file)")


def forget_loaded() -> None:
    """Drop every loaded model (tests; after a model is removed)."""
    with _LOCK:
        _LOADED.clear()


def _cached(key: tuple, load) -> ModelDescriptor:
    with _LOCK:
        if key not in _LOADED:
            _LOADED[key] = load()
        return _LOADED[key]


def _load_entry(entry: CatalogueEntry) -> ModelDescriptor:
    if entry.builtin:
        from models.ffdnet import load_builtin

        return load_builtin(entry.name, entry.title)
    path = catalogue_path(entry)
    if not path.is_file():
        raise ModelNotInstalled(
            f"model '{entry.name}' is not installed ({entry.size_text}): run `photomend models download {entry.name}`"
            " or choose it in the window's Models dialog")
    _check_hash(path, entry.sha256, f"photomend models download {entry.name}")
    return spandrel_adapter().describe_file(path, name=entry.name, title=entry.title, task=entry.task, licence=entry.licence,
                         credit=entry.credit, source=entry.urls[0] if entry.urls else entry.filename)


def _load_imported(model: ImportedModel) -> ModelDescriptor:
    if not model.path.is_file():
        raise ModelNotInstalled(f"imported model '{model.name}' is missing its file {model.path}: import it again")
    _check_hash(model.path, model.sha256, f"photomend models import FILE --name {model.name}")
    return spandrel_adapter().describe_file(model.path, name=model.name, task=model.task, licence=model.licence,
                         source=model.imported_from)


def _load_file(path: Path) -> ModelDescriptor:
    return spandrel_adapter().describe_file(path, source=str(path))


def spandrel_adapter():
    """The model-file loader (models/spandrel_adapter.py), or one clear line where spandrel is missing.

    Only model files need it: the built-in FFDNet runs without spandrel and torchvision, so a
    minimal installation or bundle can leave them out.
    """
    try:
        from models import spandrel_adapter as adapter
    except ImportError as error:
        raise ModelWeightsError(f"model files need spandrel and torchvision, which this installation lacks "
                                f"({error}); install them: pip install spandrel==0.4.2 torchvision") from error
    except Exception as error:
        # torchvision built for another torch (pip's default wheel next to a CPU torch) fails while
        # registering its operators (RuntimeError; on a second try, whatever half-imported modules raise).
        raise ModelWeightsError(f"model files need a torchvision built for this torch ({_torch_versions()}), and "
                                f"this one does not load ({' '.join(str(error).split())[:120]}); install the "
                                f"torchvision that matches torch from the same package index") from error
    return adapter


def _torch_versions() -> str:
    """'torch 2.13.0+cpu, torchvision 0.28.0' as installed, without importing torchvision (it is what fails)."""
    import importlib.util
    from importlib.metadata import PackageNotFoundError, version

    import torch

    try:
        vision = f"torchvision {version('torchvision')}"
    except PackageNotFoundError:  # a frozen bundle keeps the package but not its metadata
        try:
            present = importlib.util.find_spec("torchvision") is not None
        except (ImportError, ValueError):
            present = True  # half-imported: it is there
        vision = "torchvision of unknown version" if present else "no torchvision"
    return f"torch {torch.__version__}, {vision}"


def _check_hash(path: Path, expected: str, fix: str) -> None:
    """An installed file that changed since it was verified is refused, not used."""
    from models.ffdnet.weights import sha256_of

    actual = sha256_of(path)
    if actual != expected:
        raise ModelWeightsError(f"{path}: sha256 {actual[:12]}... is not the verified {expected[:12]}...; "
                                f"remove it and run `{fix}`")
