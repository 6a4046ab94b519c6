"""The batch queue, without Qt: items, presets, output naming, persistence, recovery, estimates.

A preset (restore settings + output options) is captured when files are queued; the panel's
options edited later replace the matching field on items that have not started, so what a row
shows is what runs. Each item is run with exactly the CLI's path (``process_file`` with
``operation_for``).

The queue must never lose work, so:

* it is saved after every change through ``app.io.json_store`` (atomic, previous generation
  kept as ``queue.json.bak``; a damaged file is set aside and the backup used);
* an item that cannot be read is left out but never dropped silently: the whole file is kept
  aside (``queue.json.corrupt-<time>``) and every readable item is loaded;
* an item's planned output and start time are saved *before* it runs. Writes are atomic, so if
  the program dies between writing the result and saving "Done", the restart finds a complete
  output at the planned name, made after the item started, and marks it Done instead of
  restoring the photo a second time into ``<name>-1``.
"""

from __future__ import annotations

import os
import string
import time
from collections.abc import Iterable
from contextlib import suppress
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from app.errors import ImageReadError, PhotomendError, UsageError
from app.io.json_store import DocumentRejected, backup_path, load_document, save_document, set_aside
from app.io.naming import default_output_path, extension_for_format, numbered_names
from app.io.reader import SUPPORTED_EXTENSIONS, probe_photo
from app.pipeline.inputs import SkippedInput, WorkItem, expand_inputs, skip_reason
from app.pipeline.operations import OPERATIONS, RestoreSettings
from app.pipeline.process_file import FileOutcome, OutputOptions
from app.validation import check_bit_depth, check_quality

QUEUED, RUNNING, DONE, FAILED, SKIPPED, CANCELLED = "Queued", "Running", "Done", "Failed", "Skipped", "Cancelled"
STATUSES = (QUEUED, RUNNING, DONE, FAILED, SKIPPED, CANCELLED)
FINISHED = (DONE, FAILED, SKIPPED, CANCELLED)
QUEUE_VERSION = 1
PATTERN_FIELDS = ("stem", "operation")
DEFAULT_PATTERN = "{stem}_restored"
MTIME_SLACK_S = 2.0  # FAT and some network shares store modification times to 2 s
MIN_OWN_PROGRESS = 0.05  # below this a running photo's own progress is too noisy to extrapolate


# --------------------------------------------------------------------------- presets


def check_pattern(pattern: str) -> None:
    """Accept only the documented plain fields, so a pattern can never reach Python internals.

    ``str.format`` would evaluate ``{stem.__class__}`` or ``{operation[0]}``; parsing with
    ``string.Formatter`` first rejects attribute and index access, conversions (``!r``) and format
    specs before any formatting happens. Raises UsageError with one line for the user.
    """
    shown = f"name pattern '{pattern}'"
    if not isinstance(pattern, str) or not pattern.strip():
        raise UsageError(f"{shown} is empty: use for example {DEFAULT_PATTERN}")
    try:
        parts = list(string.Formatter().parse(pattern))
    except ValueError as exc:
        raise UsageError(f"{shown}: {exc} (write {{{{ or }}}} for a literal brace)") from None
    for _literal, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in PATTERN_FIELDS or spec or conversion:
            written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
            raise UsageError(f"{shown}: {written} is not allowed; use {{stem}} and {{operation}} exactly as written")
    name = pattern.format(stem="x", operation="denoise")
    if any(bad in name for bad in ("/", "\\", "\0")) or name.strip() in (".", ".."):
        raise UsageError(f"{shown} must be a plain file name, without folders")


