"""Run Tanba's stages as separate processes on the real Kafka and Elasticsearch, and watch them.

A :class:`Cluster` is one installation in its own namespace (topics, groups and
indices prefixed, deleted at the end) and its own home (blobs and captures,
shared by its processes as on one machine; with blobs in object storage a process
may be given a home of its own, as on a machine of its own). Each stage runs as the real
``tanba`` command in a subprocess with ``TANBA_BUS``/``TANBA_STORE`` set, its
output in ``home/logs/<name>.out|.err``.

How a test knows the run is done, without racing ``--until-idle``: the crawler
exits by itself; then the fingerprint group's lag (end offsets minus committed
offsets of ``tanba.media``) must reach 0, and after it the matcher group's on
``tanba.fingerprints``. Effects are durable before a commit, so at that point
every alert is in the store. Workers are then stopped with SIGTERM and must
exit 0 after a clean shutdown.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tanba.core import topics
from tanba.core.bus.kafka import KafkaBus
from tanba.core.exceptions import TransientError
from tanba.core.store import AlertQuery
from tanba.core.store.elastic import ElasticAlertStore
from tests.services import drop_later, drop_namespace

AlertKey = tuple[str, str, str, str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A running ``tanba`` process and where its output goes."""

    name: str
    popen: subprocess.Popen[bytes]
    out: Path
    err: Path
    metrics_port: int = 0

    def stdout(self) -> str:
        return self.out.read_text(errors="replace")

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as r:
            return str(r.read().decode())

    def sample(self, name: str, stage: str, default: float | None = None) -> float:
        """One sample of this process's /metrics, e.g. ``tanba_messages_processed_total``.

        ``default`` is for waits that may ask before the stage has started (no series yet).
        """
        found = re.search(rf'^{name}{{stage="{stage}"}} (\S+)$', self.metrics(), re.MULTILINE)
        if found is None and default is not None:
            return default
        assert found, f"{name} for {stage} not in /metrics of {self.name}"
        return float(found.group(1))


