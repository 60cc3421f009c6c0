"""Bulk registration: a catalogue's manifest fingerprinted on every core, resumable, file by file.

Contract: :func:`import_specs` registers the works of a manifest's specs.

- The manifest itself is checked first, all or nothing: a row with a missing
  owner, a bad work id, an unknown territory or licence syntax, or a work id
  used twice stops the import before any file is read, naming every bad row
  (these are the rights holder's typing, to be fixed in one go).
- Files are then fingerprinted ``workers`` at a time (one decoder sandbox each,
  so every core decodes) and registered in batches of ``batch`` works: a batch
  is durable on the works topic when it is recorded in the import's journal
  (``home/imports/<manifest>.done``, one line per manifest row, fsync'd).
- A file that cannot be registered (missing, unreadable, not media) is
  reported with its row and the reason, and the import goes on.
- Run again after a crash or ``kill -9``, the import skips the rows its journal
  holds; a batch published but not yet journaled is registered again, which
  changes nothing (a work is its latest event on the compacted topic).

Why threads and not processes: each thread only waits on its own decoder
child (:class:`~tanba.fingerprint.sandbox.Sandbox`), which does the work, so
two threads keep two cores busy; the registry, the blob store and the bus stay
in this process.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tanba.core.exceptions import InputError
from tanba.core.schemas.works import Work
from tanba.core.wiring import App
from tanba.fingerprint.compute import memory_budget
from tanba.fingerprint.registration import WorkSpec, build_work, check_spec
from tanba.fingerprint.sandbox import Sandbox

BATCH = 200


@dataclass
class ImportProgress:
    """Where an import stands: rows in the manifest, done before this run, and this run's tally."""

    total: int
    skipped: int = 0  # registered by an earlier run (in the journal)
    registered: int = 0
    failed: list[str] = field(default_factory=list)  # "WHERE: reason", one per row
    started: float = field(default_factory=time.monotonic)

    @property
    def done(self) -> int:
        return self.skipped + self.registered + len(self.failed)

    def line(self) -> str:
        """One line for a terminal: counts and the rate of this run."""
        elapsed = max(time.monotonic() - self.started, 1e-6)
        rate = (self.registered + len(self.failed)) / elapsed
        return (
            f"works import: {self.done}/{self.total} rows, {self.registered} registered, "
            f"{self.skipped} already done, {len(self.failed)} failed, {rate:.1f} files/s"
        )


def import_specs(
    app: App,
    specs: Sequence[WorkSpec],
    journal: Path,
    *,
    workers: int | None = None,
    batch: int = BATCH,
    progress: Callable[[ImportProgress], None] | None = None,
) -> tuple[list[Work], ImportProgress]:
    """Register ``specs``; returns this run's works and the tally (see the module doc)."""
    problems = [p for p in (_problem(app, s) for s in specs) if p]
    ids = [s.work_id for s in specs if s.work_id]
    problems += [
        f"work id {i!r} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:
        raise InputError("nothing was registered:\n  " + "\n  ".join(problems))
    done = _read_journal(journal)
    todo = [s for s in specs if _row_key(s) not in done]
    tally = ImportProgress(total=len(specs), skipped=len(specs) - len(todo))
    registered: list[Work] = []
    pending: list[tuple[WorkSpec, Work]] = []
    local = threading.local()
    sandboxes: list[Sandbox] = []

    def fingerprint(spec: WorkSpec) -> Work:
        box = getattr(local, "sandbox", None)
        if box is None:
            box = local.sandbox = Sandbox(memory_budget(app.settings))
            sandboxes.append(box)
        return build_work(app, spec, sandbox=box)

    def flush() -> None:
        if not pending:
            return
        app.works.register([w for _, w in pending])
        _append_journal(journal, [_row_key(s) for s, _ in pending])
        registered.extend(w for _, w in pending)
        tally.registered += len(pending)
        pending.clear()
        if progress is not None:
            progress(tally)

    count = workers or os.cpu_count() or 1
    try:
        with ThreadPoolExecutor(max_workers=count, thread_name_prefix="works-import") as pool:
            for spec, future in _in_order(pool, fingerprint, todo, window=4 * count):
                try:
                    pending.append((spec, future.result()))
                except InputError as exc:
                    tally.failed.append(str(exc))
                if len(pending) >= batch:
                    flush()
            flush()
    finally:
        for box in sandboxes:
            box.close()
    if progress is not None:
        progress(tally)
    return registered, tally


def journal_path(app: App, manifest: Path) -> Path:
    """Where an import of ``manifest`` records its progress (by the manifest's path)."""
    name = hashlib.sha256(str(manifest.resolve()).encode()).hexdigest()[:16]
    return app.settings.path("imports", f"{manifest.stem}-{name}.done")


def _problem(app: App, spec: WorkSpec) -> str:
    try:
        check_spec(app, spec)
    except InputError as exc:
        return str(exc)
    return ""


def _row_key(spec: WorkSpec) -> str:
    """A manifest row, as the journal names it: where it stands and which file it names."""
    return f"{spec.where}\t{spec.path}"


def _in_order(
    pool: ThreadPoolExecutor,
    work: Callable[[WorkSpec], Work],
    specs: Sequence[WorkSpec],
    window: int,
) -> Iterator[tuple[WorkSpec, Future[Work]]]:
    """Each spec with its future, in manifest order, at most ``window`` submitted ahead.

    In order, so the journal grows as a prefix of the manifest is done; bounded, so a
    manifest of a million rows does not hold a million futures.
    """
    queue: list[tuple[WorkSpec, Future[Work]]] = []
    for spec in specs:
        queue.append((spec, pool.submit(work, spec)))
        if len(queue) >= window:
            yield queue.pop(0)
    yield from queue


def _read_journal(journal: Path) -> set[str]:
    try:
        text = journal.read_text(encoding="utf-8")
    except FileNotFoundError:
        return set()
    # A line cut by a crash has no newline: it was not durable, so it does not count.
    lines = text.split("\n")
    return set(lines[:-1])


def _append_journal(journal: Path, keys: Sequence[str]) -> None:
    with open(journal, "a", encoding="utf-8") as f:
        f.write("".join(f"{k}\n" for k in keys))
        f.flush()
        os.fsync(f.fileno())
