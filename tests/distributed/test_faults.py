"""Faults in the middle of a distributed run of 512 media: nothing lost, nothing duplicated.

Each test crawls the generated web (tests.distributed.bigsite: 8 sites, 512
distinct image variants, 256 of them copies of registered works) with the
stages as separate processes on the real Kafka and Elasticsearch, breaks
something while media are still arriving, and then requires exactly the
expected alerts: every one present, each once.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tanba.app.demo.server import SiteServer
from tanba.core import topics
from tanba.core.shards import Shard
from tests.distributed.bigsite import BigSite
from tests.distributed.harness import Cluster, Proc
from tests.services import SERVICES, elastic_up

pytestmark = pytest.mark.services

PROCESSED = "tanba_messages_processed_total"
# Politeness delay per site: slow enough that the crawl is still running when the fault comes.
CRAWL_DELAY_S = "0.05"


@contextmanager
def serving(cluster: Cluster, site: BigSite) -> Iterator[tuple[SiteServer, list[str]]]:
    """Register the works and serve the web; yields the server and the crawl command."""
    cluster.extra_env["TANBA_CRAWL_DELAY_S"] = CRAWL_DELAY_S
    cluster.run("works", "import", str(site.write_manifest(cluster.home / "works.csv")))
    with SiteServer(site.sites) as server:
        targets = site.write_targets(cluster.home / "targets.yaml", server.port)
        yield server, ["crawl", str(targets), *server.resolve_args()]


def client_id(proc: Proc) -> str:
    return f"tanba-{topics.GROUP_FINGERPRINT}-{proc.popen.pid}"


def assert_exactly_expected(cluster: Cluster, site: BigSite, port: int) -> None:
    keys = cluster.wait_alerts(site.alert_keys(port))
    assert len(keys) == len(set(keys)), "an alert is stored twice"
    assert set(keys) == site.alert_keys(port)
    assert len(keys) == len(site.expected) == 256


def test_killing_one_of_two_fingerprint_workers_loses_and_duplicates_nothing(
    cluster: Cluster, bigsite: BigSite
) -> None:
    with serving(cluster, bigsite) as (server, crawl):
        cluster.worker("matcher", "matcher")
        victim = cluster.worker("fingerprint-victim", "fingerprint")
        survivor = cluster.worker("fingerprint-survivor", "fingerprint")

        def both_own_partitions() -> bool:
            members = cluster.bus.group_members(topics.GROUP_FINGERPRINT)
            return all(members.get(client_id(p)) for p in (victim, survivor))

        cluster.wait(both_own_partitions, 60, "both fingerprint workers to own partitions")
        crawler = cluster.start("crawler", *crawl)
        cluster.wait(
            lambda: victim.sample(PROCESSED, "fingerprint", 0) >= 16, 120, "the victim to work"
        )
        owned = cluster.bus.group_members(topics.GROUP_FINGERPRINT)[client_id(victim)]
        committed = cluster.bus.group_offsets(topics.GROUP_FINGERPRINT)
        assert crawler.popen.poll() is None, "the crawl ended before the kill: not midway"
        cluster.kill("fingerprint-victim")

        cluster.finish("crawler")
        cluster.wait_drained()
        port = server.port

    # The survivor took the victim's partitions over and finished what was left on them.
    members = cluster.bus.group_members(topics.GROUP_FINGERPRINT)
    assert list(members) == [client_id(survivor)]
    assert set(owned) <= set(members[client_id(survivor)])
    ends = cluster.bus.end_offsets(topics.MEDIA)
    assert any(ends[p] > committed.get((t, p), 0) for t, p in owned), (
        "nothing was left to take over"
    )
    assert sum(ends.values()) == bigsite.media_count
    assert_exactly_expected(cluster, bigsite, port)
    cluster.stop("fingerprint-survivor")
    cluster.stop("matcher")


def test_killing_the_matcher_and_starting_another_loses_and_duplicates_nothing(
    cluster: Cluster, bigsite: BigSite
) -> None:
    with serving(cluster, bigsite) as (server, crawl):
        first = cluster.worker("matcher-1", "matcher")
        cluster.worker("fingerprint", "fingerprint")
        crawler = cluster.start("crawler", *crawl)
        cluster.wait(
            lambda: first.sample(PROCESSED, "matcher", 0) >= 16, 120, "the matcher to work"
        )
        assert crawler.popen.poll() is None, "the crawl ended before the kill: not midway"
        cluster.kill("matcher-1")
        partial = cluster.alert_keys()
        second = cluster.worker("matcher-2", "matcher")

        cluster.finish("crawler")
        cluster.wait_drained()
        port = server.port

    assert 0 < len(partial) < len(bigsite.expected)
    assert second.sample(PROCESSED, "matcher") > 0
    assert_exactly_expected(cluster, bigsite, port)
    cluster.stop("matcher-2")
    cluster.stop("fingerprint")


def test_two_matcher_shards_one_killed_midway_raise_exactly_the_alerts(
    cluster: Cluster, bigsite: BigSite
) -> None:
    """Shards 0/2 and 1/2 each hold half the works; shard 0 is killed with SIGKILL midway."""
    shards = [Shard(i, 2) for i in (0, 1)]
    assert all(any(s.holds(e.work_id) for e in bigsite.expected) for s in shards)
    groups = [s.group(topics.GROUP_MATCHER) for s in shards]
    with serving(cluster, bigsite) as (server, crawl):
        first = cluster.worker("shard-0", "matcher", "--shard", "0/2")
        cluster.worker("shard-1", "matcher", "--shard", "1/2")
        cluster.worker("fingerprint", "fingerprint")
        crawler = cluster.start("crawler", *crawl)
        cluster.wait(lambda: first.sample(PROCESSED, "matcher", 0) >= 16, 120, "shard 0 to work")
        assert crawler.popen.poll() is None, "the crawl ended before the kill: not midway"
        cluster.kill("shard-0")
        again = cluster.worker("shard-0-again", "matcher", "--shard", "0/2")
        cluster.finish("crawler")
        cluster.wait_drained(matchers=groups)
        port = server.port
    assert again.sample(PROCESSED, "matcher") > 0
    assert_exactly_expected(cluster, bigsite, port)
    for name in ("shard-0-again", "shard-1", "fingerprint"):
        cluster.stop(name)


def services(action: str) -> None:
    subprocess.run([str(SERVICES), action, "elasticsearch"], check=True, timeout=600)


def test_elasticsearch_down_midway_delays_alerts_and_loses_none(
    cluster: Cluster, bigsite: BigSite
) -> None:
    try:
        with serving(cluster, bigsite) as (server, crawl):
            matcher = cluster.worker("matcher", "matcher")
            cluster.worker("fingerprint", "fingerprint")
            crawler = cluster.start("crawler", *crawl)
            cluster.wait(lambda: len(cluster.alert_keys()) >= 10, 120, "the first alerts")
            assert crawler.popen.poll() is None, "the crawl ended before the outage: not midway"
            services("stop")
            assert not elastic_up()
            # The matcher cannot store alerts, so it commits nothing and fingerprints pile up.
            cluster.wait(
                lambda: cluster.lags()[1] > 0 and "unreachable" in matcher.stderr(),
                120,
                "the matcher to hold its batch while Elasticsearch is down",
            )
            services("start")
            cluster.finish("crawler")
            cluster.wait_drained()
            port = server.port
    finally:
        if not elastic_up():
            services("start")

    assert_exactly_expected(cluster, bigsite, port)
    cluster.stop("matcher")  # it waited out the outage instead of dying
    cluster.stop("fingerprint")
