"""One unit of work for the window's worker thread.

The work itself is plain, Qt-free functions of plain data in the operation layer:
``app.pipeline.operations`` (a whole run), ``app.pipeline.previews`` (a region for the live
preview), ``app.pipeline.kernels`` (a photo's blur kernel) and ``app.pipeline.photos`` (open,
export, measure the noise), so it runs on the worker and is tested without a window.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any, Callable

__all__ = ["Job"]


@dataclass
class Job:
    """One unit of work for the worker; ``cancel`` is checked between tiles."""

    id: int
    kind: str  # 'open' | 'estimate' | 'preview' | 'apply' | 'export'
    run: Callable[["Job"], Any]
    cancel: threading.Event = field(default_factory=threading.Event)
    report: Callable[[int, int], None] | None = None  # may also have .expected(seconds)
