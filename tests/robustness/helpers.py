"""Shared helpers for the robustness tests: small real photos, file-system snapshots, CLI runs."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

REPO = Path(__file__).resolve().parents[2]


def noisy_photo(path: Path, size: tuple[int, int] = (96, 80), seed: int = 0) -> Path:
    """A small real PNG/JPEG with smooth content plus noise (format from the extension)."""
    rng = np.random.default_rng(seed)
    width, height = size
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = np.stack([x / width, y / height, 0.5 + 0.3 * np.sin(x / 7.0)], axis=2)
    pixels = np.clip(base + rng.normal(0, 0.06, base.shape), 0, 1)
    Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(path)
    return path


def snapshot(folder: Path) -> dict[str, str]:
    """Every entry under ``folder`` (links included, not followed) -> sha256 / link target."""
    state: dict[str, str] = {}
    for root, dirs, files in os.walk(folder, followlinks=False):
        for name in dirs + files:
            path = Path(root) / name
            key = str(path.relative_to(folder))
            if path.is_symlink():
                state[key] = "link -> " + os.readlink(path)
            elif path.is_file():
                state[key] = hashlib.sha256(path.read_bytes()).hexdigest()
            elif path.is_dir():
                state[key] = "folder"
    return state


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def temporaries(folder: Path) -> list[str]:
    """Hidden temporary files of any writer (ours end in .tmp) left anywhere under ``folder``."""
    return sorted(
        str(p.relative_to(folder)) for p in folder.rglob("*") if p.name.startswith(".") and p.name.endswith(".tmp")
    )


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, harness: str | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`photomend ARGS` in a fresh process (optionally under a harness script that patches it first)."""
    full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
    full_env.setdefault("PHOTOMEND_LOG_DIR", str(cwd / ".logs"))
    if harness is None:
        command = [sys.executable, "-m", "app.cli.main", *args]
    else:
        command = [sys.executable, "-c", harness, *args]
    return subprocess.run(command, cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
