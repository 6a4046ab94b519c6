"""The batch queue, without Qt: items, presets, output naming, persistence.

A preset (restore settings + output options) is captured when files are queued, so the
user can queue different presets. Each item is run with exactly the CLI's path
(``process_file`` with ``operation_for``). The queue is saved as JSON after every change
so unfinished items come back after a restart.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterable

from app.errors import PhotomendError
from app.io.naming import default_output_path, extension_for_format
from app.io.reader import SUPPORTED_EXTENSIONS
from app.pipeline.inputs import WorkItem, expand_inputs
from app.pipeline.operations import RestoreSettings
from app.pipeline.process_file import OutputOptions

QUEUED, RUNNING, DONE, FAILED, SKIPPED, CANCELLED = "Queued", "Running", "Done", "Failed", "Skipped", "Cancelled"
FINISHED = (DONE, FAILED, SKIPPED, CANCELLED)
QUEUE_VERSION = 1


@dataclass(frozen=True)
class BatchPreset:
    """How every item queued with it is restored and written."""

    settings: RestoreSettings = field(default_factory=RestoreSettings)
    output_dir: str | None = None  # None: beside each original
    pattern: str = "{stem}_restored"
    format: str | None = None  # None: the original's format
    bit_depth: int | None = None
    quality: int = 95

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BatchPreset":
        values = dict(data)
        values["settings"] = RestoreSettings.from_dict(values.get("settings", {}))
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def validate(self) -> None:
        try:
            self.pattern.format(stem="x", operation="denoise")
        except (KeyError, IndexError, ValueError):
            raise PhotomendError(f"name pattern '{self.pattern}': use {{stem}} and {{operation}} only") from None
        if not self.pattern.strip() or "/" in self.pattern or "\\" in self.pattern:
            raise PhotomendError(f"name pattern '{self.pattern}' must be a plain file name")
        if self.format:
            extension_for_format(self.format)

    def output_options(self) -> OutputOptions:
        return OutputOptions(format=self.format, quality=self.quality, bit_depth=self.bit_depth, overwrite=False)

    def target_for(self, source: Path) -> Path:
        """Where ``source``'s result goes: pattern + format, a free name, never the original."""
        folder = Path(self.output_dir) if self.output_dir else source.parent
        ext = extension_for_format(self.format) if self.format else source.suffix
        name = self.pattern.format(stem=source.stem, operation=self.settings.operation)
        return default_output_path(folder / f"{name}{ext}", suffix="", out_dir=folder, ext=ext)


@dataclass
class BatchItem:
    """One row of the queue."""

    id: int
    source: str
    preset: BatchPreset
    status: str = QUEUED
    progress: float = 0.0  # 0..1 while running
    message: str = ""
    output: str | None = None
    seconds: float = 0.0
    size_bytes: int = 0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preset"] = self.preset.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "BatchItem":
        values = dict(data)
        values["preset"] = BatchPreset.from_dict(values["preset"])
        return cls(**{k: v for k, v in values.items() if k in cls.__dataclass_fields__})

    def work_item(self) -> WorkItem:
        """Output path chosen now (not when queued), so files written meanwhile are not replaced."""
        source = Path(self.source)
        os.makedirs(self.preset.output_dir or source.parent, exist_ok=True)
        return WorkItem(source, self.preset.target_for(source))


class BatchQueue:
    """Ordered items with the operations the queue panel offers."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.items: list[BatchItem] = []
        self._next_id = 1

    # ----- adding ------------------------------------------------------------------------
    def add(self, paths: Iterable[str | Path], preset: BatchPreset, recursive: bool = True) -> list[BatchItem]:
        """Queue photos and folders; a file that is clearly not a photo becomes a Skipped row."""
        preset.validate()
        added = []
        for source, _root in expand_inputs([Path(p) for p in paths], recursive=recursive):
            item = BatchItem(self._next_id, str(source), preset)
            self._next_id += 1
            if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
                item.status, item.message = SKIPPED, f"{source.name}: not a supported image type"
            try:
                item.size_bytes = source.stat().st_size
            except OSError:
                pass
            self.items.append(item)
            added.append(item)
        self.save()
        return added

    # ----- editing -----------------------------------------------------------------------
    def get(self, item_id: int) -> BatchItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def remove(self, item_ids: Iterable[int]) -> None:
        ids = set(item_ids)
        self.items = [item for item in self.items if item.id not in ids or item.status == RUNNING]
        self.save()

    def move(self, item_id: int, offset: int) -> None:
        index = next((i for i, item in enumerate(self.items) if item.id == item_id), None)
        if index is None:
            return
        target = max(0, min(len(self.items) - 1, index + offset))
        self.items.insert(target, self.items.pop(index))
        self.save()

    def clear_finished(self) -> None:
        self.items = [item for item in self.items if item.status not in (DONE, SKIPPED)]
        self.save()

    def retry_failed(self) -> int:
        count = 0
        for item in self.items:
            if item.status in (FAILED, CANCELLED):
                item.status, item.message, item.progress = QUEUED, "", 0.0
                count += 1
        self.save()
        return count

    # ----- running -----------------------------------------------------------------------
    def next_queued(self) -> BatchItem | None:
        return next((item for item in self.items if item.status == QUEUED), None)

    def counts(self) -> tuple[int, int]:
        """(finished, total) over items that were or are to be processed, for "7/50"."""
        relevant = [item for item in self.items if item.status != SKIPPED]
        return sum(item.status in FINISHED for item in relevant), len(relevant)

    def seconds_left(self) -> float | None:
        """Mean time of finished items x items left; None until one finished."""
        done = [item.seconds for item in self.items if item.status == DONE and item.seconds > 0]
        left = sum(item.status in (QUEUED, RUNNING) for item in self.items)
        return None if not done else sum(done) / len(done) * left

    # ----- persistence -------------------------------------------------------------------
    def save(self) -> None:
        """Atomic JSON write; only unfinished items matter for recovery but all are kept."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        payload = {"version": QUEUE_VERSION, "items": [item.to_dict() for item in self.items]}
        handle, temp = tempfile.mkstemp(prefix=".queue.", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(payload, stream, indent=1)
            os.replace(temp, self.path)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> "BatchQueue":
        """Restore unfinished items (a Running item was interrupted: it is queued again)."""
        queue = cls(path)
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
            items = [BatchItem.from_dict(entry) for entry in payload.get("items", [])]
        except (OSError, ValueError, KeyError, TypeError):
            return queue
        for item in items:
            if item.status in (QUEUED, RUNNING):
                item.status, item.progress, item.message = QUEUED, 0.0, ""
                queue.items.append(item)
        queue._next_id = max((item.id for item in queue.items), default=0) + 1
        return queue
