"""Applied operations as a stack of results: undo, redo, reset to the original.

Each step keeps its full-precision pixels (float32), so undoing is instant and an export
after undo writes exactly what is shown. Memory is bounded by dropping the oldest steps
beyond ``max_steps`` (the original is always kept).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Step:
    """One applied operation and the photo after it."""

    label: str
    pixels: np.ndarray


class History:
    """Linear undo/redo over restoration steps; applying after an undo drops the redo branch."""

    def __init__(self, original: np.ndarray, max_steps: int = 8) -> None:
        self.original = original
        self.max_steps = max_steps
        self._steps: list[Step] = []
        self._position = 0  # number of steps currently applied

    def current(self) -> np.ndarray:
        return self._steps[self._position - 1].pixels if self._position else self.original

    def applied_labels(self) -> list[str]:
        return [step.label for step in self._steps[: self._position]]

    def push(self, label: str, pixels: np.ndarray) -> None:
        del self._steps[self._position :]
        self._steps.append(Step(label, pixels))
        if len(self._steps) > self.max_steps:
            del self._steps[0]
        self._position = len(self._steps)

    def can_undo(self) -> bool:
        return self._position > 0

    def can_redo(self) -> bool:
        return self._position < len(self._steps)

    def undo(self) -> str | None:
        if not self.can_undo():
            return None
        self._position -= 1
        return self._steps[self._position].label

    def redo(self) -> str | None:
        if not self.can_redo():
            return None
        self._position += 1
        return self._steps[self._position - 1].label

    def reset(self) -> None:
        """Back to the original; the steps stay available for redo."""
        self._position = 0

    def is_modified(self) -> bool:
        return self._position > 0
