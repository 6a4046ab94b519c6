"""Synthetic camera-shake kernels: random-walk trajectories with inertia (Boracchi & Foi 2012).

Used by the tests and the benchmark of the blind estimator. The camera path is a random walk of
constant speed whose velocity changes by a Gaussian term, a pull back towards the start
(centripetal) and rare abrupt reversals ("big shakes"), as in Boracchi & Foi, "Modeling the
performance of image restoration from motion blur" (TIP 2012) and the DeblurGAN generator. The
path is scaled to the requested extent and rasterised by bilinear (sub-pixel) splatting of its
many samples, so each pixel receives the exposure time the path spent near it.
"""

from __future__ import annotations

import math

import numpy as np

from app.physics.kernels import as_kernel


def random_trajectory(extent: float, rng: np.random.Generator, samples: int = 2000) -> np.ndarray:
    """A camera path (samples x 2 array of (row, col) offsets) whose larger bounding-box side is ``extent`` px.

    Why a separate function: the benchmark reports the path extent, and tests may want the path.
    """
    anxiety = 0.005 * rng.random() + 0.001
    centripetal = 0.7 * rng.random()
    gaussian_term = 10.0 * rng.random()
    big_shakes = 0.2 * rng.random()
    step = 1.0 / (samples - 1)
    velocity = step * complex(math.cos(t := 2 * math.pi * rng.random()), math.sin(t))
    path = np.zeros(samples, np.complex128)
    for index in range(samples - 1):
        if rng.random() < big_shakes * anxiety:
            turn = 2.0 * velocity * np.exp(1j * (math.pi + (rng.random() - 0.5)))
        else:
            turn = 0.0
        noise = complex(rng.standard_normal(), rng.standard_normal())
        velocity = velocity + turn + anxiety * (gaussian_term * noise - centripetal * path[index]) * step
        velocity = velocity / abs(velocity) * step
        path[index + 1] = path[index] + velocity
    points = np.stack([path.imag, path.real], axis=1)
    points -= points.min(axis=0)
    span = float(points.max())
    if span <= 0:
        return points
    return points * (float(extent) / span)


def exposure_weights(samples: int, rng: np.random.Generator, pauses: int) -> np.ndarray:
    """Time spent at each path sample: a hand slows and speeds up, and may pause a while.

    Speed follows a smooth random profile (log-normal, about 3x between fast and slow); each
    pause holds 10-30% of the exposure within 2% of the path, as when a shake reverses or the
    shutter opens before the hand moves. Sums to 1.
    """
    profile = np.convolve(rng.standard_normal(samples + 200), np.hanning(201), mode="valid")[:samples]
    profile = profile / max(float(np.abs(profile).max()), 1e-9)
    weights = np.exp(-0.55 * profile)  # dwell time is 1 / speed
    weights /= weights.sum()
    for _ in range(pauses):
        centre = int(rng.integers(0, samples))
        width = max(1, int(0.01 * samples))
        lo, hi = max(0, centre - width), min(samples, centre + width + 1)
        share = float(rng.uniform(0.1, 0.3))
        weights *= 1.0 - share
        weights[lo:hi] += share / (hi - lo)
    return weights / weights.sum()


def rasterise(points: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Splat path samples bilinearly into an odd square kernel centred on the path's centroid.

    ``weights``: the exposure time at each sample (uniform speed when None).
    """
    weights = np.ones(len(points)) if weights is None else np.asarray(weights, np.float64)
    centroid = (points * weights[:, None]).sum(axis=0) / weights.sum()
    reach = int(math.ceil(np.abs(points - centroid).max())) + 1
    side = 2 * reach + 1
    coords = points - centroid + reach
    kernel = np.zeros((side, side), np.float64)
    base = np.floor(coords).astype(np.int64)
    frac = coords - base
    for dr, dc in ((0, 0), (0, 1), (1, 0), (1, 1)):
        weight = (frac[:, 0] if dr else 1 - frac[:, 0]) * (frac[:, 1] if dc else 1 - frac[:, 1]) * weights
        np.add.at(kernel, (base[:, 0] + dr, base[:, 1] + dc), weight)
    rows, cols = np.nonzero(kernel > 0)
    reach = int(max(np.abs(rows - side // 2).max(), np.abs(cols - side // 2).max()))
    centre = side // 2
    return kernel[centre - reach : centre + reach + 1, centre - reach : centre + reach + 1]


def random_trajectory_kernel(size: float, rng: np.random.Generator, pauses: int = 0) -> np.ndarray:
    """A realistic camera-shake PSF whose path spans ``size`` px (its larger bounding-box side).

    ``pauses`` > 0 makes the speed vary along the path with that many pauses (exposure-like:
    bright knots on the streak). The kernel is centred on its centroid (float32, odd square,
    sum 1): the convention of :func:`app.algorithms.blind.estimate_kernel`, so true and
    estimated kernels compare directly.
    """
    points = random_trajectory(size, rng)
    weights = exposure_weights(len(points), rng, pauses) if pauses > 0 else None
    return as_kernel(rasterise(points, weights), "random trajectory kernel")
