"""Media per second through the whole pipeline: the embedded mode and the Kafka mode, side by side.

One run, one generated web (tests/distributed/bigsite.py: 8 sites, 136 pages,
512 distinct image variants of real photos, 256 of them copies of registered
works), served on loopback; every configuration starts from an empty state
and must end with exactly the 256 expected alerts (a run that does not is
reported as failed, not timed). Configurations:

* ``tanba run`` — crawl, fingerprint and match in one process (stages as
  threads), on the embedded bus and store, then on Kafka + Elasticsearch.
  Timed from the command's start to its exit (Python start-up included).
* stages as processes — ``tanba crawl`` first (timed alone), then the stage
  workers drain the backlog (timed from their start until both consumer
  groups have committed everything): 1 fingerprint worker on the embedded bus
  (it has no partitions to share), 1 and then 2 on Kafka.

End-to-end media/s = media / (crawl + drain) for the process runs. Needs the
real servers (``scripts/services start``). Not a test: it asserts nothing but
the alert set, and prints figures.

    .venv/bin/python bench/pipeline_throughput.py
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tanba.app.demo.server import SiteServer  # noqa: E402
from tanba.core import topics  # noqa: E402
from tanba.core.bus.embedded import EmbeddedBus  # noqa: E402
from tanba.core.bus.kafka import KafkaBus  # noqa: E402
from tanba.core.settings import Settings  # noqa: E402
from tanba.core.store import AlertQuery, open_store  # noqa: E402
from tanba.core.store.elastic import ElasticAlertStore  # noqa: E402
from tests.distributed.bigsite import BigSite, build  # noqa: E402

KAFKA = os.environ.get("TANBA_BENCH_KAFKA", "127.0.0.1:9092")
ELASTIC = os.environ.get("TANBA_BENCH_ELASTIC", "http://127.0.0.1:9200")
DRAIN_TIMEOUT_S = 600


@dataclass
class Result:
    config: str
    crawl_s: float | None
    drain_s: float | None
    total_s: float
    alerts_ok: bool


class Mode:
    """One bus+store choice: its environment, how to read lags, and its clean-up."""

    def __init__(self, name: str, kafka: bool) -> None:
        self.name = name
        self.kafka = kafka
        self.namespace = f"bench{uuid.uuid4().hex[:8]}"
        self.home = Path(tempfile.mkdtemp(prefix=f"tanba-bench-{name}-")) / "home"

    def env(self) -> dict[str, str]:
        env = {**os.environ, "TANBA_HOME": str(self.home), "TANBA_CRAWL_DELAY_S": "0"}
        if self.kafka:
            env |= {
                "TANBA_BUS": f"kafka://{KAFKA}",
                "TANBA_STORE": ELASTIC,
                "TANBA_NAMESPACE": self.namespace,
            }
        else:
            env |= {"TANBA_BUS": "embedded", "TANBA_STORE": "embedded"}
        return env

    def tanba(self, *args: str) -> subprocess.Popen[bytes]:
        command = [sys.executable, "-m", "tanba.app.cli", "--home", str(self.home), *args]
        log = open(self.home / "bench.log", "ab")  # noqa: SIM115 - closed with the process
        return subprocess.Popen(command, env=self.env(), stdout=log, stderr=log)

    def lags(self) -> tuple[int, int]:
        if self.kafka:
            bus = KafkaBus(KAFKA, namespace=self.namespace)
            try:
                return (
                    bus.group_lag(topics.GROUP_FINGERPRINT, [topics.MEDIA]),
                    bus.group_lag(topics.GROUP_MATCHER, [topics.FINGERPRINTS]),
                )
            finally:
                bus.close()
        embedded = EmbeddedBus(self.home / "bus.sqlite3")
        try:
            fp = embedded.consumer(topics.GROUP_FINGERPRINT, [topics.MEDIA]).lag()
            match = embedded.consumer(topics.GROUP_MATCHER, [topics.FINGERPRINTS]).lag()
            return int(fp or 0), int(match or 0)
        finally:
            embedded.close()

    def alert_keys(self) -> set[tuple[str, str, str, str]]:
        store = open_store(Settings.from_env(self.env()))
        try:
            page = store.search(AlertQuery(limit=10_000))
            return {(a.work_id, a.page_url, a.media_url, a.jurisdiction) for a in page.alerts}
        finally:
            store.close()

    def clean(self) -> None:
        shutil.rmtree(self.home.parent, ignore_errors=True)
        if self.kafka:
            bus = KafkaBus(KAFKA, namespace=self.namespace)
            bus.delete_namespace()
            bus.close()
            store = ElasticAlertStore(ELASTIC, namespace=self.namespace)
            store.drop()
            store.close()


def run_to_end(proc: subprocess.Popen[bytes], what: str) -> None:
    if proc.wait(timeout=DRAIN_TIMEOUT_S) != 0:
        raise RuntimeError(f"{what} failed; see its log")


def prepare(mode: Mode, site: BigSite) -> None:
    mode.home.mkdir(parents=True, exist_ok=True)
    run_to_end(
        mode.tanba("works", "import", str(site.write_manifest(mode.home / "works.csv"))),
        "works import",
    )


def single_process(mode: Mode, site: BigSite, server: SiteServer) -> Result:
    prepare(mode, site)
    targets = site.write_targets(mode.home / "targets.yaml", server.port)
    started = time.monotonic()
    run_to_end(mode.tanba("run", str(targets), *server.resolve_args()), "tanba run")
    total = time.monotonic() - started
    ok = mode.alert_keys() == site.alert_keys(server.port)
    return Result(f"{mode.name}: tanba run (1 process)", None, None, total, ok)


def as_processes(mode: Mode, site: BigSite, server: SiteServer, fingerprinters: int) -> Result:
    prepare(mode, site)
    targets = site.write_targets(mode.home / "targets.yaml", server.port)
    started = time.monotonic()
    run_to_end(mode.tanba("crawl", str(targets), *server.resolve_args()), "tanba crawl")
    crawled = time.monotonic()
    workers = [mode.tanba("worker", "fingerprint") for _ in range(fingerprinters)]
    workers.append(mode.tanba("worker", "matcher"))
    try:
        wait(lambda: mode.lags() == (0, 0), workers)
        drained = time.monotonic()
    finally:
        for w in workers:
            w.send_signal(signal.SIGTERM)
        for w in workers:
            w.wait(timeout=60)
    ok = mode.alert_keys() == site.alert_keys(server.port)
    label = f"{mode.name}: crawl, then {fingerprinters} fingerprint + 1 matcher processes"
    return Result(label, crawled - started, drained - crawled, drained - started, ok)


def wait(done: Callable[[], bool], procs: list[subprocess.Popen[bytes]]) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while not done():
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a worker exited early; see its log")
        if time.monotonic() > deadline:
            raise RuntimeError("the workers did not drain in time")
        time.sleep(0.1)


def main() -> int:
    print("building the generated web ...", file=sys.stderr)
    site = build()
    results: list[Result] = []
    with SiteServer(site.sites) as server:
        plan: list[tuple[str, bool, Callable[[Mode], Result]]] = [
            ("embedded", False, lambda m: single_process(m, site, server)),
            ("kafka+es", True, lambda m: single_process(m, site, server)),
            ("embedded", False, lambda m: as_processes(m, site, server, 1)),
            ("kafka+es", True, lambda m: as_processes(m, site, server, 1)),
            ("kafka+es", True, lambda m: as_processes(m, site, server, 2)),
        ]
        for name, kafka, measure in plan:
            mode = Mode(name, kafka)
            print(f"running {name} ...", file=sys.stderr)
            try:
                results.append(measure(mode))
            finally:
                mode.clean()
    media = site.media_count
    print(
        f"\npipeline throughput: {media} media ({len(site.expected)} expected alerts), "
        f"{len(site.sites)} sites, crawl delay 0, {os.cpu_count()} cores"
    )
    header = f"{'configuration':<62} {'crawl s':>8} {'drain s':>8} {'total s':>8} {'media/s':>8} {'stages media/s':>15} alerts"
    print(header)
    print("-" * len(header))
    for r in results:
        stages = f"{media / r.drain_s:15.1f}" if r.drain_s else f"{'-':>15}"
        crawl = f"{r.crawl_s:8.1f}" if r.crawl_s is not None else f"{'-':>8}"
        drain = f"{r.drain_s:8.1f}" if r.drain_s is not None else f"{'-':>8}"
        print(
            f"{r.config:<62} {crawl} {drain} {r.total_s:8.1f} {media / r.total_s:8.1f} {stages} "
            f"{'exact' if r.alerts_ok else 'WRONG'}"
        )
    return 0 if all(r.alerts_ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
