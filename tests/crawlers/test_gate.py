"""tanba.crawlers.gate: refused writes pause the crawl, go through in order, and resume it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from tanba.core.exceptions import DiskFull
from tanba.crawlers.gate import MAX_RETRY_S, Repeats, WriteGate
from tanba.crawlers.stats import TargetStats


class Disk:
    """A disk that is full for its first ``full_rounds`` retry rounds; records what it wrote."""

    def __init__(self, full_rounds: int) -> None:
        self.full_rounds = full_rounds
        self.written: list[str] = []
        self.delays: list[float] = []
        self.now = 0.0  # the time the sleeps have passed

    def writer(self, what: str) -> Callable[[], str]:
        def write() -> str:
            if self.full_rounds > 0:
                raise DiskFull(f"disk full: cannot write {what} (test)")
            self.written.append(what)
            return f"{what} written"

        return write

    async def sleep(self, seconds: float) -> None:
        # Each retry round starts after a sleep; the disk frees up after full_rounds of them.
        self.delays.append(seconds)
        self.now += seconds
        self.full_rounds -= 1
        await asyncio.sleep(0)  # others run meanwhile, as during a real wait


class Engine:
    """Records what the gate asked of Scrapy's engine."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def pause(self) -> None:
        self.calls.append("pause")

    def unpause(self) -> None:
        self.calls.append("unpause")


def gate_for(
    disk: Disk, engine: Engine | None = None, name: str = "kino", repeats: Repeats | None = None
) -> WriteGate:
    return WriteGate(
        name,
        TargetStats(),
        engine=lambda: engine,
        sleep=disk.sleep,
        repeats=repeats or Repeats(monotonic=lambda: disk.now),
    )


def test_a_write_that_goes_through_returns_at_once() -> None:
    disk = Disk(full_rounds=0)
    engine = Engine()
    gate = gate_for(disk, engine)
    assert asyncio.run(gate.write(disk.writer("page"))) == "page written"
    assert disk.delays == [] and engine.calls == [] and gate.tally.paused == 0


def test_refused_writes_pause_once_go_through_in_order_and_resume(
    caplog: pytest.LogCaptureFixture,
) -> None:
    disk = Disk(full_rounds=3)  # refused at first, and in the first two retry rounds
    engine = Engine()
    gate = gate_for(disk, engine)

    async def three_writes() -> list[str]:
        writes = [gate.write(disk.writer(w)) for w in ("page", "media", "blob")]
        return list(await asyncio.gather(*writes))

    with caplog.at_level(logging.WARNING, logger="tanba.crawlers.gate"):
        results = asyncio.run(three_writes())
    assert results == ["page written", "media written", "blob written"]
    assert disk.written == ["page", "media", "blob"]
    assert engine.calls == ["pause", "unpause"] and gate.tally.paused == 1 and not gate.paused
    # Backoff doubles: the disk was still full after the 1 s and 2 s waits.
    assert disk.delays == [1.0, 2.0, 4.0]
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == (
        "kino: disk full: cannot write page (test); crawl paused, nothing fetched is lost"
    )
    assert sum("crawl paused" in m for m in messages) == 1
    # Rounds after 1, 3 and 7 s: the line is said once in its 30 s.
    assert sum(m.startswith("kino: still paused: disk full") for m in messages) == 1
    assert messages[-1] == "kino: writes succeed again; crawl resumed"


def test_many_targets_waiting_for_one_disk_say_each_line_once_a_window(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # 200 targets behind one full disk, refused for 8 rounds (1 + 2 + ... + 30 s of
    # waits: past one 30 s window): a line a target a round would be 1,800 lines.
    disk = Disk(full_rounds=8 * 200)
    repeats = Repeats(monotonic=lambda: disk.now / 200)  # 200 gates share each round's time
    gates = [gate_for(disk, name=f"site{i}", repeats=repeats) for i in range(200)]

    async def one_write_each() -> list[str]:
        return list(await asyncio.gather(*(g.write(disk.writer("page")) for g in gates)))

    with caplog.at_level(logging.WARNING, logger="tanba.crawlers.gate"):
        assert len(asyncio.run(one_write_each())) == 200
    messages = [r.getMessage() for r in caplog.records]
    assert sum("crawl paused" in m for m in messages) == 1
    assert 2 <= sum("still paused" in m for m in messages) <= 4
    assert sum("crawl resumed" in m for m in messages) == 1
    later = [m for m in messages if "still paused" in m][1]
    assert "more times by this or other targets" in later


def test_the_wait_between_retries_stops_growing_at_the_maximum() -> None:
    disk = Disk(full_rounds=9)
    gate = gate_for(disk)
    asyncio.run(gate.write(disk.writer("page")))
    assert disk.delays == [1.0, 2.0, 4.0, 8.0, 16.0] + [MAX_RETRY_S] * 4


def test_the_retry_of_a_sink_is_its_flush_not_a_second_add() -> None:
    disk = Disk(full_rounds=2)
    gate = gate_for(disk)
    added: list[str] = []

    def add() -> None:
        added.append("record")  # kept, like BatchPublisher keeps what it could not publish
        raise DiskFull("disk full: cannot write the embedded bus (test)")

    asyncio.run(gate.write(add, retry=disk.writer("flush")))
    assert added == ["record"] and disk.written == ["flush"]


def test_a_parked_write_that_fails_otherwise_raises_in_its_caller_only() -> None:
    disk = Disk(full_rounds=2)
    gate = gate_for(disk)
    broken = {"calls": 0}

    def broken_write() -> str:
        broken["calls"] += 1
        if broken["calls"] == 1:
            raise DiskFull("disk full (test)")
        raise PermissionError("read-only file system (test)")

    async def both() -> list[object]:
        return list(
            await asyncio.gather(
                gate.write(broken_write),
                gate.write(disk.writer("media")),
                return_exceptions=True,
            )
        )

    first, second = asyncio.run(both())
    assert isinstance(first, PermissionError) and second == "media written"
    assert not gate.paused


def test_opened_waits_while_paused() -> None:
    disk = Disk(full_rounds=2)
    gate = gate_for(disk)
    order: list[str] = []

    async def run() -> None:
        async def page() -> None:
            await gate.write(disk.writer("page"))
            order.append("page written")

        async def next_download() -> None:
            await asyncio.sleep(0)  # after the page was refused
            assert gate.paused
            await gate.opened()
            order.append("download starts")

        await asyncio.gather(page(), next_download())
        await gate.opened()  # not paused: at once
        order.append("then at once")

    asyncio.run(run())
    assert order == ["page written", "download starts", "then at once"]


def test_a_write_in_a_thread_runs_off_the_loop_and_parks_like_any_other() -> None:
    import threading

    disk = Disk(full_rounds=0)
    engine = Engine()
    gate = gate_for(disk, engine)
    threads: list[str] = []

    def upload() -> str:
        threads.append(threading.current_thread().name)
        return disk.writer("blob")()

    assert asyncio.run(gate.write_in_thread(upload)) == "blob written"
    assert threads and threads[0] != threading.main_thread().name
    assert engine.calls == []

    full = Disk(full_rounds=2)  # the store refuses: the crawl pauses, then the write goes
    gate = gate_for(full, engine)
    assert asyncio.run(gate.write_in_thread(full.writer("blob"))) == "blob written"
    assert engine.calls == ["pause", "unpause"] and gate.tally.paused == 1
    assert full.written == ["blob"]
