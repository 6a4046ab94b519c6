"""Round trips through app.io: pixels, alpha, grey, depth, orientation, ICC and EXIF."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, ImageOps

from app.errors import ImageWriteError
from app.io import metadata
from app.io.photo import Photo
from app.io.reader import probe_photo, read_photo
from app.io.writer import _encode_png, write_photo

RNG_SEED = 1234
LAYOUTS = ["grey", "grey+alpha", "rgb", "rgba"]


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def make_samples(layout: str, depth: int, h: int = 11, w: int = 13, seed: int = RNG_SEED) -> np.ndarray:
    """Random integer samples H x W x C (C = 1, 2, 3, 4); 16-bit values use the low bits."""
    channels = {"grey": 1, "grey+alpha": 2, "rgb": 3, "rgba": 4}[layout]
    maxv = 255 if depth == 8 else 65535
    dtype = np.uint8 if depth == 8 else np.uint16
    samples = np.random.default_rng(seed).integers(0, maxv + 1, (h, w, channels), dtype=dtype)
    samples[0, 0] = 0
    samples[0, 1] = maxv
    return samples


def photo_from_samples(samples: np.ndarray, depth: int, **kw: object) -> Photo:
    maxv = 255 if depth == 8 else 65535
    channels = samples.shape[2]
    grey = channels <= 2
    colour = samples[:, :, :1] if grey else samples[:, :, :3]
    pixels = (colour / maxv).astype(np.float32)
    if grey:
        pixels = np.repeat(pixels, 3, axis=2)
    alpha = (samples[:, :, -1] / maxv).astype(np.float32) if channels in (2, 4) else None
    return Photo(pixels=pixels, alpha=alpha, is_grey=grey, bit_depth=depth, format="png", **kw)


def to_samples(photo: Photo, depth: int) -> np.ndarray:
    maxv = 255 if depth == 8 else 65535
    colour = photo.pixels[:, :, :1] if photo.is_grey else photo.pixels
    parts = [colour] if photo.alpha is None else [colour, photo.alpha[:, :, None]]
    return np.round(np.concatenate(parts, axis=2) * maxv).astype(np.uint8 if depth == 8 else np.uint16)


def asymmetric_rgb(h: int = 5, w: int = 8) -> np.ndarray:
    """Every pixel distinct, so any wrong flip/rotation is caught."""
    arr = np.zeros((h, w, 3), np.uint8)
    arr[:, :, 0] = np.arange(w)[None, :] * 30
    arr[:, :, 1] = np.arange(h)[:, None] * 50
    arr[:, :, 2] = 200
    return arr


def exif_bytes(orientation: int | None = None, make: str | None = "PhotomendCam") -> bytes:
    exif = Image.Exif()
    if make:
        exif[271] = make
        exif[272] = "Model X"
    if orientation is not None:
        exif[274] = orientation
    exif.get_ifd(metadata.EXIF_IFD_TAG)[0x829A] = 0.008  # ExposureTime 1/125
    return exif.tobytes()


def no_temp_files(folder: Path) -> bool:
    return not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- lossless round trips


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("depth", [8, 16])
@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_lossless_round_trip_exact(tmp_path: Path, fmt: str, depth: int, layout: str) -> None:
    samples = make_samples(layout, depth)
    photo = photo_from_samples(samples, depth)
    out = write_photo(photo, tmp_path / f"out.{fmt}")
    back = read_photo(out)
    assert back.is_grey == photo.is_grey
    assert back.bit_depth == depth
    assert back.format == {"png": "png", "tif": "tiff"}[fmt]
    assert back.pixels.dtype == np.float32 and back.pixels.flags.c_contiguous
    assert back.pixels.shape == (11, 13, 3)
    np.testing.assert_array_equal(back.pixels, photo.pixels)
    if photo.alpha is None:
        assert back.alpha is None
    else:
        np.testing.assert_array_equal(back.alpha, photo.alpha)
    np.testing.assert_array_equal(to_samples(back, depth), samples)
    assert no_temp_files(tmp_path)


@pytest.mark.parametrize("layout", ["grey", "rgb", "rgba"])
@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_16bit_output_decodes_identically_in_opencv(tmp_path: Path, fmt: str, layout: str) -> None:
    """Our own 16-bit encoders produce files a third-party decoder reads bit-exactly."""
    samples = make_samples(layout, 16)
    out = write_photo(photo_from_samples(samples, 16), tmp_path / f"out.{fmt}")
    decoded = cv2.imdecode(np.frombuffer(out.read_bytes(), np.uint8), cv2.IMREAD_UNCHANGED)
    if decoded.ndim == 2:
        decoded = decoded[:, :, None]
    elif decoded.shape[2] >= 3:
        decoded = np.concatenate([decoded[:, :, 2::-1], decoded[:, :, 3:]], axis=2)
    np.testing.assert_array_equal(decoded, samples)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_8bit_output_decodes_identically_in_pillow(tmp_path: Path, fmt: str, layout: str) -> None:
    samples = make_samples(layout, 8)
    out = write_photo(photo_from_samples(samples, 8), tmp_path / f"out.{fmt}")
    with Image.open(out) as im:
        decoded = np.asarray(im)
    np.testing.assert_array_equal(decoded.reshape(samples.shape), samples)


def test_16bit_grey_alpha_tiff_decodes_in_tifffile(tmp_path: Path) -> None:
    samples = make_samples("grey+alpha", 16)
    out = write_photo(photo_from_samples(samples, 16), tmp_path / "out.tif")
    np.testing.assert_array_equal(tifffile.imread(out), samples)


def test_16bit_tiff_from_opencv_lzw(tmp_path: Path) -> None:
    """cv2 writes LZW TIFF (a codec tifffile lacks without imagecodecs): the fallback reads it."""
    rgb = make_samples("rgb", 16)
    path = tmp_path / "lzw.tif"
    path.write_bytes(cv2.imencode(".tif", rgb[:, :, ::-1])[1].tobytes())
    back = read_photo(path)
    assert back.bit_depth == 16 and not back.is_grey
    np.testing.assert_array_equal(to_samples(back, 16), rgb)


def test_8bit_lzw_tiff_from_pillow(tmp_path: Path) -> None:
    rgb = make_samples("rgb", 8)
    path = tmp_path / "lzw8.tif"
    Image.fromarray(rgb).save(path, compression="tiff_lzw")
    back = read_photo(path)
    assert back.bit_depth == 8
    np.testing.assert_array_equal(to_samples(back, 8), rgb)


@pytest.mark.parametrize("fmt", ["png", "tif"])
def test_many_bands_and_strips(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str) -> None:
    """Large images are deflated in parallel bands/strips: the joined stream must be valid."""
    from app.io import writer

    monkeypatch.setattr(writer, "_DEFLATE_CHUNK", 100)
    monkeypatch.setattr(writer, "_TIFF_STRIP_BYTES", 100)
    samples = make_samples("rgba", 16, h=57, w=9)
    out = write_photo(photo_from_samples(samples, 16), tmp_path / f"out.{fmt}")
    np.testing.assert_array_equal(to_samples(read_photo(out), 16), samples)
    data = out.read_bytes()
    if fmt == "png":  # zlib itself checks the combined Adler-32
        idat, pos = b"", 8
        while pos < len(data):
            (length,) = struct.unpack_from(">I", data, pos)
            if data[pos + 4 : pos + 8] == b"IDAT":
                idat += data[pos + 8 : pos + 8 + length]
            pos += 12 + length
        assert len(zlib.decompress(idat)) == 57 * (1 + 9 * 4 * 2)
    else:
        assert len(tifffile.TiffFile(out).pages[0].dataoffsets) > 5
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    np.testing.assert_array_equal(cv2.cvtColor(decoded, cv2.COLOR_BGRA2RGBA), samples)


def _exotic(kind: str, path: Path) -> tuple[np.ndarray, bool, int]:
    """Write an unusual-but-valid input; return (expected RGB samples, is_grey, depth)."""
    if kind == "cmyk_jpeg":
        Image.new("CMYK", (6, 4), (0, 255, 255, 0)).save(path, quality=100)
        return np.tile(np.array([255, 0, 0], np.uint8), (4, 6, 1)), False, 8
    if kind == "1bit_png":
        Image.new("1", (6, 4), 1).save(path)
        return np.full((4, 6, 1), 255, np.uint8), True, 8
    if kind == "lzw_grey_tif":
        Image.new("L", (6, 4), 7).save(path, compression="tiff_lzw")
        return np.full((4, 6, 1), 7, np.uint8), True, 8
    rgb16 = make_samples("rgb", 16, h=20, w=24)
    if kind == "planar_tif":
        tifffile.imwrite(path, np.moveaxis(rgb16, 2, 0), photometric="rgb", planarconfig="separate")
    elif kind == "tiled_tif":
        tifffile.imwrite(path, rgb16, photometric="rgb", tile=(16, 16))
    elif kind == "bigtiff":
        tifffile.imwrite(path, rgb16, photometric="rgb", bigtiff=True)
    elif kind == "miniswhite_tif":
        tifffile.imwrite(path, rgb16[:, :, 0], photometric="miniswhite")
        return (65535 - rgb16[:, :, :1]), True, 16
    return rgb16, False, 16


@pytest.mark.parametrize(
    "kind",
    ["cmyk_jpeg", "1bit_png", "lzw_grey_tif", "planar_tif", "tiled_tif", "bigtiff", "miniswhite_tif"],
)
def test_unusual_inputs(tmp_path: Path, kind: str) -> None:
    path = tmp_path / ("in.jpg" if "jpeg" in kind else "in.png" if "png" in kind else "in.tif")
    expected, grey, depth = _exotic(kind, path)
    photo = read_photo(path)
    assert photo.is_grey == grey and photo.bit_depth == depth
    np.testing.assert_array_equal(to_samples(photo, depth), expected)
    assert probe_photo(path) == (photo.width, photo.height)


def test_float_tiff_maps_to_16bit_and_clips(tmp_path: Path) -> None:
    data = np.linspace(-0.5, 1.5, 4 * 6 * 3, dtype=np.float32).reshape(4, 6, 3)
    path = tmp_path / "float.tif"
    tifffile.imwrite(path, data, photometric="rgb")
    back = read_photo(path)
    assert back.bit_depth == 16
    np.testing.assert_allclose(back.pixels, np.clip(data, 0, 1))


def test_16bit_gradient_keeps_more_than_256_levels(tmp_path: Path) -> None:
    """No 8-bit banding anywhere in read -> write(16) -> read."""
    ramp = np.linspace(0, 65535, 4096).round().astype(np.uint16)
    rgb = np.repeat(np.tile(ramp, (4, 1))[:, :, None], 3, axis=2)
    src = tmp_path / "ramp.png"
    src.write_bytes(cv2.imencode(".png", rgb)[1].tobytes())  # written by a third party
    first = read_photo(src)
    assert first.bit_depth == 16
    assert len(np.unique(first.pixels)) > 256
    out = write_photo(first, tmp_path / "ramp_out.png", bit_depth=16)
    again = read_photo(out)
    assert len(np.unique(again.pixels)) > 256
    np.testing.assert_array_equal(again.pixels, first.pixels)
    tif = read_photo(write_photo(first, tmp_path / "ramp_out.tif"))
    np.testing.assert_array_equal(tif.pixels, first.pixels)


def test_depth_reduction_rounds(tmp_path: Path) -> None:
    samples = make_samples("rgb", 16)
    photo = photo_from_samples(samples, 16)
    back = read_photo(write_photo(photo, tmp_path / "out.png", bit_depth=8))
    assert back.bit_depth == 8
    expected = np.round(np.clip(photo.pixels, 0, 1) * 255).astype(np.uint8)
    np.testing.assert_array_equal(to_samples(back, 8), expected)


def test_out_of_range_and_nan_pixels_are_clipped(tmp_path: Path) -> None:
    pixels = np.array([[[-0.2, 0.5, 1.7], [np.nan, 1.0, 0.0]]], np.float32)
    back = read_photo(write_photo(Photo(pixels=pixels), tmp_path / "out.png"))
    np.testing.assert_allclose(back.pixels, [[[0.0, 128 / 255, 1.0], [0.0, 1.0, 0.0]]], atol=1e-7)


def test_non_ascii_path(tmp_path: Path) -> None:
    samples = make_samples("rgb", 16)
    folder = tmp_path / "фото 写真"
    folder.mkdir()
    out = write_photo(photo_from_samples(samples, 16), folder / "ö_äpfel.png")
    np.testing.assert_array_equal(to_samples(read_photo(out), 16), samples)


# --------------------------------------------------------------------------- lossy formats


def smooth_photo(h: int = 64, w: int = 80) -> Photo:
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    pixels = np.stack([x / w, y / h, 0.5 + 0.4 * np.sin(x / 5) * np.cos(y / 7)], axis=2)
    noise = np.random.default_rng(0).normal(0, 0.03, pixels.shape).astype(np.float32)
    return Photo(pixels=np.clip(pixels + noise, 0, 1))


@pytest.mark.parametrize("fmt", ["jpg", "webp"])
def test_quality_is_respected(tmp_path: Path, fmt: str) -> None:
    photo = smooth_photo()
    low = write_photo(photo, tmp_path / f"low.{fmt}", quality=30)
    high = write_photo(photo, tmp_path / f"high.{fmt}", quality=95)
    assert high.stat().st_size > low.stat().st_size
    err_low = np.abs(read_photo(low).pixels - photo.pixels).mean()
    err_high = np.abs(read_photo(high).pixels - photo.pixels).mean()
    assert err_high < err_low
    assert err_high < 0.03


def test_jpeg_grey_stays_grey_and_alpha_is_dropped(tmp_path: Path) -> None:
    grey = photo_from_samples(make_samples("grey+alpha", 8), 8)
    back = read_photo(write_photo(grey, tmp_path / "g.jpg"))
    assert back.is_grey and back.alpha is None and back.format == "jpeg"
    with Image.open(tmp_path / "g.jpg") as im:
        assert im.mode == "L"


def test_webp_keeps_alpha_and_writes_grey_as_rgb(tmp_path: Path) -> None:
    photo = photo_from_samples(make_samples("grey+alpha", 8), 8)
    back = read_photo(write_photo(photo, tmp_path / "a.webp", quality=90))
    assert back.format == "webp" and not back.is_grey  # WebP has no grey mode
    np.testing.assert_array_equal(back.alpha, photo.alpha)  # alpha plane is lossless


def test_16bit_request_for_jpeg_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageWriteError, match="8-bit only"):
        write_photo(smooth_photo(), tmp_path / "x.jpg", bit_depth=16)
    assert not list(tmp_path.iterdir())


def test_16bit_photo_to_jpeg_defaults_to_8bit(tmp_path: Path) -> None:
    photo = photo_from_samples(make_samples("rgb", 16), 16)
    back = read_photo(write_photo(photo, tmp_path / "x.jpeg", format="jpeg", quality=100))
    assert back.bit_depth == 8


@pytest.mark.parametrize("layout", ["grey", "rgb"])
def test_bmp_read(tmp_path: Path, layout: str) -> None:
    samples = make_samples(layout, 8)
    path = tmp_path / "in.bmp"
    Image.fromarray(samples[:, :, 0] if layout == "grey" else samples).save(path)
    back = read_photo(path)
    assert back.format == "bmp" and back.bit_depth == 8 and back.is_grey == (layout == "grey")
    np.testing.assert_array_equal(to_samples(back, 8), samples)


@pytest.mark.parametrize("layout", ["grey", "rgb", "rgba"])
def test_bmp_output_for_bmp_input(tmp_path: Path, layout: str) -> None:
    """BMP isn't a --format choice, but a BMP input's default output name must be writable."""
    samples = make_samples(layout, 8)
    back = read_photo(write_photo(photo_from_samples(samples, 8), tmp_path / "out.bmp"))
    assert back.format == "bmp" and back.alpha is None and back.is_grey == (layout == "grey")
    np.testing.assert_array_equal(to_samples(back, 8), samples[:, :, : 1 if layout == "grey" else 3])


def test_palette_png_with_transparency(tmp_path: Path) -> None:
    im = Image.new("P", (4, 3))
    im.putpalette([0, 0, 0, 255, 0, 0, 0, 255, 0] + [0] * 759)
    im.putpixel((1, 0), 1)
    im.putpixel((2, 0), 2)
    path = tmp_path / "pal.png"
    im.save(path, transparency=0)
    back = read_photo(path)
    assert not back.is_grey
    np.testing.assert_array_equal(back.pixels[0, 1], [1, 0, 0])
    assert back.alpha[0, 0] == 0 and back.alpha[0, 1] == 1


# --------------------------------------------------------------------------- orientation


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("container", ["png", "tif", "jpg", "webp", "png16"])
def test_exif_orientation_applied_on_load(tmp_path: Path, container: str, orientation: int) -> None:
    base = asymmetric_rgb()
    path = tmp_path / f"o{orientation}.{container.rstrip('16')}"
    if container == "png16":
        base16 = base.astype(np.uint16) * 257 + 3  # low bits set
        path.write_bytes(_encode_png(base16, None, 16, None, exif_bytes(orientation)))
        expected_samples = metadata.apply_orientation(base16, orientation)
        expected = expected_samples / 65535
    elif container == "tif":
        Image.fromarray(base).save(path, tiffinfo={274: orientation})
    elif container == "jpg":
        Image.fromarray(base).save(path, exif=exif_bytes(orientation), quality=100)
    elif container == "webp":
        Image.fromarray(base).save(path, exif=exif_bytes(orientation), lossless=True)
    else:
        Image.fromarray(base).save(path, exif=exif_bytes(orientation))
    if container != "png16":
        with Image.open(path) as im:  # Pillow's exif_transpose is the reference
            expected = np.asarray(ImageOps.exif_transpose(im).convert("RGB")) / 255
    photo = read_photo(path)
    np.testing.assert_allclose(photo.pixels, expected, atol=1e-6)
    if container in ("png", "png16", "tif", "webp"):  # lossless: also check the plain transform
        want = metadata.apply_orientation(base, orientation) / 255
        np.testing.assert_allclose(np.round(photo.pixels * 255) / 255, want, atol=1e-6)
    assert photo.pixels.flags.c_contiguous
    assert metadata.exif_orientation(photo.exif) == 1
    assert probe_photo(path) == (photo.width, photo.height)
    h, w = base.shape[:2]
    assert (photo.width, photo.height) == ((h, w) if orientation >= 5 else (w, h))


def test_orientation_reference_transforms() -> None:
    """Spot-check the numpy mapping against the EXIF definitions."""
    a = np.arange(6).reshape(2, 3)  # [[0 1 2], [3 4 5]]
    assert metadata.apply_orientation(a, 6).tolist() == [[3, 0], [4, 1], [5, 2]]  # 90 deg CW
    assert metadata.apply_orientation(a, 8).tolist() == [[2, 5], [1, 4], [0, 3]]  # 90 deg CCW
    assert metadata.apply_orientation(a, 3).tolist() == [[5, 4, 3], [2, 1, 0]]
    assert metadata.apply_orientation(a, 5).tolist() == [[0, 3], [1, 4], [2, 5]]
    assert metadata.apply_orientation(a, 7).tolist() == [[5, 2], [4, 1], [3, 0]]


def test_written_exif_orientation_is_normal(tmp_path: Path) -> None:
    path = tmp_path / "rot.jpg"
    Image.fromarray(asymmetric_rgb()).save(path, exif=exif_bytes(6), quality=95)
    photo = read_photo(path)
    for fmt in ("jpg", "png", "webp", "tif"):
        out = write_photo(photo, tmp_path / f"out.{fmt}")
        with Image.open(out) as im:
            assert im.getexif().get(274) == 1
        again = read_photo(out)
        assert (again.width, again.height) == (photo.width, photo.height)  # not rotated twice


# --------------------------------------------------------------------------- ICC and EXIF


OUTPUTS = [("png", 8), ("png", 16), ("jpg", 8), ("webp", 8), ("tif", 8), ("tif", 16)]


@pytest.mark.parametrize(("fmt", "depth"), OUTPUTS)
def test_icc_profile_survives(tmp_path: Path, srgb_icc: bytes, fmt: str, depth: int) -> None:
    photo = photo_from_samples(make_samples("rgba", depth), depth, icc_profile=srgb_icc)
    out = write_photo(photo, tmp_path / f"out.{fmt}", bit_depth=depth)
    assert read_photo(out).icc_profile == srgb_icc
    with Image.open(out) as im:  # independent check of the container
        if fmt == "tif":
            assert im.tag_v2.get(34675) == srgb_icc
        else:
            assert im.info.get("icc_profile") == srgb_icc


def test_icc_read_from_source_files(tmp_path: Path, srgb_icc: bytes) -> None:
    base = asymmetric_rgb()
    for name in ("a.jpg", "a.png", "a.webp", "a.tif"):
        Image.fromarray(base).save(tmp_path / name, icc_profile=srgb_icc)
        assert read_photo(tmp_path / name).icc_profile == srgb_icc, name


def test_mismatched_icc_is_not_written(tmp_path: Path, srgb_icc: bytes) -> None:
    """An RGB profile can't describe grey pixels: dropped rather than mislabelled."""
    photo = photo_from_samples(make_samples("grey", 8), 8, icc_profile=srgb_icc)
    out = write_photo(photo, tmp_path / "g.png")
    assert read_photo(out).icc_profile is None


