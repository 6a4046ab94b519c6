"""Errors the model library raises; their messages are shown to users as one line."""

from app.errors import PhotomendError


class ModelWeightsError(PhotomendError):
    """Weights are missing, altered or unreadable; the message says how to fix it."""
