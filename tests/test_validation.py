"""app.validation: each user-set number's range held once, its edges, NaN/inf, bools, and the exact
one-line messages; the engine, the CLI's argparse types and the batch queue all use those rules."""

from __future__ import annotations

import argparse
import subprocess
import sys

import numpy as np
import pytest

from app import validation
from app.cli import arguments
from app.errors import PhotomendError, UsageError
from app.validation import (
    BIT_DEPTHS,
    MAX_ITERATIONS,
    MAX_KERNEL_SIZE,
    MAX_MEGAPIXELS,
    MAX_NOISE_LEVEL,
    MIN_KERNEL_SIZE,
    MIN_TILE,
    NOISE_SCALE,
    check_amount,
    check_balance,
    check_bit_depth,
    check_iterations,
    check_kernel_size,
    check_megapixels,
    check_noise_level,
    check_quality,
    check_strength,
    check_tile,
)
from tests.conftest import REPO

NAN, INF = float("nan"), float("inf")


def refused(call, *args, **kwargs) -> str:
    """The message of the UsageError ``call`` raises; it is one line and a PhotomendError."""
    with pytest.raises(UsageError) as error:
        call(*args, **kwargs)
    assert isinstance(error.value, PhotomendError)
    message = str(error.value)
    assert message and "\n" not in message
    return message


def test_the_ranges_are_the_documented_ones():
    assert MAX_NOISE_LEVEL == 75.0 and NOISE_SCALE == 255.0
    assert (validation.MIN_STRENGTH, validation.MAX_STRENGTH) == (0.0, 100.0)
    assert (validation.MIN_AMOUNT, validation.MAX_AMOUNT) == (0.0, 100.0)
    assert (validation.WHOLE_IMAGE, MIN_TILE) == (0, 64)
    assert (validation.MIN_ITERATIONS, MAX_ITERATIONS) == (1, 100)
    assert (validation.MIN_QUALITY, validation.MAX_QUALITY) == (1, 100)
    assert BIT_DEPTHS == (8, 16)
    assert (MIN_KERNEL_SIZE, MAX_KERNEL_SIZE) == (3, 201)
    assert MAX_MEGAPIXELS == 10_000.0


