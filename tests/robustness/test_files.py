"""Files: one safe writer. Each test reproduces a failure found by the trust campaign and checks
the file system afterwards: inputs byte-identical, no write through a link, no partial or
temporary file, the exit code and one line per problem."""

from __future__ import annotations

import os
import signal
import subprocess
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from app.cli.main import main
from app.errors import WriteError
from app.io.atomic import atomic_write, sweep_stale_temporaries
from app.physics.kernels import motion_kernel, save_kernel
from tests.robustness.helpers import noisy_photo, run_cli, sha256, snapshot, temporaries


@pytest.fixture(autouse=True)
def _log_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("PHOTOMEND_LOG_DIR", str(tmp_path / "logs"))


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    folder.mkdir()
    noisy_photo(folder / "a.png", seed=1)
    noisy_photo(folder / "b.png", seed=2)
    return folder


# --------------------------------------------------------------------------- links


def test_kernel_preview_never_writes_through_a_planted_link(tmp_path, capsys):
    """`photomend kernel` wrote its preview through the fixed name .k_preview.png.tmp."""
    photo = noisy_photo(tmp_path / "shaky.png", size=(160, 160))
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for planted in (".k_preview.png.tmp", ".k.png.tmp", ".k_preview.png.photomend.tmp"):
        os.symlink(victim, tmp_path / planted)
    code = main(["kernel", str(photo), "-o", str(tmp_path / "k.png"), "--max-size", "9"])
    assert code == 0, capsys.readouterr().err
    assert victim.read_text() == "precious"
    assert (tmp_path / "k.png").is_file() and (tmp_path / "k_preview.png").is_file()
    assert all((tmp_path / p).is_symlink() for p in (".k_preview.png.tmp", ".k.png.tmp"))


def test_kernel_output_at_a_dangling_link_is_refused_and_its_target_never_created(tmp_path, capsys):
    photo = noisy_photo(tmp_path / "shaky.png", size=(160, 160))
    ghost = tmp_path / "elsewhere" / "ghost.npy"
    ghost.parent.mkdir()
    os.symlink(ghost, tmp_path / "k.npy")
    code = main(["kernel", str(photo), "-o", str(tmp_path / "k.npy"), "--max-size", "9"])
    err = capsys.readouterr().err
    assert code == 1
    assert err.count("\n") == 1 and "already exists" in err
    assert not ghost.exists() and (tmp_path / "k.npy").is_symlink()


def test_overwrite_replaces_a_link_itself_never_the_file_it_points_to(tmp_path, capsys):
    photo = noisy_photo(tmp_path / "shaky.png", size=(160, 160))
    victim = tmp_path / "victim.npy"
    victim.write_bytes(b"not yours")
    os.symlink(victim, tmp_path / "k.npy")
    assert main(["kernel", str(photo), "-o", str(tmp_path / "k.npy"), "--max-size", "9", "--overwrite"]) == 0
    assert victim.read_bytes() == b"not yours"
    assert not (tmp_path / "k.npy").is_symlink()
    assert np.load(tmp_path / "k.npy").sum() == pytest.approx(1.0, abs=1e-4)


def test_a_link_at_the_default_output_name_counts_as_taken(shoot, tmp_path, capsys):
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"do not touch")
    os.symlink(victim, shoot / "a_denoised.png")
    assert main(["denoise", str(shoot / "a.png"), "-q"]) == 0
    assert victim.read_bytes() == b"do not touch"
    assert (shoot / "a_denoised.png").is_symlink()
    assert (shoot / "a_denoised-1.png").is_file()


def test_a_link_at_an_explicit_output_is_refused_without_overwrite(shoot, tmp_path, capsys):
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"do not touch")
    os.symlink(victim, shoot / "out.png")
    assert main(["denoise", str(shoot / "a.png"), "-o", str(shoot / "out.png")]) == 1
    err = capsys.readouterr().err
    assert "already exists" in err and err.count("error:") == 1
    assert victim.read_bytes() == b"do not touch"
    assert main(["denoise", str(shoot / "a.png"), "-o", str(shoot / "out.png"), "--overwrite", "-q"]) == 0
    assert victim.read_bytes() == b"do not touch" and not (shoot / "out.png").is_symlink()


def test_the_writer_creates_its_temporary_file_exclusively(tmp_path):
    """The temporary name is unguessable and O_EXCL|O_NOFOLLOW: the writer never opens an existing entry."""
    seen: list[str] = []
    real_open = os.open

    def spying_open(path, flags, *args, **kwargs):
        if str(path).endswith(".tmp"):
            seen.append(str(path))
            assert flags & os.O_EXCL and flags & os.O_CREAT and flags & os.O_NOFOLLOW
        return real_open(path, flags, *args, **kwargs)

    os.open = spying_open
    try:
        atomic_write(tmp_path / "x.bin", b"1")
        atomic_write(tmp_path / "y.bin", b"2")
    finally:
        os.open = real_open
    assert len(seen) == 2 and seen[0] != seen[1]
    assert not temporaries(tmp_path)