@dataclass(frozen=True)
class BatchPreset:
    """How every item queued with it is restored and written."""

    settings: RestoreSettings = field(default_factory=RestoreSettings)
    output_dir: str | None = None  # None: beside each original
    pattern: str = DEFAULT_PATTERN
    format: str | None = None  # None: the original's format
    bit_depth: int | None = None
    quality: int = 95

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["settings"] = self.settings.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "BatchPreset":
        """A preset from a saved queue; raises ValueError naming the first bad field."""
        if not isinstance(data, dict):
            raise ValueError("its preset is not an object")
        values = {name: data[name] for name in ("output_dir", "pattern", "format", "bit_depth", "quality") if name in data}
        for name in ("output_dir", "format"):
            _expect(values, name, (str, type(None)))
        _expect(values, "pattern", (str,))
        _expect(values, "bit_depth", (int, type(None)))
        _expect(values, "quality", (int,))
        preset = cls(settings=_settings_from_dict(data.get("settings", {})), **values)
        try:
            preset.validate()
        except PhotomendError as error:
            raise ValueError(str(error)) from None
        return preset

    def validate(self) -> None:
        """Refuse a preset before anything is queued or run with it (UsageError, one line)."""
        check_pattern(self.pattern)
        if self.format:
            try:
                extension_for_format(self.format)
            except PhotomendError as error:
                raise UsageError(str(error)) from None
        check_bit_depth(self.bit_depth)
        check_quality(self.quality)
        if self.settings.operation not in OPERATIONS:
            raise UsageError(f"unknown operation '{self.settings.operation}'")

    def output_options(self) -> OutputOptions:
        return OutputOptions(format=self.format, quality=self.quality, bit_depth=self.bit_depth, overwrite=False)

    def base_for(self, source: Path) -> Path:
        """The un-numbered output name for ``source`` (what the row shows as its destination)."""
        folder = Path(self.output_dir) if self.output_dir else source.parent
        ext = extension_for_format(self.format) if self.format else source.suffix
        return folder / f"{self.pattern.format(stem=source.stem, operation=self.settings.operation)}{ext}"

    def target_for(self, source: Path) -> Path:
        """Where ``source``'s result goes: pattern + format, a free name, never the original."""
        base = self.base_for(source)
        return default_output_path(base, suffix="", out_dir=base.parent, ext=base.suffix)


def _check_type(label: str, value: Any, kinds: tuple[type, ...]) -> None:
    """Type check for a hand-edited or damaged file (a bool is not a number here)."""
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        raise ValueError(f"{label} {value!r} has the wrong type")


def _expect(values: dict[str, Any], name: str, kinds: tuple[type, ...]) -> None:
    if name in values:
        _check_type(name, values[name], kinds)


_ANNOTATION_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,), "int": (int,), "float": (int, float), "bool": (bool,), "None": (type(None),),
}


def _settings_from_dict(data: Any) -> RestoreSettings:
    """RestoreSettings from JSON, each value checked against the field's annotation.

    Why: a wrong type would otherwise only surface minutes later, deep in the engine.
    """
    if not isinstance(data, dict):
        raise ValueError("its restore settings are not an object")
    for spec in fields(RestoreSettings):
        if spec.name not in data:
            continue
        kinds: tuple[type, ...] = ()
        for part in str(spec.type).split("|"):
            kinds += _ANNOTATION_TYPES.get(part.strip(), (object,))
        _check_type(f"setting {spec.name}", data[spec.name], kinds)
    settings = RestoreSettings.from_dict(data)
    if settings.operation not in OPERATIONS:
        raise ValueError(f"unknown operation {settings.operation!r}")
    return settings


# --------------------------------------------------------------------------- items


@dataclass
class BatchItem:
    """One row of the queue.

    planned / started_at: the output name chosen and the wall-clock time when the item began;
    saved before it runs so a restart can recognise a result written just before a kill.
    pixels: width x height from the header, for the throughput-based time estimate.
    """

    id: int
    source: str
    preset: BatchPreset
    status: str = QUEUED
    progress: float = 0.0  # 0..1 while running
    message: str = ""
    output: str | None = None
    seconds: float = 0.0
    size_bytes: int = 0
    pixels: int = 0
    planned: str | None = None
    started_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["preset"] = self.preset.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: Any) -> "BatchItem":
        """An item from a saved queue; raises ValueError saying what is wrong with it."""
        if not isinstance(data, dict):
            raise ValueError(f"{type(data).__name__} instead of an item")
        values = {name: data[name] for name in cls.__dataclass_fields__ if name in data and name != "preset"}
        if not isinstance(values.get("source"), str) or not values["source"]:
            raise ValueError("no source file")
        _expect(values, "id", (int,))
        for name in ("status", "message"):
            _expect(values, name, (str,))
        for name in ("output", "planned"):
            _expect(values, name, (str, type(None)))
        for name in ("progress", "seconds"):
            _expect(values, name, (int, float))
        for name in ("size_bytes", "pixels"):
            _expect(values, name, (int,))
        _expect(values, "started_at", (int, float, type(None)))
        if values.get("status", QUEUED) not in STATUSES:
            raise ValueError(f"unknown status {values['status']!r}")
        if "preset" not in data:
            raise ValueError("no preset")
        return cls(id=values.pop("id", 0), preset=BatchPreset.from_dict(data["preset"]), **values)


