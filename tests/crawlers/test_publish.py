"""tanba.crawlers.publish: batches by size and age, nothing lost at flush, retry after a failure."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.exceptions import TransientError
from tanba.crawlers.publish import BatchPublisher


class FlakyBus:
    def __init__(self) -> None:
        self.batches: list[list[Record]] = []
        self.down = False

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        if self.down:
            raise TransientError("bus down")
        self.batches.append(list(records))


def rec(n: int) -> Record:
    return Record(key="kino.example.kz", value=str(n).encode())


def test_publishes_when_the_batch_is_full() -> None:
    bus = FlakyBus()
    publisher = BatchPublisher(bus, "t", max_records=3)  # type: ignore[arg-type]
    for n in range(7):
        publisher.add(rec(n))
    assert [len(b) for b in bus.batches] == [3, 3]
    publisher.flush()
    assert [len(b) for b in bus.batches] == [3, 3, 1]
    assert publisher.published == 7 and publisher.pending == 0


def test_tick_publishes_records_older_than_the_delay() -> None:
    now = [100.0]
    bus = FlakyBus()
    publisher = BatchPublisher(bus, "t", max_delay_s=0.5, monotonic=lambda: now[0])  # type: ignore[arg-type]
    publisher.add(rec(1))
    now[0] += 0.4
    publisher.tick()
    assert bus.batches == []
    now[0] += 0.1
    publisher.tick()
    assert bus.batches == [[rec(1)]]


def test_failed_publish_keeps_the_records_for_the_next_flush() -> None:
    bus = FlakyBus()
    publisher = BatchPublisher(bus, "t", max_records=100)  # type: ignore[arg-type]
    publisher.add(rec(1))
    bus.down = True
    with pytest.raises(TransientError):
        publisher.flush()
    publisher.add(rec(2))
    bus.down = False
    publisher.flush()
    assert bus.batches == [[rec(1), rec(2)]]


def test_with_the_embedded_bus(tmp_path) -> None:  # type: ignore[no-untyped-def]
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    publisher = BatchPublisher(bus, "tanba.media", max_records=2)
    for n in range(3):
        publisher.add(rec(n))
    publisher.flush()
    assert [m.value for m in bus.replay("tanba.media")] == [b"0", b"1", b"2"]
    bus.close()
