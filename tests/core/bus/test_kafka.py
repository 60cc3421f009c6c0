"""What only the Kafka bus does: partitions shared by a group, namespaces, topic settings, outages."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka.admin import ConfigResource, ConfigResourceType, NewPartitions
from kafka.partitioner.default import murmur2

from tanba.core import topics
from tanba.core.bus import Message, Record, open_bus
from tanba.core.bus.kafka import PARTITIONS, KafkaBus
from tanba.core.exceptions import SettingsError, TransientError
from tanba.core.settings import Settings
from tests.services import drop_later

pytestmark = pytest.mark.services


@pytest.fixture
def kafka(kafka_bootstrap: str, namespace: str) -> Iterator[KafkaBus]:
    bus = KafkaBus(kafka_bootstrap, namespace=namespace)
    yield bus
    bus.close()
    drop_later(namespace)


def partition_of(key: str, partitions: int = PARTITIONS) -> int:
    """The partition Kafka's default partitioner picks for a key (murmur2, as the Java client)."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def keys_on_every_partition(partitions: int = PARTITIONS) -> list[str]:
    keys: dict[int, str] = {}
    i = 0
    while len(keys) < partitions:
        keys.setdefault(partition_of(f"site-{i}.example.kz", partitions), f"site-{i}.example.kz")
        i += 1
    return [keys[p] for p in range(partitions)]


def test_records_of_one_key_share_a_partition_and_keep_their_order(kafka: KafkaBus) -> None:
    keys = keys_on_every_partition()
    kafka.publish("t", [Record(k, f"{k}/{i}".encode()) for i in range(5) for k in keys])
    seen = list(kafka.replay("t"))
    assert len(seen) == 5 * len(keys)
    for k in keys:
        mine = [m for m in seen if m.key == k]
        assert {m.partition for m in mine} == {partition_of(k)}
        assert [m.value for m in mine] == [f"{k}/{i}".encode() for i in range(5)]


def test_members_of_a_group_share_the_partitions(kafka: KafkaBus) -> None:
    keys = keys_on_every_partition()
    kafka.publish("t", [Record(k, f"{k}/{i}".encode()) for i in range(25) for k in keys])
    a, b = kafka.consumer("g", ["t"]), kafka.consumer("g", ["t"])
    by_member: dict[str, list[Message]] = {"a": [], "b": []}
    done: set[bytes] = set()
    deadline = time.monotonic() + 60
    while len(done) < 100 and time.monotonic() < deadline:
        for name, member in (("a", a), ("b", b)):
            got = member.poll(3, 0.2)  # small batches, so both join before all is read
            member.commit(got)
            by_member[name] += got
            done.update(m.value for m in got)
    a.close()
    b.close()
    assert len(done) == 100
    assert by_member["a"] and by_member["b"], "one member read everything"
    assert kafka.group_lag("g", ["t"]) == 0


# One member of group "g" on topic "t", in a process of its own (two kafka-python clients
# in one process stall each other's fetches, which no deployment does): polls 0.05 s and
# asks its lag before every poll (a crawler asks once a second, between polls of 0.5 s:
# the same race, made more likely); once the flag file exists, 400 more polls; prints
# how many messages it read.
_MEMBER = """
import sys, pathlib
from tanba.core.bus.kafka import KafkaBus
bus = KafkaBus(sys.argv[1], namespace=sys.argv[2])
member = bus.consumer("g", ["t"], on_revoked=lambda partitions: None)
flag, read, polls, after = pathlib.Path(sys.argv[3]), 0, 0, 0
while after < 400:
    member.lag()
    read += len(member.poll(10, 0.05))
    polls += 1
    after += flag.exists()
print(read)
member.close()
bus.close()
"""