# --------------------------------------------------------------------------- planning


def test_an_output_never_replaces_another_input_of_the_same_run(shoot, capsys):
    """`denoise a.png a_denoised.png --overwrite` replaced the second input with the first's result."""
    noisy_photo(shoot / "a_denoised.png", seed=3)
    before = sha256(shoot / "a_denoised.png")
    code = main(["denoise", str(shoot / "a.png"), str(shoot / "a_denoised.png"), "--overwrite"])
    err = capsys.readouterr().err
    assert code == 1
    assert sha256(shoot / "a_denoised.png") == before
    assert sum("another input of this run" in line for line in err.splitlines()) == 1
    assert (shoot / "a_denoised_denoised.png").is_file()  # the other input still ran


def test_the_same_file_named_twice_gets_two_outputs(shoot, capsys, monkeypatch):
    monkeypatch.chdir(shoot)
    code = main(["denoise", "a.png", str(shoot / "a.png"), "./a.png", "-q"])
    assert code == 0, capsys.readouterr().err
    outputs = sorted(p.name for p in shoot.glob("a_denoised*"))
    assert outputs == ["a_denoised-1.png", "a_denoised-2.png", "a_denoised.png"]


def test_a_name_taken_by_a_concurrent_run_moves_the_write_on(shoot, monkeypatch, capsys):
    """Between planning and writing another process creates the planned output: never clobber it."""
    import app.pipeline.process_file as process_file

    real_read = process_file.read_photo

    def read_then_race(path, **kwargs):
        photo = real_read(path, **kwargs)
        (shoot / "a_denoised.png").write_bytes(b"the other run's result")
        return photo

    monkeypatch.setattr(process_file, "read_photo", read_then_race)
    assert main(["denoise", str(shoot / "a.png")]) == 0
    assert (shoot / "a_denoised.png").read_bytes() == b"the other run's result"
    assert (shoot / "a_denoised-1.png").is_file()
    assert "a_denoised-1.png" in capsys.readouterr().err


# --------------------------------------------------------------------------- full disk


@contextmanager
def tiny_filesystem(where: Path, size: str = "64k"):
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
                          capture_output=True)
    if done.returncode != 0:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_leaves_no_file_for_photos_kernels_and_previews(tmp_path, capsys):
    photo = noisy_photo(tmp_path / "big.png", size=(400, 300))
    with tiny_filesystem(tmp_path / "small") as disk:
        (disk / "filler").write_bytes(b"\0" * 40_000)
        assert main(["denoise", str(photo), "-o", str(disk / "out.png")]) == 1
        err = capsys.readouterr().err
        assert "disk full" in err and err.count("error:") == 1
        (disk / "more").write_bytes(b"\0" * max(0, _free_bytes(disk) - 200))
        assert main(["kernel", str(photo), "-o", str(disk / "k.png"), "--max-size", "9"]) == 1
        err = capsys.readouterr().err
        assert "disk full" in err and err.count("\n") == 1
        assert sorted(os.listdir(disk)) == ["filler", "more"]


def test_full_disk_save_kernel_fails_the_run(tmp_path, capsys):
    photo = noisy_photo(tmp_path / "shaky.png", size=(120, 100))
    with tiny_filesystem(tmp_path / "small", size="16k") as disk:
        (disk / "filler").write_bytes(b"\0" * max(0, _free_bytes(disk) - 100))
        code = main(["deblur", str(photo), "--kernel", "motion:5,0", "--method", "wiener",
                     "--save-kernel", str(disk / "k.png"), "-o", str(tmp_path / "out.png")])
        err = capsys.readouterr().err
        assert code == 1
        assert "kernel not saved" in err and "disk full" in err
        assert sorted(os.listdir(disk)) == ["filler"]


def _free_bytes(folder: Path) -> int:
    st = os.statvfs(folder)
    return st.f_bavail * st.f_frsize


# --------------------------------------------------------------------------- signals and kills

