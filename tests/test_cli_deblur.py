"""`photomend deblur` and `photomend kernel` end to end on real files: outputs, kernels, bad input."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from app.cli.main import main
from app.metrics import psnr
from app.physics.blur import blur
from app.physics.kernels import kernel_from_spec, load_kernel
from tests.conftest import load_rgb

KERNEL_SPEC = "motion:11,30"


@pytest.fixture()
def sharp_and_blurred(tmp_path: Path, cbsd68: Path) -> tuple[np.ndarray, Path]:
    """A 180x240 CBSD68 crop blurred by an 11 px motion ('same' convolution) plus light noise, as PNG."""
    sharp = load_rgb(sorted(cbsd68.glob("*.png"))[1])[60:240, 100:340]
    blurred = blur(sharp, kernel_from_spec(KERNEL_SPEC), mode="same")
    blurred = blurred + np.random.default_rng(3).normal(0, 1.0 / 255, blurred.shape).astype(np.float32)
    path = tmp_path / "shaky.png"
    cv2.imwrite(str(path), np.round(np.clip(blurred, 0, 1)[:, :, ::-1] * 255).astype(np.uint8))
    return sharp, path


@pytest.mark.parametrize("method, extra", [("wiener", []), ("deep", ["--iterations", "4"])])
def test_deblur_writes_beside_the_input_and_sharpens(sharp_and_blurred, method, extra, capsys):
    sharp, path = sharp_and_blurred
    code = main(["deblur", str(path), "--kernel", KERNEL_SPEC, "--method", method, "--noise-level", "2", *extra])
    assert code == 0, capsys.readouterr().err
    out = path.with_name("shaky_deblurred.png")
    assert out.exists()
    restored = load_rgb(out)
    assert restored.shape == sharp.shape
    gain = psnr(restored, sharp, border=16) - psnr(load_rgb(path), sharp, border=16)  # away from the border band
    assert gain > (4.0 if method == "deep" else 2.0), f"{method}: only {gain:.2f} dB sharper"


def test_save_kernel_writes_the_kernel_used(sharp_and_blurred, tmp_path: Path, capsys):
    _sharp, path = sharp_and_blurred
    saved = tmp_path / "used.npy"
    out = tmp_path / "out.png"
    code = main(["deblur", str(path), "--kernel", KERNEL_SPEC, "--method", "wiener", "-o", str(out),
                 "--save-kernel", str(saved)])
    assert code == 0, capsys.readouterr().err
    assert out.exists()
    np.testing.assert_allclose(load_kernel(saved), kernel_from_spec(KERNEL_SPEC), atol=1e-6)


def test_kernel_command_estimates_a_motion_blur(sharp_and_blurred, tmp_path: Path, capsys):
    _sharp, path = sharp_and_blurred
    target = tmp_path / "estimate.npy"
    code = main(["kernel", str(path), "-o", str(target), "--max-size", "21"])
    assert code == 0, capsys.readouterr().err
    kernel = load_kernel(target)
    assert kernel.shape[0] % 2 == 1 and kernel.sum() == pytest.approx(1.0, abs=1e-5) and kernel.min() >= 0
    # Its principal axis lies along the 30 degree motion (rows grow downwards, so the angle is -dy).
    ys, xs = np.mgrid[: kernel.shape[0], : kernel.shape[1]]
    cy, cx = (kernel * ys).sum(), (kernel * xs).sum()
    cov = np.cov(np.stack([(xs - cx).ravel(), -(ys - cy).ravel()]), aweights=kernel.ravel() + 1e-12)
    values, vectors = np.linalg.eigh(cov)
    angle = np.degrees(np.arctan2(vectors[1, -1], vectors[0, -1])) % 180
    assert abs(angle - 30) < 8, angle
    assert (tmp_path / "estimate_preview.png").exists()


@pytest.mark.parametrize(
    "kernel, words",
    [
        ("motion:-3,10", "length"),
        ("motion:0,10", "length"),
        ("defocus:0", "radius"),
        ("gaussian:nan", "sigma"),
        ("blur:3", "unknown"),
        ("motion:5", "motion"),
    ],
)
def test_bad_kernel_specs_are_usage_errors_and_write_nothing(sharp_and_blurred, kernel, words, capsys):
    _sharp, path = sharp_and_blurred
    with pytest.raises(SystemExit) as stop:
        main(["deblur", str(path), "--kernel", kernel])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and words in err[-1].lower()
    assert sorted(p.name for p in path.parent.iterdir()) == ["shaky.png"]


@pytest.mark.parametrize(
    "name, make, words",
    [
        ("empty.npy", lambda p: p.write_bytes(b""), "empty"),
        ("zeros.npy", lambda p: np.save(p, np.zeros((5, 5))), "zero"),
        ("negative.npy", lambda p: np.save(p, np.array([[0.5, -0.2, 0.7]] * 3)), "negative"),
        ("nan.npy", lambda p: np.save(p, np.full((3, 3), np.nan)), "nan"),
        ("text.png", lambda p: p.write_text("not a picture"), "text.png"),
    ],
)
def test_bad_kernel_files_are_one_line_errors_and_write_nothing(sharp_and_blurred, tmp_path: Path, name, make, words, capsys):
    _sharp, path = sharp_and_blurred
    folder = tmp_path / "kernels"
    folder.mkdir()
    kernel_path = folder / name
    make(kernel_path)
    with pytest.raises(SystemExit) as stop:
        main(["deblur", str(path), "--kernel", str(kernel_path)])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2 and name in err[-1] and words in err[-1].lower()
    assert sorted(p.name for p in path.parent.iterdir()) == ["kernels", "shaky.png"]


def test_kernel_larger_than_the_photo_fails_that_file_only(sharp_and_blurred, tmp_path: Path, capsys):
    _sharp, path = sharp_and_blurred
    tiny = tmp_path / "tiny.png"
    cv2.imwrite(str(tiny), np.full((40, 40, 3), 128, np.uint8))
    big = tmp_path / "big.npy"
    np.save(big, np.ones((61, 61)))
    code = main(["deblur", str(tiny), str(path), "--kernel", str(big), "--method", "wiener", "-q"])
    assert code == 1  # one file failed, the other was done
    err = capsys.readouterr().err
    assert "tiny.png" in err and "larger than the image" in err
    assert not tmp_path.joinpath("tiny_deblurred.png").exists()
    assert path.with_name("shaky_deblurred.png").exists()