@pytest.mark.parametrize(("fmt", "depth"), OUTPUTS)
def test_exif_survives_with_orientation_reset(tmp_path: Path, fmt: str, depth: int) -> None:
    src = tmp_path / "camera.jpg"
    Image.fromarray(asymmetric_rgb()).save(src, exif=exif_bytes(8), quality=95)
    photo = read_photo(src)
    assert metadata.exif_orientation(photo.exif) == 1
    photo = photo.with_pixels(photo.pixels)  # engine-style copy keeps metadata
    out = write_photo(photo, tmp_path / f"out.{fmt}", bit_depth=depth)
    with Image.open(out) as im:
        exif = im.getexif()
        assert exif.get(271) == "PhotomendCam"
        assert exif.get(272) == "Model X"
        assert exif.get(274) == 1
        assert float(exif.get_ifd(metadata.EXIF_IFD_TAG)[0x829A]) == pytest.approx(0.008)
    back = read_photo(out)
    assert back.exif is not None and metadata.exif_orientation(back.exif) == 1


def test_exif_from_tiff_source(tmp_path: Path) -> None:
    path = tmp_path / "scan.tif"
    Image.fromarray(asymmetric_rgb()).save(path, tiffinfo={271: "ScannerCo", 305: "ScanApp 2"})
    photo = read_photo(path)
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif.get(271) == "ScannerCo" and exif.get(305) == "ScanApp 2"
    assert 273 not in exif  # pixel-layout tags are not carried
    out = write_photo(photo, tmp_path / "out.jpg")
    with Image.open(out) as im:
        assert im.getexif().get(271) == "ScannerCo"


