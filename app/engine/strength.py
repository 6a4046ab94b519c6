"""The one "strength" control, 0..100 (checked by app.validation), for both kinds of model.

Noise-map models (FFDNet, DRUNet) smooth more as their level input grows, so scaling the level
is a natural, monotonic strength: ``level_used = level_auto * strength / DEFAULT_STRENGTH``.
  0   -> the photo is returned unchanged (the model is not run at all);
  50  -> the default: exactly the automatic (or given) noise level;
  100 -> twice that level (at most MAX_SIGMA), for photos the estimate under-reads or a smoother look.

Blind models (NAFNet, SCUNet, FBCNN, learned deblurring) have no level to scale, so strength
moves along the line from the photo to the model's output: ``photo + w * (output - photo)``
with ``w = strength / 50`` up to the default, and ``1 + (strength - 50) / 100`` above it.
  0   -> unchanged;  25 -> half of the model's change;  50 -> the model's output (the default);
  100 -> 1.5x its change (a little more than the model did), clipped to [0, 1].
"""

from __future__ import annotations

import numpy as np

from app.validation import MAX_NOISE_LEVEL  # noqa: F401 - still importable from here (app.pipeline.previews)
from app.validation import MAX_STRENGTH, check_strength

DEFAULT_STRENGTH = 50.0
MAX_SIGMA = 130.0  # FFDNet was trained to 75 but still smooths monotonically beyond; heavy real noise needs it
MAX_BLIND_WEIGHT = 1.5


def sigma_for_strength(sigma: float, strength: float) -> float:
    """Noise level (0-255 scale) handed to the model for a strength setting."""
    factor = check_strength(strength) / DEFAULT_STRENGTH
    return min(MAX_SIGMA, max(0.0, sigma) * factor)


def strength_factor(strength: float) -> float:
    """Multiplier applied to a noise map for the same strength mapping."""
    return check_strength(strength) / DEFAULT_STRENGTH


def blind_weight(strength: float) -> float:
    """How much of a blind model's change is applied: 0 at 0, 1 at the default, 1.5 at 100."""
    strength = check_strength(strength)
    if strength <= DEFAULT_STRENGTH:
        return strength / DEFAULT_STRENGTH
    return 1.0 + (MAX_BLIND_WEIGHT - 1.0) * (strength - DEFAULT_STRENGTH) / (MAX_STRENGTH - DEFAULT_STRENGTH)


def blend_for_strength(photo: np.ndarray, output: np.ndarray, strength: float) -> np.ndarray:
    """A blind model's output at a strength (every blind model and operation goes through here)."""
    weight = blind_weight(strength)
    if weight == 1.0:
        return output
    if weight == 0.0:
        return photo.copy()
    mixed = photo + np.float32(weight) * (output - photo)
    return np.clip(mixed, 0.0, 1.0, out=mixed).astype(np.float32, copy=False)