_HARNESS = """
import os, signal, sys
signal.signal(signal.SIGINT, signal.default_int_handler)  # also when started from a background job (SIG_IGN)
import app.io.atomic as atomic
real = atomic._write_all
def half_then_signal(fd, data):
    view = memoryview(data)
    os.write(fd, view[: len(view) // 2])
    os.kill(os.getpid(), getattr(signal, os.environ["TEST_SIGNAL"]))
    real(fd, view[len(view) // 2 :])
atomic._write_all = half_then_signal
from app.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize("name, code", [("SIGTERM", 143), ("SIGHUP", 129), ("SIGINT", 130)])
def test_a_signal_during_the_write_leaves_no_file_at_all(shoot, name, code):
    before = snapshot(shoot)
    done = run_cli(["denoise", str(shoot / "a.png")], cwd=shoot.parent, harness=_HARNESS,
                   env={"TEST_SIGNAL": name})
    assert done.returncode == code, done.stderr
    assert "no partial files were left" in done.stderr
    assert snapshot(shoot) == before


def test_after_a_kill_the_next_run_removes_only_its_own_stale_temporaries(shoot, tmp_path):
    done = run_cli(["denoise", str(shoot / "a.png")], cwd=shoot.parent, harness=_HARNESS,
                   env={"TEST_SIGNAL": "SIGKILL"})
    assert done.returncode == -signal.SIGKILL
    stale = temporaries(shoot)
    assert len(stale) == 1 and ".photomend-" in stale[0]
    not_ours = shoot / ".notes.txt.tmp"
    not_ours.write_text("someone else's")
    # A live writer's temporary file (this test process holds its lock) must survive the sweep.
    import fcntl

    live = shoot / f".b_denoised.png.photomend-{os.getpid()}-0badf00d.tmp"
    fd = os.open(live, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        again = run_cli(["denoise", str(shoot / "b.png")], cwd=shoot.parent)
        assert again.returncode == 0, again.stderr
        assert temporaries(shoot) == sorted([".notes.txt.tmp", live.name])
    finally:
        os.close(fd)
    assert not_ours.read_text() == "someone else's"
    assert not (shoot / "a_denoised.png").exists() and (shoot / "b_denoised.png").is_file()


def test_sweep_ignores_links_and_folders_named_like_temporaries(tmp_path):
    victim = tmp_path / "victim"
    victim.write_text("x")
    os.symlink(victim, tmp_path / ".a.png.photomend-999999-deadbeef.tmp")
    (tmp_path / ".b.png.photomend-999999-deadbeef.tmp").mkdir()
    assert sweep_stale_temporaries(tmp_path, force=True) == []
    assert victim.read_text() == "x"


# --------------------------------------------------------------------------- one error boundary


def test_an_exception_in_one_file_is_one_line_and_the_run_goes_on(shoot, monkeypatch, capsys, tmp_path):
    import app.engine.auto_level as auto_level

    real = auto_level.noise_features

    def broken_for_a(rgb, *args, **kwargs):
        if rgb.shape == (80, 96, 3) and float(rgb[0, 0, 0]) == real_first_pixel:
            raise ValueError("zero-size array to reduction operation maximum which has no identity")
        return real(rgb, *args, **kwargs)

    from app.io.reader import read_photo

    real_first_pixel = float(read_photo(shoot / "a.png").pixels[0, 0, 0])
    monkeypatch.setattr(auto_level, "noise_features", broken_for_a)
    code = main(["denoise", str(shoot / "a.png"), str(shoot / "b.png")])
    err = capsys.readouterr().err
    assert code == 1
    errors = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(shoot / "a.png") in errors[0] and "ValueError" in errors[0]
    assert "Traceback" not in err
    assert (shoot / "b_denoised.png").is_file() and not (shoot / "a_denoised.png").exists()
    log = tmp_path / "logs" / "photomend.log"
    assert "Traceback" in log.read_text() and str(log) in errors[0]
    main(["denoise", str(shoot / "a.png"), "--verbose", "-o", str(tmp_path / "x.png")])
    assert "Traceback" in capsys.readouterr().err


def test_a_weights_error_in_deblur_is_one_line_with_exit_1(shoot, tmp_path):
    broken = tmp_path / "weights"
    broken.mkdir()
    (broken / "ffdnet_color.pth").write_bytes(b"not a model")
    done = run_cli(["deblur", str(shoot / "a.png"), "--kernel", "motion:5,0"], cwd=tmp_path,
                   env={"PHOTOMEND_WEIGHTS_DIR": str(broken)})
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and "sha256" in done.stderr and "Traceback" not in done.stderr
    assert not (shoot / "a_deblurred.png").exists()


@pytest.mark.parametrize("args", [
    ["denoise", "{a}", "--max-megapixels", "inf"],
    ["denoise", "{a}", "--max-megapixels", "nan"],
    ["denoise", "{a}", "--max-megapixels", "-1"],
    ["denoise", "{a}", "--noise-level", "nan"],
    ["kernel", "{a}", "-o", "k.png", "--max-size", "0"],
    ["kernel", "{a}", "-o", "k.png", "--max-size", "1e9"],
    ["deblur", "{a}", "--kernel", "motion:0,0"],
])
def test_usage_errors_exit_2_with_one_line(shoot, args, capsys):
    args = [a.replace("{a}", str(shoot / "a.png")) for a in args]
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "error:" in err
    assert sorted(p.name for p in shoot.iterdir()) == ["a.png", "b.png"]


def test_save_kernel_that_cannot_be_written_exits_1(shoot, capsys):
    (shoot / "k.png").write_bytes(b"mine")
    code = main(["deblur", str(shoot / "a.png"), "--kernel", "motion:5,0", "--method", "wiener",
                 "--save-kernel", str(shoot / "k.png")])
    err = capsys.readouterr().err
    assert code == 1 and "kernel not saved" in err and "already exists" in err
    assert (shoot / "k.png").read_bytes() == b"mine"


# --------------------------------------------------------------------------- folder runs


def test_a_folder_run_names_what_it_skipped(shoot, capsys):
    (shoot / "IMG_0001.CR2").write_bytes(b"II*\0raw")
    (shoot / "IMG_0002.CR2").write_bytes(b"II*\0raw")
    (shoot / "notes.txt").write_text("shot list")
    (shoot / "sub").mkdir()
    noisy_photo(shoot / "sub" / "c.png")
    assert main(["denoise", str(shoot)]) == 0
    err = capsys.readouterr().err
    summary = [line for line in err.splitlines() if line.startswith("done:")]
    assert summary == ["done: 2 of 2 restored; skipped 4: 2 RAW files (.CR2), 1 not an image, "
                       "1 sub-folder (use -r to include it)"]


def test_an_unreadable_sub_folder_is_named(tmp_path):
    """Root reads any folder, so the run is started without the permission-override capabilities."""
    import shutil
    import sys

    if os.geteuid() != 0 or shutil.which("setpriv") is None:
        pytest.skip("needs root and setpriv to drop the permission-override capabilities")
    shoot = tmp_path / "shoot"
    (shoot / "locked").mkdir(parents=True)
    noisy_photo(shoot / "a.png")
    noisy_photo(shoot / "locked" / "b.png")
    os.chmod(shoot / "locked", 0o000)
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
           "PHOTOMEND_LOG_DIR": str(tmp_path / "logs")}
    try:
        done = subprocess.run(["setpriv", "--bounding-set=-dac_override,-dac_read_search", sys.executable, "-m",
                               "app.cli.main", "denoise", str(shoot), "-r"], env=env, capture_output=True,
                              text=True, cwd=tmp_path, timeout=300)
    finally:
        os.chmod(shoot / "locked", 0o755)
    assert done.returncode == 0, done.stderr
    assert "skipped 1: 1 unreadable folder" in done.stderr
    assert (shoot / "a_denoised.png").is_file() and not (shoot / "locked" / "b_denoised.png").exists()


def test_kernel_estimate_is_named_in_the_ok_line(tmp_path, capsys):
    from app.io.reader import read_photo
    from app.io.writer import write_photo
    from app.physics.blur import blur

    sharp = read_photo(noisy_photo(tmp_path / "sharp.png", size=(200, 200), seed=4))
    shaky = write_photo(sharp.with_pixels(blur(sharp.pixels, motion_kernel(9, 30))), tmp_path / "shaky.png")
    assert main(["deblur", str(shaky), "--kernel", "auto", "--method", "wiener"]) == 0
    ok = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ok:")]
    assert len(ok) == 1 and "kernel" in ok[0] and "confidence" in ok[0]


def test_save_kernel_writes_atomically_and_refuses_links(tmp_path):
    victim = tmp_path / "victim.png"
    victim.write_bytes(b"keep")
    os.symlink(victim, tmp_path / "k.png")
    with pytest.raises(WriteError, match="already exists"):
        save_kernel(motion_kernel(9, 0), tmp_path / "k.png")
    save_kernel(motion_kernel(9, 0), tmp_path / "k.png", overwrite=True)
    assert victim.read_bytes() == b"keep" and not (tmp_path / "k.png").is_symlink()


def test_a_multi_frame_input_says_only_its_first_frame_was_restored(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(5)
    frames = [Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)) for _ in range(3)]
    frames[0].save(tmp_path / "anim.webp", save_all=True, append_images=frames[1:], duration=100, lossless=True)
    assert main(["denoise", str(tmp_path / "anim.webp")]) == 0
    err = capsys.readouterr().err
    assert "note: anim.webp: only the first of 3 frames was restored" in err.splitlines()
