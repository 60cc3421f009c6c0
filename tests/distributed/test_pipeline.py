"""The backbone's end-to-end test on real Kafka and Elasticsearch, one process per stage.

The crawler, two fingerprint workers and two matchers (replicas sharing one group)
run as separate ``tanba`` processes over the demo web (tanba.app.demo.site); the
result must be exactly the alerts, suppressions and quarantined files the embedded
run gives. The workers' /metrics and per-batch log lines are checked on the way.
"""

from __future__ import annotations

import json
from functools import partial

import pytest

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import PARTNER, DemoSite, build
from tanba.core import topics
from tanba.core.topics import GROUP_MATCHER
from tests.distributed.harness import Cluster, Proc

pytestmark = pytest.mark.services

METRICS = (
    "tanba_messages_processed_total",
    "tanba_messages_failed_total",
    "tanba_batch_seconds",
    "tanba_consumer_lag",
)


@pytest.fixture(scope="module")
def demo() -> DemoSite:
    return build()


def lag_is_zero(proc: Proc, stage: str) -> bool:
    return proc.sample("tanba_consumer_lag", stage) == 0


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_stages_as_processes_raise_exactly_the_expected_alerts(
    cluster: Cluster, demo: DemoSite
) -> None:
    home = cluster.home
    cluster.run("works", "import", str(demo.write_manifest(home / "works.csv")))
    with SiteServer(demo.sites) as server:
        targets = demo.write_targets(home / "targets.yaml", server.port)
        matcher = cluster.worker("matcher", "matcher")
        # A second matcher in the same group shares the fingerprints' partitions: replicas
        # divide the traffic (docs/scaling.md). It finds the first's state directory
        # locked and holds the catalogue in memory.
        replica = cluster.worker("matcher-2", "matcher")
        cluster.wait(
            lambda: (
                sum(1 for owned in cluster.bus.group_members(GROUP_MATCHER).values() if owned) == 2
            ),
            120,
            "both matchers own partitions",
        )
        first = cluster.worker("fingerprint-1", "fingerprint")
        second = cluster.worker("fingerprint-2", "fingerprint")
        cluster.start("crawler", "crawl", str(targets), *server.resolve_args())
        crawled = cluster.finish("crawler").stdout()
        cluster.wait_drained()
        port = server.port

    expected = demo.alert_keys(port)
    assert sorted(cluster.wait_alerts(expected)) == sorted(expected)
    suppressed = json_lines(cluster.run("suppressions", "--json"))
    assert [(s["work_id"], s["reason"]) for s in suppressed] == [("photo-a", "licensed")]
    assert PARTNER in suppressed[0]["page_url"]
    quarantined = json_lines(cluster.run("quarantine", "--json"))
    assert sorted(q["media_url"].split(str(port))[1] for q in quarantined) == sorted(demo.broken)
    listed = json_lines(cluster.run("alerts", "list", "--json"))
    assert len(listed) == len(demo.expected)

    # Every media message was fingerprinted by one of the two workers (at least once).
    published = sum(cluster.bus.end_offsets(topics.MEDIA).values())
    assert f"media {published}" in crawled
    processed = [w.sample("tanba_messages_processed_total", "fingerprint") for w in (first, second)]
    assert sum(processed) >= published
    # Each worker exposes its metrics, its lag reaches 0, and it logs one JSON line per batch.
    workers = ((first, "fingerprint"), (second, "fingerprint"), (matcher, "matcher"))
    for proc, stage in (*workers, (replica, "matcher")):
        text = proc.metrics()
        for name in METRICS:
            assert f"# TYPE {name}" in text and f"{name}" in text
        cluster.wait(partial(lag_is_zero, proc, stage), 30, f"{proc.name}'s lag gauge at 0")
    batches = [
        [
            json.loads(line.split(" tanba.core.worker ", 1)[1])
            for line in proc.stderr().splitlines()
            if " tanba.core.worker " in line and '"event": "batch"' in line
        ]
        for proc in (matcher, replica)
    ]
    assert all(b["stage"] == "matcher" for b in batches[0] + batches[1])
    assert sum(b["messages"] for b in batches[0] + batches[1]) >= published - len(demo.broken)

    for name in ("fingerprint-1", "fingerprint-2", "matcher", "matcher-2"):
        stage = name.split("-")[0]
        assert cluster.stop(name).stdout().startswith(f"{stage}: ")
