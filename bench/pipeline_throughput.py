"""Media per second through the whole pipeline at volume: embedded, and Kafka + Elasticsearch + S3.

One run, one generated web (bench/harness/bigsite.py: ``--sites`` loopback sites,
each its own registrable domain, ``--media`` distinct image variants of eight real
photos from Debian's ``ukui-wallpapers``, half of them copies of registered works),
served by a loopback server that records how many requests each host has in flight
(bench/harness/counting.py). Every configuration starts from an empty state (a new
home; on the servers a new namespace and object-store prefix, deleted afterwards) and
must end with exactly the expected alerts; one that does not is reported as failed,
not timed. Configurations (``--configs``, run in this order ``--rounds`` times, so
that a noisy neighbour weighs on all of them alike):

* ``embedded``: the SQLite bus and store, blobs under the home; 1 ``tanba worker
  crawler``, 1 ``tanba worker fingerprint``, 1 ``tanba worker matcher`` (the embedded
  bus has one partition: a second crawler would wait for the first).
* ``distributed-1`` / ``distributed-2``: Kafka + Elasticsearch + object storage
  (``TANBA_BLOBS=s3://…`` on scripts/services' S3Proxy), each process with a home of its
  own as on a machine of its own; 1 or 2 crawler processes, 1 fingerprint, 1 matcher.
* ``run``: ``tanba run`` on the embedded bus, every stage a thread of one process (no
  per-stage CPU; timed from the command's start, Python start-up included).

For the worker configurations the processes are started and seen ready (serving
/metrics; on Kafka, every group member owning its partitions) before the clock starts;
then ``tanba crawl --no-wait`` publishes one crawl job per site and the run is over
when the crawler, fingerprint and matcher groups have committed everything (each
stage commits only after its effects are durable, so every alert is in the store).

Printed per configuration: end-to-end media/s; CPU milliseconds per media of each
stage's process tree (its decoder sandboxes included), of the loopback web server and
this script, and of the Kafka, Elasticsearch and S3Proxy processes (from /proc, between
the same two instants; the servers are shared, so other users' load counts there too:
their background rate, sampled for 10 s with the workers ready before the clock
starts, is printed, and their figures net of it);
and the largest number of requests any one site had in flight at once, which must not
exceed ``TANBA_CRAWL_CONCURRENCY_PER_DOMAIN``. Crawl delay 0. Needs the servers
(``scripts/services start``). Not a test: it asserts nothing but the alerts and the
per-site concurrency, and prints figures.

    .venv/bin/python bench/pipeline_throughput.py --media 10000 --sites 200
    .venv/bin/python bench/pipeline_throughput.py --media 2000 --configs embedded,distributed-1
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness.bigsite import BigSite, build, many_sites  # noqa: E402
from bench.harness.counting import CountingServer  # noqa: E402
from tanba.core import topics  # noqa: E402
from tanba.core.blobs.s3 import s3_client  # noqa: E402
from tanba.core.bus.embedded import EmbeddedBus  # noqa: E402
from tanba.core.bus.kafka import KafkaBus  # noqa: E402
from tanba.core.exceptions import TransientError  # noqa: E402
from tanba.core.settings import Settings  # noqa: E402
from tanba.core.store import AlertQuery, open_store  # noqa: E402
from tanba.core.store.elastic import ElasticAlertStore  # noqa: E402

KAFKA = os.environ.get("TANBA_BENCH_KAFKA", "127.0.0.1:9092")
ELASTIC = os.environ.get("TANBA_BENCH_ELASTIC", "http://127.0.0.1:9200")
S3 = os.environ.get("TANBA_BENCH_S3", "http://127.0.0.1:8333")
S3_BUCKET = "tanba"
S3_KEYS = {"TANBA_S3_ACCESS_KEY": "tanba-dev", "TANBA_S3_SECRET_KEY": "tanba-dev-secret"}
SERVICES_DIR = Path(os.environ.get("TANBA_SERVICES_DIR", "/var/cache/tanba-services"))
SERVERS = ("kafka", "elasticsearch", "s3proxy")
# Seconds the servers' CPU is sampled before the clock starts (their background rate).
BACKGROUND_S = 10.0
SERVER_PIDS = {
    "kafka": SERVICES_DIR / "kafka/state/kafka.pid",
    "elasticsearch": SERVICES_DIR / "elasticsearch/state/es.pid",
    "s3proxy": SERVICES_DIR / "s3proxy/state/s3proxy.pid",
}
PER_PAGE = 5
TARGETS_PER_FILE = 100  # a target records at most 100 --resolve entries
CRAWL_ID = "20260601T000000Z"
TIMEOUT_S = 3600
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROFILE_DIR: Path | None = None  # --profile
CONFIGS = ("embedded", "distributed-1", "distributed-2", "run")


@dataclass
class Result:
    config: str
    seconds: float
    alerts_ok: bool
    peak: int
    cpu_ms: dict[str, float] = field(default_factory=dict)  # per stage, whole run
    # The servers' CPU ms per second before the clock started (other users, idle work).
    background: dict[str, float] = field(default_factory=dict)


class Mode:
    """One installation: its bus, store and blob store, its processes' homes, and its clean-up."""

    def __init__(self, config: str) -> None:
        self.config = config
        self.distributed = config.startswith("distributed")
        self.namespace = f"bench{uuid.uuid4().hex[:8]}"
        self.root = Path(tempfile.mkdtemp(prefix=f"tanba-bench-{config}-"))
        self.home = self.root / "home"
        self.home.mkdir()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        self._lag_bus: KafkaBus | None = None

    def env(self, home: Path, **extra: str) -> dict[str, str]:
        env = {**os.environ, "TANBA_HOME": str(home), "TANBA_CRAWL_DELAY_S": "0", **extra}
        if self.distributed:
            env |= {
                "TANBA_BUS": f"kafka://{KAFKA}",
                "TANBA_STORE": ELASTIC,
                "TANBA_NAMESPACE": self.namespace,
                "TANBA_BLOBS": f"s3://{S3_BUCKET}/{self.namespace}",
                "TANBA_S3_ENDPOINT": S3,
                **S3_KEYS,
            }
        else:
            env |= {"TANBA_BUS": "embedded", "TANBA_STORE": "embedded", "TANBA_BLOBS": "embedded"}
        return env

    def home_of(self, name: str) -> Path:
        """Distributed: each process a home of its own (nothing shared but the servers)."""
        if not self.distributed:
            return self.home
        home = self.root / name
        home.mkdir(exist_ok=True)
        return home

    def start(self, name: str, *args: str, home: Path | None = None) -> subprocess.Popen[bytes]:
        home = home or self.home_of(name)
        port = _free_port()
        log = open(self.root / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", "tanba.app.cli", "--home", str(home), "-v", *args],
            env=self.env(home, TANBA_METRICS_PORT=str(port)),
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
        )
        self.procs[name] = proc
        self.ports[name] = port
        return proc

    def run(self, *args: str) -> None:
        proc = self.start(f"cli-{len(self.procs)}", *args, home=self.home)
        if proc.wait(timeout=TIMEOUT_S) != 0:
            raise RuntimeError(f"tanba {args[0]} failed; see {self.root}")

    def serving(self, name: str) -> bool:
        if self.procs[name].poll() is not None:
            raise RuntimeError(f"{name} exited early; see {self.root}/{name}.log")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{self.ports[name]}/metrics", timeout=5)
        except OSError:
            return False
        return True

    def kafka(self) -> KafkaBus:
        return KafkaBus(KAFKA, namespace=self.namespace)

    def owners(self, bus: KafkaBus, group: str) -> int:
        """Members owning partitions; 0 while the broker cannot say (its group coordinator
        still loading after a start, or a moment unreachable), so the wait asks again."""
        try:
            return sum(1 for owned in bus.group_members(group).values() if owned)
        except TransientError:
            return 0

    def lags(self) -> tuple[int, int, int]:
        """(crawl jobs, media, fingerprints) not yet committed by their groups."""
        pairs = (
            (topics.GROUP_CRAWLER, topics.CRAWL_JOBS),
            (topics.GROUP_FINGERPRINT, topics.MEDIA),
            (topics.GROUP_MATCHER, topics.FINGERPRINTS),
        )
        if self.distributed:
            if self._lag_bus is None:  # one client for the whole wait, not one a poll
                self._lag_bus = self.kafka()
            got = [self._lag_bus.group_lag(group, [topic]) for group, topic in pairs]
        else:
            embedded = EmbeddedBus(self.home / "bus.sqlite3")
            try:
                got = [int(embedded.consumer(g, [t]).lag() or 0) for g, t in pairs]
            finally:
                embedded.close()
        return got[0], got[1], got[2]

    def alert_keys(self) -> list[tuple[str, str, str, str]]:
        store = open_store(Settings.from_env(self.env(self.home)))
        keys: list[tuple[str, str, str, str]] = []
        try:
            query = AlertQuery(limit=500)
            while True:
                page = store.search(query)
                keys += [(a.work_id, a.page_url, a.media_url, a.jurisdiction) for a in page.alerts]
                if not page.next_cursor:
                    return keys
                query = AlertQuery(limit=500, after=page.next_cursor)
        finally:
            store.close()

    def stop_all(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def clean(self) -> None:
        self.stop_all()
        if self._lag_bus is not None:
            self._lag_bus.close()
        if PROFILE_DIR is not None:  # keep the logs beside the profiles
            PROFILE_DIR.mkdir(parents=True, exist_ok=True)
            for log in self.root.glob("*.log"):
                shutil.copy(log, PROFILE_DIR / f"{self.config}-{log.name}")
        shutil.rmtree(self.root, ignore_errors=True)
        if self.distributed:
            bus = self.kafka()
            bus.delete_namespace()
            bus.close()
            store = ElasticAlertStore(ELASTIC, namespace=self.namespace)
            store.drop()
            store.close()
            # The works catalogue's indices too (tanba-works, tanba-works-positions).
            from elasticsearch import Elasticsearch

            with Elasticsearch(ELASTIC) as client:
                client.indices.delete(
                    index=f"{self.namespace}-*", allow_no_indices=True, ignore_unavailable=True
                )
            _delete_s3_prefix(Settings.from_env(self.env(self.home)), f"{self.namespace}/")


def _delete_s3_prefix(settings: Settings, prefix: str) -> None:
    """One DELETE an object: S3Proxy refuses DeleteObjects with boto3's newer checksums."""
    from concurrent.futures import ThreadPoolExecutor

    client = s3_client(settings)
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET, Prefix=prefix)
    keys = [o["Key"] for page in pages for o in page.get("Contents", [])]
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda key: client.delete_object(Bucket=S3_BUCKET, Key=key), keys))


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree_cpu_s(pid: int, children: dict[int, list[int]]) -> float:
    """CPU seconds of ``pid`` and its living descendants, with the children they waited for."""
    total = 0.0
    stack = [pid]
    while stack:
        p = stack.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # After the comm: state=0, ..., utime=11, stime=12, cutime=13, cstime=14.
        total += sum(int(fields[i]) for i in (11, 12, 13, 14)) / CLK_TCK
        stack += children.get(p, [])
    return total


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        tree.setdefault(int(fields[1]), []).append(int(entry.name))
    return tree