@dataclass
class Cluster:
    """One Tanba installation on the shared servers, its processes, and its clean-up."""

    home: Path
    namespace: str
    kafka: str
    elastic: str
    extra_env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, Proc] = field(default_factory=dict)
    _bus: KafkaBus | None = None
    _store: ElasticAlertStore | None = None

    def env(self, home: Path | None = None, **extra: str) -> dict[str, str]:
        return {
            **os.environ,
            "TANBA_HOME": str(home or self.home),
            "TANBA_BUS": f"kafka://{self.kafka}",
            "TANBA_STORE": self.elastic,
            "TANBA_NAMESPACE": self.namespace,
            "TANBA_CRAWL_DELAY_S": "0",
            **self.extra_env,
            **extra,
        }

    def command(self, *args: str, home: Path | None = None) -> list[str]:
        home = home or self.home
        return [sys.executable, "-m", "tanba.app.cli", "--home", str(home), "-v", *args]

    def run(self, *args: str, timeout: float = 300, home: Path | None = None) -> str:
        """Run a ``tanba`` command to its end; its stdout, or a failure with its stderr."""
        done = subprocess.run(
            self.command(*args, home=home),
            env=self.env(home),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        assert done.returncode == 0, f"tanba {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def start(self, name: str, *args: str, metrics: bool = False, home: Path | None = None) -> Proc:
        """Start a ``tanba`` command in the background (``metrics``: on a free port).

        ``home``: the process's own home instead of the cluster's (its logs stay in the
        cluster's).
        """
        logs = self.home / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        port = free_port() if metrics else 0
        out, err = logs / f"{name}.out", logs / f"{name}.err"
        with open(out, "wb") as o, open(err, "wb") as e:
            popen = subprocess.Popen(
                self.command(*args, home=home),
                env=self.env(home, TANBA_METRICS_PORT=str(port)),
                stdout=o,
                stderr=e,
                stdin=subprocess.DEVNULL,
            )
        proc = Proc(name, popen, out, err, port)
        self.procs[name] = proc
        if metrics:
            self.wait(lambda: _answers(proc), 60, f"{name} serving /metrics")
        return proc

    def worker(self, name: str, stage: str, *args: str, home: Path | None = None) -> Proc:
        return self.start(name, "worker", stage, *args, metrics=True, home=home)

    def kill(self, name: str) -> None:
        """kill -9: no clean-up, no leave-group, nothing committed for the batch in hand."""
        proc = self.procs.pop(name)
        proc.popen.send_signal(signal.SIGKILL)
        proc.popen.wait(timeout=30)

    def stop(self, name: str, timeout: float = 60) -> Proc:
        """SIGTERM, then the process must exit 0 by itself (a clean shutdown)."""
        proc = self.procs.pop(name)
        proc.popen.send_signal(signal.SIGTERM)
        rc = proc.popen.wait(timeout=timeout)
        assert rc == 0, f"{name} exited {rc} after SIGTERM: {proc.stderr()[-3000:]}"
        return proc

    def finish(self, name: str, timeout: float = 300) -> Proc:
        """Wait for a process that ends by itself (the crawler); it must exit 0."""
        proc = self.procs.pop(name)
        rc = proc.popen.wait(timeout=timeout)
        assert rc == 0, f"{name} exited {rc}: {proc.stderr()[-3000:]}"
        return proc

    @property
    def bus(self) -> KafkaBus:
        if self._bus is None:
            self._bus = KafkaBus(self.kafka, namespace=self.namespace)
        return self._bus

    @property
    def store(self) -> ElasticAlertStore:
        if self._store is None:
            self._store = ElasticAlertStore(self.elastic, namespace=self.namespace)
        return self._store

    def lags(self, matchers: Sequence[str] = (topics.GROUP_MATCHER,)) -> tuple[int, int]:
        """(fingerprint group lag on media, the matcher groups' summed lag on fingerprints)."""
        fingerprint = self.bus.group_lag(topics.GROUP_FINGERPRINT, [topics.MEDIA])
        matcher = sum(self.bus.group_lag(g, [topics.FINGERPRINTS]) for g in matchers)
        return fingerprint, matcher

    def wait_drained(
        self, timeout: float = 300, matchers: Sequence[str] = (topics.GROUP_MATCHER,)
    ) -> None:
        """Until both stages have committed everything (call once nothing is published any more).

        ``matchers``: the matcher's consumer groups (one per shard when it is sharded).
        """
        self.wait(
            lambda: self.lags(matchers) == (0, 0), timeout, "both stages to commit everything"
        )

    def wait(self, condition: Callable[[], bool], timeout: float, what: str) -> None:
        """Poll ``condition`` until true; a server not answering yet counts as false."""
        deadline = time.monotonic() + timeout
        while not _holds(condition):
            for proc in self.procs.values():
                rc = proc.popen.poll()
                assert rc is None or proc.name == "crawler", (
                    f"{proc.name} died (exit {rc}) while waiting for {what}: {proc.stderr()[-3000:]}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"timed out after {timeout:.0f}s waiting for {what}\n{self.stacks()}"
                )
            time.sleep(0.25)

    def stacks(self) -> str:
        """Each live process's log tail, ending with every thread's stack (``kill -USR1``):
        what a timeout prints, so a hang shows where each process waits."""
        live = [p for p in self.procs.values() if p.popen.poll() is None]
        for proc in live:
            proc.popen.send_signal(signal.SIGUSR1)
        time.sleep(2)  # faulthandler writes from a signal handler; give it the moment
        return "\n".join(f"--- {p.name}\n{p.stderr()[-8000:]}" for p in self.procs.values())

    def wait_alerts(self, expected: set[AlertKey], timeout: float = 120) -> list[AlertKey]:
        """The stored alert keys once ``expected`` are all there (the store may be restarting)."""
        self.wait(lambda: expected <= set(self.alert_keys()), timeout, "the expected alerts")
        return self.alert_keys()

    def alert_keys(self) -> list[AlertKey]:
        page = self.store.search(AlertQuery(limit=10_000))
        keys = [(a.work_id, a.page_url, a.media_url, a.jurisdiction) for a in page.alerts]
        assert page.total == len(keys)
        return keys

    def close(self) -> None:
        for proc in list(self.procs.values()):
            if proc.popen.poll() is None:
                proc.popen.kill()
                proc.popen.wait(timeout=30)
        self.procs.clear()
        if self._bus is not None:
            self._bus.close()
        if self._store is not None:
            self._store.close()
        drop_namespace(self.namespace, kafka=False)
        drop_later(self.namespace)


def _holds(condition: Callable[[], bool]) -> bool:
    try:
        return condition()
    except TransientError:  # e.g. Elasticsearch restarting: ask again
        return False


def _answers(proc: Proc) -> bool:
    assert proc.popen.poll() is None, f"{proc.name} exited: {proc.stderr()[-3000:]}"
    try:
        proc.metrics()
        return True
    except OSError:
        return False
