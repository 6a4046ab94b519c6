"""Damaged, multi-frame and tiny inputs, each built as a real file the way it is met in the wild.

What a user cares about is checked every time: one error line that names the file and says it is
truncated or corrupt, nothing else on stderr (no libpng/libjpeg/libtiff/OpenCV lines), and the
sound version of the same file still reading as before.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from app.errors import ImageReadError, PhotomendError
from app.io.photo import Photo
from app.io.reader import read_photo

# --------------------------------------------------------------------------- helpers


def photo_rgb(h: int = 192, w: int = 256) -> np.ndarray:
    """A gradient with grain: real entropy-coded data in every block, like a photo."""
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x * 255 // w, y * 255 // h, (x + y) % 256], axis=2).astype(np.float64)
    grain = np.random.default_rng(0).normal(0.0, 12.0, base.shape)
    return np.clip(base + grain, 0, 255).astype(np.uint8)


def pil_bytes(fmt: str, arr: np.ndarray | None = None, **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(photo_rgb() if arr is None else arr).save(buf, fmt, **options)
    return buf.getvalue()


def jpeg_bytes(kind: str) -> bytes:
    options = {"baseline": {}, "progressive": {"progressive": True}, "restart": {"restart_marker_rows": 1}}
    return pil_bytes("JPEG", quality=90, **options[kind])


def sos_offsets(data: bytes) -> list[int]:
    return [i for i in range(len(data) - 1) if data[i] == 0xFF and data[i + 1] == 0xDA]


def middle_of_last_scan(data: bytes) -> int:
    start = sos_offsets(data)[-1]
    return start + (len(data) - start) // 2


def png16_bytes(arr: np.ndarray | None = None) -> bytes:
    rgb = photo_rgb() if arr is None else arr
    return cv2.imencode(".png", rgb.astype(np.uint16) * 257)[1].tobytes()


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def png_chunks(data: bytes) -> list[tuple[bytes, int, int]]:
    """(type, start, length of body) of each chunk."""
    chunks, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack_from(">I", data, pos)
        chunks.append((data[pos + 4 : pos + 8], pos, length))
        pos += 12 + length
    return chunks


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def assert_one_line_error(path: Path, capfd: pytest.CaptureFixture[str], *fragments: str) -> str:
    """The read fails with one line naming the file and saying it is damaged; nothing else is printed."""
    capfd.readouterr()
    with pytest.raises(ImageReadError) as info:
        read_photo(path)
    message = str(info.value)
    assert message.startswith(f"{path}: truncated or corrupt "), message
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    printed = capfd.readouterr()
    assert printed.err == "" and printed.out == "", printed
    return message


def assert_reads_quietly(path: Path, capfd: pytest.CaptureFixture[str]) -> Photo:
    capfd.readouterr()
    photo = read_photo(path)
    printed = capfd.readouterr()
    assert printed.err == "" and printed.out == "", printed
    return photo


def as_uint8(photo: Photo) -> np.ndarray:
    return np.round(photo.pixels * 255).astype(np.uint8)


# --------------------------------------------------------------------------- JPEG


@pytest.mark.parametrize("kind", ["baseline", "progressive"])
def test_truncated_jpeg(tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str) -> None:
    data = jpeg_bytes(kind)
    path = write(tmp_path, "cut.jpg", data[: middle_of_last_scan(data)])
    assert_one_line_error(path, capfd, "JPEG", "file ends inside the image data")


@pytest.mark.parametrize("kind", ["baseline", "progressive", "restart"])
def test_jpeg_cut_with_end_marker_appended(tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str) -> None:
    """Used to decode as a picture whose lower part is flat grey, reported fine."""
    data = jpeg_bytes(kind)
    path = write(tmp_path, "cut_eoi.jpg", data[: middle_of_last_scan(data)] + b"\xff\xd9")
    assert_one_line_error(path, capfd, "JPEG", "premature end of data segment")
    sound = write(tmp_path, "sound.jpg", data)
    expected = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    np.testing.assert_array_equal(as_uint8(assert_reads_quietly(sound, capfd)), expected)


@pytest.mark.parametrize("kind", ["baseline", "progressive"])
def test_jpeg_end_marker_planted_mid_scan(tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str) -> None:
    data = jpeg_bytes(kind)
    mid = middle_of_last_scan(data)
    path = write(tmp_path, "planted.jpg", data[:mid] + b"\xff\xd9" + data[mid:])
    assert_one_line_error(path, capfd, "JPEG", "premature end of data segment")


def test_progressive_jpeg_cut_between_scans(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """libjpeg decodes a progressive file missing its last scans without a warning (blurry, no error)."""
    data = jpeg_bytes("progressive")
    scans = sos_offsets(data)
    for name, cut in (("first_scan_only.jpg", scans[1]), ("last_scan_missing.jpg", scans[-1])):
        path = write(tmp_path, name, data[:cut] + b"\xff\xd9")
        assert_one_line_error(path, capfd, "JPEG", "scans are missing")


@pytest.mark.parametrize("kind", ["baseline", "progressive"])
def test_jpeg_without_end_marker_but_complete_still_reads(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], kind: str
) -> None:
    """Only the final EOI marker is missing: every block is there, so the photo is sound."""
    data = jpeg_bytes(kind)
    photo = assert_reads_quietly(write(tmp_path, "no_eoi.jpg", data[:-2]), capfd)
    np.testing.assert_array_equal(as_uint8(photo), np.asarray(Image.open(io.BytesIO(data)).convert("RGB")))
    path = write(tmp_path, "no_eoi_cut.jpg", data[:-40])
    assert_one_line_error(path, capfd, "JPEG", "file ends inside the image data")


def test_sound_jpeg_variants_read_as_pillow_decodes_them(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """Grey, restart markers, 4:4:4, odd sizes, OpenCV's encoder, data after EOI, MPO-style extra frame."""
    rgb = photo_rgb(37, 53)
    variants = {
        "grey.jpg": pil_bytes("JPEG", rgb[:, :, 1]),
        "restart.jpg": pil_bytes("JPEG", rgb, restart_marker_blocks=2),
        "444.jpg": pil_bytes("JPEG", rgb, subsampling="4:4:4", quality=97),
        "opencv.jpg": cv2.imencode(".jpg", rgb)[1].tobytes(),
        "trailer.jpg": jpeg_bytes("baseline") + b"\x00" * 64 + b"vendor trailer",
        "two_frames.jpg": jpeg_bytes("progressive") + jpeg_bytes("baseline"),
    }
    for name, data in variants.items():
        photo = assert_reads_quietly(write(tmp_path, name, data), capfd)
        first = Image.open(io.BytesIO(data))
        expected = np.asarray(first.convert("RGB"))
        np.testing.assert_array_equal(as_uint8(photo), expected, err_msg=name)
        assert photo.is_grey == (first.mode == "L") and photo.notes == [], name