def cpu_snapshot(mode: Mode) -> dict[str, float]:
    """CPU seconds so far: each stage's processes, this script (the web server), the servers."""
    tree = _children()
    got: dict[str, float] = {}
    for name, proc in mode.procs.items():
        stage = name.rstrip("-0123456789")
        if stage != "cli":
            got[stage] = got.get(stage, 0.0) + _tree_cpu_s(proc.pid, tree)
    own = os.times()
    got["web server + bench"] = own.user + own.system
    got["waited"] = own.children_user + own.children_system  # exited: tanba run, the CLIs
    for server, pidfile in SERVER_PIDS.items():
        with contextlib.suppress(OSError, ValueError):  # not running here
            got[server] = _tree_cpu_s(int(pidfile.read_text().strip()), {})
    return got


def wait(done: Callable[[], bool], what: str, mode: Mode) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while not done():
        for name, proc in mode.procs.items():
            if not name.startswith("cli") and proc.poll() is not None:
                raise RuntimeError(f"{name} exited early; see {mode.root}/{name}.log")
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}; see {mode.root}")
        time.sleep(0.5)


def import_targets(mode: Mode, site: BigSite, server: CountingServer) -> None:
    hosts = list(site.sites)
    for first in range(0, len(hosts), TARGETS_PER_FILE):
        path = site.write_targets(
            mode.home / f"targets-{first}.yaml", server.port, first, TARGETS_PER_FILE
        )
        chunk = hosts[first : first + TARGETS_PER_FILE]
        mode.run("targets", "import", str(path), *server.resolve_args(chunk))


