"""The layers stay apart: the window reaches the work only through the operation layer.

``app/gui`` may import ``app.pipeline`` (operations, previews, kernels, photos, batch, ...) and
``models``, but not I/O, physics, noise estimation, blind estimation or the engine directly, so
one boundary decides what the window can do. Below the window nothing imports Qt (or the window):
the engine, the pipeline and the model library run the same from the CLI, the batch queue and
tests, with no display.

Read from the source with ``ast`` (nothing is imported), so the test is fast and sees imports
inside functions too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUI = ROOT / "app" / "gui"

# Packages the window must reach only through app.pipeline.
FORBIDDEN_FOR_GUI = ("app.io", "app.physics", "app.noise", "app.algorithms", "app.engine")
# The exceptions, each a dotted name (a module, or one name in it) and the files it is allowed in:
ALLOWED_FOR_GUI = {
    # The device and precision lists the Engine section offers: a question about the machine, not work.
    "app.engine.device": "*",
    # The window's own settings file goes through the one JSON store (backup generation, damaged files set aside).
    "app.io.json_store": "settings_store.py",
    # At start-up the window sweeps the temporaries an earlier crash left behind, as the CLI does.
    "app.io.atomic.remove_live_temporaries": "app.py",
}

QT = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "qimage2ndarray")
# Everything below the window: no Qt, and never the window itself.
QT_FREE = ("app/engine", "app/pipeline", "models", "app/io", "app/noise", "app/physics", "app/algorithms")


def _module_of(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, dotted name) for every import in the file, functions included.

    ``import a.b`` gives ``a.b``; ``from a.b import c`` gives ``a.b.c`` (a submodule or a name in
    ``a.b``: inside ``a.b`` either way), so ``from app import io`` reads as ``app.io``. Relative
    imports are resolved against the file's package.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _module_of(path) if path.name == "__init__.py" else _module_of(path).rpartition(".")[0]
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:
                base = package.split(".")
                module = ".".join(base[: len(base) - (node.level - 1)] + ([module] if module else []))
            found.extend((node.lineno, f"{module}.{alias.name}") for alias in node.names)
    return found


def _within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _gui_violations(path: Path) -> list[str]:
    bad = []
    for line, name in _imports(path):
        if not any(_within(name, package) for package in FORBIDDEN_FOR_GUI):
            continue
        if any(_within(name, allowed) and where in ("*", path.name) for allowed, where in ALLOWED_FOR_GUI.items()):
            continue
        bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    return sorted(set(bad))


def test_the_window_reaches_io_physics_noise_and_the_engine_only_through_the_pipeline():
    files = sorted(GUI.glob("*.py"))
    assert len(files) > 10  # the window's modules were found
    bad = [entry for path in files for entry in _gui_violations(path)]
    assert not bad, "app/gui must go through app.pipeline:\n" + "\n".join(bad)


def test_nothing_below_the_window_imports_qt_or_the_window():
    bad = []
    for folder in QT_FREE:
        files = sorted((ROOT / folder).rglob("*.py"))
        assert files, folder
        for path in files:
            for line, name in _imports(path):
                if any(_within(name, qt) for qt in QT) or _within(name, "app.gui"):
                    bad.append(f"{path.relative_to(ROOT)}:{line}: {name}")
    assert not bad, "Qt or app.gui imported below the window:\n" + "\n".join(sorted(set(bad)))


@pytest.mark.parametrize(
    ("source", "file", "expected"),
    [
        ("from app.io.reader import read_photo", "main_window.py", ["app.io.reader.read_photo"]),
        ("import app.noise.estimate", "main_window.py", ["app.noise.estimate"]),
        ("from app import physics", "control_panel.py", ["app.physics"]),
        ("from ..engine import tiling", "tasks.py", ["app.engine.tiling"]),
        ("from .. import noise", "tasks.py", ["app.noise"]),
        ("def f():\n    from app.algorithms.blind import estimate_kernel", "tasks.py",
         ["app.algorithms.blind.estimate_kernel"]),
        ("from app.engine.strength import MAX_NOISE_LEVEL", "control_panel.py", ["app.engine.strength.MAX_NOISE_LEVEL"]),
        ("from app.io.atomic import atomic_write", "app.py", ["app.io.atomic.atomic_write"]),
        ("from app.io import atomic", "app.py", ["app.io.atomic"]),
        ("from app.io.json_store import load_document", "main_window.py", ["app.io.json_store.load_document"]),
        ("from app.io.atomic import remove_live_temporaries", "app.py", []),
        ("from app.io.json_store import DocumentRejected, load_document", "settings_store.py", []),
        ("from app.engine.device import available_devices", "control_panel.py", []),
        ("from app.pipeline.photos import open_photo", "main_window.py", []),
    ],
)
def test_the_layering_check_sees_every_spelling(tmp_path: Path, monkeypatch, source: str, file: str, expected):
    """The checker itself: absolute, relative, nested and ``from app import x`` imports, and the exceptions."""
    fake_root = tmp_path
    path = fake_root / "app" / "gui" / file
    path.parent.mkdir(parents=True)
    path.write_text(source + "\n", encoding="utf-8")
    monkeypatch.setattr(f"{__name__}.ROOT", fake_root)
    found = [entry.split(": ", 1)[1] for entry in _gui_violations(path)]
    assert sorted(found) == sorted(expected)
