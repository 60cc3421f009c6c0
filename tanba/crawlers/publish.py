"""Batched publishing of crawler events to the bus.

Contract: :class:`BatchPublisher` collects records for one topic and publishes
them when ``max_records`` are waiting, when :meth:`tick` finds the oldest
waiting record older than ``max_delay_s``, and on :meth:`flush`. A failed
publish keeps the records and raises; the next flush retries them, so at a
clean close (a final :meth:`flush` that returns) no record is lost.

Why batches: every publish is a durable write (an fsync on the embedded bus,
an acknowledged produce on Kafka); one per record would make the crawler's
throughput the disk's fsync rate.

Callers publish only after the bytes an event points to (blob, WARC record)
are durable, so a consumer never sees an event whose evidence is missing.
:class:`RecordSink` is what the crawler's publish pipeline needs of it (a list
does in tests).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from tanba.core.bus import Bus, Record


class RecordSink(Protocol):
    """Where crawl events go: a :class:`BatchPublisher`, or a list in tests.

    ``add`` keeps the record even when it raises (a batch it could not publish);
    ``flush`` publishes what waits, or raises and keeps it.
    """

    def add(self, record: Record) -> None: ...

    def flush(self) -> None: ...


class BatchPublisher:
    """Buffers records for one topic and publishes them in small batches."""

    def __init__(
        self,
        bus: Bus,
        topic: str,
        *,
        max_records: int = 32,
        max_delay_s: float = 0.5,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bus = bus
        self.topic = topic
        self.max_records = max_records
        self.max_delay_s = max_delay_s
        self._monotonic = monotonic
        self._pending: list[Record] = []
        self._oldest = 0.0
        self.published = 0

    def add(self, record: Record) -> None:
        """Queue one record; publishes the batch when it is full."""
        if not self._pending:
            self._oldest = self._monotonic()
        self._pending.append(record)
        if len(self._pending) >= self.max_records:
            self.flush()

    def tick(self) -> None:
        """Publish the waiting records if the oldest has waited ``max_delay_s``."""
        if self._pending and self._monotonic() - self._oldest >= self.max_delay_s:
            self.flush()

    def flush(self) -> None:
        """Publish every waiting record; on failure keep them (for a retry) and raise."""
        if not self._pending:
            return
        batch = self._pending
        self.bus.publish(self.topic, batch)
        self._pending = []
        self.published += len(batch)

    @property
    def pending(self) -> int:
        return len(self._pending)
