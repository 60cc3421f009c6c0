"""CPU per message of the Kafka bus as the pipeline uses it, by producer batch size, in one run.

Run (the broker is scripts/services' Kafka; start it first)::

    .venv/bin/python -m bench.kafka_cpu [--bootstrap 127.0.0.1:9092] [--messages 2048]

Two kinds of records, as bench/pipeline_throughput.py's crawl makes them: crawl events
(a JSON envelope with a picture of the generated web inline, base64; the crawler
publishes 32 at a time) and fingerprint events (the fingerprint worker's, about 9 kB;
64 at a time). Each kind is published in those batches through
:meth:`KafkaBus.publish` and then read back by a group member that polls and commits
as a worker does (64 a poll), with the producer's batches at kafka-python's default
16 KiB with a linger of 5 ms (what the bus used before), at 1 MiB with that linger,
and with the bus's ``PRODUCER_OPTIONS``, in turn,
``--rounds`` times. Printed per kind and size: this process's CPU milliseconds per
message to publish and to consume (its Kafka client threads included), the broker's
CPU per message over the same span (its process from scripts/services' pid file; the
broker is shared, so other sessions' load counts too: an upper bound), the records per
produce request (kafka-python's ``records-per-request-avg``) and the wall milliseconds
of a publish and of a poll with its commit. CPU
time, not wall time: it is what the stages pay per medium on a busy machine. Each
round uses a namespace of its own, deleted at the end. Last, an idle group member's CPU
milliseconds per second while it polls with nothing to read, at the worker's 0.5 s and at
the 0.05 s the crawler's consumer thread polled at while jobs waited for a slot (before it
waited for a job's end instead), and of one lag reading (the workers' gauge, once a second).
"""

from __future__ import annotations

import argparse
import base64
import json
import math
import os
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.harness.bigsite import build, many_sites
from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.bus.kafka import PRODUCER_OPTIONS, KafkaBus

SERVICES_DIR = Path(os.environ.get("TANBA_SERVICES_DIR", "/var/cache/tanba-services"))
KAFKA_PID = SERVICES_DIR / "kafka/state/kafka.pid"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The producer's settings before (kafka-python's batch_size), and now.
SETTINGS = {
    "before": {"batch_size": 16_384, "linger_ms": 5},
    "1MiB+5ms": {"batch_size": 1 << 20, "linger_ms": 5},  # the batches alone
    "now": PRODUCER_OPTIONS,
}
FINGERPRINT_BYTES = 9_000  # a FingerprintComputed of the generated web's pictures
# (kind, topic, records a publish, a consumer's poll)
KINDS = (("crawl event", topics.MEDIA, 32, 64), ("fingerprint", topics.FINGERPRINTS, 64, 64))


def broker_cpu_s() -> float:
    """The broker's CPU seconds so far (0 when it does not run here)."""
    try:
        pid = int(KAFKA_PID.read_text().strip())
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, ValueError):
        return 0.0
    return sum(int(fields[i]) for i in (11, 12)) / CLK_TCK