def test_the_module_loads_neither_torch_nor_qt():
    code = ("import sys, app.validation; "
            "print(sorted(m for m in ('torch', 'PySide6', 'cv2') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- noise level


@pytest.mark.parametrize("level", [0, 0.0, 30, 74.99, 75, 75.0, np.float32(12.5)])
def test_noise_levels_a_user_may_set(level):
    value = check_noise_level(level)
    assert isinstance(value, float) and value == float(level)


@pytest.mark.parametrize("level", [-1e-9, -1, 75.0001, 76, 255, NAN, INF, -INF, True, False])
def test_noise_levels_out_of_the_user_range(level):
    assert refused(check_noise_level, level) == f"noise level {level} is out of range (use 0 to 75, or auto)"


def test_the_engine_range_is_the_whole_scale_and_names_the_models_own_maximum():
    assert check_noise_level(200, upper=NOISE_SCALE, advertised=50) == 200.0
    assert check_noise_level(255, upper=NOISE_SCALE, advertised=50) == 255.0
    assert refused(check_noise_level, 255.5, upper=NOISE_SCALE, advertised=50) == \
        "noise level 255.5 is out of range (use 0 to 50, or auto)"
    assert refused(check_noise_level, NAN, upper=NOISE_SCALE, advertised=75.0) == \
        "noise level nan is out of range (use 0 to 75, or auto)"


def test_noise_level_flag_wording():
    assert refused(check_noise_level, 80.0, flag=True) == "80.0 is out of range (0 to 75 on the 0-255 scale)"


# --------------------------------------------------------------------------- strength and amounts


@pytest.mark.parametrize("strength", [0, 0.0, 50, 100, 100.0, np.float64(99.5)])
def test_strengths_in_range(strength):
    assert check_strength(strength) == float(strength)


@pytest.mark.parametrize("strength", [-1e-9, -1, 100.0001, 150, NAN, INF, -INF, True, np.True_])
def test_strengths_out_of_range(strength):
    assert refused(check_strength, strength) == f"strength {strength} is out of range (use 0 to 100)"


def test_strength_messages():
    assert refused(check_strength, 150) == "strength 150 is out of range (use 0 to 100)"
    assert refused(check_strength, 150.0, flag=True) == "150.0 is out of range (0 to 100)"


@pytest.mark.parametrize("name", ["detail", "colour noise"])
def test_amounts(name):
    assert check_amount(name, 0) == 0.0 and check_amount(name, 100) == 100.0 and check_amount(name, 12.5) == 12.5
    assert refused(check_amount, name, 101) == f"{name} 101 is out of range (use 0 to 100)"
    assert refused(check_amount, name, -1) == f"{name} -1 is out of range (use 0 to 100)"
    assert refused(check_amount, name, 100.5) == f"{name} 100.5 is out of range (use 0 to 100)"
    assert refused(check_amount, name, NAN) == f"{name} nan is out of range (use 0 to 100)"
    assert refused(check_amount, name, INF) == f"{name} inf is out of range (use 0 to 100)"
    assert refused(check_amount, name, True) == f"{name} True is out of range (use 0 to 100)"
    assert refused(check_amount, name, 150.0, flag=True) == "150.0 is out of range (0 to 100)"


@pytest.mark.parametrize("check", [check_strength, check_noise_level, check_balance,
                                   lambda value: check_amount("detail", value)])
def test_what_is_no_number_is_left_to_the_caller_to_word(check):
    with pytest.raises(ValueError):
        check("lots")
    with pytest.raises(TypeError):
        check(None)


# --------------------------------------------------------------------------- tiles, iterations, balance


@pytest.mark.parametrize("tile", [0, 64, 65, 512, np.int64(128), np.int32(0)])
def test_tiles_in_range(tile):
    value = check_tile(tile)
    assert type(value) is int and value == int(tile)


@pytest.mark.parametrize("tile", [1, 63, -1, -64, True, False, 128.0, "128", np.int64(10)])
def test_tiles_refused(tile):
    shown = repr(tile) if isinstance(tile, str) else str(tile)
    assert refused(check_tile, tile) == f"tile size {shown} is invalid (use 0 for the whole image, or >= 64)"


def test_tile_flag_wording():
    assert refused(check_tile, 8, flag=True) == "8 is too small (0 = whole image, or 64 and up)"
    assert refused(check_tile, -5, flag=True) == "-5 is too small (0 = whole image, or 64 and up)"


@pytest.mark.parametrize("count", [1, 8, 100, np.int64(50)])
def test_iterations_in_range(count):
    assert check_iterations(count) == int(count)


@pytest.mark.parametrize("count", [0, 101, -1, True, False, 8.0, "8", np.int64(0)])
def test_iterations_refused(count):
    shown = repr(count) if isinstance(count, str) else str(count)
    assert refused(check_iterations, count) == f"iterations {shown} is out of range (use 1 to 100)"


def test_iterations_flag_wording():
    assert refused(check_iterations, 0, flag=True) == "0 is out of range (1 to 100)"


def test_balance():
    assert check_balance(0) == 0.0 and check_balance(1e-3) == 1e-3
    assert refused(check_balance, -1) == "balance -1.0 must be a finite number >= 0"
    assert refused(check_balance, NAN) == "balance nan must be a finite number >= 0"
    assert refused(check_balance, INF) == "balance inf must be a finite number >= 0"
    assert refused(check_balance, True) == "balance True must be a finite number >= 0"


# --------------------------------------------------------------------------- output, limits, kernels


def test_quality():
    assert check_quality(1) == 1 and check_quality(100) == 100 and check_quality(np.int64(95)) == 95
    for bad in (0, 101, -5, True, 95.5):
        assert refused(check_quality, bad) == f"quality {bad}: use 1 to 100"
    assert refused(check_quality, 101, flag=True) == "101 is out of range (1 to 100)"


def test_bit_depth():
    assert check_bit_depth(None) is None and check_bit_depth(8) == 8 and check_bit_depth(16) == 16
    for bad in (12, 0, True, "8"):
        assert refused(check_bit_depth, bad) == f"bit depth {bad}: use 8 or 16"


def test_kernel_size():
    assert check_kernel_size(3) == 3 and check_kernel_size(201) == 201
    # the blind estimator's own wording (app.algorithms.blind.estimate)
    assert refused(check_kernel_size, 2) == "kernel size 2 px is out of range (use 3 to 201)"
    assert refused(check_kernel_size, 202) == "kernel size 202 px is out of range (use 3 to 201)"
    assert refused(check_kernel_size, True) == "kernel size True px is out of range (use 3 to 201)"
    assert refused(check_kernel_size, 202, flag=True) == "202 is out of range (3 to 201 px)"


def test_megapixels():
    assert check_megapixels(200) == 200_000_000 and check_megapixels(MAX_MEGAPIXELS) == 10_000_000_000
    assert check_megapixels(1e-6) == 1
    for bad, typed in ((0, "0"), (-1, "-1"), (NAN, "nan"), (INF, "inf")):
        assert refused(check_megapixels, bad, shown=typed) == f"'{typed}' must be a positive, finite number of megapixels"
    assert refused(check_megapixels, 10_000.5) == "10000.5 is too large (at most 10000 megapixels)"


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("parse", "text", "message"),
    [
        (arguments.noise_level, "75.5", "75.5 is out of range (0 to 75 on the 0-255 scale)"),
        (arguments.noise_level, "-1", "-1.0 is out of range (0 to 75 on the 0-255 scale)"),
        (arguments.noise_level, "nan", "nan is out of range (0 to 75 on the 0-255 scale)"),
        (arguments.noise_level, "loud", "'loud' is not 'auto' or a number"),
        (arguments.strength, "150", "150.0 is out of range (0 to 100)"),
        (arguments.strength, "inf", "inf is out of range (0 to 100)"),
        (arguments.amount, "-5", "-5.0 is out of range (0 to 100)"),
        (arguments.amount, "much", "'much' is not a number"),
        (arguments.tile, "8", "8 is too small (0 = whole image, or 64 and up)"),
        (arguments.tile, "63", "63 is too small (0 = whole image, or 64 and up)"),
        (arguments.tile, "big", "'big' is not 'auto' or a whole number"),
        (arguments.iterations, "0", "0 is out of range (1 to 100)"),
        (arguments.iterations, "101", "101 is out of range (1 to 100)"),
        (arguments.iterations, "2.5", "'2.5' is not a whole number"),
        (arguments.quality, "0", "0 is out of range (1 to 100)"),
        (arguments.kernel_size, "202", "202 is out of range (3 to 201 px)"),
        (arguments.megapixels, "-1", "'-1' must be a positive, finite number of megapixels"),
        (arguments.megapixels, "20000", "20000 is too large (at most 10000 megapixels)"),
        (arguments.megapixels, "many", "'many' is not a number"),
    ],
)
def test_argparse_types_keep_their_wording(parse, text, message):
    with pytest.raises(argparse.ArgumentTypeError) as error:
        parse(text)
    assert str(error.value) == message


