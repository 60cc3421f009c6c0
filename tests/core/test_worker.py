"""The worker runtime: commit after durable effects, dead letters, retries while a store is down."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import pytest

from tanba.core import topics
from tanba.core.bus import Message, Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.exceptions import TransientError
from tanba.core.schemas.base import decode
from tanba.core.schemas.deadletter import DeadLetter
from tanba.core.settings import Settings
from tanba.core.worker import Stage, Worker

TOPIC = "test.in"
# The embedded bus answers a poll from its file at once: a drained run's last, empty poll
# need not wait the default half second (nothing here depends on how long it waits).
POLL_S = 0.01


class Recorder(Stage):
    """Keeps effects in a list; fails on messages marked b'bad'; the store can be 'down'."""

    name = "recorder"
    group = "test-recorder"
    topics = (TOPIC,)

    def __init__(self) -> None:
        self.applied: list[bytes] = []
        self.down_for = 0  # apply raises TransientError this many times

    def handle(self, message: Message) -> list[Any]:
        if message.value == b"bad":
            raise ValueError("cannot handle this one")
        return [message.value]

    def apply(self, effects: Sequence[Any]) -> None:
        if self.down_for:
            self.down_for -= 1
            raise TransientError("store is down")
        self.applied.extend(effects)


class Backoffs(threading.Event):
    """A stop event that keeps the backoff waits the worker asks of it instead of waiting.

    ``stop_after`` sets it at that wait, as an operator's SIGTERM during an outage
    would: the worker's backoff runs on its stop event, so no test waits on a clock.
    """

    def __init__(self, stop_after: int | None = None) -> None:
        super().__init__()
        self.waits: list[float | None] = []
        self.stop_after = stop_after

    def wait(self, timeout: float | None = None) -> bool:
        self.waits.append(timeout)
        if self.stop_after is not None and len(self.waits) >= self.stop_after:
            self.set()
        return self.is_set()


def _worker(stage: Stage, bus: EmbeddedBus, settings: Settings, **options: Any) -> Worker:
    return Worker(stage, bus, settings, poll_timeout_s=POLL_S, **options)


def _setup(settings: Settings, values: list[bytes]) -> tuple[EmbeddedBus, Recorder]:
    bus = EmbeddedBus(settings.path("bus.sqlite3"))
    bus.publish(TOPIC, [Record("k", v) for v in values])
    return bus, Recorder()


def test_processes_everything_and_commits(settings: Settings) -> None:
    bus, stage = _setup(settings, [b"a", b"b", b"c"])
    stats = _worker(stage, bus, settings).run(drained=lambda: True)
    assert stage.applied == [b"a", b"b", b"c"] and stats.messages == 3
    # A second run finds nothing left: the offsets were committed.
    again = Recorder()
    _worker(again, bus, settings).run(drained=lambda: True)
    assert again.applied == []


def test_a_failing_message_goes_to_the_dead_letter_topic_and_the_rest_goes_on(
    settings: Settings,
) -> None:
    bus, stage = _setup(settings, [b"a", b"bad", b"c"])
    stats = _worker(stage, bus, settings.with_(max_attempts=2)).run(drained=lambda: True)
    assert stage.applied == [b"a", b"c"]
    letters = [decode(m.value, DeadLetter) for m in bus.replay(topics.DEAD_LETTER)]
    assert len(letters) == 1 and stats.dead_lettered == 1
    assert letters[0].attempts == 2 and "cannot handle this one" in letters[0].error
    assert letters[0].topic == TOPIC and letters[0].offset == 2


def test_a_malformed_event_is_dead_lettered_without_retries(settings: Settings) -> None:
    from tanba.core.blobs import FileBlobStore
    from tanba.core.clock import SystemClock
    from tanba.fingerprint.worker import FingerprintStage

    bus = EmbeddedBus(settings.path("bus.sqlite3"))
    bus.publish(topics.MEDIA, [Record("k", b"{not json")])
    stage = FingerprintStage(settings, bus, FileBlobStore(settings.home / "blobs"), SystemClock())
    _worker(stage, bus, settings).run(drained=lambda: True)
    [letter] = [decode(m.value, DeadLetter) for m in bus.replay(topics.DEAD_LETTER)]
    assert letter.attempts == 1 and letter.error.startswith("EventDecodeError")


def test_while_the_store_is_down_it_retries_and_commits_nothing(settings: Settings) -> None:
    bus, stage = _setup(settings, [b"a"])
    stage.down_for = 3
    backoffs = Backoffs()
    stats = _worker(stage, bus, settings, stop=backoffs).run(drained=lambda: True)
    assert stage.applied == [b"a"] and stats.messages == 1  # it came back, nothing lost
    assert backoffs.waits == [0.5, 1.0, 2.0]  # each wait twice the last
    assert bus.group_lag(stage.group, stage.topics) == 0  # committed once it was durable


def test_stopping_during_an_outage_leaves_the_batch_uncommitted(settings: Settings) -> None:
    bus, stage = _setup(settings, [b"a", b"b"])
    stage.down_for = 10**6
    backoffs = Backoffs(stop_after=3)
    stats = _worker(stage, bus, settings, stop=backoffs).run()
    assert stage.applied == [] and stats.messages == 0 and len(backoffs.waits) == 3
    assert bus.group_lag(stage.group, stage.topics) == 2
    later = Recorder()
    _worker(later, bus, settings).run(drained=lambda: True)
    assert later.applied == [b"a", b"b"]


def test_a_store_down_while_handling_is_waited_for_not_dead_lettered(settings: Settings) -> None:
    # The fingerprint stage reading a blob from an object store that does not answer.
    bus, stage = _setup(settings, [b"a", b"b"])
    down = {"left": 5}
    handle = stage.handle

    def flaky(message: Message) -> list[Any]:
        if message.value == b"b" and down["left"]:
            down["left"] -= 1
            raise TransientError("the object store does not answer")
        return handle(message)

    stage.handle = flaky  # type: ignore[method-assign]
    backoffs = Backoffs()
    stats = _worker(stage, bus, settings.with_(max_attempts=2), stop=backoffs).run(
        drained=lambda: True
    )
    assert stage.applied == [b"a", b"b"] and stats.dead_lettered == 0  # more than 2 tries
    assert list(bus.replay(topics.DEAD_LETTER)) == []
    assert backoffs.waits == [0.5, 1.0, 2.0, 4.0, 8.0]

    # Stopped during such a wait: nothing of the batch is committed, it is redone later.
    bus2, stage2 = _setup(settings.with_(home=settings.home / "second"), [b"b"])
    stage2.handle = lambda message: (_ for _ in ()).throw(TransientError("down"))  # type: ignore[method-assign]
    _worker(stage2, bus2, settings, stop=Backoffs(stop_after=2)).run(drained=lambda: True)
    assert stage2.applied == [] and bus2.group_lag(stage2.group, stage2.topics) == 1


class WideRecorder(Recorder):
    """A stage that takes its own batch size, as the matcher does (TANBA_MATCHER_BATCH_SIZE)."""

    def batch_size(self, settings: Settings) -> int:
        return settings.matcher_batch_size


def test_a_stage_may_take_larger_batches_than_the_others(settings: Settings) -> None:
    # The matcher writes a batch's alerts in one store request: its batches may be larger
    # than the other stages' without changing theirs.
    settings = settings.model_copy(update={"batch_size": 2, "matcher_batch_size": 5})
    values = [bytes([i]) for i in range(10)]
    bus, stage = _setup(settings, values)
    stats = _worker(stage, bus, settings).run(drained=lambda: True)
    assert (stats.messages, stats.batches) == (10, 5)
    bus.publish(TOPIC, [Record("k", v) for v in values])
    wide = WideRecorder()
    stats = _worker(wide, bus, settings).run(drained=lambda: True)
    # The same group: only the new ten, in two batches of five.
    assert wide.applied == values and (stats.messages, stats.batches) == (10, 2)


class Trickle:
    """A consumer whose polls return the scripted batches in turn, then nothing; an empty
    poll moves the fake clock on by its whole timeout (as a real one waits it out)."""

    def __init__(self, batches: list[list[bytes]], now: list[float]) -> None:
        self.batches = list(batches)
        self.now = now
        self.polls: list[tuple[int, float]] = []
        self.committed: list[Message] = []
        self.offset = 0

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        self.polls.append((max_messages, timeout_s))
        if not self.batches:
            self.now[0] += timeout_s
            return []
        values = self.batches.pop(0)[:max_messages]
        self.now[0] += 0.1  # each answer comes a tenth of a second later
        out = [Message(TOPIC, 0, self.offset + i, "k", v) for i, v in enumerate(values)]
        self.offset += len(out)
        return out


class Gathering(WideRecorder):
    def gather_s(self, settings: Settings) -> float:
        return settings.matcher_gather_s


def test_a_gathering_stage_polls_on_until_its_batch_is_full_or_its_time_is_up(
    settings: Settings,
) -> None:
    # The matcher's store write costs a refresh per index whatever the batch holds: a
    # batch that is not full goes on polling for TANBA_MATCHER_GATHER_S since the first.
    settings = settings.model_copy(update={"matcher_batch_size": 5, "matcher_gather_s": 0.5})
    now = [0.0]
    worker = _worker(Gathering(), EmbeddedBus(settings.path("bus.sqlite3")), settings)
    worker.monotonic = lambda: now[0]
    full = Trickle([[b"a", b"b"], [b"c"], [b"d", b"e", b"f"]], now)
    assert [m.value for m in worker._gather(full, full.poll(5, 0.5), 5)] == [
        bytes([c]) for c in b"abcde"
    ]
    # Each later poll asks for what is missing, waiting at most what is left of the time
    # (counted from the first poll's answer, at 0.1 s).
    assert [size for size, _ in full.polls] == [5, 3, 2]
    assert full.polls[1][1] == pytest.approx(0.5) and full.polls[2][1] == pytest.approx(0.4)

    now[0] = 10.0
    slow = Trickle([[b"x"], [b"y"]], now)
    batch = worker._gather(slow, slow.poll(5, 0.5), 5)
    # Two answers, then an empty poll that waits out the rest: the time is up at 10.6 s.
    assert [m.value for m in batch] == [b"x", b"y"] and now[0] == pytest.approx(10.6)
    assert len(slow.polls) == 3


def test_a_stage_that_does_not_gather_takes_one_poll_and_an_empty_poll_is_not_gathered(
    settings: Settings,
) -> None:
    settings = settings.model_copy(update={"matcher_batch_size": 5, "matcher_gather_s": 0.5})
    now = [0.0]
    plain = _worker(WideRecorder(), EmbeddedBus(settings.path("bus.sqlite3")), settings)
    plain.monotonic = lambda: now[0]
    once = Trickle([[b"a"], [b"b"]], now)
    assert [m.value for m in plain._gather(once, once.poll(5, 0.5), 5)] == [b"a"]
    gathering = _worker(Gathering(), EmbeddedBus(settings.path("bus.sqlite3")), settings)
    gathering.monotonic = lambda: now[0]
    empty = Trickle([], now)
    assert gathering._gather(empty, empty.poll(5, 0.5), 5) == []
    assert len(once.polls) == 1 and len(empty.polls) == 1


def test_a_gathering_worker_still_drains_and_commits_everything(settings: Settings) -> None:
    settings = settings.model_copy(update={"matcher_batch_size": 4, "matcher_gather_s": 0.05})
    values = [bytes([i]) for i in range(10)]
    bus, _ = _setup(settings, values)
    stage = Gathering()
    stats = _worker(stage, bus, settings).run(drained=lambda: True)
    assert stage.applied == values and (stats.messages, stats.batches) == (10, 3)
    assert _worker(Gathering(), bus, settings).run(drained=lambda: True).messages == 0
