"""Record sinks for crawler tests: a list, and one whose bus is full until told otherwise."""

from __future__ import annotations

from tanba.core.bus import Record
from tanba.core.exceptions import DiskFull
from tanba.core.schemas.base import decode
from tanba.core.schemas.media import MediaDiscovered


class ListSink:
    """Keeps every record added; counts flushes."""

    def __init__(self) -> None:
        self.records: list[Record] = []
        self.flushes = 0

    def add(self, record: Record) -> None:
        self.records.append(record)

    def flush(self) -> None:
        self.flushes += 1

    def events(self) -> list[MediaDiscovered]:
        return [decode(r.value, MediaDiscovered) for r in self.records]


class FullSink(ListSink):
    """Keeps records but cannot publish them until ``space_back`` is set (as BatchPublisher)."""

    space_back = False

    def add(self, record: Record) -> None:
        super().add(record)
        if not self.space_back:
            raise DiskFull("disk full: cannot write the embedded bus (test)")

    def flush(self) -> None:
        if not self.space_back:
            raise DiskFull("disk full: cannot write the embedded bus (test)")
        super().flush()
