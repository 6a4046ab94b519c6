"""`photomend` end to end on real files: outputs, naming, no overwrite, batch failures, exit codes."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main
from tests.conftest import load_rgb, psnr
from tests.test_finish import colour_speckle, fine_energy


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture()
def clean_and_noisy(tmp_path: Path, cbsd68: Path) -> tuple[np.ndarray, Path]:
    clean = load_rgb(sorted(cbsd68.glob("*.png"))[5])[:160, :200]
    rng = np.random.default_rng(7)
    noisy = np.clip(clean + rng.standard_normal(clean.shape).astype(np.float32) * 20 / 255, 0, 1)
    path = tmp_path / "street.png"
    cv2.imwrite(str(path), np.round(noisy[:, :, ::-1] * 255).astype(np.uint8))
    return clean, path


def _read(path: Path) -> np.ndarray:
    return load_rgb(path)


def test_denoise_writes_beside_the_input_and_improves_the_photo(clean_and_noisy, capsys):
    clean, noisy_path = clean_and_noisy
    before = _digest(noisy_path)
    assert main(["denoise", str(noisy_path)]) == 0
    out = noisy_path.with_name("street_denoised.png")
    assert out.exists()
    assert _digest(noisy_path) == before  # the input is never touched
    assert psnr(_read(out), clean) > psnr(_read(noisy_path), clean) + 4
    assert "noise" in capsys.readouterr().err


def test_second_run_picks_a_new_name_instead_of_overwriting(clean_and_noisy):
    _clean, noisy_path = clean_and_noisy
    assert main(["denoise", str(noisy_path), "--noise-level", "20", "-q"]) == 0
    first = noisy_path.with_name("street_denoised.png")
    stamp = _digest(first)
    assert main(["denoise", str(noisy_path), "--noise-level", "20", "-q"]) == 0
    assert noisy_path.with_name("street_denoised-1.png").exists()
    assert _digest(first) == stamp


def test_existing_output_file_is_kept_without_overwrite(clean_and_noisy, capsys):
    _clean, noisy_path = clean_and_noisy
    target = noisy_path.with_name("mine.png")
    target.write_bytes(b"precious")
    assert main(["denoise", str(noisy_path), "-o", str(target), "--noise-level", "20"]) == 1
    assert target.read_bytes() == b"precious"
    assert "already exists" in capsys.readouterr().err
    assert main(["denoise", str(noisy_path), "-o", str(target), "--noise-level", "20", "--overwrite"]) == 0
    assert target.read_bytes() != b"precious"


def test_overwrite_may_replace_the_input_only_when_asked(clean_and_noisy):
    clean, noisy_path = clean_and_noisy
    noisy_psnr = psnr(_read(noisy_path), clean)
    assert main(["denoise", str(noisy_path), "-o", str(noisy_path), "--noise-level", "20", "-q"]) == 1
    assert psnr(_read(noisy_path), clean) == pytest.approx(noisy_psnr)
    assert main(["denoise", str(noisy_path), "-o", str(noisy_path), "--noise-level", "20", "--overwrite", "-q"]) == 0
    assert psnr(_read(noisy_path), clean) > noisy_psnr + 4


def test_folder_batch_reports_bad_files_and_finishes_the_rest(clean_and_noisy, tmp_path: Path, capsys):
    _clean, noisy_path = clean_and_noisy
    folder = tmp_path / "shoot"
    (folder / "day2").mkdir(parents=True)
    good = [folder / "a.png", folder / "day2" / "b.jpg"]
    image = cv2.imread(str(noisy_path))
    cv2.imwrite(str(good[0]), image)
    cv2.imwrite(str(good[1]), image)
    (folder / "broken.jpg").write_bytes(good[1].read_bytes()[:300])
    (folder / "notes.jpg").write_text("this is not a photo")
    (folder / "readme.txt").write_text("ignored: not an image extension")
    out_dir = tmp_path / "restored"
    code = main(["denoise", str(folder), "-r", "-o", str(out_dir), "--noise-level", "20", "--format", "png"])
    err = capsys.readouterr().err
    assert code == 1
    assert (out_dir / "a_denoised.png").exists()
    assert (out_dir / "day2" / "b_denoised.png").exists()
    assert "broken.jpg" in err and "notes.jpg" in err
    assert not (out_dir / "broken_denoised.png").exists() and not (out_dir / "notes_denoised.png").exists()
    assert "2 of 4 restored" in err
    leftovers = [p.name for p in out_dir.rglob("*") if p.is_file() and "tmp" in p.name]
    assert leftovers == []


def test_sixteen_bit_output_and_format_choice(clean_and_noisy):
    _clean, noisy_path = clean_and_noisy
    out = noisy_path.with_name("out16.tif")
    assert main(["denoise", str(noisy_path), "-o", str(out), "--bit-depth", "16", "--noise-level", "20", "-q"]) == 0
    data = cv2.imread(str(out), cv2.IMREAD_UNCHANGED)
    assert data.dtype == np.uint16 and data.shape[:2] == (160, 200)


def test_missing_input_and_unwritable_output_fail_with_one_line(clean_and_noisy, tmp_path: Path, capsys):
    _clean, noisy_path = clean_and_noisy
    assert main(["denoise", str(tmp_path / "nope.jpg"), "-q"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope.jpg" in err[0]
    blocker = tmp_path / "file_not_folder"
    blocker.write_text("x")
    assert main(["denoise", str(noisy_path), "-o", str(blocker / "out.png"), "--noise-level", "20", "-q"]) == 1
    assert "out.png" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["denoise", "x.png", "--strength", "150"],
        ["denoise", "x.png", "--noise-level", "loud"],
        ["denoise", "x.png", "--tile", "8"],
        ["denoise", "x.png", "--format", "gif"],
        ["denoise", "x.png", "--device", "tpu"],
        ["denoise", "x.png", "--detail", "101"],
        ["denoise", "x.png", "--colour-noise", "-5"],
        ["denoise", "x.png", "--detail", "much"],
        ["frobnicate"],
    ],
)
def test_usage_errors_exit_with_code_2(args, capsys):
    with pytest.raises(SystemExit) as stop:
        main(args)
    assert stop.value.code == 2


def test_out_of_range_detail_names_the_flag_and_writes_nothing(clean_and_noisy, capsys):
    _clean, noisy_path = clean_and_noisy
    with pytest.raises(SystemExit) as stop:
        main(["denoise", str(noisy_path), "--colour-noise", "150"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "--colour-noise" in err and "out of range (0 to 100)" in err
    assert sorted(p.name for p in noisy_path.parent.iterdir()) == ["street.png"]


def test_detail_and_colour_noise_flags_reach_the_photo(clean_and_noisy, tmp_path: Path):
    from app.engine.denoise import Denoiser
    from app.engine.finish import DEFAULT_COLOUR_NOISE, DEFAULT_DETAIL

    _clean, noisy_path = clean_and_noisy
    runs = {"default": [], "plain": ["--detail", "0", "--colour-noise", "0"],
            "detail": ["--detail", "100", "--colour-noise", "0"], "colour": ["--detail", "0", "--colour-noise", "100"]}
    out = {}
    for name, flags in runs.items():
        target = tmp_path / f"{name}.png"
        assert main(["denoise", str(noisy_path), "-o", str(target), "--noise-level", "20", "-q", *flags]) == 0
        out[name] = _read(target)
    engine = Denoiser(device="cpu")
    noisy = _read(noisy_path)
    as_8_bit = lambda rgb: np.round(np.clip(rgb, 0, 1) * 255) / 255  # noqa: E731 - the file's precision
    assert np.abs(out["plain"] - as_8_bit(engine.denoise(noisy, noise_level=20).pixels)).max() <= 1 / 255
    defaults = engine.denoise(noisy, noise_level=20, detail=DEFAULT_DETAIL, colour_noise=DEFAULT_COLOUR_NOISE).pixels
    assert np.abs(out["default"] - as_8_bit(defaults)).max() <= 1 / 255
    assert fine_energy(out["detail"]) > 2 * fine_energy(out["plain"])
    assert colour_speckle(out["colour"]) < 0.7 * colour_speckle(out["plain"])


def test_info_lists_devices_and_models(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "cpu" in out and "ffdnet-color" in out and "MIT" in out and "weights OK" in out


def test_console_script_runs_as_a_separate_process(clean_and_noisy):
    _clean, noisy_path = clean_and_noisy
    done = subprocess.run(
        [sys.executable, "-m", "app.cli.main", "denoise", str(noisy_path), "--noise-level", "10", "--strength", "0"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert np.array_equal(_read(noisy_path.with_name("street_denoised.png")), _read(noisy_path))
