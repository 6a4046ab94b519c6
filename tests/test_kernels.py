"""Blur kernels: conventions (angle, length, centre), generators, files, spec strings, errors, preview."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import numpy as np
import pytest

from app.errors import PhotomendError, WriteError
from app.physics.kernel_preview import kernel_preview, stretch_kernel
from app.physics.kernels import (
    MAX_MOTION_LENGTH,
    KernelError,
    KernelSpec,
    as_kernel,
    check_kernel_fits,
    defocus_kernel,
    gaussian_kernel,
    kernel_from_spec,
    load_kernel,
    motion_kernel,
    pad_kernel,
    parse_kernel_spec,
    save_kernel,
)
from tests.conftest import shared_path


def moments(kernel: np.ndarray) -> tuple[float, float, float, float, float]:
    """(centroid col, centroid row, std along the principal axis, std across, axis angle in degrees).

    The angle is measured counter-clockwise on screen (rows grow downward), in [0, 180).
    """
    centre = kernel.shape[0] // 2
    rows, cols = np.mgrid[: kernel.shape[0], : kernel.shape[1]].astype(np.float64) - centre
    k = kernel.astype(np.float64)
    mc, mr = (k * cols).sum(), (k * rows).sum()
    x, y = cols - mc, -(rows - mr)  # y up, as on screen
    cov = np.array([[(k * x * x).sum(), (k * x * y).sum()], [(k * x * y).sum(), (k * y * y).sum()]])
    values, vectors = np.linalg.eigh(cov)
    vx, vy = vectors[:, 1]
    angle = math.degrees(math.atan2(vy, vx)) % 180.0
    return mc, mr, math.sqrt(values[1]), math.sqrt(max(values[0], 0.0)), angle


def angle_difference(a: float, b: float) -> float:
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


def assert_valid_kernel(kernel: np.ndarray) -> None:
    assert kernel.dtype == np.float32
    assert kernel.ndim == 2 and kernel.shape[0] == kernel.shape[1] and kernel.shape[0] % 2 == 1
    assert (kernel >= 0).all()
    assert abs(float(kernel.sum(dtype=np.float64)) - 1.0) < 1e-5


# --- generators: basic properties -------------------------------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: motion_kernel(1, 0),
        lambda: motion_kernel(7.3, 17),
        lambda: motion_kernel(25, 135),
        lambda: motion_kernel(MAX_MOTION_LENGTH, 33),
        lambda: defocus_kernel(0.3),
        lambda: defocus_kernel(4.5),
        lambda: gaussian_kernel(0.4),
        lambda: gaussian_kernel(3),
    ],
)
def test_generated_kernels_are_normalised_nonnegative_odd_squares(make):
    assert_valid_kernel(make())


@pytest.mark.parametrize("length", [2, 5, 9.5, 16, 31])
@pytest.mark.parametrize("angle", [0, 12.5, 30, 45, 77, 90, 100, 135, 163])
def test_motion_is_centred_and_symmetric(length, angle):
    kernel = motion_kernel(length, angle)
    np.testing.assert_array_equal(kernel, kernel[::-1, ::-1])
    mc, mr, *_ = moments(kernel)
    assert abs(mc) < 1e-6 and abs(mr) < 1e-6


def test_motion_angle_convention_on_screen():
    centre = lambda k: k.shape[0] // 2  # noqa: E731
    horizontal = motion_kernel(9, 0)
    c = centre(horizontal)
    assert horizontal[c].sum() == pytest.approx(1.0, abs=1e-6)  # all energy in the centre row
    vertical = motion_kernel(9, 90)
    assert vertical[:, centre(vertical)].sum() == pytest.approx(1.0, abs=1e-6)  # centre column
    np.testing.assert_array_equal(vertical, horizontal.T)
    diagonal = motion_kernel(9, 45)
    c = centre(diagonal)
    anti = sum(diagonal[c - j, c + j] for j in range(-c, c + 1))
    main = sum(diagonal[c + j, c + j] for j in range(-c, c + 1) if j != 0)
    assert anti > 0.9 and main == 0  # up-right on screen: rows decrease as columns increase
    assert diagonal[c - 2, c + 2] > 0 and diagonal[c + 2, c - 2] > 0
    np.testing.assert_array_equal(motion_kernel(9, 225), diagonal)  # a motion has no direction
    np.testing.assert_array_equal(motion_kernel(9, -45), diagonal[:, ::-1])


@pytest.mark.parametrize("length", [9, 15, 24.5, 35])
def test_motion_principal_axis_matches_the_angle(length):
    for angle in np.arange(0.0, 180.0, 7.5):
        *_, measured = moments(motion_kernel(length, angle))
        assert angle_difference(measured, angle) < 2.0, (length, angle, measured)


@pytest.mark.parametrize("angle", [0, 20, 45, 60, 90, 145])
def test_motion_length_is_the_second_moment_extent(angle):
    for length in range(5, 36, 3):
        _, _, along, across, _ = moments(motion_kernel(length, angle))
        assert abs(along - length / math.sqrt(12)) < 0.5, (length, angle, along)
        assert across < 0.6  # a thin path, not a smear


def test_motion_odd_integer_length_at_zero_degrees_is_a_box_of_that_many_pixels():
    for length in (3, 9, 15):
        kernel = motion_kernel(length, 0)
        assert kernel.shape == (length, length)
        np.testing.assert_allclose(kernel[length // 2], np.full(length, 1 / length), atol=1e-7)


def test_motion_length_one_or_less_is_a_delta():
    for length, angle in ((1, 0), (1, 37), (1, 45), (0.4, 120)):
        np.testing.assert_array_equal(motion_kernel(length, angle), np.ones((1, 1), np.float32))


def test_motion_side_is_just_large_enough():
    for length in (5, 10, 10.5, 20.2, 33):
        side = motion_kernel(length, 0).shape[0]
        bound = math.ceil(length) + 2
        assert side <= bound + (bound + 1) % 2
        assert motion_kernel(length, 45).shape[0] <= side
    assert motion_kernel(20, 45).shape[0] < motion_kernel(20, 0).shape[0]  # a diagonal needs fewer columns


def test_motion_changes_smoothly_with_sub_pixel_length_and_angle():
    def l1(a, b):
        side = max(a.shape[0], b.shape[0])
        return float(np.abs(pad_kernel(a, side) - pad_kernel(b, side)).sum())

    base = motion_kernel(10, 30)
    assert 0.01 < l1(base, motion_kernel(10.5, 30)) < 0.2  # differ, but close
    assert 0.005 < l1(base, motion_kernel(10, 30.5)) < 0.1
    assert l1(base, motion_kernel(10.01, 30)) < 0.01
    assert l1(motion_kernel(12, 44.99), motion_kernel(12, 45.01)) < 0.01  # no jump at 45°


def test_defocus_is_a_round_disk_of_the_given_radius():
    for radius in (2, 3.5, 7, 12.25, 20):
        kernel = defocus_kernel(radius)
        np.testing.assert_allclose(kernel, kernel.T, atol=1e-8)
        np.testing.assert_allclose(kernel, kernel[::-1], atol=1e-8)
        _, _, along, across, _ = moments(kernel)
        assert abs(along - radius / 2) < 0.1 and abs(across - radius / 2) < 0.1
        assert kernel.shape[0] <= 2 * math.ceil(radius + 0.5) + 1
        inner = kernel[kernel.shape[0] // 2, kernel.shape[0] // 2]
        assert kernel.max() == pytest.approx(inner)  # flat top
    assert defocus_kernel(0.3).shape == (1, 1)
    small, larger = defocus_kernel(5), defocus_kernel(5.05)
    side = max(small.shape[0], larger.shape[0])
    assert 0 < np.abs(pad_kernel(small, side) - pad_kernel(larger, side)).sum() < 0.05  # smooth in R


def test_gaussian_std_matches_sigma():
    for sigma in (1.0, 1.5, 2.5, 6.0):
        _, _, along, across, _ = moments(gaussian_kernel(sigma))
        assert abs(along - sigma) < 0.01 and abs(across - sigma) < 0.01


def test_gaussian_matches_the_usrnet_test_kernels():
    for index, sigma in ((1, 0.7), (2, 1.2)):
        reference = np.load(shared_path("kernels", f"kernels12_0{index}.npy"))
        np.testing.assert_allclose(pad_kernel(gaussian_kernel(sigma), 25), reference, atol=1e-6)


@pytest.mark.parametrize(
    "call, words",
    [
        (lambda: motion_kernel(0, 10), ["motion length", "0", "greater than 0"]),
        (lambda: motion_kernel(-3, 10), ["motion length", "-3", "greater than 0"]),
        (lambda: motion_kernel(float("nan"), 10), ["motion length", "finite"]),
        (lambda: motion_kernel(5, float("inf")), ["motion angle", "finite"]),
        (lambda: motion_kernel(1000, 0), ["motion length", "1000", "too large", "301"]),
        (lambda: defocus_kernel(0), ["defocus radius", "greater than 0"]),
        (lambda: defocus_kernel(-1.5), ["defocus radius", "-1.5"]),
        (lambda: defocus_kernel(500), ["defocus radius", "too large"]),
        (lambda: gaussian_kernel(0), ["gaussian sigma", "greater than 0"]),
        (lambda: gaussian_kernel(1e6), ["gaussian sigma", "too large"]),
        (lambda: motion_kernel("abc", 0), ["motion length", "'abc'", "not a number"]),
    ],
)
def test_bad_generator_values_are_one_line_errors(call, words):
    with pytest.raises(PhotomendError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message


# --- spec strings ---------------------------------------------------------------------------


def test_spec_parsing_and_round_trip():
    cases = {
        "motion:15,30": KernelSpec("motion", (15.0, 30.0)),
        " Motion: 7.5 , -12.25 ": KernelSpec("motion", (7.5, -12.25)),
        "defocus:4": KernelSpec("defocus", (4.0,)),
        "gaussian:0.7": KernelSpec("gaussian", (0.7,)),
        "gaussian:1e-1": KernelSpec("gaussian", (0.1,)),
        "kernels/shake.npy": KernelSpec("file", (), Path("kernels/shake.npy")),
        "C:\\kernels\\shake.PNG": KernelSpec("file", (), Path("C:\\kernels\\shake.PNG")),
        "motion:5,0.npy": KernelSpec("file", (), Path("motion:5,0.npy")),
    }
    for text, expected in cases.items():
        spec = parse_kernel_spec(text)
        assert spec == expected, text
        assert parse_kernel_spec(spec.to_string()) == spec
        assert str(spec) == spec.to_string()
    assert parse_kernel_spec("motion:15,30").to_string() == "motion:15,30"
    assert KernelSpec("motion", (10.5, 1 / 3)).to_string() == f"motion:10.5,{1 / 3!r}"
    assert parse_kernel_spec(KernelSpec("defocus", (1 / 3,)).to_string()).params == (1 / 3,)
    with pytest.raises(AttributeError):
        parse_kernel_spec("defocus:4").kind = "motion"  # frozen


def test_kernel_from_spec_matches_the_generators(tmp_path):
    np.testing.assert_array_equal(kernel_from_spec("motion:12,20"), motion_kernel(12, 20))
    np.testing.assert_array_equal(kernel_from_spec(KernelSpec("defocus", (3,))), defocus_kernel(3))
    np.testing.assert_array_equal(kernel_from_spec("gaussian:2"), gaussian_kernel(2))
    path = tmp_path / "k.npy"
    np.save(path, motion_kernel(9, 60))
    np.testing.assert_array_equal(kernel_from_spec(str(path)), motion_kernel(9, 60))
    np.testing.assert_array_equal(kernel_from_spec(path), motion_kernel(9, 60))


@pytest.mark.parametrize(
    "text, words",
    [
        ("motion:abc", ["'motion:abc'", "motion:LENGTH,ANGLE"]),
        ("motion:abc,3", ["'abc'", "not a number"]),
        ("motion:5", ["'motion:5'", "motion:LENGTH,ANGLE"]),
        ("motion:5,0,1", ["'motion:5,0,1'"]),
        ("motion:5,", ["'motion:5,'"]),
        ("motion:nan,0", ["'nan'", "not a number"]),
        ("motion:0,0", ["'motion:0,0'", "greater than 0"]),
        ("motion:400,0", ["too large"]),
        ("defocus:-2", ["'defocus:-2'", "greater than 0"]),
        ("gaussian:", ["'gaussian:'", "gaussian:SIGMA"]),
        ("blob:3", ["'blob:3'", "unknown kind 'blob'", "motion:LENGTH,ANGLE"]),
        ("", ["empty kernel spec"]),
        ("   ", ["empty kernel spec"]),
        ("kernel.tif", ["'.tif'", ".png or .npy"]),
        ("sharp", ["'sharp'", "not understood"]),
    ],
)
def test_unparseable_specs_are_one_line_errors(text, words):
    with pytest.raises(KernelError) as caught:
        parse_kernel_spec(text)
    message = str(caught.value)
    assert "\n" not in message
    for word in words:
        assert word in message, message


def test_kernel_spec_validates_on_construction():
    with pytest.raises(KernelError, match="unknown kernel kind"):
        KernelSpec("blob", (3,))
    with pytest.raises(KernelError, match="needs 2"):
        KernelSpec("motion", (3,))
    with pytest.raises(KernelError, match="greater than 0"):
        KernelSpec("gaussian", (-1,))
    with pytest.raises(KernelError, match="path"):
        KernelSpec("file", ())


# --- files ----------------------------------------------------------------------------------


ASYMMETRIC = np.array([[0, 0, 0], [0, 4, 2], [1, 0, 0]], np.float32)  # a bent, one-sided path


def test_npy_round_trip_keeps_orientation_and_normalises(tmp_path):
    path = tmp_path / "shake.npy"
    np.save(path, ASYMMETRIC)
    loaded = load_kernel(path)
    assert_valid_kernel(loaded)
    np.testing.assert_allclose(loaded, ASYMMETRIC / ASYMMETRIC.sum(), atol=1e-7)
    np.save(path, ASYMMETRIC.astype(np.int64))  # integer weights are fine too
    np.testing.assert_allclose(load_kernel(path), ASYMMETRIC / 7, atol=1e-7)


def test_even_and_non_square_kernels_are_padded_around_their_centre(tmp_path):
    even = np.zeros((4, 4), np.float32)
    even[2, 2] = 1.0  # centre of an even kernel: index n // 2
    padded = as_kernel(even)
    assert padded.shape == (5, 5) and padded[2, 2] == 1.0
    wide = np.ones((1, 5), np.float32)
    padded = as_kernel(wide)
    assert padded.shape == (5, 5)
    np.testing.assert_allclose(padded[2], 0.2)


def test_png_kernels_16_bit_grey_and_8_bit_rgb(tmp_path):
    grey16 = (ASYMMETRIC / ASYMMETRIC.max() * 65535).astype(np.uint16)
    path16 = tmp_path / "k16.png"
    assert cv2.imwrite(str(path16), grey16)
    np.testing.assert_allclose(load_kernel(path16), ASYMMETRIC / 7, atol=1e-5)  # row 0 = top
    rgb = np.zeros((3, 3, 3), np.uint8)
    rgb[1, 1] = (200, 100, 0)  # mean 100
    rgb[2, 0] = (50, 50, 50)  # mean 50
    path8 = tmp_path / "k8.png"
    assert cv2.imwrite(str(path8), rgb)
    expected = np.zeros((3, 3))
    expected[1, 1], expected[2, 0] = 2 / 3, 1 / 3
    np.testing.assert_allclose(load_kernel(path8), expected, atol=1e-6)


def test_save_and_load_round_trip(tmp_path):
    kernel = motion_kernel(11, 33)
    np.testing.assert_array_equal(load_kernel(save_kernel(kernel, tmp_path / "k.npy")), kernel)
    np.testing.assert_allclose(load_kernel(save_kernel(kernel, tmp_path / "k.png")), kernel, atol=2e-5)
    with pytest.raises(WriteError, match="already exists"):
        save_kernel(kernel, tmp_path / "k.npy")
    save_kernel(gaussian_kernel(1), tmp_path / "k.npy", overwrite=True)


def test_shared_levin_kernels_load_unchanged():
    for index in range(1, 9):
        path = shared_path("kernels", f"Levin09_0{index}.npy")
        raw = np.load(path)
        kernel = load_kernel(path)
        assert_valid_kernel(kernel)
        np.testing.assert_allclose(kernel, raw, atol=1e-7)


def _write(path: Path, content) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content, allow_pickle=True)
    return path


@pytest.mark.parametrize(
    "name, content, words",
    [
        ("empty.npy", b"", ["empty", "0 bytes"]),
        ("empty.png", b"", ["empty", "0 bytes"]),
        ("zero_size.npy", np.zeros((0, 5), np.float32), ["empty", "(0, 5)"]),
        ("zeros.npy", np.zeros((5, 5), np.float32), ["all zeros"]),
        ("negative.npy", np.array([[0.5, -0.1, 0.6]], np.float32), ["1 negative", "-0.1", "non-negative"]),
        ("nan.npy", np.array([[0.5, np.nan, 0.5]], np.float32), ["NaN or infinite"]),
        ("inf.npy", np.array([[0.5, np.inf, 0.5]], np.float32), ["NaN or infinite"]),
        ("cube.npy", np.ones((3, 3, 3), np.float32), ["2-D", "(3, 3, 3)"]),
        ("line.npy", np.ones(5, np.float32), ["2-D", "(5,)"]),
        ("objects.npy", np.array([[1, "a"]], dtype=object), ["Python objects"]),
        ("strings.npy", np.array([["a", "b"]]), ["not numbers"]),
        ("complex.npy", np.ones((3, 3), np.complex64), ["complex"]),
        ("garbage.npy", b"this is not numpy", ["not a valid .npy"]),
        ("garbage.png", b"this is not a png", ["not a PNG"]),
        ("truncated.png", b"\x89PNG\r\n\x1a\n\x00\x00", ["cannot be decoded"]),
        ("huge.npy", np.ones((500, 500), np.float32), ["500x500", "too large"]),
    ],
)
def test_bad_kernel_files_are_one_line_errors_naming_the_file(tmp_path, name, content, words):
    path = _write(tmp_path / name, content)
    with pytest.raises(PhotomendError) as caught:
        load_kernel(path)
    message = str(caught.value)
    assert "\n" not in message
    assert str(path) in message
    for word in words:
        assert word in message, message


def test_unreadable_kernel_paths(tmp_path):
    for path, words in (
        (tmp_path / "missing.npy", ["missing.npy", "not found"]),
        (tmp_path / "folder.npy", ["folder.npy", "folder"]),
        (tmp_path / "kernel.txt", ["kernel.txt", "'.txt'"]),
    ):
        if path.name == "folder.npy":
            path.mkdir()
        with pytest.raises(KernelError) as caught:
            load_kernel(path)
        for word in words:
            assert word in str(caught.value)


def test_negative_entries_are_refused_not_clipped():
    with pytest.raises(KernelError, match="negative"):
        as_kernel(np.array([[1.0, -1e-9, 1.0]]))


def test_check_kernel_fits():
    check_kernel_fits(np.ones((15, 15)), (15, 40))
    check_kernel_fits(np.ones((15, 15)), (15, 40, 3))
    with pytest.raises(KernelError) as caught:
        check_kernel_fits(motion_kernel(31, 0), (20, 640, 3))
    assert "31x31" in str(caught.value) and "640x20" in str(caught.value)


# --- preview --------------------------------------------------------------------------------


def test_preview_shape_dtype_and_nearest_neighbour_values():
    for kernel in (motion_kernel(15, 30), defocus_kernel(6), gaussian_kernel(2), ASYMMETRIC):
        preview = kernel_preview(kernel)
        assert preview.shape == (128, 128) and preview.dtype == np.uint8
        assert preview.max() == 255
        allowed = set(np.unique(stretch_kernel(kernel)).tolist()) | {0}
        assert set(np.unique(preview).tolist()) <= allowed  # no interpolated grey levels
    assert kernel_preview(motion_kernel(9, 0), size=64).shape == (64, 64)


def test_preview_shows_a_thin_path_and_keeps_orientation():
    kernel = motion_kernel(21, 45)
    preview = kernel_preview(kernel)
    assert preview.max() == 255
    factor = 128 // kernel.shape[0]
    assert factor >= 7
    assert np.count_nonzero(preview) == np.count_nonzero(stretch_kernel(kernel)) * factor**2
    assert np.count_nonzero(preview) >= 15 * factor**2  # every pixel of the diagonal path shows
    rows, cols = np.nonzero(preview > 128)
    assert np.corrcoef(rows, cols)[0, 1] < -0.9  # up-right on screen, as in the kernel


def test_preview_of_faint_tails_and_large_kernels():
    kernel = np.zeros((5, 5), np.float32)
    kernel[2, 2], kernel[0, 4] = 1.0, 0.01
    preview = kernel_preview(kernel)
    assert preview.max() == 255 and 20 < np.unique(preview)[1] < 40  # 0.01 ** 0.5 * 255 = 25.5
    big = np.zeros((301, 301), np.float32)
    big[150, :] = 1.0  # a 1-px line wider than the preview
    preview = kernel_preview(big)
    assert preview.shape == (128, 128)
    assert np.count_nonzero(preview.max(axis=0)) > 100  # the thin line survives the reduction
    assert kernel_preview(np.zeros((3, 3))).max() == 0
    with pytest.raises(KernelError):
        kernel_preview(np.array([[np.nan]]))
    with pytest.raises(KernelError):
        kernel_preview(np.ones(5))