@dataclass
class AddResult:
    """What one add did: the new rows, and what the folder scans left out (told to the user)."""

    items: list[BatchItem] = field(default_factory=list)
    skipped: list[SkippedInput] = field(default_factory=list)
    skipped_summary: str = ""


@dataclass
class _ParsedQueue:
    """An accepted queue document: the readable items, and one reason per unreadable one."""

    items: list[BatchItem]
    bad: list[str]


def _accept_queue(document: Any) -> _ParsedQueue:
    """The shape must be right, but single bad items only get listed, never sink the good ones."""
    if not isinstance(document, dict):
        kind = "nothing (null)" if document is None else f"a {type(document).__name__}"
        raise DocumentRejected(f"it holds {kind}, not a batch queue")
    entries = document.get("items")
    if not isinstance(entries, list):
        raise DocumentRejected("it has no list of items")
    items, bad = [], []
    for number, entry in enumerate(entries, 1):
        try:
            items.append(BatchItem.from_dict(entry))
        except (ValueError, TypeError, KeyError) as exc:
            bad.append(f"item {number}: {exc}")
    return _ParsedQueue(items, bad)


# --------------------------------------------------------------------------- the queue


class BatchQueue:
    """Ordered items with the operations the queue panel offers.

    problem: one sentence for the user about what loading found damaged (said once).
    save_problem: why the last save failed, or None; saving never raises into the window.
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.items: list[BatchItem] = []
        self._next_id = 1
        self.problem: str | None = None
        self.save_problem: str | None = None

    # ----- adding ------------------------------------------------------------------------
    def add(self, paths: Iterable[str | Path], preset: BatchPreset, recursive: bool = True) -> AddResult:
        """Queue photos and folders; a file given by name that is not a photo becomes a Skipped row.

        What folder scans leave out is returned, not queued: a folder of sidecar files would
        otherwise bury the photos under hundreds of Skipped rows.
        """
        preset.validate()
        expansion = expand_inputs([Path(p) for p in paths], recursive=recursive)
        result = AddResult(skipped=expansion.skipped, skipped_summary=expansion.skipped_summary())
        for source, _root in expansion.found:
            item = BatchItem(self._next_id, str(source), preset)
            self._next_id += 1
            if source.suffix.lower() not in SUPPORTED_EXTENSIONS:
                item.status, item.message = SKIPPED, f"{source.name}: {skip_reason(source) or 'not a supported image'}"
            else:
                item.size_bytes, item.pixels = _measure(source)
            self.items.append(item)
            result.items.append(item)
        self.save()
        return result

    # ----- editing -----------------------------------------------------------------------
    def get(self, item_id: int) -> BatchItem | None:
        return next((item for item in self.items if item.id == item_id), None)

    def apply_to_queued(self, changes: dict[str, Any], item_ids: Iterable[int] | None = None) -> int:
        """Change preset fields of items not started yet (all, or those of ``item_ids``).

        Only the fields the user changed are replaced, so items queued with different restore
        settings keep them. Raises UsageError (and changes nothing) for an invalid result.
        """
        ids = None if item_ids is None else set(item_ids)
        targets = [item for item in self.items if item.status == QUEUED and (ids is None or item.id in ids)]
        updated = [(item, replace(item.preset, **changes)) for item in targets]
        for _item, preset in updated:
            preset.validate()
        for item, preset in updated:
            item.preset = preset
        if updated:
            self.save()
        return len(updated)

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
        """Drop Done and Skipped rows; failed and cancelled work stays until retried or removed."""
        self.items = [item for item in self.items if item.status not in (DONE, SKIPPED)]
        self.save()

    def retry_failed(self) -> int:
        """Queue Failed and Cancelled items again; their output name is chosen afresh when they start."""
        count = 0
        for item in self.items:
            if item.status in (FAILED, CANCELLED):
                item.status, item.message, item.progress = QUEUED, "", 0.0
                item.planned = item.started_at = None
                count += 1
        self.save()
        return count

    # ----- running -----------------------------------------------------------------------
    def next_queued(self) -> BatchItem | None:
        return next((item for item in self.items if item.status == QUEUED), None)

    def begin(self, item: BatchItem) -> WorkItem | None:
        """Plan ``item``'s output and save that plan before any work; None if it cannot run.

        The output name is chosen now, not when queued, so files written meanwhile are never
        replaced; ``base`` lets the writer move on to the next free number if another program
        takes the name while the photo is restored.
        """
        source = Path(item.source)
        try:
            base = item.preset.base_for(source)
            os.makedirs(base.parent, exist_ok=True)
            target = item.preset.target_for(source)
        except OSError as exc:
            item.status, item.message = FAILED, f"{item.preset.output_dir or source.parent}: cannot create the folder ({exc.strerror or exc})"
            self.save()
            return None
        except PhotomendError as error:
            item.status, item.message = FAILED, str(error)
            self.save()
            return None
        item.status, item.progress, item.message = RUNNING, 0.0, ""
        item.planned, item.started_at = str(target), time.time()
        self.save()
        return WorkItem(source, target, base=base)

    def finish(self, item: BatchItem, outcome: FileOutcome) -> None:
        """Record a finished run; ``outcome.target`` is the name actually written."""
        item.seconds = outcome.seconds
        item.progress = 1.0 if outcome.ok else 0.0
        if outcome.ok:
            remarks = list(outcome.report.notes)
            if outcome.report.unchanged:
                remarks += outcome.report.messages[-1:]  # e.g. no clear blur: left unchanged
            item.status, item.output, item.message = DONE, str(outcome.target), "; ".join(remarks)
        else:
            item.status, item.message = FAILED, outcome.message
        item.planned = None
        self.save()

    def fail(self, item: BatchItem, message: str) -> None:
        item.status, item.message, item.progress, item.planned = FAILED, message, 0.0, None
        self.save()

    def cancelled(self, item: BatchItem) -> None:
        item.status, item.message, item.progress, item.planned = CANCELLED, "cancelled", 0.0, None
        self.save()

    def interrupted(self, item: BatchItem) -> None:
        """Stopped by quitting, not by the user's Cancel: it runs again next time, no click needed."""
        _requeue(item)
        self.save()

    def counts(self) -> tuple[int, int]:
        """(finished, total) over items that were or are to be processed, for "7/50"."""
        relevant = [item for item in self.items if item.status != SKIPPED]
        return sum(item.status in FINISHED for item in relevant), len(relevant)

    def seconds_left(self, now: float | None = None) -> float | None:
        """Time left from measured throughput (pixels per second), None until there is a measure.

        Counting items would say "4 s left" for a 110 s photo after a few small ones. Instead
        each queued photo costs its pixels divided by the rate measured on finished items of the
        same operation (deblurring is far slower than denoising), and the running photo costs
        what its own progress predicts once it has moved far enough to trust.
        """
        now = time.time() if now is None else now
        rates = self._rates()
        left = 0.0
        own_rate: float | None = None
        for item in (item for item in self.items if item.status == RUNNING):
            elapsed = now - (item.started_at or now)
            rate = rates.get(item.preset.settings.operation) or rates.get(None)
            if item.progress >= MIN_OWN_PROGRESS and elapsed > 0:
                left += elapsed * (1.0 - item.progress) / item.progress
                own_rate = item.pixels * item.progress / elapsed if item.pixels else None
            elif rate and item.pixels:
                left += item.pixels * (1.0 - item.progress) / rate
            else:
                return None
        for item in (item for item in self.items if item.status == QUEUED):
            rate = rates.get(item.preset.settings.operation) or rates.get(None) or own_rate
            if not rate:
                return None
            left += item.pixels / rate
        return left

    def _rates(self) -> dict[str | None, float]:
        """Pixels per second of finished items, per operation and overall (key None)."""
        totals: dict[str | None, list[float]] = {}
        for item in self.items:
            if item.status == DONE and item.seconds > 0 and item.pixels > 0:
                for key in (item.preset.settings.operation, None):
                    pixels_seconds = totals.setdefault(key, [0.0, 0.0])
                    pixels_seconds[0] += item.pixels
                    pixels_seconds[1] += item.seconds
        return {key: pixels / seconds for key, (pixels, seconds) in totals.items()}

    # ----- persistence -------------------------------------------------------------------
    def save(self) -> bool:
        """Write the queue (atomic, previous generation kept); False and ``save_problem`` on failure."""
        if self.path is None:
            return True
        payload = {"version": QUEUE_VERSION, "items": [item.to_dict() for item in self.items]}
        try:
            save_document(self.path, payload)
        except (PhotomendError, OSError) as error:
            self.save_problem = f"The batch queue could not be saved: {error}"
            return False
        self.save_problem = None
        return True

    @classmethod
    def load(cls, path: Path) -> "BatchQueue":
        """Restore every item in its state; never raises, never drops an item silently.

        Queued, Failed, Cancelled, Done and Skipped come back as they were. A Running item was
        interrupted: it is Done if its complete output is on disk (see the module docstring),
        otherwise it is queued to run again.
        """
        queue = cls(path)
        loaded = load_document(path, _accept_queue, what="batch queue")
        parsed: _ParsedQueue = loaded.data if loaded.data is not None else _ParsedQueue([], [])
        problems = [loaded.problem] if loaded.problem else []
        if parsed.bad:
            origin = backup_path(path) if loaded.from_backup else path
            aside = set_aside(origin)
            kept = f"; the file is kept as {aside.name}" if aside is not None else ""
            more = f" and {len(parsed.bad) - 1} more" if len(parsed.bad) > 1 else ""
            problems.append(f"{len(parsed.bad)} unreadable item(s) in the batch queue were left out "
                            f"({parsed.bad[0]}{more}){kept}.")
        seen: set[int] = set()
        changed = bool(problems)
        for item in parsed.items:
            if item.id <= 0 or item.id in seen:
                item.id = max(seen, default=0) + 1
            seen.add(item.id)
            if item.status == RUNNING:
                _recover_interrupted(item)
                changed = True
            queue.items.append(item)
        queue._next_id = max(seen, default=0) + 1
        queue.problem = " ".join(problems) or None
        if changed:
            queue.save()
        return queue


