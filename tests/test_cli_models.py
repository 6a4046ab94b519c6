"""`photomend models ...`, `--model` on every restore command and `dejpeg`, on real files.

Models are generated here (random weights, real architectures: our FFDNet at width 8, depth 3,
and spandrel's NAFNet at width 8), saved with torch.save / safetensors, and the models folder is
a temporary one ($PHOTOMEND_MODELS_DIR). Downloads come from a local HTTP server through
$PHOTOMEND_MODEL_MIRROR, with a catalogue entry made for the generated file.
"""

from __future__ import annotations

import functools
import hashlib
import os
import http.server
import threading
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

import models.catalogue as catalogue
import models.library as library
from app.cli.main import main
from app.metrics import psnr
from tests.conftest import load_rgb


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def models_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "models"
    monkeypatch.setenv("PHOTOMEND_MODELS_DIR", str(folder))
    monkeypatch.delenv("PHOTOMEND_MODEL_MIRROR", raising=False)
    library.forget_loaded()
    yield folder
    library.forget_loaded()


@pytest.fixture()
def photo(tmp_path: Path) -> Path:
    """A small noisy colour photo (PNG)."""
    rng = np.random.default_rng(3)
    y, x = np.mgrid[0:64, 0:80]
    clean = np.stack([x / 80, y / 64, (x + y) / 144], axis=-1)
    noisy = np.clip(clean + rng.normal(0, 0.06, clean.shape), 0, 1)
    path = tmp_path / "photo.png"
    cv2.imwrite(str(path), np.round(noisy[:, :, ::-1] * 255).astype(np.uint8))
    return path


def _ffdnet_file(folder: Path, name: str = "tiny-ffdnet.pth") -> Path:
    """A KAIR-layout FFDNet state dict, width 8, depth 3 (model.0.weight is 8 x 13 x 3 x 3)."""
    from models.ffdnet.arch import FFDNet

    torch.manual_seed(0)
    state = FFDNet(in_channels=3, features=8, depth=3).state_dict()
    assert state["model.0.weight"].shape == (8, 13, 3, 3)
    path = folder / name
    torch.save(state, path)
    return path


def _nafnet_file(folder: Path, name: str = "tiny-nafnet.safetensors") -> Path:
    """spandrel's NAFNet at width 8 (two levels), as safetensors."""
    from safetensors.torch import save_file
    from spandrel.architectures.NAFNet import NAFNet

    torch.manual_seed(1)
    net = NAFNet(img_channel=3, width=8, middle_blk_num=1, enc_blk_nums=[1, 1], dec_blk_nums=[1, 1])
    path = folder / name
    save_file({key: value.contiguous() for key, value in net.state_dict().items()}, str(path))
    return path


def _catalogue_entry(monkeypatch: pytest.MonkeyPatch, path: Path, **changes) -> catalogue.CatalogueEntry:
    """A downloadable catalogue entry for ``path`` (its real size and sha256 unless changed)."""
    data = path.read_bytes()
    fields = {"name": "tiny-nafnet", "title": "Tiny NAFNet", "filename": path.name,
              "urls": ("https://example.invalid/never-used",), "size": len(data),
              "sha256": hashlib.sha256(data).hexdigest(), **changes}
    entry = replace(catalogue.DOWNLOADABLE[0], **fields)
    entries = (*catalogue.CATALOGUE, entry)
    monkeypatch.setattr(catalogue, "CATALOGUE", entries)  # find_entry reads this
    monkeypatch.setattr(library, "CATALOGUE", entries)  # listings()
    return entry


