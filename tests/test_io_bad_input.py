"""Bad inputs and failing outputs: one clear error naming the file, nothing partial written."""

from __future__ import annotations

import errno
import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from app.errors import ImageReadError, ImageWriteError, PhotomendError
from app.io.photo import Photo
from app.io.reader import probe_photo, read_photo
from app.io.writer import write_photo


def smooth_rgb(h: int = 96, w: int = 128) -> np.ndarray:
    y, x = np.mgrid[0:h, 0:w]
    return np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=2).astype(np.uint8)


def encoded(fmt: str, depth: int = 8) -> bytes:
    rgb = smooth_rgb()
    if depth == 16:
        return cv2.imencode("." + fmt, rgb.astype(np.uint16) * 257)[1].tobytes()
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, {"jpg": "JPEG", "png": "PNG", "tif": "TIFF", "webp": "WEBP", "bmp": "BMP"}[fmt])
    return buf.getvalue()


def png_chunk(ctype: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + ctype + data + struct.pack(">I", zlib.crc32(ctype + data))


def fake_png_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims a huge size (decompression bomb shape)."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", zlib.compress(b"\x00" * 1000)) + png_chunk(b"IEND", b"")
    )


def assert_read_error(path: Path, *fragments: str, probe: bool = True) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_photo(path)
    err = info.value
    message = str(err)
    assert message.startswith(f"{path}: "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert isinstance(err, PhotomendError) and err.path == path
    if probe:
        with pytest.raises(ImageReadError):
            probe_photo(path)
    return err


def small_photo() -> Photo:
    return Photo(pixels=smooth_rgb(8, 10) / np.float32(255))


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --------------------------------------------------------------------------- reading


def test_missing_file(tmp_path: Path) -> None:
    assert_read_error(tmp_path / "nope.jpg", "no such file")


def test_missing_parent_folder(tmp_path: Path) -> None:
    assert_read_error(tmp_path / "nodir" / "nope.png", "no such file")


def test_directory(tmp_path: Path) -> None:
    folder = tmp_path / "pics.png"
    folder.mkdir()
    assert_read_error(folder, "is a folder")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.touch()
    assert_read_error(path, "empty file")


def test_text_file_named_jpg(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a photo\n" * 20)
    assert_read_error(path, "not an image", "unrecognised format", "JPEG, PNG")


@pytest.mark.parametrize("name", ["anim.gif", "doc.xyz", "noextension"])
def test_unsupported_extension_lists_supported(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    Image.new("RGB", (4, 4)).save(path, format="GIF")
    assert_read_error(path, "unsupported format", ".jpg", ".png", ".tif", ".webp", ".bmp")


def test_gif_content_with_png_name(tmp_path: Path) -> None:
    path = tmp_path / "sneaky.png"
    Image.new("RGB", (4, 4)).save(path, format="GIF")
    assert_read_error(path, "unsupported format GIF", "supported: JPEG, PNG, TIFF, WebP, BMP")


def test_mislabelled_but_valid_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(encoded("png"))
    photo = read_photo(path)
    assert photo.format == "png"
    np.testing.assert_array_equal(np.round(photo.pixels * 255).astype(np.uint8), smooth_rgb())


@pytest.mark.parametrize(
    ("fmt", "depth"),
    [("jpg", 8), ("png", 8), ("png", 16), ("tif", 8), ("tif", 16), ("webp", 8), ("bmp", 8)],
)
@pytest.mark.parametrize("fraction", [0.5, 0.9])
def test_truncated_file_is_detected(tmp_path: Path, fmt: str, depth: int, fraction: float) -> None:
    """A cut file must fail, not decode half-grey."""
    data = encoded(fmt, depth)
    path = tmp_path / f"cut.{fmt}"
    path.write_bytes(data[: int(len(data) * fraction)])
    assert_read_error(path, "truncated or corrupt", probe=False)


def test_truncated_real_world_jpeg(tmp_path: Path) -> None:
    """Progressive and baseline camera-like JPEGs, with an EXIF thumbnail, cut in half."""
    big = np.repeat(np.repeat(smooth_rgb(), 4, axis=0), 4, axis=1)
    exif = Image.Exif()
    exif[271] = "Cam"
    for progressive in (False, True):
        buf = io.BytesIO()
        Image.fromarray(big).save(buf, "JPEG", quality=95, progressive=progressive, exif=exif.tobytes())
        path = tmp_path / f"cut_{progressive}.jpg"
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
        assert_read_error(path, "truncated or corrupt JPEG", probe=False)


def test_corrupt_png_data(tmp_path: Path) -> None:
    data = bytearray(encoded("png", 16))
    idat = data.index(b"IDAT")
    data[idat + 40 : idat + 80] = b"\x00" * 40  # breaks the CRC and the deflate stream
    path = tmp_path / "bad.png"
    path.write_bytes(bytes(data))
    assert_read_error(path, "truncated or corrupt PNG", probe=False)


def test_header_only_garbage(tmp_path: Path) -> None:
    path = tmp_path / "fake.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 10)
    assert_read_error(path, "truncated or corrupt PNG")


def test_unsupported_tiff_sample_format(tmp_path: Path) -> None:
    import tifffile

    path = tmp_path / "int32.tif"
    tifffile.imwrite(path, np.full((4, 6), 5, np.int32))
    assert_read_error(path, "unsupported TIFF pixel format (32-bit signed integer", probe=False)


def test_decompression_bomb_default_limit(tmp_path: Path) -> None:
    path = tmp_path / "bomb.png"
    path.write_bytes(fake_png_header(20000, 12500))
    assert_read_error(
        path, "image is 250.0 megapixels, over the 200 MP limit (decompression bomb?)"
    )


def test_decompression_bomb_custom_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.tif"
    path.write_bytes(encoded("tif", 16))
    with pytest.raises(ImageReadError, match="over the 0.01 MP limit"):
        read_photo(path, max_pixels=10_000)
    with pytest.raises(ImageReadError, match="megapixels"):
        probe_photo(path, max_pixels=10_000)
    assert probe_photo(path) == (128, 96)


def test_bomb_under_limit_above_pillow_default_probes(tmp_path: Path) -> None:
    """Pillow's own 89/179 MP bomb check must not pre-empt our (larger) limit."""
    path = tmp_path / "large.png"
    path.write_bytes(fake_png_header(15000, 12000))  # 180 MP
    assert probe_photo(path) == (15000, 12000)


# --------------------------------------------------------------------------- writing


def test_write_to_missing_folder(tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.png"
    with pytest.raises(ImageWriteError, match="does not exist") as info:
        write_photo(small_photo(), target)
    assert str(info.value).startswith(str(target))
    assert names(tmp_path) == []


def test_write_where_parent_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(ImageWriteError, match="not a folder"):
        write_photo(small_photo(), blocker / "out.png")
    assert names(tmp_path) == ["file.txt"]


def test_write_to_a_folder_path(tmp_path: Path) -> None:
    (tmp_path / "out.png").mkdir()
    with pytest.raises(ImageWriteError, match="is a folder"):
        write_photo(small_photo(), tmp_path / "out.png", overwrite=True)


def test_permission_denied_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests may run as root, where chmod doesn't stop writes: simulate the OS refusing."""
    real_open = os.open

    def refusing_open(path, flags, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(path).parent == tmp_path and flags & os.O_CREAT:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", refusing_open)
    with pytest.raises(ImageWriteError, match="permission denied"):
        write_photo(small_photo(), tmp_path / "out.png")
    monkeypatch.undo()
    assert names(tmp_path) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_permission_denied_real(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        with pytest.raises(ImageWriteError, match="permission denied"):
            write_photo(small_photo(), locked / "out.png")
    finally:
        locked.chmod(0o700)


@pytest.mark.parametrize("fmt", ["png", "jpg", "tif", "webp"])
def test_disk_full_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    real_write = os.write

    def full_disk(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        real_write(fd, bytes(data[:7]))  # part of the file reaches the disk, then...
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    target = tmp_path / f"out.{fmt}"
    with pytest.raises(ImageWriteError) as info:
        write_photo(small_photo(), target)
    monkeypatch.undo()
    assert str(info.value) == f"{target}: disk full"
    assert names(tmp_path) == []


def test_disk_full_does_not_touch_existing_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def full_disk(fd: int, data) -> int:  # type: ignore[no-untyped-def]
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "write", full_disk)
    with pytest.raises(ImageWriteError, match="disk full"):
        write_photo(small_photo(), target, overwrite=True)
    monkeypatch.undo()
    assert target.read_bytes() == b"old"
    assert names(tmp_path) == ["out.png"]


def test_target_created_during_write_is_not_clobbered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process takes the name between our check and the rename: we back off."""
    target = tmp_path / "out.png"
    real_fsync = os.fsync

    def racing_fsync(fd: int) -> None:
        if not target.exists():
            target.write_bytes(b"theirs")
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", racing_fsync)
    with pytest.raises(ImageWriteError, match="already exists"):
        write_photo(small_photo(), target)
    monkeypatch.undo()
    assert target.read_bytes() == b"theirs"
    assert names(tmp_path) == ["out.png"]


def test_encoder_failure_leaves_nothing(tmp_path: Path) -> None:
    wide = Photo(pixels=np.zeros((1, 17000, 3), np.float32))
    with pytest.raises(ImageWriteError, match="too large for WebP"):
        write_photo(wide, tmp_path / "wide.webp")
    assert names(tmp_path) == []


@pytest.mark.parametrize(
    ("name", "kwargs", "fragment"),
    [
        ("out.gif", {}, "cannot tell the output format"),
        ("out.png", {"format": "gif"}, "cannot write GIF"),
        ("out.jpg", {"quality": 0}, "quality must be between 1 and 100"),
        ("out.jpg", {"quality": 101}, "quality must be between 1 and 100"),
        ("out.png", {"bit_depth": 12}, "bit depth must be 8 or 16"),
        ("out.webp", {"bit_depth": 16}, "8-bit only"),
        ("out.bmp", {"bit_depth": 16}, "8-bit only"),
    ],
)
def test_bad_write_arguments(tmp_path: Path, name: str, kwargs: dict, fragment: str) -> None:
    with pytest.raises(ImageWriteError, match=fragment):
        write_photo(small_photo(), tmp_path / name, **kwargs)
    assert names(tmp_path) == []
