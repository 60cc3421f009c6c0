"""When ``tanba run``'s stages stop: upstream finished and no group lag, on both buses.

The old rule (stop at the first empty poll once the upstream is done) loses
messages whenever a poll comes back empty while messages wait, which on Kafka
happens during a group join or rebalance and while a fetch is in flight. These
tests make that happen deterministically: :class:`SlowStart` wraps a bus so that
a stage's consumer returns nothing until its upstream has finished and then
once more, exactly the poll the old rule stopped on. Nothing is timed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tanba.app.pipeline import start_stages
from tanba.core.bus import Bus, Consumer, Message, Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.settings import Settings
from tanba.core.worker import PublishingStage, Stage, Worker

MESSAGES = 12


def quick_polls(bus: Bus) -> dict[str, float]:
    """Worker options: short polls on the embedded bus, the default on Kafka.

    A drained run ends on an empty poll, whose length decides nothing these tests assert
    (the lag does); the embedded bus answers a poll from its file at once. Kafka keeps the
    workers' half second: with 50 ms polls its chain did not finish within 120 s.
    """
    return {"poll_timeout_s": 0.05} if isinstance(bus, EmbeddedBus) else {}


class SlowStartConsumer(Consumer):
    """Polls nothing until ``upstream_done()`` was seen true at an earlier poll, then once more.

    Seen at an *earlier* poll, because the worker asks its upstream before each poll:
    when this poll returns [] for the last time, the worker had already seen the upstream
    done, so the old rule stopped right here with every message still waiting.
    """

    def __init__(self, inner: Consumer, upstream_done: Callable[[], bool]) -> None:
        self.inner = inner
        self.upstream_done = upstream_done
        self.seen_done = False
        self.held_once = False

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        if not self.seen_done:
            self.seen_done = self.upstream_done()
            return []
        if not self.held_once:
            self.held_once = True
            return []
        return self.inner.poll(max_messages, timeout_s)

    def commit(self, messages: Sequence[Message]) -> None:
        self.inner.commit(messages)

    def close(self) -> None:
        self.inner.close()

    def lag(self) -> int | None:
        return self.inner.lag()


class SlowStart(Bus):
    """A bus whose consumers start slowly (see :class:`SlowStartConsumer`); the rest is ``inner``."""

    def __init__(self, inner: Bus, upstream_done: Callable[[], bool]) -> None:
        self.inner = inner
        self.upstream_done = upstream_done
        self.consumers: list[SlowStartConsumer] = []

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        self.inner.publish(topic, records)

    def consumer(self, group: str, topics: Sequence[str]) -> Consumer:
        slow = SlowStartConsumer(self.inner.consumer(group, topics), self.upstream_done)
        self.consumers.append(slow)
        return slow

    def replay(self, topic: str, after: dict[int, int] | None = None) -> Iterator[Message]:
        return self.inner.replay(topic, after)

    def group_lag(self, group: str, topics: Sequence[str]) -> int:
        return self.inner.group_lag(group, topics)

    def close(self) -> None:
        self.inner.close()


class Upper(PublishingStage):
    """The first stage: each message, upper-cased, to the second stage's topic."""

    name = "upper"

    def __init__(self, bus: Bus, suffix: str) -> None:
        self.bus = bus
        self.group = f"upper-{suffix}"
        self.topics = (f"drain.in.{suffix}",)
        self.out = f"drain.mid.{suffix}"

    def handle(self, message: Message) -> list[Any]:
        return [(self.out, Record(message.key, message.value.upper()))]


class Collect(Stage):
    """The last stage: keeps what it was given."""

    name = "collect"

    def __init__(self, suffix: str) -> None:
        self.group = f"collect-{suffix}"
        self.topics = (f"drain.mid.{suffix}",)
        self.applied: list[bytes] = []

    def handle(self, message: Message) -> list[Any]:
        return [message.value]

    def apply(self, effects: Sequence[Any]) -> None:
        self.applied.extend(effects)


def values() -> list[bytes]:
    return [f"m{i:02d}".encode() for i in range(MESSAGES)]


def test_a_stage_whose_first_polls_come_back_empty_still_drains(
    bus: Bus, settings: Settings
) -> None:
    suffix = uuid.uuid4().hex[:8]
    collect = Collect(suffix)
    bus.publish(collect.topics[0], [Record(f"site-{i}", v) for i, v in enumerate(values())])
    slow = SlowStart(bus, lambda: True)
    stats = Worker(collect, slow, settings, **quick_polls(bus)).run(drained=lambda: True)
    assert slow.consumers[0].held_once  # the poll the old rule stopped on did happen
    assert sorted(collect.applied) == values() and stats.messages == MESSAGES
    assert bus.group_lag(collect.group, collect.topics) == 0


def test_the_chain_ends_only_when_every_stage_has_committed_everything(
    bus: Bus, settings: Settings
) -> None:
    suffix = uuid.uuid4().hex[:8]
    upper, collect = Upper(bus, suffix), Collect(suffix)
    bus.publish(upper.topics[0], [Record(f"site-{i}", v) for i, v in enumerate(values())])
    first = Worker(upper, SlowStart(bus, lambda: True), settings, **quick_polls(bus))
    # The last stage starts slowly: nothing until the first stage has finished, then one
    # more empty poll, while all the first stage's output waits on its topic.
    slow = SlowStart(bus, first.finished.is_set)
    last = Worker(collect, slow, settings, **quick_polls(bus))
    threads = start_stages([first, last], lambda: True)
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert slow.consumers[0].held_once
    assert sorted(collect.applied) == [v.upper() for v in values()]
    assert bus.group_lag(upper.group, upper.topics) == 0
    assert bus.group_lag(collect.group, collect.topics) == 0
    assert first.finished.is_set() and last.finished.is_set()


def test_group_lag_counts_every_partition_of_the_group(bus: Bus) -> None:
    suffix = uuid.uuid4().hex[:8]
    topic, group = f"lag.{suffix}", f"g-{suffix}"
    bus.publish(topic, [Record(f"site-{i}", f"m{i}".encode()) for i in range(8)])
    assert bus.group_lag(group, [topic]) == 8  # a group that never committed
    consumer = bus.consumer(group, [topic])
    got: list[Message] = []
    for _ in range(40):
        got += consumer.poll(10, 0.5)
        if len(got) >= 8:
            break
    assert bus.group_lag(group, [topic]) == 8  # polled is not done
    consumer.commit(got[:3])
    assert 0 < bus.group_lag(group, [topic]) < 8
    consumer.commit(got)
    assert bus.group_lag(group, [topic]) == 0
    consumer.close()