def test_members_asking_their_lag_between_short_polls_still_read_everything(
    kafka: KafkaBus, kafka_bootstrap: str, namespace: str, tmp_path: Path
) -> None:
    """A crawler asks its lag between polls (the lag gauge). Asked through the member's
    own client, a cooperative rebalance left a member fetching nothing: 10 of its 100
    messages in 96 polls, and a crawl that never ended. Bounded by polls, not time: a
    member that fetches reads its 100 in about 10 polls of the 400."""
    flag = tmp_path / "published"
    kafka.ensure_topics(["t"])
    members = [
        subprocess.Popen(
            [sys.executable, "-c", _MEMBER, kafka_bootstrap, namespace, str(flag)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    try:
        # Both own partitions (client ids carry the pid): the rebalance is done. Bounded: a
        # member that never joins (see the test below) fails here instead of hanging CI.
        for _ in range(1200):
            if len([m for m in kafka.group_members("g").values() if m]) == 2:
                break
            time.sleep(0.1)
        else:
            pytest.fail(f"the two members never shared the partitions: {kafka.group_members('g')}")
        kafka.publish("t", [Record(k, b"x") for k in keys_on_every_partition() * 50][:200])
        flag.touch()
        read = [int(m.communicate(timeout=600)[0]) for m in members]
    finally:
        for m in members:
            m.kill()
    assert sum(read) == 200, read


def test_a_join_that_finishes_between_two_polls_is_still_applied(
    kafka: KafkaBus, kafka_bootstrap: str, namespace: str
) -> None:
    """kafka-python 3.0.12 left a member "rebalancing" for good when a rejoin asked for by a
    metadata change alone finished between two polls (see kafka._hold_rejoin): partitions
    added to the topic were never read. The race is made here, not waited for: a poll of 0 ms
    starts the join, and the next poll comes once the join has finished."""
    kafka.ensure_topics(["t"])
    member = kafka.consumer("g", ["t"], on_revoked=lambda partitions: None)
    for _ in range(100):
        member.poll(10, 0.5)
        if member._client is not None and member._client.assignment():  # type: ignore[attr-defined]
            break
    client = member._client  # type: ignore[attr-defined]
    coordinator = client._coordinator
    topic = kafka.topic_name("t")
    kafka._admin_client().create_partitions({topic: NewPartitions(total_count=PARTITIONS + 2)})
    for _ in range(300):  # the member learns of the new partitions: it needs to rejoin
        client._client.cluster.request_update()
        if len(coordinator._metadata_snapshot.get(topic, ())) == PARTITIONS + 2:
            break
        time.sleep(0.1)
    assert coordinator.need_rejoin()
    member.poll(10, 0.0)  # starts the join and returns at once
    for _ in range(300):
        if coordinator._join_task is None or coordinator._join_task.is_done:
            break
        time.sleep(0.1)
    publisher = KafkaBus(kafka_bootstrap, namespace=namespace)  # knows all the partitions
    publisher.publish("t", [Record(k, b"x") for k in keys_on_every_partition(PARTITIONS + 2)])
    publisher.close()
    read: list[Message] = []
    for _ in range(400):
        read += member.poll(10, 0.05)
    member.close()
    assert sorted({m.partition for m in read}) == list(range(PARTITIONS + 2))


def test_a_members_lag_is_read_without_its_own_client(kafka: KafkaBus) -> None:
    """The deterministic half of the test above: the member's client is never asked."""
    keys = keys_on_every_partition()
    kafka.publish("t", [Record(k, b"x") for k in keys])
    member = kafka.consumer("g", ["t"], on_revoked=lambda partitions: None)
    got: list[Message] = []
    while len(got) < len(keys):
        got += member.poll(10, 0.5)
    member.commit(got[:1])

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the lag asked the member's own client")

    client = member._client  # type: ignore[attr-defined]
    for name in ("committed", "end_offsets", "beginning_offsets"):
        setattr(client, name, refuse)
    assert member.lag() == len(keys) - 1
    member.close()


def test_commit_covers_only_the_partitions_of_the_given_messages(kafka: KafkaBus) -> None:
    first, second = keys_on_every_partition()[:2]
    kafka.publish("t", [Record(first, b"1a"), Record(second, b"2a"), Record(first, b"1b")])
    consumer = kafka.consumer("g", ["t"])
    got: list[Message] = []
    while len(got) < 3:
        got += consumer.poll(10, 0.5)
    consumer.commit([m for m in got if m.key == first])
    consumer.close()
    again = kafka.consumer("g", ["t"])
    redelivered: list[Message] = []
    for _ in range(10):
        redelivered += again.poll(10, 0.5)
        if redelivered:
            break
    assert [m.value for m in redelivered] == [b"2a"]
    again.close()


def test_names_carry_the_namespace_on_the_broker_only(kafka: KafkaBus, namespace: str) -> None:
    kafka.publish(topics.WORKS, [Record("w1", b"v1")])
    admin = kafka._admin_client()
    assert f"{namespace}.{topics.WORKS}" in admin.list_topics()
    assert [m.topic for m in kafka.replay(topics.WORKS)] == [topics.WORKS]


def test_the_registry_topics_are_compacted_and_others_are_not(
    kafka: KafkaBus, namespace: str
) -> None:
    kafka.ensure_topics([topics.WORKS, topics.ORGANISATIONS, topics.MEDIA])
    admin = kafka._admin_client()
    policies = {}
    for name in (topics.WORKS, topics.ORGANISATIONS, topics.MEDIA):
        result = admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, f"{namespace}.{name}")], config_filter="all"
        )
        policies[name] = _config_value(result, "cleanup.policy")
        partitions = admin.describe_topics([f"{namespace}.{name}"])[0]["partitions"]
        assert len(partitions) == PARTITIONS
    assert policies == {
        topics.WORKS: "compact",
        topics.ORGANISATIONS: "compact",
        topics.MEDIA: "delete",
    }