# --------------------------------------------------------------------------- PNG


def flip_chunk_byte(data: bytes, ctype: bytes, offset: int) -> bytes:
    """One bit pattern changed inside a chunk's body, its stored CRC left as it was."""
    out = bytearray(data)
    _, start, length = next(c for c in png_chunks(data) if c[0] == ctype)
    out[start + 8 + min(offset, length - 1)] ^= 0x24
    return bytes(out)


def png8_stored() -> bytes:
    """Uncompressed deflate blocks: a flipped pixel byte still inflates, only the CRC can tell."""
    return pil_bytes("PNG", compress_level=0)


@pytest.mark.parametrize("depth", [8, 16])
def test_png_idat_crc_error(tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int) -> None:
    """8-bit: Pillow decoded the altered pixels as if nothing were wrong. 16-bit: libpng printed
    'libpng error: IDAT: CRC error' on stderr next to our message."""
    data = png8_stored() if depth == 8 else png16_bytes()
    path = write(tmp_path, "bad_crc.png", flip_chunk_byte(data, b"IDAT", 500))
    assert_one_line_error(path, capfd, "PNG", "CRC error in the IDAT chunk")
    assert_reads_quietly(write(tmp_path, "sound.png", data), capfd)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("ctype", [b"IHDR", b"tEXt", b"IEND"])
def test_png_crc_error_in_any_chunk(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int, ctype: bytes
) -> None:
    data = png8_stored() if depth == 8 else png16_bytes()
    data = data[:33] + png_chunk(b"tEXt", b"Comment\x00a note") + data[33:]
    if ctype == b"IEND":  # an empty chunk: only its CRC can be damaged
        damaged = data[:-1] + bytes([data[-1] ^ 1])
    else:
        damaged = flip_chunk_byte(data, ctype, 5)
    path = write(tmp_path, "bad.png", damaged)
    assert_one_line_error(path, capfd, "PNG", f"CRC error in the {ctype.decode()} chunk")
    assert_reads_quietly(write(tmp_path, "sound.png", data), capfd)