def test_argparse_types_accept_the_edges():
    assert arguments.noise_level("auto") is None and arguments.noise_level("0") == 0.0
    assert arguments.noise_level("75") == 75.0
    assert arguments.strength("0") == 0.0 and arguments.strength("100") == 100.0
    assert arguments.amount("100") == 100.0
    assert arguments.tile("auto") is None and arguments.tile("0") == 0 and arguments.tile("64") == 64
    assert arguments.iterations("1") == 1 and arguments.iterations("100") == 100
    assert arguments.quality("1") == 1 and arguments.quality("100") == 100
    assert arguments.kernel_size("3") == 3 and arguments.kernel_size("201") == 201
    assert arguments.megapixels("200") == 200_000_000


def test_a_parser_names_the_flag_in_front_of_the_shared_message(capsys):
    parser = argparse.ArgumentParser(prog="photomend")
    parser.add_argument("--strength", type=arguments.strength)
    with pytest.raises(SystemExit) as stop:
        parser.parse_args(["--strength", "150"])
    assert stop.value.code == 2
    assert "argument --strength: 150.0 is out of range (0 to 100)" in capsys.readouterr().err


# --------------------------------------------------------------------------- callers


def test_the_strength_mapping_uses_the_rule():
    from app.engine.strength import blind_weight, sigma_for_strength, strength_factor

    assert sigma_for_strength(10.0, 100) == 20.0 and blind_weight(100) == 1.5 and strength_factor(0) == 0.0
    for call in (lambda: sigma_for_strength(10.0, 150), lambda: strength_factor(-1), lambda: blind_weight(NAN)):
        assert "is out of range (use 0 to 100)" in refused(call)


