"""Crawl jobs on the real Kafka: two crawler processes share 200 loopback sites.

The floor of issue 19: every site crawled exactly once per job; no site ever above its
per-domain concurrency (the loopback server records the requests each host has in
flight, every answer held a little so that overlapping crawls would show); one crawler
killed with SIGKILL mid-run and the other finishing its sites, with exactly the
expected alerts. Crawlers are the real ``tanba worker crawler`` processes, in a
namespace of their own; only they are killed, never a shared server.

"Mid-run" is by construction, not timing: the second half of the sites answer nothing
until the test opens a gate, so when both crawlers have every job slot waiting there,
the killed one certainly holds unfinished jobs (and their partitions' later ones).
"""

from __future__ import annotations

import json
import threading
import urllib.request
from pathlib import Path

import pytest

from bench.harness.bigsite import BigSite, build, many_sites
from bench.harness.counting import CountingServer
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.topics import CRAWL_JOBS, CRAWLS, GROUP_CRAWLER, MEDIA
from tests.distributed.harness import Cluster, Proc

pytestmark = pytest.mark.services

SITES = 200
LIMIT = 2  # TANBA_CRAWL_CONCURRENCY_PER_DOMAIN of the crawlers
JOBS = 4  # TANBA_CRAWLER_JOBS: sites one crawler crawls at once
CRAWL = "20260601T000000Z"
HOLD_S = 0.01


@pytest.fixture(scope="module")
def web() -> BigSite:
    # A home page linking 2 pages of 1 picture each: 6 requests a site with robots.txt.
    return build(pages=2, per_page=1, hosts=many_sites(SITES))


@pytest.fixture(scope="module")
def wide_web() -> BigSite:
    # A home page linking 4 pages of 1 picture each: a crawler allowed more than LIMIT
    # requests to a site at once makes 3 or 4 (seen with the limit raised to 8).
    return build(pages=4, per_page=1, hosts=many_sites(SITES))


def crawl_jobs(proc: Proc) -> list[dict]:
    """The crawler's one JSON line per job."""
    return [
        json.loads(line[line.index("{") :])
        for line in proc.stderr().splitlines()
        if '"event": "crawl_job"' in line
    ]


def members_with_partitions(cluster: Cluster) -> int:
    return sum(1 for owned in cluster.bus.group_members(GROUP_CRAWLER).values() if owned)


def start_crawlers(cluster: Cluster, count: int) -> list[Proc]:
    procs = [cluster.worker(f"crawler-{i}", "crawler") for i in range(count)]
    cluster.wait(
        lambda: members_with_partitions(cluster) == count, 120, f"{count} crawlers own partitions"
    )
    return procs


def publish_jobs(cluster: Cluster, web: BigSite, server: CountingServer) -> None:
    """Register the sites (100 a file: a target records at most 100 --resolve entries) and
    publish one crawl's jobs with ``tanba crawl --no-wait``."""
    home = cluster.home
    hosts = list(web.sites)
    for first in range(0, SITES, 100):
        path = web.write_targets(home / f"targets-{first}.yaml", server.port, first, 100)
        cluster.run(
            "targets", "import", str(path), *server.resolve_args(hosts[first : first + 100])
        )
    printed = cluster.run("crawl", "--no-wait", "--crawl-id", CRAWL)
    assert f"crawl {CRAWL}: {SITES} jobs published" in printed


def wait_jobs_done(cluster: Cluster, timeout: float = 300) -> None:
    # 300 s is about 5 times a whole run of either test under a full suite: a hang, and
    # the harness's timeout (unlike pytest's) prints every crawler's log and stacks.
    cluster.wait(
        lambda: cluster.bus.group_lag(GROUP_CRAWLER, [CRAWL_JOBS]) == 0,
        timeout,
        "the crawlers to commit every job",
    )


