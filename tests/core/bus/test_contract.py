"""The bus contract, run on every implementation (the ``bus`` fixture of tests/support/backends.py)."""

from __future__ import annotations

import uuid

import pytest

from tanba.core.bus import Bus, Record
from tanba.core.bus.embedded import EmbeddedBus


def _topic() -> str:
    return f"test.{uuid.uuid4().hex[:10]}"


def _drain(consumer, want: int, rounds: int = 40):
    got = []
    for _ in range(rounds):
        got += consumer.poll(100, 0.5)
        if len(got) >= want:
            break
    return got


def test_published_messages_reach_a_new_group_in_order(bus: Bus) -> None:
    topic = _topic()
    bus.publish(topic, [Record("site-a", f"m{i}".encode()) for i in range(5)])
    consumer = bus.consumer(f"g-{uuid.uuid4().hex[:6]}", [topic])
    got = _drain(consumer, 5)
    assert [m.value for m in got] == [f"m{i}".encode() for i in range(5)]
    assert {m.key for m in got} == {"site-a"}
    consumer.close()


def test_uncommitted_messages_are_delivered_again(bus: Bus) -> None:
    topic, group = _topic(), f"g-{uuid.uuid4().hex[:6]}"
    bus.publish(topic, [Record("k", b"one"), Record("k", b"two"), Record("k", b"three")])
    first = bus.consumer(group, [topic])
    got = _drain(first, 3)
    first.commit(got[:1])  # only "one" is done
    first.close()
    second = bus.consumer(group, [topic])
    again = _drain(second, 2)
    assert [m.value for m in again] == [b"two", b"three"]
    second.commit(again)
    second.close()
    third = bus.consumer(group, [topic])
    # Kafka gets a second to deliver anything wrongly; the embedded bus reads its file at once.
    assert third.poll(10, 0.05 if isinstance(bus, EmbeddedBus) else 1.0) == []
    third.close()


def test_groups_are_independent(bus: Bus) -> None:
    topic = _topic()
    bus.publish(topic, [Record(None, b"x")])
    a = bus.consumer(f"a-{uuid.uuid4().hex[:6]}", [topic])
    a.commit(_drain(a, 1))
    b = bus.consumer(f"b-{uuid.uuid4().hex[:6]}", [topic])
    assert [m.value for m in _drain(b, 1)] == [b"x"]
    a.close()
    b.close()


def test_replay_reads_everything_and_resumes_after_positions(bus: Bus) -> None:
    topic = _topic()
    bus.publish(topic, [Record("w1", b"v1"), Record("w2", b"v2")])
    seen = list(bus.replay(topic))
    # Keys may live on different partitions: the order is promised per key only.
    assert sorted(m.value for m in seen) == [b"v1", b"v2"]
    positions = {m.partition: m.offset for m in seen}
    bus.publish(topic, [Record("w1", b"v3")])
    assert [m.value for m in bus.replay(topic, after=positions)] == [b"v3"]
    assert [m.value for m in bus.replay(topic) if m.key == "w1"] == [b"v1", b"v3"]


def test_poll_on_an_empty_topic_returns_nothing_after_the_timeout(bus: Bus) -> None:
    consumer = bus.consumer(f"g-{uuid.uuid4().hex[:6]}", [_topic()])
    assert consumer.poll(10, 0.2) == []
    consumer.close()


@pytest.mark.parametrize("count", [1, 250])
def test_batches_of_any_size_arrive_whole(bus: Bus, count: int) -> None:
    topic = _topic()
    bus.publish(topic, [Record(str(i % 3), str(i).encode()) for i in range(count)])
    consumer = bus.consumer(f"g-{uuid.uuid4().hex[:6]}", [topic])
    got = _drain(consumer, count)
    assert sorted(int(m.value) for m in got) == list(range(count))
    consumer.close()