def _measure(source: Path) -> tuple[int, int]:
    """(bytes, pixels) from the file system and the header; (0, 0) parts when unreadable (it fails when run)."""
    try:
        size = source.stat().st_size
    except OSError:
        return 0, 0
    try:
        width, height = probe_photo(source)
    except (ImageReadError, PhotomendError, OSError, ValueError):
        return size, 0
    return size, width * height


def _recover_interrupted(item: BatchItem) -> None:
    output = _finished_output(item)
    if output is None:
        _requeue(item)
        return
    item.status, item.output, item.message, item.progress = DONE, str(output), "finished before the restart", 1.0
    with suppress(OSError):  # its time, measured by the file system, still counts for the estimate
        item.seconds = max(0.0, os.lstat(output).st_mtime - (item.started_at or 0.0))
    item.planned = None


def _requeue(item: BatchItem) -> None:
    item.status, item.message, item.progress = QUEUED, "interrupted; it runs again", 0.0
    item.planned = item.started_at = None


def _finished_output(item: BatchItem) -> Path | None:
    """The complete output an interrupted item left, if any.

    Atomic writes mean any file at the planned name is complete. It is ours when it was made
    after the item started and has the source's dimensions; the writer may have moved on to
    the next free numbers, so those are looked at too while they exist.
    """
    if item.planned is None or item.started_at is None:
        return None
    planned, source = Path(item.planned), Path(item.source)
    try:
        base = item.preset.base_for(source)
    except PhotomendError:
        base = planned
    try:
        expected = probe_photo(source)
    except (PhotomendError, OSError, ValueError):
        expected = None
    for candidate in [planned, *numbered_names(base, planned)]:
        try:
            made = os.lstat(candidate).st_mtime
        except OSError:
            return None
        if made + MTIME_SLACK_S < item.started_at or not candidate.is_file():
            continue
        try:
            if expected is None or probe_photo(candidate) == expected:
                return candidate
        except (PhotomendError, OSError, ValueError):
            continue
    return None
