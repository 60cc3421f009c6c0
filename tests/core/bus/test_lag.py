"""Consumer lag, on every bus: the messages of a member's partitions not committed yet."""

from __future__ import annotations

import uuid

from tanba.core.bus import Bus, Record


def test_lag_counts_the_messages_not_committed(bus: Bus) -> None:
    topic, other = f"lag.{uuid.uuid4().hex[:8]}", f"other.{uuid.uuid4().hex[:8]}"
    bus.publish(topic, [Record("site-a", f"m{i}".encode()) for i in range(5)])
    bus.publish(other, [Record("site-a", b"not ours")])  # another topic's messages do not count
    consumer = bus.consumer(f"g-{uuid.uuid4().hex[:6]}", [topic])
    got = []
    for _ in range(40):
        got += consumer.poll(10, 0.5)
        if len(got) >= 5:
            break
    assert consumer.lag() == 5  # polled is not done: nothing committed yet
    consumer.commit(got[:2])
    assert consumer.lag() == 3
    consumer.commit(got)
    assert consumer.lag() == 0
    consumer.close()