def crawl_events(count: int) -> list[Record]:
    """Crawl-event-like records: the generated web's pictures inline, keyed by site."""
    site = build(pages=1, per_page=5, hosts=many_sites(max(1, count // 5)))
    out: list[Record] = []
    for host, pages in site.sites.items():
        for path, (data, ctype) in pages.items():
            if ctype.startswith("image/"):
                envelope = {
                    "schema": "tanba.media.discovered",
                    "version": 1,
                    "data": {
                        "occurrence": {"site": host, "media_url": f"http://{host}{path}"},
                        "filler": "x" * 1500,  # the occurrence's other fields
                        "body": base64.b64encode(data).decode(),
                    },
                }
                out.append(Record(host, json.dumps(envelope).encode()))
    return out[:count]


def fingerprints(events: list[Record]) -> list[Record]:
    return [Record(r.key, os.urandom(FINGERPRINT_BYTES // 2).hex().encode()) for r in events]


def measure(
    bootstrap: str, options: dict[str, int], records: dict[str, list[Record]]
) -> dict[tuple[str, str], Any]:
    bus = KafkaBus(
        bootstrap,
        namespace=f"benchkafkacpu{uuid.uuid4().hex[:8]}",
        producer_options=options,
    )
    got: dict[tuple[str, str], Any] = {}
    try:
        bus.ensure_topics([topic for _, topic, _, _ in KINDS])
        bus.publish(topics.DEAD_LETTER, [Record("warm", b"up")])  # connect the producer
        for kind, topic, per_publish, per_poll in KINDS:
            items = records[kind]

            def publish(items: list[Record] = items, per: int = per_publish, t: str = topic) -> int:
                for first in range(0, len(items), per):
                    bus.publish(t, items[first : first + per])
                return len(items)

            got[(kind, "publish")] = _timed(publish)
            got[(kind, "per request")] = _records_per_request(bus)
            consumer = bus.consumer(f"bench-{kind.replace(' ', '-')}", [topic])

            def consume(
                consumer: Any = consumer, expected: int = len(items), per: int = per_poll
            ) -> int:
                seen = 0
                deadline = time.monotonic() + 120
                while seen < expected and time.monotonic() < deadline:
                    batch = consumer.poll(per, 0.5)
                    if batch:
                        consumer.commit(batch)
                        seen += len(batch)
                return seen

            got[(kind, "consume")] = _timed(consume)
            consumer.close()
    finally:
        bus.delete_namespace()
        bus.close()
    return got


def idle(bootstrap: str, seconds: float = 10.0) -> dict[str, float]:
    """CPU ms per second of an idle member polling at each timeout, and of one lag reading."""
    bus = KafkaBus(bootstrap, namespace=f"benchkafkacpu{uuid.uuid4().hex[:8]}")
    got: dict[str, float] = {}
    try:
        bus.publish(topics.CRAWL_JOBS, [Record("a", b"x")])
        consumer = bus.consumer("bench-idle", [topics.CRAWL_JOBS])
        taken = 0
        deadline = time.monotonic() + 60
        while not taken and time.monotonic() < deadline:  # joined, and the record read
            batch = consumer.poll(10, 0.5)
            consumer.commit(batch)
            taken += len(batch)
        for timeout in (0.5, 0.05):
            cpu, wall = time.process_time(), time.monotonic()
            while time.monotonic() - wall < seconds:
                consumer.poll(10, timeout)
            got[f"polls of {timeout} s"] = (
                (time.process_time() - cpu) * 1000 / (time.monotonic() - wall)
            )
        cpu = time.process_time()
        for _ in range(10):
            consumer.lag()
        got["one lag reading (ms)"] = (time.process_time() - cpu) * 100
        consumer.close()
    finally:
        bus.delete_namespace()
        bus.close()
    return got


def _records_per_request(bus: KafkaBus) -> float:
    """kafka-python's mean records per produce request (over its last 30 s or so)."""
    producer: Any = bus._clients["producer"]
    return float(producer.metrics()["producer-metrics"]["records-per-request-avg"])


def _timed(action: Callable[[], int]) -> tuple[float, float, float, int]:
    """(client CPU ms, broker CPU ms, wall s, messages) of ``action``."""
    cpu, broker, wall = time.process_time(), broker_cpu_s(), time.monotonic()
    count = action()
    return (
        (time.process_time() - cpu) * 1000,
        (broker_cpu_s() - broker) * 1000,
        time.monotonic() - wall,
        count,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bootstrap", default="127.0.0.1:9092")
    parser.add_argument("--messages", type=int, default=2048, help="records of each kind")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    events = crawl_events(args.messages)
    records = {"crawl event": events, "fingerprint": fingerprints(events)}
    sizes = {kind: sum(len(r.value) for r in rs) / len(rs) for kind, rs in records.items()}
    results: dict[str, list[dict[tuple[str, str], Any]]] = {}
    load = [os.getloadavg()[0]]
    for _ in range(args.rounds):
        for label, options in SETTINGS.items():
            results.setdefault(label, []).append(measure(args.bootstrap, options, records))
    load.append(os.getloadavg()[0])
    print(
        f"Kafka bus CPU ms per message, {len(events)} of each kind, {args.rounds} rounds "
        f"(load average {load[0]:.1f} -> {load[1]:.1f}); broker CPU is shared: an upper bound"
    )
    header = (
        f"{'kind (mean bytes)':<24} {'producer':>8} {'publish: client':>16} {'broker':>7} "
        f"{'per req':>7} {'ms':>6} {'consume: client':>16} {'broker':>7} {'ms':>6}"
    )
    print(header)
    print("-" * len(header))
    calls = {kind: math.ceil(len(events) / per) for kind, _, per, _ in KINDS}
    polls = {kind: math.ceil(len(events) / per) for kind, _, _, per in KINDS}
    for kind, *_ in KINDS:
        for setting, rounds in results.items():
            for got in rounds:
                pub, con = got[(kind, "publish")], got[(kind, "consume")]
                label = f"{kind} ({sizes[kind]:.0f})"
                print(
                    f"{label:<24} {setting:>8} {pub[0] / pub[3]:16.3f} {pub[1] / pub[3]:7.3f} "
                    f"{got[(kind, 'per request')]:7.1f} {pub[2] * 1000 / calls[kind]:6.1f} "
                    f"{con[0] / max(1, con[3]):16.3f} {con[1] / max(1, con[3]):7.3f} "
                    f"{con[2] * 1000 / polls[kind]:6.1f}"
                )
    print(
        "an idle group member, CPU ms per second: "
        + ", ".join(f"{k} {v:.1f}" for k, v in idle(args.bootstrap).items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
