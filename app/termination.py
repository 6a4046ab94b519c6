"""SIGTERM and SIGHUP unwind the program like Ctrl+C does, so no temporary file is left behind.

Python's default for these signals ends the process on the spot, skipping every ``finally``;
raising :class:`~app.errors.Terminated` (a BaseException) instead lets the atomic writer remove
its temporary file and the command report that it was stopped. Only the main thread receives
it; the window installs its own handling (it asks its threads to stop, then quits).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from types import FrameType

from app.errors import Terminated

HANDLED = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s is not None)


def _raise_terminated(signum: int, _frame: FrameType | None) -> None:
    raise Terminated(signum)


def install_termination_handlers(
    handler: Callable[[int, FrameType | None], None] = _raise_terminated,
) -> dict[int, object]:
    """Route SIGTERM/SIGHUP to ``handler`` (default: raise Terminated); the previous handlers.

    A no-op (returning {}) off the main thread, where Python cannot install handlers.
    """
    if threading.current_thread() is not threading.main_thread():
        return {}
    return {signum: signal.signal(signum, handler) for signum in HANDLED}


def restore_handlers(previous: dict[int, object]) -> None:
    """Put back what :func:`install_termination_handlers` replaced (tests call main() in-process)."""
    for signum, handler in previous.items():
        signal.signal(signum, handler)  # type: ignore[arg-type]


def exit_code_for(signum: int) -> int:
    """The shell convention for a process ended by a signal: 128 + its number."""
    return 128 + int(signum)