@pytest.mark.parametrize("depth", [8, 16])
def test_png_broken_zlib_data_with_valid_crc(tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int) -> None:
    """A writer that damaged the data before computing the CRC: the decoder's own complaint is the cause."""
    data = bytearray(pil_bytes("PNG") if depth == 8 else png16_bytes())
    _, start, length = next(c for c in png_chunks(bytes(data)) if c[0] == b"IDAT")
    data[start + 8 + length // 3] ^= 0x55
    struct.pack_into(">I", data, start + 8 + length, zlib.crc32(bytes(data[start + 4 : start + 8 + length])))
    assert_one_line_error(write(tmp_path, "bad_stream.png", bytes(data)), capfd, "PNG")


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("interlace", [False, True])
def test_png_whose_image_data_stops_early(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int, interlace: bool
) -> None:
    """A complete zlib stream holding only the first half of the rows: Pillow used to return the
    rest black and say nothing."""
    sound = pil_bytes("PNG", optimize=False) if depth == 8 else png16_bytes()
    header = bytearray(sound[:33])
    if interlace:  # declare Adam7: the half stream then misses most of the later passes
        header[28] = 1
        struct.pack_into(">I", header, 29, zlib.crc32(bytes(header[12:29])))
    idat = b"".join(sound[s + 8 : s + 8 + n] for t, s, n in png_chunks(sound) if t == b"IDAT")
    rows = zlib.decompress(idat)
    short = bytes(header) + png_chunk(b"IDAT", zlib.compress(rows[: len(rows) // 2])) + png_chunk(b"IEND", b"")
    assert_one_line_error(write(tmp_path, "short.png", short), capfd, "PNG")


def test_sound_png_with_black_bottom_rows_still_reads(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """The black-bottom trigger of the row check must not reject photos that really end in black."""
    rgb = photo_rgb()
    rgb[-10:] = 0
    for mode in ("RGB", "P", "L"):
        data = pil_bytes("PNG", np.asarray(Image.fromarray(rgb).convert(mode)))
        photo = assert_reads_quietly(write(tmp_path, f"black_{mode}.png", data), capfd)
        assert photo.pixels[-1].max() == 0.0


@pytest.mark.parametrize("depth", [8, 16])
def test_truncated_png(tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int) -> None:
    data = pil_bytes("PNG") if depth == 8 else png16_bytes()
    path = write(tmp_path, "cut.png", data[: len(data) // 2])
    assert_one_line_error(path, capfd, "PNG", "file ends inside the IDAT chunk")


# --------------------------------------------------------------------------- TIFF, WebP, BMP


def tiff_bytes(arr: np.ndarray, **options: object) -> bytes:
    buf = io.BytesIO()
    tifffile.imwrite(buf, arr, **options)
    return buf.getvalue()


def damage_first_strip(data: bytes, fill: bytes) -> bytes:
    """Overwrite bytes in the middle of the first strip, leaving the file's structure intact."""
    page = tifffile.TiffFile(io.BytesIO(data)).pages[0]
    offset, count = page.dataoffsets[0], page.databytecounts[0]
    out = bytearray(data)
    out[offset + count // 2 : offset + count // 2 + len(fill)] = fill
    return bytes(out)


@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("compression", [None, "zlib"])
def test_truncated_tiff(tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int, compression: str | None) -> None:
    arr = photo_rgb() if depth == 8 else photo_rgb().astype(np.uint16) * 257
    data = tiff_bytes(arr, compression=compression)
    assert_one_line_error(write(tmp_path, "cut.tif", data[: len(data) // 2]), capfd, "TIFF")
    assert_reads_quietly(write(tmp_path, "sound.tif", data), capfd)


@pytest.mark.parametrize("depth", [8, 16])
def test_tiff_with_damaged_deflate_data(tmp_path: Path, capfd: pytest.CaptureFixture[str], depth: int) -> None:
    """tifffile rejected the stream, then the libtiff fallback decoded it without complaint."""
    arr = photo_rgb() if depth == 8 else photo_rgb().astype(np.uint16) * 257
    data = damage_first_strip(tiff_bytes(arr, compression="zlib"), bytes(32))
    assert_one_line_error(write(tmp_path, "bad_zip.tif", data), capfd, "TIFF", "incorrect data check")


def test_tiff_with_damaged_lzw_data(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    """LZW without `imagecodecs` goes through libtiff (Pillow for 8 bits, OpenCV for 16), which
    printed its errors on stderr."""
    eight = damage_first_strip(pil_bytes("TIFF", compression="tiff_lzw"), b"\xff" * 64)
    sixteen_sound = cv2.imencode(".tif", photo_rgb().astype(np.uint16) * 257)[1].tobytes()
    sixteen = damage_first_strip(sixteen_sound, bytes(32))
    assert_one_line_error(write(tmp_path, "bad8.tif", eight), capfd, "TIFF")
    assert_one_line_error(write(tmp_path, "bad16.tif", sixteen), capfd, "TIFF")
    assert_reads_quietly(write(tmp_path, "sound16.tif", sixteen_sound), capfd)


@pytest.mark.parametrize("lossless", [False, True])
def test_truncated_webp(tmp_path: Path, capfd: pytest.CaptureFixture[str], lossless: bool) -> None:
    data = pil_bytes("WEBP", lossless=lossless, quality=90)
    cut = data[: len(data) // 2]
    assert_one_line_error(write(tmp_path, "cut.webp", cut), capfd, "WebP", "bytes its header declares")
    resized = bytearray(cut)  # the RIFF size rewritten to match, as a careless repair tool does
    struct.pack_into("<I", resized, 4, len(cut) - 8)
    assert_one_line_error(write(tmp_path, "resized.webp", bytes(resized)), capfd, "WebP", "file ends inside the VP8")
    assert_reads_quietly(write(tmp_path, "sound.webp", data), capfd)


def test_truncated_bmp(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    data = pil_bytes("BMP")
    cut = data[: len(data) // 2]
    assert_one_line_error(write(tmp_path, "cut.bmp", cut), capfd, "BMP", "bytes its header declares")
    unsized = bytearray(cut)  # some writers store 0 as the file size
    struct.pack_into("<I", unsized, 2, 0)
    assert_one_line_error(write(tmp_path, "unsized.bmp", bytes(unsized)), capfd, "BMP", "truncated")
    assert_reads_quietly(write(tmp_path, "sound.bmp", data), capfd)


# --------------------------------------------------------------------------- multi-frame inputs


def frames(*values: int) -> list[Image.Image]:
    return [Image.fromarray(np.full((8, 10, 3), v, np.uint8)) for v in values]


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
def test_animation_restores_the_first_frame_and_says_so(tmp_path: Path, fmt: str) -> None:
    first, *rest = frames(10, 100, 200)
    buf = io.BytesIO()
    first.save(buf, fmt, save_all=True, append_images=rest, lossless=True)
    photo = read_photo(write(tmp_path, f"anim.{fmt.lower()}", buf.getvalue()))
    assert photo.notes == ["only the first of 3 frames was restored"]
    assert np.all(as_uint8(photo) == 10)
    kept = photo.with_pixels(photo.pixels * 0.5)
    assert kept.notes == photo.notes and kept.notes is not photo.notes


def test_16bit_apng_restores_the_default_image(tmp_path: Path) -> None:
    """OpenCV alone returns the first animation frame, not the image every PNG viewer shows."""
    w, h = 10, 8

    def stream(value: int) -> bytes:
        return zlib.compress(b"".join(b"\x00" + np.full((w, 3), value, ">u2").tobytes() for _ in range(h)))

    def fctl(sequence: int) -> bytes:
        return png_chunk(b"fcTL", struct.pack(">IIIIIHHBB", sequence, w, h, 0, 0, 1, 10, 0, 0))

    data = (
        b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
        + png_chunk(b"acTL", struct.pack(">II", 2, 0)) + png_chunk(b"IDAT", stream(1000))
        + fctl(0) + png_chunk(b"fdAT", struct.pack(">I", 1) + stream(30000))
        + fctl(2) + png_chunk(b"fdAT", struct.pack(">I", 3) + stream(60000)) + png_chunk(b"IEND", b"")
    )
    photo = read_photo(write(tmp_path, "anim16.png", data))
    assert photo.bit_depth == 16
    np.testing.assert_array_equal(np.round(photo.pixels * 65535), 1000)
    assert photo.notes == ["only the first of 3 frames was restored"]


def test_multipage_tiff_counts_only_real_pages(tmp_path: Path) -> None:
    rgb = photo_rgb(64, 80)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(rgb, subifds=1)
        tif.write(rgb[::2, ::2], subfiletype=1)  # its reduced-resolution SubIFD
        tif.write(rgb[::-1])
        tif.write(rgb[::4, ::4], subfiletype=1)  # a thumbnail in the page chain
        tif.write(rgb[:, ::-1])
    photo = read_photo(write(tmp_path, "pages.tif", buf.getvalue()))
    assert photo.notes == ["only the first of 3 pages was restored"]
    np.testing.assert_array_equal(as_uint8(photo), rgb)


def test_single_images_get_no_note(tmp_path: Path) -> None:
    rgb = photo_rgb(64, 80)
    buf = io.BytesIO()
    with tifffile.TiffWriter(buf) as tif:
        tif.write(rgb, subifds=1)
        tif.write(rgb[::2, ::2], subfiletype=1)
    files = {
        "pyramid.tif": buf.getvalue(),
        "one.png": pil_bytes("PNG", rgb),
        "mpo_like.jpg": pil_bytes("JPEG", rgb) + pil_bytes("JPEG", rgb[::4, ::4]),  # camera preview
    }
    for name, data in files.items():
        assert read_photo(write(tmp_path, name, data)).notes == [], name


# --------------------------------------------------------------------------- tiny images

TINY = [(1, 1), (2, 3), (2, 2)]  # (height, width)
STRIPS = [(8, 20000), (20000, 8)]


@pytest.fixture(scope="module")
def denoiser():
    from app.engine.denoise import Denoiser

    return Denoiser(device="cpu")


def noisy(h: int, w: int) -> np.ndarray:
    rng = np.random.default_rng(h * 7 + w)
    return np.clip(0.5 + rng.normal(0.0, 15 / 255, (h, w, 3)), 0, 1).astype(np.float32)


@pytest.mark.parametrize(("h", "w"), TINY)
def test_tiny_image_denoise(denoiser, h: int, w: int) -> None:
    """Too small to measure: one PhotomendError line asking for a level; a given level works."""
    with pytest.raises(PhotomendError) as info:
        denoiser.denoise(noisy(h, w))
    message = str(info.value)
    assert f"{w}x{h} pixels, too small to measure its noise level" in message and "--noise-level" in message
    assert "\n" not in message
    assert denoiser.denoise(noisy(h, w), noise_level=15.0).pixels.shape == (h, w, 3)


@pytest.mark.slow
@pytest.mark.parametrize(("h", "w"), STRIPS)
def test_thin_strip_denoise_measures_what_it_can(denoiser, h: int, w: int) -> None:
    result = denoiser.denoise(noisy(h, w))
    assert result.pixels.shape == (h, w, 3)
    assert result.choice is not None and abs(result.choice.sigma / 15 - 1) < 0.15
    assert result.choice.method == "white noise"  # too thin for the pilot's blocks: the white estimate
    assert denoiser.denoise(noisy(h, w), noise_level=15.0).pixels.shape == (h, w, 3)


@pytest.mark.slow
def test_tiny_images_through_the_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from app.cli.main import main

    paths = []
    for h, w in TINY + STRIPS:
        paths.append(tmp_path / f"{w}x{h}.png")
        cv2.imwrite(str(paths[-1]), np.round(noisy(h, w) * 255).astype(np.uint8))
    assert main(["denoise", *map(str, paths), "-o", str(tmp_path / "auto"), "--device", "cpu"]) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    for (h, w), path in zip(TINY, paths):
        assert f"{path}: image is {w}x{h} pixels, too small to measure its noise level" in err
    assert sorted(p.name for p in (tmp_path / "auto").iterdir()) == ["20000x8_denoised.png", "8x20000_denoised.png"]

    tiny = [str(p) for p in paths[: len(TINY)]]
    assert main(["denoise", *tiny, "-o", str(tmp_path / "set"), "--noise-level", "10", "--device", "cpu"]) == 0
    err = capsys.readouterr().err
    assert "Traceback" not in err and "too small" not in err
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == ["1x1_denoised.png", "2x2_denoised.png", "3x2_denoised.png"]