def test_no_metadata_means_none(tmp_path: Path) -> None:
    path = tmp_path / "plain.png"
    Image.fromarray(asymmetric_rgb()).save(path)
    photo = read_photo(path)
    assert photo.exif is None and photo.icc_profile is None


# --------------------------------------------------------------------------- atomicity, overwrite, API


def test_atomic_write_leaves_only_the_output(tmp_path: Path) -> None:
    photo = smooth_photo()
    for fmt in ("png", "jpg", "tif", "webp"):
        write_photo(photo, tmp_path / f"out.{fmt}")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jpg", "out.png", "out.tif", "out.webp"]


def test_no_overwrite_without_flag(tmp_path: Path) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"precious")
    with pytest.raises(ImageWriteError, match="already exists") as info:
        write_photo(smooth_photo(), target)
    assert "--overwrite" in str(info.value)
    assert target.read_bytes() == b"precious"
    assert no_temp_files(tmp_path)
    write_photo(smooth_photo(), target, overwrite=True)
    assert read_photo(target).width == 80


def test_protected_input_is_named_in_the_error(tmp_path: Path) -> None:
    src = tmp_path / "in.png"
    Image.fromarray(asymmetric_rgb()).save(src)
    photo = read_photo(src)
    with pytest.raises(ImageWriteError, match="input file"):
        write_photo(photo, src, protect=[src])
    with pytest.raises(ImageWriteError, match="input of this run"):
        write_photo(photo, src, protect=[src], overwrite=True)  # protected: never replaced
    write_photo(photo, src, overwrite=True)  # its own input, and the user asked for it


