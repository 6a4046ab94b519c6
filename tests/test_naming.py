"""Output naming and format/extension mapping."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.errors import PhotomendError
from app.io.naming import default_output_path, extension_for_format, format_from_path


def test_default_beside_input_keeps_extension(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"x")
    assert default_output_path(src) == tmp_path / "photo_denoised.jpg"


def test_custom_suffix_out_dir_and_ext(tmp_path: Path) -> None:
    src = tmp_path / "in" / "photo.JPG"
    out = tmp_path / "out"
    out.mkdir()
    assert default_output_path(src, suffix="_clean", out_dir=out, ext=".png") == out / "photo_clean.png"
    assert default_output_path(src, out_dir=out, ext="tif") == out / "photo_denoised.tif"
    assert default_output_path(src) == tmp_path / "in" / "photo_denoised.JPG"


def test_collisions_get_numbered(tmp_path: Path) -> None:
    src = tmp_path / "photo.jpg"
    src.write_bytes(b"x")
    (tmp_path / "photo_denoised.jpg").write_bytes(b"x")
    assert default_output_path(src) == tmp_path / "photo_denoised-1.jpg"
    (tmp_path / "photo_denoised-1.jpg").write_bytes(b"x")
    assert default_output_path(src) == tmp_path / "photo_denoised-2.jpg"
    # a different extension doesn't collide
    assert default_output_path(src, ext=".png") == tmp_path / "photo_denoised.png"


def test_empty_suffix_never_returns_the_input(tmp_path: Path) -> None:
    src = tmp_path / "photo.png"
    src.write_bytes(b"x")
    assert default_output_path(src, suffix="") == tmp_path / "photo-1.png"


def test_dangling_symlink_counts_as_taken(tmp_path: Path) -> None:
    src = tmp_path / "photo.png"
    try:
        (tmp_path / "photo_denoised.png").symlink_to(tmp_path / "nowhere")
    except OSError:
        pytest.skip("symlinks not available")
    assert default_output_path(src) == tmp_path / "photo_denoised-1.png"


@pytest.mark.parametrize(
    ("fmt", "ext"),
    [("png", ".png"), ("jpg", ".jpg"), ("jpeg", ".jpg"), ("tif", ".tif"), ("tiff", ".tif"),
     ("webp", ".webp"), ("bmp", ".bmp"), ("PNG", ".png")],
)
def test_extension_for_format(fmt: str, ext: str) -> None:
    assert extension_for_format(fmt) == ext


def test_extension_for_unknown_format() -> None:
    with pytest.raises(PhotomendError, match="gif"):
        extension_for_format("gif")


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.png", "png"), ("a.JPG", "jpg"), ("a.jpeg", "jpg"), ("a.tif", "tif"), ("a.TIFF", "tif"),
     ("a.webp", "webp"), ("a.bmp", "bmp"), ("dir.v2/a.b.png", "png")],
)
def test_format_from_path(name: str, fmt: str) -> None:
    assert format_from_path(Path(name)) == fmt


@pytest.mark.parametrize("name", ["a.gif", "a.xyz", "noext", "a.png.bak"])
def test_format_from_unknown_path(name: str) -> None:
    with pytest.raises(PhotomendError) as info:
        format_from_path(Path(name))
    assert name in str(info.value)
    assert ".png" in str(info.value)
