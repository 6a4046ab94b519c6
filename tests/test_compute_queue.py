"""The one compute queue: one job at a time, the most urgent first, each side cancels its own."""

from __future__ import annotations

import threading

import pytest

pytest.importorskip("PySide6")

from app.gui.worker import WorkerClient  # noqa: E402


@pytest.fixture
def queue(qtbot):
    client = WorkerClient()
    yield client
    client.shutdown(5000)


def test_waiting_jobs_run_most_urgent_first_and_never_two_at_once(qtbot, queue):
    release = threading.Event()
    order: list[str] = []
    running = []

    def job(name: str):
        def run(_job):
            running.append(name)
            assert len(running) == 1, "two jobs ran at once"
            if name == "first":
                release.wait(5)
            order.append(name)
            running.remove(name)
            return name
        return run

    queue.submit("batch", job("first"), owner="batch")  # starts at once
    queue.submit("preview", job("preview"))
    queue.submit("batch", job("batch photo"), owner="batch")
    queue.submit("apply", job("apply"))
    queue.submit("open", job("open"))
    release.set()
    qtbot.waitUntil(lambda: not queue.is_busy(), timeout=10000)
    assert order == ["first", "open", "apply", "batch photo", "preview"]


def test_each_owner_cancels_only_its_own_work(qtbot, queue):
    release = threading.Event()
    outcome: dict[str, str] = {}

    def blocking(job):
        release.wait(5)
        if job.cancel.is_set():
            from app.errors import CancelledError

            raise CancelledError("cancelled")
        return "done"

    def track(name: str, **extra):
        return dict(on_done=lambda _r: outcome.__setitem__(name, "done"),
                    on_cancel=lambda: outcome.__setitem__(name, "cancelled"), **extra)

    queue.submit("batch", blocking, owner="batch", **track("batch running"))
    queue.submit("apply", lambda job: "x", **track("window waiting"))
    queue.submit("batch", lambda job: "y", owner="batch", **track("batch waiting"))
    assert queue.is_busy("window") and queue.is_busy("batch")
    queue.cancel_all("window")
    release.set()
    qtbot.waitUntil(lambda: not queue.is_busy(), timeout=10000)
    assert outcome == {"window waiting": "cancelled", "batch running": "done", "batch waiting": "done"}