def test_format_argument_and_extension(tmp_path: Path) -> None:
    photo = smooth_photo()
    out = write_photo(photo, tmp_path / "out.tiff", format="tiff")
    assert read_photo(out).format == "tiff"
    out = write_photo(photo, tmp_path / "no_extension", format="png")
    assert out.read_bytes().startswith(b"\x89PNG")
    with pytest.raises(ImageWriteError, match="does not match"):
        write_photo(photo, tmp_path / "x.png", format="jpg")


def test_photo_api() -> None:
    pixels = np.zeros((4, 6, 3), np.float64)
    alpha = np.ones((4, 6), np.float32)
    photo = Photo(pixels=pixels, alpha=alpha, icc_profile=b"icc", exif=b"exif", bit_depth=16)
    assert photo.pixels.dtype == np.float32
    assert (photo.width, photo.height) == (6, 4)
    assert photo.megapixels == pytest.approx(24e-6)
    copy = photo.with_pixels(np.ones((4, 6, 3), np.float32))
    assert copy.alpha is photo.alpha and copy.icc_profile == b"icc" and copy.bit_depth == 16
    assert copy.pixels[0, 0, 0] == 1 and photo.pixels[0, 0, 0] == 0
    with pytest.raises(ValueError):
        photo.with_pixels(np.ones((5, 6, 3), np.float32))
    with pytest.raises(ValueError):
        Photo(pixels=np.zeros((4, 6)))


def test_exif_helpers_tolerate_garbage() -> None:
    assert metadata.normalize_exif(b"garbage") is None
    assert metadata.normalize_exif(None) is None
    assert metadata.exif_orientation(b"Exif\x00\x00II*\x00\xff\xff\xff\xff") == 1
    raw = exif_bytes(6)
    assert metadata.exif_orientation(raw) == 6
    reset = metadata.reset_exif_orientation(raw)
    assert len(reset) == len(raw) and metadata.exif_orientation(reset) == 1
    assert metadata.normalize_exif(raw[6:]) == raw  # prefix added when missing


def test_read_from_bytes_equivalent_png_pillow(tmp_path: Path) -> None:
    """Sanity: our 8-bit decode equals Pillow's for an ordinary RGB PNG."""
    base = asymmetric_rgb()
    buf = io.BytesIO()
    Image.fromarray(base).save(buf, "PNG")
    (tmp_path / "a.png").write_bytes(buf.getvalue())
    np.testing.assert_array_equal(to_samples(read_photo(tmp_path / "a.png"), 8), base)