@pytest.fixture()
def mirror(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A local HTTP server over ``tmp_path/srv``, set as $PHOTOMEND_MODEL_MIRROR."""
    served = tmp_path / "srv"
    served.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("PHOTOMEND_MODEL_MIRROR", f"http://127.0.0.1:{server.server_address[1]}/")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(variable, "*")
    yield served
    server.shutdown()
    server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:  # keep test output clean
        pass


def _err_lines(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.strip()]


# --------------------------------------------------------------------------- list, import, info, remove


def test_list_shows_the_catalogue_and_imported_models(tmp_path: Path, capsys):
    assert main(["models", "import", str(_ffdnet_file(tmp_path)), "--name", "mine"]) == 0
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("ffdnet-color", "nafnet-sidd-32", "fbcnn-color", "mine"):
        assert name in out
    rows = {line.split()[0]: line for line in out.splitlines()[1:]}
    assert "built in" in rows["ffdnet-color"] and " yes " in rows["ffdnet-color"]
    assert " no " in rows["nafnet-sidd-32"] + " "
    assert "imported" in rows["mine"] and "from tiny-ffdnet.pth" in rows["mine"]


def test_import_copies_records_and_the_model_denoises_by_name(tmp_path: Path, photo: Path, models_dir: Path, capsys):
    from models.store import imported_models

    source = _ffdnet_file(tmp_path)
    assert main(["models", "import", str(source)]) == 0
    out = capsys.readouterr().out
    assert "imported tiny-ffdnet: FFDNet, denoise" in out and "licence:" in out
    record = imported_models()["tiny-ffdnet"]
    copy = models_dir / "imported" / "tiny-ffdnet.pth"
    assert record.path == copy and copy.read_bytes() == source.read_bytes()
    assert record.sha256 == hashlib.sha256(source.read_bytes()).hexdigest() and record.size == source.stat().st_size
    assert record.architecture == "FFDNet" and record.imported_from == str(source.resolve())
    assert not [p for p in copy.parent.iterdir() if p.name.startswith(".")]  # no temporary left

    assert main(["denoise", str(photo), "--model", "tiny-ffdnet", "--noise-level", "20"]) == 0
    assert photo.with_name("photo_denoised.png").is_file()
    assert "model tiny-ffdnet" in capsys.readouterr().err  # not the default: named on the ok line


def test_import_refuses_taken_names(tmp_path: Path, capsys):
    source = _ffdnet_file(tmp_path)
    assert main(["models", "import", str(source), "--name", "mine"]) == 0
    capsys.readouterr()
    assert main(["models", "import", str(source), "--name", "mine"]) == 2
    assert "photomend models remove mine" in capsys.readouterr().err
    assert main(["models", "import", str(source), "--name", "nafnet-sidd-32"]) == 2
    assert "catalogue model" in capsys.readouterr().err
    assert main(["models", "import", str(source), "--name", "../evil"]) == 2


def test_a_model_file_runs_without_importing(tmp_path: Path, photo: Path, models_dir: Path, capsys):
    source = _ffdnet_file(tmp_path, "loose.pth")
    assert main(["denoise", str(photo), "--model", str(source), "--noise-level", "15", "-o",
                 str(tmp_path / "out.png")]) == 0
    assert (tmp_path / "out.png").is_file()
    assert not (models_dir / "imported").exists()


class _Payload:
    """Unpickling this would create ``marker``: what a malicious model file does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_with_code_is_refused_and_never_runs(tmp_path: Path, photo: Path, models_dir: Path, capsys):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.pth"
    torch.save({"model.0.weight": torch.zeros(8, 13, 3, 3), "payload": _Payload(marker)}, evil)
    assert main(["models", "import", str(evil)]) == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and "evil.pth" in err[0] and "refused" in err[0]
    with pytest.raises(SystemExit) as stop:
        main(["denoise", str(photo), "--model", str(evil)])
    assert stop.value.code == 1
    assert not marker.exists()
    assert not photo.with_name("photo_denoised.png").exists()
    assert not (models_dir / "imported").exists() or not list((models_dir / "imported").iterdir())


def test_unknown_architecture_is_refused_with_one_line(tmp_path: Path, models_dir: Path, capsys):
    """A file that was read but cannot be used is a failure (exit 1), like a photo that cannot be read."""
    odd = tmp_path / "odd.safetensors"
    from safetensors.torch import save_file

    save_file({"encoder.blocks.0.attn.qkv.weight": torch.randn(24, 8)}, str(odd))
    assert main(["models", "import", str(odd)]) == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and "unknown architecture" in err[0]
    assert main(["models", "import", str(tmp_path / "absent.pth")]) == 1
    assert "no such model file" in capsys.readouterr().err
    from models.store import imported_models

    assert imported_models() == {}


def test_remove_an_imported_model_and_a_download(tmp_path: Path, models_dir: Path, monkeypatch, capsys):
    from models.store import imported_models

    assert main(["models", "import", str(_ffdnet_file(tmp_path)), "--name", "gone"]) == 0
    copy = models_dir / "imported" / "gone.pth"
    assert copy.is_file()
    assert main(["models", "remove", "gone"]) == 0
    assert not copy.exists() and "gone" not in imported_models()
    assert main(["models", "remove", "gone"]) == 2  # no longer known
    entry = _catalogue_entry(monkeypatch, _nafnet_file(tmp_path))
    installed = models_dir / entry.filename
    installed.write_bytes((tmp_path / entry.filename).read_bytes())
    assert main(["models", "remove", "tiny-nafnet"]) == 0 and not installed.exists()
    capsys.readouterr()
    assert main(["models", "remove", "tiny-nafnet"]) == 1
    assert "not installed" in capsys.readouterr().err
    assert main(["models", "remove", "ffdnet-color"]) == 2
    assert "built in" in capsys.readouterr().err


def test_info_for_catalogue_builtin_and_imported_models(tmp_path: Path, capsys):
    assert main(["models", "info", "nafnet-sidd-32"]) == 0
    out = capsys.readouterr().out
    for fact in ("NAFNet SIDD", "sha256:", "89c70e808d17", "huggingface.co", "Liangyu Chen", "39.97 dB",
                 "not installed: run `photomend models download nafnet-sidd-32`"):
        assert fact in out
    assert main(["models", "info", "ffdnet-color"]) == 0
    out = capsys.readouterr().out
    assert "noise-level map" in out and "tile margin:" in out and "32 px" in out and "cpu fp32" in out
    assert main(["models", "import", str(_nafnet_file(tmp_path)), "--name", "nc-model", "--task", "deblur"]) == 0
    _relicence("nc-model", "CC-BY-NC-4.0")
    capsys.readouterr()
    assert main(["models", "info", "nc-model"]) == 0
    out = capsys.readouterr().out
    assert "NAFNet" in out and "blind" in out and "deblur" in out and "NON-COMMERCIAL" in out
    assert main(["models", "list"]) == 0
    assert "CC-BY-NC-4.0" in capsys.readouterr().out
    assert main(["models", "info", "no-such-model"]) == 2


def _relicence(name: str, licence: str) -> None:
    """As if the adapter had read a licence from the file (it says 'unknown' for user weights)."""
    from models.store import imported_models, save_index

    records = imported_models()
    records[name] = replace(records[name], licence=licence)
    save_index(records)


def test_licence_texts_flag_non_commercial_use():
    from models.install import is_non_commercial, licence_text

    assert is_non_commercial("CC-BY-NC-SA-4.0") and is_non_commercial("research, non-commercial only")
    assert not is_non_commercial("MIT") and not is_non_commercial("Apache-2.0 (Inc.)")
    assert "NON-COMMERCIAL" in licence_text("CC BY-NC 4.0")


def test_photomend_info_lists_models_without_loading_them(tmp_path: Path, monkeypatch, capsys):
    assert main(["models", "import", str(_nafnet_file(tmp_path)), "--name", "big-one"]) == 0
    library.forget_loaded()
    loaded: list[str] = []
    real = library.load_model
    monkeypatch.setattr("app.cli.info_cmd.load_model", lambda name: loaded.append(name) or real(name))
    capsys.readouterr()
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "big-one" in out and "nafnet-sidd-32" in out and "weights OK" in out
    assert loaded == ["ffdnet-color"]


# --------------------------------------------------------------------------- download


def test_download_lands_verified_and_a_second_run_does_nothing(tmp_path: Path, mirror: Path, models_dir: Path,
                                                               monkeypatch, capsys):
    source = _nafnet_file(mirror)
    _catalogue_entry(monkeypatch, source)
    assert main(["models", "download", "tiny-nafnet"]) == 0
    captured = capsys.readouterr()
    installed = models_dir / source.name
    assert installed.read_bytes() == source.read_bytes()
    assert f"downloaded and verified: {installed}" in captured.out
    assert "100%" in captured.err  # the progress line
    assert not list(models_dir.glob("*.part"))
    assert main(["models", "download", "tiny-nafnet"]) == 0
    assert "already installed" in capsys.readouterr().out
    assert main(["models", "info", "tiny-nafnet"]) == 0
    out = capsys.readouterr().out
    assert str(installed) in out and "blind" in out


def test_download_with_a_wrong_hash_is_refused_and_leaves_nothing(tmp_path: Path, mirror: Path, models_dir: Path,
                                                                  monkeypatch, capsys):
    source = _nafnet_file(mirror)
    _catalogue_entry(monkeypatch, source, sha256="0" * 64)
    assert main(["models", "download", "tiny-nafnet"]) == 1
    err = capsys.readouterr().err
    assert "does not match" in err
    assert not (models_dir / source.name).exists() and not list(models_dir.glob("*.part"))


def test_verified_download_that_does_not_load_is_removed(tmp_path: Path, mirror: Path, models_dir: Path,
                                                         monkeypatch, capsys):
    from safetensors.torch import save_file

    odd = mirror / "odd.safetensors"
    save_file({"encoder.blocks.0.attn.qkv.weight": torch.randn(24, 8)}, str(odd))
    _catalogue_entry(monkeypatch, odd)
    assert main(["models", "download", "tiny-nafnet"]) == 1
    assert "does not load" in capsys.readouterr().err
    assert not (models_dir / odd.name).exists()


def test_download_errors_and_names(tmp_path: Path, monkeypatch, capsys):
    entry = _catalogue_entry(monkeypatch, _nafnet_file(tmp_path))
    monkeypatch.setattr(catalogue, "CATALOGUE", (*catalogue.CATALOGUE[:-1], replace(entry, urls=(
        "http://127.0.0.1:9/tiny.safetensors",))))
    assert main(["models", "download", "tiny-nafnet"]) == 1
    assert "photomend models import FILE" in capsys.readouterr().err  # the offline hint
    assert main(["models", "download", "no-such-model"]) == 2
    assert main(["models", "download", "ffdnet-color"]) == 0
    assert "built in: nothing to download" in capsys.readouterr().out


# --------------------------------------------------------------------------- --model on restore commands


def test_model_not_installed_fails_before_any_file_with_the_hint(photo: Path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["denoise", str(photo), "--model", "nafnet-sidd-32"])
    assert stop.value.code == 1
    err = _err_lines(capsys)
    assert len(err) == 1 and "photomend models download nafnet-sidd-32" in err[0]
    assert sorted(p.name for p in photo.parent.iterdir() if p.is_file()) == ["photo.png"]
    with pytest.raises(SystemExit) as stop:
        main(["deblur", str(photo), "--model", "nafnet-gopro-32"])
    assert stop.value.code == 1
    with pytest.raises(SystemExit) as stop:
        main(["denoise", str(photo), "--model", "no-such-model"])
    assert stop.value.code == 2


def test_blind_models_name_the_model_and_learned_deblur_needs_no_kernel(tmp_path: Path, photo: Path, capsys):
    assert main(["models", "import", str(_nafnet_file(tmp_path)), "--name", "sharp", "--task", "deblur"]) == 0
    capsys.readouterr()
    assert main(["deblur", str(photo), "--model", "sharp"]) == 0
    err = capsys.readouterr().err
    assert photo.with_name("photo_deblurred.png").is_file()
    assert "model sharp" in err and "level used" not in err and "kernel" not in err
    assert main(["deblur", str(photo), "--model", "sharp", "--kernel", "motion:9,0", "-o",
                 str(tmp_path / "k.png")]) == 0
    assert "--kernel is not used" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:  # a blind model takes no level: said once, before any file
        main(["denoise", str(photo), "--model", "sharp", "--noise-level", "10"])
    assert stop.value.code == 2


def test_dejpeg_removes_blocking_from_a_real_jpeg(tmp_path: Path, cbsd68: Path, capsys):
    clean = load_rgb(sorted(cbsd68.glob("*.png"))[2])[:128, :160]
    source = tmp_path / "holiday.jpg"
    cv2.imwrite(str(source), np.round(clean[:, :, ::-1] * 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 20])
    assert main(["dejpeg", str(source)]) == 0
    out = tmp_path / "holiday_dejpeg.jpg"
    assert out.is_file()
    assert psnr(load_rgb(out), clean) > psnr(load_rgb(source), clean) + 0.3
    err = capsys.readouterr().err
    assert "ok:" in err and "model" not in err  # the default model is not named
    with pytest.raises(SystemExit) as stop:
        main(["dejpeg", str(source), "--model", "fbcnn-color"])
    assert stop.value.code == 1
    assert "photomend models download fbcnn-color" in capsys.readouterr().err


def test_ctrl_c_keeps_the_partial_download_and_a_rerun_finishes(tmp_path: Path, mirror: Path, models_dir: Path,
                                                                monkeypatch, capsys):
    import models.download as download
    from app.cli import models_cmd

    source = _nafnet_file(mirror)
    _catalogue_entry(monkeypatch, source)
    monkeypatch.setattr(download, "BLOCK", 4096)  # many blocks, so the interrupt lands mid-file
    real_call = models_cmd.DownloadProgress.__call__

    def interrupted(self, done: int, total: int) -> None:
        real_call(self, done, total)
        if done >= 8192:
            raise KeyboardInterrupt

    monkeypatch.setattr(models_cmd.DownloadProgress, "__call__", interrupted)
    assert main(["models", "download", "tiny-nafnet"]) == 130
    err = capsys.readouterr().err
    part = models_dir / (source.name + ".part")
    assert "partial download is kept" in err and "again to resume" in err
    assert 8192 <= part.stat().st_size < source.stat().st_size
    assert not (models_dir / source.name).exists()
    assert main(["models", "list"]) == 0
    assert "downloaded)" in capsys.readouterr().out  # "no (NN% downloaded)"
    monkeypatch.setattr(models_cmd.DownloadProgress, "__call__", real_call)
    assert main(["models", "download", "tiny-nafnet"]) == 0
    assert (models_dir / source.name).read_bytes() == source.read_bytes() and not part.exists()


def test_download_progress_line_reports_speed_and_time_left():
    import io

    from app.cli.models_cmd import DownloadProgress, duration

    stream = io.StringIO()
    progress = DownloadProgress("tiny", stream)
    progress(0, 10_000_000)
    assert "tiny  0.0 of 10.0 MB  0%" in stream.getvalue()
    line = progress.line(4_000_000, 10_000_000, now=progress._start[0] + 2.0)
    assert "2.0 MB/s" in line and "3s left" in line and "40%" in line
    assert duration(125) == "2m 05s" and duration(7300) == "2h 01m"


def test_the_cli_task_names_match_the_descriptor():
    """models_cmd copies them so that building the parser does not import torch."""
    from app.cli import models_cmd
    from models import descriptor

    assert models_cmd.TASKS == descriptor.TASKS and models_cmd.TASK_TITLES == descriptor.TASK_TITLES


def test_importing_a_catalogue_file_fetched_elsewhere_installs_that_model(tmp_path: Path, models_dir: Path,
                                                                       monkeypatch, capsys):
    """The offline message says: download it elsewhere and import it. The same bytes become the catalogue model."""
    (tmp_path / "usb").mkdir()
    fetched = _nafnet_file(tmp_path / "usb")
    _catalogue_entry(monkeypatch, fetched)
    assert main(["models", "import", str(fetched)]) == 0
    assert "installed tiny-nafnet" in capsys.readouterr().out
    assert (models_dir / fetched.name).read_bytes() == fetched.read_bytes()
    assert main(["models", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("tiny-nafnet"))
    assert " yes " in row and "catalogue" in row


_WITHOUT_SPANDREL = """
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("spandrel", "torchvision"):
            raise ImportError(f"No module named {name!r}")
sys.meta_path.insert(0, Block())
from app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""

_MISMATCHED_TORCHVISION = _WITHOUT_SPANDREL.replace(
    'raise ImportError(f"No module named {name!r}")', 'raise RuntimeError("operator torchvision::nms does not exist")')
"""pip's default torchvision next to a CPU torch: its operators fail to register while spandrel imports."""


def test_without_spandrel_the_built_in_model_works_and_model_files_say_what_is_missing(tmp_path: Path, photo: Path):
    """A minimal install or bundle may leave spandrel and torchvision out: only model files need them."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PHOTOMEND_MODELS_DIR": str(tmp_path / "models"), "PHOTOMEND_LOG_DIR": str(tmp_path / "logs")}
    run = lambda *args: subprocess.run([sys.executable, "-c", _WITHOUT_SPANDREL, *args], cwd=tmp_path, env=env,
                                       capture_output=True, text=True, timeout=300)  # noqa: E731
    built_in = run("denoise", str(photo), "-o", str(tmp_path / "a.png"))
    assert built_in.returncode == 0, built_in.stderr
    assert (tmp_path / "a.png").is_file()
    model_file = _ffdnet_file(tmp_path)
    refused = run("denoise", str(photo), "-o", str(tmp_path / "b.png"), "--model", str(model_file))
    assert refused.returncode == 1
    assert "model files need spandrel and torchvision" in refused.stderr and refused.stderr.count("\n") == 1
    assert not (tmp_path / "b.png").exists()


def test_a_torchvision_built_for_another_torch_is_one_line_naming_both(tmp_path: Path, photo: Path):
    """The frozen bundle built from a CPU torch met this: a traceback instead of the promised line."""
    import subprocess
    import sys

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
           "PHOTOMEND_MODELS_DIR": str(tmp_path / "models"), "PHOTOMEND_LOG_DIR": str(tmp_path / "logs")}
    refused = subprocess.run([sys.executable, "-c", _MISMATCHED_TORCHVISION, "denoise", str(photo), "-o",
                              str(tmp_path / "b.png"), "--model", str(_ffdnet_file(tmp_path))],
                             cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1, refused.stderr
    assert "model files need a torchvision built for this torch (torch " in refused.stderr
    assert "operator torchvision::nms does not exist" in refused.stderr
    assert not (tmp_path / "b.png").exists()


def test_an_unexpected_error_before_any_file_is_one_line_and_the_traceback_is_logged(
        tmp_path: Path, photo: Path, monkeypatch, capsys):
    monkeypatch.setenv("PHOTOMEND_LOG_DIR", str(tmp_path / "logs"))

    def broken(*_args, **_kwargs):
        raise ValueError("a bug outside the per-file boundary")

    monkeypatch.setattr("app.cli.main.run_restore", broken)
    assert main(["denoise", str(photo)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected error (ValueError: a bug outside the per-file boundary)" in err
    assert "Traceback" in (tmp_path / "logs" / "photomend.log").read_text()


def test_damaged_model_files_are_one_plain_line(tmp_path: Path, capsys):
    good = _ffdnet_file(tmp_path)
    (tmp_path / "cut.pth").write_bytes(good.read_bytes()[:500])
    (tmp_path / "text.pth").write_text("hello\n")
    for name in ("cut.pth", "text.pth"):
        assert main(["models", "import", str(tmp_path / name)]) == 1
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "damaged, cut short, or not a PyTorch file" in err, err