def workers(mode: Mode, site: BigSite, server: CountingServer, crawlers: int) -> Result:
    mode.run("works", "import", str(site.write_manifest(mode.home / "works.csv")))
    import_targets(mode, site, server)
    names = [f"crawler-{i}" for i in range(crawlers)] + ["fingerprint-0", "matcher-0"]
    for name in names:
        mode.start(name, "worker", name.rsplit("-", 1)[0])
    wait(lambda: all(mode.serving(n) for n in names), "the workers to serve /metrics", mode)
    if mode.distributed:
        bus = mode.kafka()
        try:
            groups = {
                topics.GROUP_CRAWLER: crawlers,
                topics.GROUP_FINGERPRINT: 1,
                topics.GROUP_MATCHER: 1,
            }
            wait(
                lambda: all(mode.owners(bus, g) == n for g, n in groups.items()),
                "every worker to own its partitions",
                mode,
            )
        finally:
            bus.close()
    background = server_background(mode) if mode.distributed else {}
    profilers = profile(mode, names)
    before = cpu_snapshot(mode)
    started = time.monotonic()
    mode.run("crawl", "--no-wait", "--crawl-id", CRAWL_ID)
    wait(lambda: mode.lags() == (0, 0, 0), "every group to commit everything", mode)
    seconds = time.monotonic() - started
    after = cpu_snapshot(mode)
    for profiler in profilers:
        profiler.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        profiler.wait(timeout=120)
    keys = mode.alert_keys()
    ok = len(keys) == len(set(keys)) and set(keys) == site.alert_keys(server.port)
    cpu = {k: (after[k] - before.get(k, 0.0)) * 1000 for k in after}
    return Result(mode.config, seconds, ok, max(server.peak.values()), cpu, background)


