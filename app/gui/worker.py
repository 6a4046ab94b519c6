"""The one compute queue: a QThread that runs every model call and big-file I/O, so the window
never freezes and the window and the batch queue never race for the CPU or GPU.

The UI thread talks to it through ``WorkerClient``: jobs wait in a priority queue on the UI
thread and go to the worker one at a time, the most urgent first (opening and exporting, then
what the user applied, then batch photos, then previews and warm-ups), in order of submission
within a priority. Each job has an owner ("window" or "batch") so either side can cancel its own
work. Live previews are coalesced: while one runs, newer requests replace the waiting one (the
running one is asked to stop), so the latest request always wins and stale ones are dropped.
"""

from __future__ import annotations

import heapq
import itertools
import traceback
from typing import Any, Callable

from PySide6.QtCore import QObject, QThread, Signal, Slot

from app.errors import CancelledError, PhotomendError
from app.gui.tasks import Job


class _Reporter:
    """A job's progress callback; ``expected(seconds)`` passes on the engine's time estimate."""

    def __init__(self, worker: "_Worker", job_id: int) -> None:
        self._worker, self._job_id = worker, job_id

    def __call__(self, done: int, total: int) -> None:
        self._worker.progress.emit(self._job_id, done, total)

    def expected(self, seconds: float) -> None:
        self._worker.expected.emit(self._job_id, float(seconds))


class _Worker(QObject):
    """Lives in the worker thread; runs one job at a time, in order."""

    progress = Signal(int, int, int)  # job id, done, total
    expected = Signal(int, float)  # job id, predicted seconds
    finished = Signal(int, object)  # job id, result
    failed = Signal(int, str)  # job id, one-line message
    cancelled = Signal(int)

    @Slot(object)
    def run(self, job: Job) -> None:
        if job.cancel.is_set():
            self.cancelled.emit(job.id)
            return
        job.report = _Reporter(self, job.id)
        try:
            result = job.run(job)
        except CancelledError:
            self.cancelled.emit(job.id)
        except PhotomendError as error:  # ModelWeightsError included
            self.failed.emit(job.id, str(error))
        except MemoryError:
            self.failed.emit(job.id, "not enough memory for this photo: choose a smaller tile size")
        except Exception as error:  # noqa: BLE001 - the window must survive any engine bug
            traceback.print_exc()
            self.failed.emit(job.id, f"unexpected error: {type(error).__name__}: {error}")
        else:
            self.finished.emit(job.id, result)


PRIORITY = {"open": 0, "export": 0, "apply": 1, "denoise": 1, "deblur": 1, "dejpeg": 1, "estimate": 1,
            "estimate_kernel": 1, "batch": 2, "preview": 3, "warm-up": 3}
"""Lower runs first; kinds not listed wait with the user's own actions (1)."""


class WorkerClient(QObject):
    """UI-side handle of the compute queue: submit jobs, get callbacks on the UI thread, cancel, shut down."""

    busyChanged = Signal(bool)
    _submit = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._thread = QThread()
        self._thread.setObjectName("photomend-worker")
        self._worker = _Worker()
        self._worker.moveToThread(self._thread)
        self._submit.connect(self._worker.run)
        self._worker.progress.connect(self._on_progress)
        self._worker.expected.connect(self._on_expected)
        self._worker.finished.connect(self._on_finished)
        self._worker.failed.connect(self._on_failed)
        self._worker.cancelled.connect(self._on_cancelled)
        self._thread.start()
        self._ids = itertools.count(1)
        self._callbacks: dict[int, dict[str, Callable[..., None] | None]] = {}
        self._jobs: dict[int, Job] = {}
        self._owners: dict[int, str] = {}
        self._waiting: list[tuple[int, int, Job]] = []  # (priority, id, job): a heap
        self._running: Job | None = None
        self._running_preview: Job | None = None
        self._pending_preview: tuple[Callable[[Job], Any], dict[str, Any]] | None = None

    # ----- submitting --------------------------------------------------------------------
    def submit(
        self,
        kind: str,
        run: Callable[[Job], Any],
        *,
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[str], None] | None = None,
        on_progress: Callable[[int, int], None] | None = None,
        on_cancel: Callable[[], None] | None = None,
        on_expected: Callable[[float], None] | None = None,
        owner: str = "window",
    ) -> Job:
        """Queue a job; callbacks run on the UI thread."""
        job = Job(next(self._ids), kind, run)
        self._jobs[job.id] = job
        self._owners[job.id] = owner
        self._callbacks[job.id] = {"done": on_done, "error": on_error, "progress": on_progress, "cancel": on_cancel,
                                   "expected": on_expected}
        heapq.heappush(self._waiting, (PRIORITY.get(kind, 1), job.id, job))
        self.busyChanged.emit(True)
        self._dispatch()
        return job

    def _dispatch(self) -> None:
        """Hand the most urgent waiting job to the worker when it is free."""
        while self._running is None and self._waiting:
            _priority, _id, job = heapq.heappop(self._waiting)
            if job.cancel.is_set():  # cancelled while waiting: never started
                self._finish(job.id, "cancel")
                continue
            self._running = job
            self._submit.emit(job)

    def request_preview(self, run: Callable[[Job], Any], **callbacks: Any) -> None:
        """Latest wins: a running preview is told to stop and only the newest waits."""
        if self._running_preview is not None:
            self._running_preview.cancel.set()
            self._pending_preview = (run, callbacks)
            return
        self._running_preview = self.submit("preview", run, **callbacks)

    def cancel(self, job: Job | None) -> None:
        if job is not None:
            job.cancel.set()

    def cancel_all(self, owner: str | None = None) -> None:
        """Ask every job (or only ``owner``'s) to stop; waiting ones never start."""
        if owner in (None, "window"):
            self._pending_preview = None
        for job_id, job in list(self._jobs.items()):
            if owner is None or self._owners.get(job_id) == owner:
                job.cancel.set()
        self._dispatch()

    def is_busy(self, owner: str | None = None) -> bool:
        return any(owner is None or self._owners.get(job_id) == owner for job_id in self._jobs)

    def shutdown(self, wait_ms: int = 30000) -> bool:
        """Cancel everything and stop the thread; the current tile finishes first."""
        self.cancel_all()
        self._thread.quit()
        return self._thread.wait(wait_ms)

    # ----- results (UI thread) -----------------------------------------------------------
    def _finish(self, job_id: int, key: str, *args: Any) -> None:
        callbacks = self._callbacks.pop(job_id, {})
        job = self._jobs.pop(job_id, None)
        self._owners.pop(job_id, None)
        if job is not None and job is self._running:
            self._running = None
        callback = callbacks.get(key)
        if callback is not None:
            callback(*args)
        if job is not None and job is self._running_preview:
            self._running_preview = None
            if self._pending_preview is not None:
                run, pending_callbacks = self._pending_preview
                self._pending_preview = None
                self._running_preview = self.submit("preview", run, **pending_callbacks)
        self._dispatch()
        if not self._jobs:
            self.busyChanged.emit(False)

    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        callback = self._callbacks.get(job_id, {}).get("progress")
        if callback is not None:
            callback(done, total)

    def _on_expected(self, job_id: int, seconds: float) -> None:
        callback = self._callbacks.get(job_id, {}).get("expected")
        if callback is not None:
            callback(seconds)

    def _on_finished(self, job_id: int, result: Any) -> None:
        self._finish(job_id, "done", result)

    def _on_failed(self, job_id: int, message: str) -> None:
        self._finish(job_id, "error", message)

    def _on_cancelled(self, job_id: int) -> None:
        self._finish(job_id, "cancel")
