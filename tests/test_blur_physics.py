"""The blur forward model: true-convolution orientation, modes, boundaries, adjoint, OTF, FFT sizes."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.ndimage
import scipy.signal

from app.physics.blur import blur, blur_adjoint, good_fft_size, psf_to_otf
from app.physics.kernels import KernelError, as_kernel, defocus_kernel, motion_kernel
from tests.conftest import shared_path

# A bent, one-sided kernel: any flip or transpose of it is a different kernel.
ASYMMETRIC = as_kernel(
    np.array([[0, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 5, 3, 1], [0, 2, 0, 0, 0], [4, 0, 0, 0, 0]])
)


def levin01() -> np.ndarray:
    return np.load(shared_path("kernels", "Levin09_01.npy"))


def reference(image: np.ndarray, kernel: np.ndarray, mode: str) -> np.ndarray:
    """scipy.signal.convolve in float64, channel by channel."""
    k = kernel.astype(np.float64)
    if image.ndim == 2:
        return scipy.signal.convolve(image.astype(np.float64), k, mode=mode)
    return np.stack([reference(image[:, :, c], kernel, mode) for c in range(image.shape[2])], axis=2)


def test_blurring_a_point_reproduces_the_kernel_unrotated():
    for kernel in (ASYMMETRIC, motion_kernel(9, 30)):
        point = np.zeros((31, 33), np.float32)
        point[15, 16] = 1.0
        out = blur(point, kernel, mode="same")
        r = kernel.shape[0] // 2
        np.testing.assert_allclose(out[15 - r : 15 + r + 1, 16 - r : 16 + r + 1], kernel, atol=1e-7)
        assert abs(out.sum() - 1.0) < 1e-5


def test_blurring_a_point_reproduces_a_real_camera_shake_kernel():
    kernel = levin01()
    point = np.zeros((41, 41), np.float32)
    point[20, 20] = 1.0
    out = blur(point, kernel, mode="same")
    np.testing.assert_allclose(out[11:30, 11:30], kernel, atol=1e-7)
    np.testing.assert_allclose(blur(point, kernel, mode="circular")[11:30, 11:30], kernel, atol=1e-6)


@pytest.mark.parametrize("mode", ["same", "valid"])
def test_matches_scipy_convolve_on_random_data(mode):
    rng = np.random.default_rng(1)
    image = rng.random((47, 58, 3), dtype=np.float32)
    for kernel in (ASYMMETRIC, defocus_kernel(12)):  # 25x25: OpenCV's DFT path
        out = blur(image, kernel, mode=mode)
        assert out.dtype == np.float32
        np.testing.assert_allclose(out, reference(image, kernel, mode), atol=2e-6)
    grey = image[:, :, 0]
    np.testing.assert_allclose(blur(grey, ASYMMETRIC, mode), reference(grey, ASYMMETRIC, mode), atol=2e-6)


def test_matches_scipy_convolve_with_a_levin_kernel():
    kernel = levin01()
    image = np.random.default_rng(2).random((60, 70), dtype=np.float32)
    for mode in ("same", "valid"):
        np.testing.assert_allclose(blur(image, kernel, mode), reference(image, kernel, mode), atol=2e-6)
    assert blur(image, kernel, "valid").shape == (60 - 18, 70 - 18)


def test_circular_mode_is_periodic_convolution():
    rng = np.random.default_rng(3)
    image = rng.random((40, 37, 2), dtype=np.float32)
    out = blur(image, ASYMMETRIC, mode="circular")
    for c in range(2):
        expected = scipy.ndimage.convolve(
            image[:, :, c].astype(np.float64), ASYMMETRIC.astype(np.float64), mode="wrap"
        )
        np.testing.assert_allclose(out[:, :, c], expected, atol=2e-6)
    # away from the border it agrees with the other modes
    np.testing.assert_allclose(out[2:-2, 2:-2], blur(image, ASYMMETRIC, "valid"), atol=2e-6)


@pytest.mark.parametrize(
    "boundary, numpy_mode", [("symmetric", "symmetric"), ("reflect", "reflect"), ("replicate", "edge")]
)
def test_same_mode_boundaries_extend_the_image_like_numpy_pad(boundary, numpy_mode):
    image = np.random.default_rng(4).random((30, 35), dtype=np.float32)
    kernel = motion_kernel(11, 20)
    r = kernel.shape[0] // 2
    expected = reference(np.pad(image, r, mode=numpy_mode), kernel, "valid")
    np.testing.assert_allclose(blur(image, kernel, "same", boundary=boundary), expected, atol=2e-6)


def test_psf_to_otf_is_the_fft_of_a_circular_blur():
    rng = np.random.default_rng(5)
    image = rng.random((32, 45), dtype=np.float32)
    otf = psf_to_otf(ASYMMETRIC, image.shape)
    assert otf.shape == image.shape and otf.dtype == np.complex64
    np.testing.assert_allclose(
        np.fft.fft2(blur(image, ASYMMETRIC, "circular")), np.fft.fft2(image) * otf, atol=2e-4
    )
    half = psf_to_otf(ASYMMETRIC, (32, 45, 3), real=True)
    np.testing.assert_allclose(half, otf[:, : 45 // 2 + 1], atol=1e-6)
    np.testing.assert_allclose(psf_to_otf(np.ones((1, 1)), (8, 8)), np.ones((8, 8)), atol=1e-7)
    assert abs(otf[0, 0] - 1.0) < 1e-6  # a normalised kernel keeps the mean brightness
    symmetric = psf_to_otf(motion_kernel(9, 30), (32, 32))
    assert np.abs(symmetric.imag).max() < 1e-6  # centred: a zero-phase filter


@pytest.mark.parametrize("mode", ["same", "valid", "circular"])
def test_adjoint_satisfies_the_inner_product_identity(mode):
    rng = np.random.default_rng(6)
    kernel = ASYMMETRIC
    x = rng.random((36, 41, 3), dtype=np.float32)
    y = rng.random(blur(x, kernel, mode).shape, dtype=np.float32)
    adjoint = blur_adjoint(y, kernel, mode)
    assert adjoint.shape == x.shape
    lhs = float((blur(x, kernel, mode).astype(np.float64) * y).sum())
    rhs = float((x.astype(np.float64) * adjoint).sum())
    assert lhs == pytest.approx(rhs, rel=1e-5)


def test_good_fft_size_has_only_small_prime_factors_and_is_minimal():
    def smooth(n: int) -> bool:
        for p in (2, 3, 5, 7):
            while n % p == 0:
                n //= p
        return n == 1

    for n in range(1, 600):
        m = good_fft_size(n)
        assert m >= n and smooth(m)
        assert all(not smooth(k) for k in range(n, m))
    assert [good_fft_size(n) for n in (11, 13, 97, 1021, 4001)] == [12, 14, 98, 1024, 4032]
    with pytest.raises(ValueError):
        good_fft_size(0)


def test_bad_inputs():
    image = np.zeros((20, 20), np.float32)
    with pytest.raises(KernelError, match="larger than the image"):
        blur(image, motion_kernel(31, 0))
    with pytest.raises(KernelError, match="larger than the image"):
        psf_to_otf(motion_kernel(31, 0), (20, 20))
    with pytest.raises(ValueError, match="odd"):
        blur(image, np.ones((4, 4), np.float32) / 16)
    with pytest.raises(ValueError, match="mode"):
        blur(image, ASYMMETRIC, mode="full")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="boundary"):
        blur(image, ASYMMETRIC, boundary="wrap")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="image"):
        blur(np.zeros(20, np.float32), ASYMMETRIC)
    assert blur(image.astype(np.float64), ASYMMETRIC).dtype == np.float32
