"""A dependency-free progress display on stderr: one updating line on a terminal, plain lines in logs."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class ProgressLine:
    """Shows "[###   ] 3/10 name  41%  ~12s left" while a batch runs (the percentage of the current file)."""

    def __init__(self, total_files: int, stream: TextIO | None = None, quiet: bool = False) -> None:
        self.total = total_files
        self.stream = stream or sys.stderr
        self.quiet = quiet
        self.interactive = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self.index = 0
        self.name = ""
        self._last_draw = 0.0
        self._file_started = self.started
        self._expected: float | None = None  # predicted seconds of the current file's work

    def start_file(self, index: int, name: str) -> None:
        self.index, self.name = index, name
        self._file_started, self._expected = time.perf_counter(), None
        self._draw(0, 0, force=True)

    def tiles(self, done: int, total: int) -> None:
        self._draw(done, total)

    __call__ = tiles  # the progress callback of process_file

    def expected(self, seconds: float) -> None:
        """The engine's prediction for the current file (from measured speed), shown until steps tell better."""
        self._expected = float(seconds)
        self._draw(0, 0, force=True)

    def _draw(self, done: int, total: int, force: bool = False) -> None:
        if self.quiet or not self.interactive:
            return
        now = time.perf_counter()
        if not force and now - self._last_draw < 0.1 and done != total:
            return
        self._last_draw = now
        fraction = (self.index - 1 + (done / total if total else 0)) / max(1, self.total)
        eta = ""
        if self._expected is not None and self.total == 1 and done == 0:
            remaining = max(0.0, self._expected - (now - self._file_started))
            eta = f"  ~{remaining:.0f}s left (estimate)"
        elif fraction > 0.02:
            remaining = (now - self.started) * (1 - fraction) / fraction
            eta = f"  ~{remaining:.0f}s left"
        bar = "#" * int(fraction * 20)
        tiles = f"  {100 * done // total}%" if total > 1 else ""
        self.stream.write(f"\r[{bar:<20}] {self.index}/{self.total} {self.name[:40]}{tiles}{eta}\033[K")
        self.stream.flush()

    def message(self, text: str) -> None:
        """A line that stays (result or error), printed above the live line."""
        if self.quiet and not text.startswith("error"):
            return
        if self.interactive:
            self.stream.write("\r\033[K")
        self.stream.write(text + "\n")
        self.stream.flush()
