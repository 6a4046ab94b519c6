"""Errors the model library raises; their messages are shown to users as one line."""


class ModelWeightsError(RuntimeError):
    """Weights are missing, altered or unreadable; the message says how to fix it."""