def server_background(mode: Mode) -> dict[str, float]:
    """Each server's CPU ms per second over ``BACKGROUND_S`` with every worker ready and idle.

    The servers are shared (other sessions' tests, their own housekeeping): this rate
    times the run's seconds is the part of their CPU that was not this run's medium.
    """
    first = cpu_snapshot(mode)
    time.sleep(BACKGROUND_S)
    last = cpu_snapshot(mode)
    return {s: (last[s] - first[s]) * 1000 / BACKGROUND_S for s in SERVERS if s in last}


def profile(mode: Mode, names: list[str]) -> list[subprocess.Popen[bytes]]:
    """``--profile DIR``: py-spy samples each worker (and its sandboxes) until SIGINT."""
    if PROFILE_DIR is None:
        return []
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    return [
        subprocess.Popen(
            [
                str(spy),
                "record",
                "--pid",
                str(mode.procs[name].pid),
                "--subprocesses",
                "--nonblocking",
                "--rate",
                "50",
                "--format",
                "raw",
                "-o",
                str(PROFILE_DIR / f"{mode.config}-{name}.txt"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for name in names
    ]


def single_process(mode: Mode, site: BigSite, server: CountingServer) -> Result:
    mode.run("works", "import", str(site.write_manifest(mode.home / "works.csv")))
    import_targets(mode, site, server)
    before = cpu_snapshot(mode)
    started = time.monotonic()
    proc = mode.start("run-0", "run")
    if proc.wait(timeout=TIMEOUT_S) != 0:
        raise RuntimeError(f"tanba run failed; see {mode.root}")
    seconds = time.monotonic() - started
    after = cpu_snapshot(mode)
    keys = mode.alert_keys()
    ok = len(keys) == len(set(keys)) and set(keys) == site.alert_keys(server.port)
    cpu = {k: (after[k] - before.get(k, 0.0)) * 1000 for k in after}
    cpu["run"] = cpu.pop("waited")
    return Result(mode.config, seconds, ok, max(server.peak.values()), cpu)


def measure(config: str, site: BigSite) -> Result:
    mode = Mode(config)
    try:
        with CountingServer(site.sites) as server:
            if config == "run":
                return single_process(mode, site, server)
            return workers(mode, site, server, 2 if config.endswith("-2") else 1)
    finally:
        mode.clean()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--media", type=int, default=10_000, help="at least this many media")
    parser.add_argument("--sites", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=1, help="run every configuration N times")
    parser.add_argument("--configs", default="embedded,distributed-1,distributed-2")
    parser.add_argument(
        "--profile",
        type=Path,
        help="write py-spy's samples of every worker here (pip install py-spy)",
    )
    args = parser.parse_args()
    global PROFILE_DIR
    PROFILE_DIR = args.profile
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown configurations {sorted(unknown)}; choose from {', '.join(CONFIGS)}")
    pages = max(1, math.ceil(args.media / args.sites / PER_PAGE))
    print("building the generated web ...", file=sys.stderr)
    site = build(pages=pages, per_page=PER_PAGE, hosts=many_sites(args.sites))
    limit = Settings.from_env({}).crawl_concurrency_per_domain
    results: list[Result] = []
    for round_ in range(args.rounds):
        for config in configs:
            print(f"round {round_ + 1}: {config} ...", file=sys.stderr, flush=True)
            try:
                results.append(measure(config, site))
            except RuntimeError as exc:
                print(f"  failed: {exc}", file=sys.stderr)
                results.append(Result(config, math.nan, False, 0))
            r = results[-1]
            print(
                f"  {r.seconds:.1f} s, alerts {'exact' if r.alerts_ok else 'WRONG'}",
                file=sys.stderr,
            )
    report(site, results, limit)
    ok = all(r.alerts_ok and r.peak <= limit for r in results)
    return 0 if ok else 1


def report(site: BigSite, results: list[Result], limit: int) -> None:
    media = site.media_count
    load = os.getloadavg()
    print(
        f"\npipeline throughput: {media} media ({len(site.expected)} expected alerts), "
        f"{len(site.sites)} sites, crawl delay 0, per-domain limit {limit}, "
        f"{os.cpu_count()} cores, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}"
    )
    columns = {  # column: its heading
        "crawler": "crawler",
        "fingerprint": "fingerprint",
        "matcher": "matcher",
        "run": "tanba run",
        "web server + bench": "web+bench",
        "kafka": "kafka",
        "elasticsearch": "es",
        "s3proxy": "s3proxy",
    }
    servers = SERVERS
    header = (
        f"{'configuration':<15} {'s':>7} {'media/s':>8} {'peak':>4} {'alerts':>6} | CPU ms/media: "
        + " ".join(f"{h:>11}" for h in columns.values())
    )
    print(header)
    print("-" * len(header))
    for r in results:
        cells = []
        for c in columns:
            value = r.cpu_ms.get(c)
            if value is None or (c in servers and not r.config.startswith("distributed")):
                cells.append(f"{'-':>11}")
            else:
                cells.append(f"{value / media:11.2f}")
        status = "exact" if r.alerts_ok else "FAILED"
        rate = f"{media / r.seconds:8.1f}" if r.alerts_ok else f"{'-':>8}"
        print(
            f"{r.config:<15} {r.seconds:7.1f} {rate} {r.peak:>4} {status:>6} |"
            f"{'':14}" + " ".join(cells)
        )
    for r in results:
        if r.background and r.alerts_ok:
            net = {
                s: (r.cpu_ms.get(s, 0.0) - rate * r.seconds) / media
                for s, rate in r.background.items()
            }
            print(
                f"{r.config}: servers' background before the run (CPU ms per s) "
                + ", ".join(f"{s} {rate:.1f}" for s, rate in r.background.items())
                + "; their CPU ms per media net of it: "
                + ", ".join(f"{s} {value:.2f}" for s, value in net.items())
            )
    rates: dict[str, list[float]] = {}
    for r in results:
        if r.alerts_ok:
            rates.setdefault(r.config, []).append(media / r.seconds)
    base = rates.get("embedded")
    if base:
        for config, values in rates.items():
            if config.startswith("distributed"):
                ratio = sum(values) / len(values) / (sum(base) / len(base))
                print(f"{config} / embedded (mean media/s): {ratio:.2f}")


if __name__ == "__main__":
    sys.exit(main())
