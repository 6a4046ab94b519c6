"""The one "strength" control, 0..100, mapped onto FFDNet's noise-level input.

FFDNet smooths more as its sigma input grows, so scaling sigma is a natural, monotonic
strength: ``sigma_used = sigma_auto * strength / DEFAULT_STRENGTH``.
  0   -> the photo is returned unchanged (the model is not run at all);
  50  -> the default: exactly the automatic (or given) noise level;
  100 -> twice that level (at most MAX_SIGMA), for photos the estimate under-reads or a smoother look.
"""

from __future__ import annotations

from app.errors import PhotomendError

DEFAULT_STRENGTH = 50.0
MAX_SIGMA = 130.0  # FFDNet was trained to 75 but still smooths monotonically beyond; heavy real noise needs it


def validate_strength(strength: float) -> float:
    if not 0.0 <= float(strength) <= 100.0:
        raise PhotomendError(f"strength {strength} is out of range (use 0 to 100)")
    return float(strength)


def sigma_for_strength(sigma: float, strength: float) -> float:
    """Noise level (0-255 scale) handed to the model for a strength setting."""
    factor = validate_strength(strength) / DEFAULT_STRENGTH
    return min(MAX_SIGMA, max(0.0, sigma) * factor)


def strength_factor(strength: float) -> float:
    """Multiplier applied to a noise map for the same strength mapping."""
    return validate_strength(strength) / DEFAULT_STRENGTH