def test_the_partitions_setting_sizes_new_topics_and_crawl_jobs_keep_their_floor(
    kafka_bootstrap: str, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TANBA_BUS", f"kafka://{kafka_bootstrap}")
    monkeypatch.setenv("TANBA_NAMESPACE", namespace)
    monkeypatch.setenv("TANBA_KAFKA_PARTITIONS", "24")
    bus = open_bus(Settings.from_env())
    try:
        bus.ensure_topics([topics.MEDIA, topics.CRAWL_JOBS])
        admin = bus._admin_client()  # type: ignore[attr-defined]
        for name in (topics.MEDIA, topics.CRAWL_JOBS):
            described = admin.describe_topics([f"{namespace}.{name}"])[0]
            assert len(described["partitions"]) == 24, name
    finally:
        bus.close()
        drop_later(namespace)


def test_a_partitions_setting_out_of_range_says_what_to_write(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TANBA_KAFKA_PARTITIONS", "0")
    with pytest.raises(SettingsError, match="TANBA_KAFKA_PARTITIONS must be between 1 and 1024"):
        Settings.from_env()


def _config_value(result: object, name: str) -> str:
    """Find a config entry's value in describe_configs' nested answer, whatever its shape."""
    stack = [result]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if item.get("name") == name and "value" in item:
                return str(item["value"])
            if name in item and isinstance(item[name], dict) and "value" in item[name]:
                return str(item[name]["value"])
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)
        elif hasattr(item, "__dict__"):
            stack.append(vars(item))
    raise AssertionError(f"{name} not in {result!r}")


def test_an_unreachable_broker_is_a_transient_error_and_poll_just_waits() -> None:
    bus = KafkaBus("127.0.0.1:1", namespace=f"t{uuid.uuid4().hex[:8]}", connect_timeout_ms=1000)
    with pytest.raises(TransientError, match="scripts/services status kafka"):
        bus.publish("t", [Record("k", b"v")])
    with pytest.raises(TransientError):
        list(bus.replay("t"))
    consumer = bus.consumer("g", ["t"])
    assert consumer.poll(10, 0.1) == []
    consumer.close()
    bus.close()


def test_a_replay_reads_in_chunks_and_misses_nothing(kafka: KafkaBus) -> None:
    # A million works must not be held in memory at once: the replay hands out chunks.
    kafka.replay_chunk = 3
    keys = keys_on_every_partition()
    records = [Record(keys[i % len(keys)], f"v{i}".encode()) for i in range(20)]
    kafka.publish("tanba.test-chunks", records)
    seen = list(kafka.replay("tanba.test-chunks"))
    assert sorted(m.value for m in seen) == sorted(r.value for r in records)
    per_partition: dict[int, list[int]] = {}
    for m in seen:
        per_partition.setdefault(m.partition, []).append(m.offset)
    assert all(offsets == sorted(set(offsets)) for offsets in per_partition.values())
    after = {p: offsets[1] for p, offsets in per_partition.items()}
    rest = list(kafka.replay("tanba.test-chunks", after=after))
    assert len(rest) == 20 - 2 * len(per_partition)


def test_record_checksums_are_computed_in_c() -> None:
    """kafka-python checks every fetched batch's CRC-32C, in pure Python unless the ``crc32c``
    extension is installed (pyproject's ``kafka-python[crc32c]``): without it the checks were
    a fifth of the matcher's CPU in bench/pipeline_throughput.py."""
    from kafka.record import util

    assert util.crc32c_c is not None, "pip install 'kafka-python[crc32c]' (scripts/setup does)"
    assert util.calc_crc32c(memoryview(b"123456789")) == 0xE3069283  # the check value
