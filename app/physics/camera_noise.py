"""Synthetic camera noise: what a real photo's noise looks like after the camera has processed it.

Estimators and denoisers tuned on additive white Gaussian noise (AWGN) misjudge real photos: sensor
noise is Poisson-Gaussian in the *raw* data (brighter -> more noise in absolute terms), and the
camera then demosaics (neighbouring pixels share noise), applies white balance and a colour matrix
(noise mixes and grows across channels), a gamma curve (dark noise is stretched) and JPEG (fine
noise is partly removed, blocky noise remains). This module reproduces that chain on a clean sRGB
image so "auto" noise estimation can be tested and tuned against a known ground truth:

    sRGB -> linear -> inverse colour matrix -> inverse white balance -> RGGB mosaic
    -> Poisson (shot: var = shot * x) + Gaussian (read: var = read) noise
    -> bilinear demosaic -> white balance -> colour matrix -> sRGB gamma -> 8 bit / JPEG

By default the *signal* is treated as perfectly demosaiced while the *noise* goes through the
bilinear demosaic (exact, because bilinear demosaicing is linear): that keeps the clean image the
true ground truth, so a PSNR against it measures denoising, not demosaicing error. Pass
``demosaic_signal=True`` to demosaic the noisy mosaic as a whole instead (OpenCV edge-aware).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

# Camera RGB -> linear sRGB, a typical daylight matrix of a consumer sensor (rows sum to 1 so
# grey stays grey). Its negative off-diagonals are what amplify and mix noise between channels.
CAMERA_TO_SRGB = np.array(
    [
        [1.78, -0.68, -0.10],
        [-0.22, 1.56, -0.34],
        [0.04, -0.52, 1.48],
    ],
    dtype=np.float32,
)
SRGB_TO_CAMERA = np.linalg.inv(CAMERA_TO_SRGB).astype(np.float32)
# Daylight white-balance gains (R, G, B): the red and blue photosites see less light than green,
# so their (noisier) raw values are multiplied up.
WHITE_BALANCE = np.array([2.0, 1.0, 1.6], dtype=np.float32)


@dataclass(frozen=True)
class CameraPreset:
    """Sensor noise parameters in raw units (linear, [0, 1] = black..white level)."""

    shot: float  # Poisson gain: variance = shot * signal
    read: float  # Gaussian read-noise variance
    description: str


# Light / medium / heavy noise, in the range of the "Unprocessing" camera statistics
# (Brooks et al., CVPR 2019: log-shot noise 1e-4..1.2e-2, read noise growing with it). On a mid-grey
# (0.45) patch the sRGB noise std is about 3 / 8 / 20 (0-255) after JPEG 90 and 5 / 12 / 28 without;
# the best FFDNet sigma on CBSD68 is about 6-11 / 13-25 / 28-55.
CAMERA_PRESETS: dict[str, CameraPreset] = {
    "iso800": CameraPreset(shot=6e-4, read=4e-6, description="light noise, indoor daylight"),
    "iso3200": CameraPreset(shot=2.5e-3, read=4e-5, description="medium noise, dim interior"),
    "iso12800": CameraPreset(shot=1e-2, read=4e-4, description="heavy noise, night scene"),
}


def srgb_to_linear(srgb: np.ndarray) -> np.ndarray:
    """Undo the sRGB transfer curve, because sensor noise is defined on linear light."""
    srgb = np.clip(srgb, 0.0, 1.0)
    return np.where(srgb <= 0.04045, srgb / 12.92, ((srgb + 0.055) / 1.055) ** 2.4).astype(np.float32)


def linear_to_srgb(linear: np.ndarray) -> np.ndarray:
    """Apply the sRGB transfer curve, as the camera does before saving (it stretches dark noise)."""
    linear = np.clip(linear, 0.0, 1.0)
    return np.where(linear <= 0.0031308, linear * 12.92, 1.055 * linear ** (1 / 2.4) - 0.055).astype(np.float32)


def _bayer_masks(height: int, width: int) -> np.ndarray:
    """Boolean (3, H, W) masks of the R, G, B photosites of an RGGB mosaic."""
    masks = np.zeros((3, height, width), dtype=bool)
    masks[0, 0::2, 0::2] = True
    masks[1, 0::2, 1::2] = True
    masks[1, 1::2, 0::2] = True
    masks[2, 1::2, 1::2] = True
    return masks


def mosaic_rggb(rgb: np.ndarray) -> np.ndarray:
    """Keep one colour per pixel (RGGB), as a Bayer sensor records it."""
    masks = _bayer_masks(*rgb.shape[:2])
    return np.einsum("chw,hwc->hw", masks.astype(rgb.dtype), rgb).astype(np.float32)


_KERNEL_RB = np.array([[1, 2, 1], [2, 4, 2], [1, 2, 1]], dtype=np.float32) / 4.0
_KERNEL_G = np.array([[0, 1, 0], [1, 4, 1], [0, 1, 0]], dtype=np.float32) / 4.0


def demosaic_bilinear(raw: np.ndarray) -> np.ndarray:
    """Bilinear RGGB demosaic on float data (linear, so it can be applied to noise alone).

    This is what spreads each photosite's noise over its neighbours: the source of the spatial
    correlation that white-noise estimators miss.
    """
    masks = _bayer_masks(*raw.shape)
    out = np.empty(raw.shape + (3,), dtype=np.float32)
    for channel, kernel in ((0, _KERNEL_RB), (1, _KERNEL_G), (2, _KERNEL_RB)):
        plane = np.where(masks[channel], raw, 0.0).astype(np.float32)
        out[..., channel] = cv2.filter2D(plane, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
    return out


def _demosaic_opencv(raw: np.ndarray) -> np.ndarray:
    """Edge-aware OpenCV demosaic of a [0, 1] RGGB mosaic (16-bit internally)."""
    raw16 = np.round(np.clip(raw, 0.0, 1.0) * 65535.0).astype(np.uint16)
    return cv2.cvtColor(raw16, cv2.COLOR_BayerRGGB2RGB_EA).astype(np.float32) / 65535.0


def _jpeg_roundtrip(rgb8: np.ndarray, quality: int) -> np.ndarray:
    """Encode and decode with OpenCV's libjpeg (4:2:0 chroma), as a camera or phone saves photos."""
    ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(rgb8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return cv2.imdecode(buffer, cv2.IMREAD_COLOR)[..., ::-1]


def raw_noise(raw: np.ndarray, *, shot: float, read: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson-Gaussian sensor noise (noise only, same shape as ``raw``).

    Shot noise is drawn as a true Poisson count (photons) with ``shot`` as the gain from one
    photo-electron to raw units, so its variance is ``shot * raw``; read noise is Gaussian.
    """
    signal = np.clip(raw, 0.0, None).astype(np.float64)
    noise = np.zeros(raw.shape, dtype=np.float64)
    if shot > 0:
        noise += rng.poisson(signal / shot) * shot - signal
    if read > 0:
        noise += rng.normal(0.0, np.sqrt(read), size=raw.shape)
    return noise.astype(np.float32)


def simulate_camera_noise(
    clean_rgb: np.ndarray,
    *,
    shot: float,
    read: float,
    jpeg_quality: int | None = 90,
    rng: np.random.Generator,
    demosaic_signal: bool = False,
) -> np.ndarray:
    """Turn a clean sRGB image into what a camera would have saved, noise included.

    ``clean_rgb``: float HxWx3 sRGB in [0, 1]. ``shot``/``read``: raw-domain noise parameters
    (see ``CAMERA_PRESETS``). ``jpeg_quality``: None saves losslessly (still 8 bit, like a
    camera TIFF/PNG). Returns float32 HxWx3 in [0, 1]; deterministic for a given ``rng`` state.
    """
    clean = np.asarray(clean_rgb, dtype=np.float32)
    if clean.ndim != 3 or clean.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {clean.shape}")
    camera = srgb_to_linear(clean) @ SRGB_TO_CAMERA.T  # linear camera RGB (white balanced)
    raw_rgb = camera / WHITE_BALANCE  # what each photosite colour really collected
    raw = mosaic_rggb(np.clip(raw_rgb, 0.0, 1.0))
    noise = raw_noise(raw, shot=shot, read=read, rng=rng)
    if demosaic_signal:
        noisy_raw_rgb = _demosaic_opencv(raw + noise)
    else:
        # Bilinear demosaic is linear: D(M x + n) = D(M x) + D(n). Keeping x instead of D(M x)
        # is an ideal demosaic of the signal, with the noise exactly as the camera spreads it.
        noisy_raw_rgb = raw_rgb + demosaic_bilinear(noise)
    noisy_linear = (noisy_raw_rgb * WHITE_BALANCE) @ CAMERA_TO_SRGB.T
    out8 = np.round(linear_to_srgb(noisy_linear) * 255.0).astype(np.uint8)
    if jpeg_quality is not None:
        out8 = _jpeg_roundtrip(out8, jpeg_quality)
    return out8.astype(np.float32) / 255.0


def simulate_preset(
    clean_rgb: np.ndarray, preset: str, *, jpeg_quality: int | None = 90, rng: np.random.Generator
) -> np.ndarray:
    """``simulate_camera_noise`` with a named preset from ``CAMERA_PRESETS`` (for tests and benchmarks)."""
    try:
        params = CAMERA_PRESETS[preset]
    except KeyError:
        raise KeyError(f"unknown camera preset '{preset}' (known: {', '.join(CAMERA_PRESETS)})") from None
    return simulate_camera_noise(clean_rgb, shot=params.shot, read=params.read, jpeg_quality=jpeg_quality, rng=rng)


__all__ = [
    "CAMERA_PRESETS",
    "CAMERA_TO_SRGB",
    "CameraPreset",
    "WHITE_BALANCE",
    "demosaic_bilinear",
    "linear_to_srgb",
    "mosaic_rggb",
    "raw_noise",
    "simulate_camera_noise",
    "simulate_preset",
    "srgb_to_linear",
]