def test_the_finishing_controls_use_the_rule():
    from app.engine.finish import finish

    image = np.full((8, 8, 3), 0.5, np.float32)
    assert refused(finish, image, image, 101, 0) == "detail 101 is out of range (use 0 to 100)"
    assert refused(finish, image, image, 0, -1) == "colour noise -1 is out of range (use 0 to 100)"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"tile": 10}, "tile size 10 is invalid (use 0 for the whole image, or >= 64)"),
        ({"tile": True}, "tile size True is invalid (use 0 for the whole image, or >= 64)"),
        ({"iterations": 0}, "iterations 0 is out of range (use 1 to 100)"),
        ({"iterations": True}, "iterations True is out of range (use 1 to 100)"),
        ({"noise_level": 76}, "noise level 76 is out of range (use 0 to 75, or auto)"),
        ({"noise_level": INF}, "noise level inf is out of range (use 0 to 75, or auto)"),
        ({"strength": 150}, "strength 150 is out of range (use 0 to 100)"),
        ({"balance": -1.0}, "balance -1.0 must be a finite number >= 0"),
        ({"strength": "x"}, "strength 'x' and balance None must be numbers"),
    ],
)
def test_deblurring_refuses_with_the_shared_messages(change, message):
    from app.engine.deblur import Deblurrer

    kwargs = {"method": "wiener", "noise_level": 5.0, **change}
    with pytest.raises(PhotomendError) as error:  # 'wiener' loads no model
        Deblurrer(device="cpu").deblur(np.full((40, 40, 3), 0.5, np.float32), np.ones((5, 5), np.float32) / 25,
                                       **kwargs)
    assert str(error.value) == message


def test_deblurring_accepts_the_edges():
    from app.engine.deblur import Deblurrer

    photo, kernel = np.full((40, 40, 3), 0.5, np.float32), np.ones((5, 5), np.float32) / 25
    out = Deblurrer(device="cpu").deblur(photo, kernel, method="wiener", noise_level=MAX_NOISE_LEVEL, strength=100,
                                         tile=0, balance=0.0, iterations=MAX_ITERATIONS)
    assert out.pixels.shape == photo.shape and out.noise_level == MAX_NOISE_LEVEL


def test_the_batch_preset_uses_the_output_rules():
    from app.pipeline.batch import BatchPreset

    assert refused(BatchPreset(quality=0).validate) == "quality 0: use 1 to 100"
    assert refused(BatchPreset(quality=101).validate) == "quality 101: use 1 to 100"
    assert refused(BatchPreset(bit_depth=12).validate) == "bit depth 12: use 8 or 16"
    BatchPreset(quality=1, bit_depth=16).validate()
    BatchPreset(quality=100, bit_depth=None).validate()
    with pytest.raises(ValueError, match="quality 101: use 1 to 100"):  # a hand-edited queue file
        BatchPreset.from_dict({"quality": 101})