def series(metrics: str, name: str) -> float:
    """The value of one series (name with its labels, as /metrics prints it)."""
    for line in metrics.splitlines():
        if line.startswith(name + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in the metrics")


def reports_by_target(cluster: Cluster) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in cluster.bus.replay(CRAWLS):
        report = decode(message.value, CrawlFinished)
        if report.crawl_id == CRAWL:
            for key in report.targets:
                counts[key] = counts.get(key, 0) + 1
    return counts


def test_the_counting_server_sees_requests_overlap() -> None:
    """The instrument itself: two requests to one host held at once are a peak of 2."""
    with CountingServer({"a.kz": {"/": b"x"}}, gated=frozenset({"a.kz"})) as server:

        def fetch() -> None:
            request = urllib.request.Request(server.url("127.0.0.1"), headers={"Host": "a.kz"})
            urllib.request.urlopen(request, timeout=30).read()

        threads = [threading.Thread(target=fetch) for _ in range(2)]
        for t in threads:
            t.start()
        while server.held < 2:
            threading.Event().wait(0.01)
        server.open_gate()
        for t in threads:
            t.join()
    assert server.peak["a.kz"] == 2
    assert server.in_flight["a.kz"] == 0


@pytest.mark.timeout(900)  # above the harness's own waits, whose timeouts say more
def test_two_crawlers_crawl_every_site_once_within_its_concurrency(
    cluster: Cluster, wide_web: BigSite
) -> None:
    web = wide_web
    cluster.extra_env.update(
        TANBA_CRAWL_CONCURRENCY_PER_DOMAIN=str(LIMIT), TANBA_CRAWLER_JOBS=str(JOBS)
    )
    with CountingServer(web.sites, hold_s=HOLD_S) as server:
        crawlers = start_crawlers(cluster, 2)
        publish_jobs(cluster, web, server)
        wait_jobs_done(cluster)
        # What an operator's Prometheus sees: every job done, every medium counted, no lag.
        scraped = [proc.metrics() for proc in crawlers]
        published = sum(cluster.bus.end_offsets(MEDIA).values())
        for proc in crawlers:
            cluster.wait(lambda p=proc: p.sample("tanba_consumer_lag", "crawler") == 0, 30, "lag 0")
        for proc in crawlers:
            assert "jobs done" in cluster.stop(proc.name).stdout()
    assert sum(series(t, 'tanba_crawl_jobs_total{outcome="done"}') for t in scraped) == SITES
    assert sum(series(t, "tanba_crawl_media_total") for t in scraped) == published > 0
    assert all(series(t, "tanba_crawl_jobs_running") == 0 for t in scraped)

    # Every site crawled exactly once: each of its URLs asked once, by one crawler.
    for host, content in web.sites.items():
        asked = server.requests[host]
        assert sorted(asked) == sorted(["/robots.txt", *content]), host
    # Never above the per-domain concurrency, on any site.
    assert max(server.peak.values()) <= LIMIT, server.peak.most_common(5)
    # One job per site, each done once, and both crawlers did some.
    done = [[j for j in crawl_jobs(p) if j["outcome"] == "done"] for p in crawlers]
    ids = [j["job"] for jobs in done for j in jobs]
    assert sorted(ids) == sorted(f"{CRAWL}/site-{i}" for i in range(SITES))
    assert all(done), [len(d) for d in done]
    sites_of = [{j["site"] for j in jobs} for jobs in done]
    assert not sites_of[0] & sites_of[1]  # a site belongs to one crawler
    assert reports_by_target(cluster) == {f"site-{i}": 1 for i in range(SITES)}


@pytest.mark.timeout(1500)  # above the sum of the harness's waits, whose timeouts say more
def test_a_crawler_killed_mid_run_leaves_its_sites_to_the_other_with_exactly_the_alerts(
    cluster: Cluster, web: BigSite
) -> None:
    home: Path = cluster.home
    cluster.extra_env.update(
        TANBA_CRAWL_CONCURRENCY_PER_DOMAIN=str(LIMIT),
        TANBA_CRAWLER_JOBS=str(JOBS),
        TANBA_FETCH_TIMEOUT_S="300",  # the gated sites answer only once the gate opens
    )
    cluster.run("works", "import", str(web.write_manifest(home / "works.csv")))
    gated = frozenset(list(web.sites)[SITES // 2 :])
    with CountingServer(web.sites, hold_s=HOLD_S, gated=gated) as server:
        cluster.worker("matcher", "matcher")
        cluster.worker("fingerprint-1", "fingerprint")
        survivor, victim = start_crawlers(cluster, 2)
        publish_jobs(cluster, web, server)
        # Each gated job waits with one request (robots.txt, before anything else of its site)
        # and a crawler runs at most JOBS: 2 * JOBS held means both have every slot at the
        # gate, so the victim is mid-job.
        cluster.wait(lambda: server.held == 2 * JOBS, 300, "both crawlers' jobs at the gate")
        cluster.kill(victim.name)
        server.open_gate()
        wait_jobs_done(cluster)
        cluster.wait_drained()
        port = server.port

    expected = web.alert_keys(port)
    assert sorted(cluster.wait_alerts(expected)) == sorted(expected)
    assert max(server.peak.values()) <= LIMIT, server.peak.most_common(5)
    # The survivor finished every job the victim did not.
    victim_done = {j["job"] for j in crawl_jobs(victim) if j["outcome"] == "done"}
    survivor_done = {j["job"] for j in crawl_jobs(survivor) if j["outcome"] == "done"}
    every = {f"{CRAWL}/site-{i}" for i in range(SITES)}
    assert victim_done < every  # its gated jobs were never done there
    assert every - victim_done <= survivor_done
    assert set(reports_by_target(cluster)) == {f"site-{i}" for i in range(SITES)}
    assert "jobs done" in cluster.stop(survivor.name).stdout()
    for name in ("fingerprint-1", "matcher"):
        cluster.stop(name)
