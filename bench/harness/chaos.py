"""Fault injection: the embedded pipeline as three processes, killed with SIGKILL at random.

Contract: :func:`run` serves the demo web (:func:`tanba.app.demo.site.build`) on
loopback, registers its works once, and then, per round, on a fresh copy of
that home, starts ``tanba crawl``, ``tanba worker fingerprint`` and ``tanba
worker matcher`` as separate processes on the same ``--home``. Each stage is
killed with SIGKILL ``kills_per_stage`` times, once at work, after a random
delay drawn from a seeded generator (see :class:`_Trigger`), and restarted at
once; crawls that finish are restarted while kills remain, so there is always
work in flight to kill. After the last kill the crawl runs to its
end, the workers are stopped and run once more with ``--until-idle``, and the
round is checked:

- the alerts are exactly ``DemoSite.alert_keys(port)``: none lost, none extra,
  no two alerts for one (work, page, media URL);
- nothing was dead-lettered, and exactly the demo's broken media were quarantined;
- both SQLite files pass ``PRAGMA integrity_check``;
- every blob's name is the SHA-256 of its content, every WARC file reads from
  start to end, and every published event's blob and WARC records exist.

Each kill records whether it landed while the stage had work in flight (the
crawler was fetching; a worker's group had uncommitted messages), so the
report shows the kills were not all on idle processes.

Why rounds on fresh homes: once an alert exists, a later loss could not be
seen; a fresh home per round makes every round prove "nothing lost" anew.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from warcio.archiveiterator import ArchiveIterator

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import DemoSite, build
from tanba.core import topics
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.schemas.base import decode
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.schemas.quarantine import MediaQuarantined
from tanba.core.store import AlertQuery
from tanba.core.store.embedded import EmbeddedAlertStore

STAGES = ("crawl", "fingerprint", "matcher")
# Requests are spaced a little so a crawl lasts long enough to be killed in the middle.
CRAWL_DELAY_S = "0.05"
_GROUPS = {"fingerprint": (topics.GROUP_FINGERPRINT, topics.MEDIA)}
_GROUPS["matcher"] = (topics.GROUP_MATCHER, topics.FINGERPRINTS)


@dataclass(frozen=True)
class Kill:
    """One SIGKILL: which stage, when in its round, and whether it had work in flight."""

    round: int
    stage: str
    at_s: float
    busy: bool


@dataclass
class RoundResult:
    """What one round found after its kills."""

    round: int
    kills: list[Kill] = field(default_factory=list)
    expected: int = 0
    missing: list[tuple[str, str, str, str]] = field(default_factory=list)
    unexpected: list[tuple[str, str, str, str]] = field(default_factory=list)
    duplicated: int = 0
    dead_letters: int = 0
    quarantine_wrong: list[str] = field(default_factory=list)
    integrity: list[str] = field(default_factory=list)  # problems; empty when consistent
    events: int = 0
    warc_records: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not (
            self.missing
            or self.unexpected
            or self.duplicated
            or self.dead_letters
            or self.quarantine_wrong
            or self.integrity
        )


@dataclass
class ChaosResult:
    """Every round of a run."""

    seed: int
    rounds: list[RoundResult]

    def kills(self, stage: str) -> list[Kill]:
        return [k for r in self.rounds for k in r.kills if k.stage == stage]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rounds)


class _Stage:
    """One stage's current process and its log file."""

    def __init__(self, name: str, command: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.command = command
        self.env = env
        self.logs = logs
        self.process: subprocess.Popen[bytes] | None = None
        self.runs = 0
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self.runs += 1
        if self._log is not None:
            self._log.close()
        self._log = open(self.logs / f"{self.name}-{self.runs}.log", "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            self.command, env=self.env, stdout=self._log, stderr=subprocess.STDOUT
        )

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self, timeout_s: float = 60) -> int:
        """SIGTERM (a worker finishes its batch and exits), then wait; the exit status."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=timeout_s)
        finally:
            if self._log is not None:
                self._log.close()
                self._log = None


def tanba_command(home: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tanba.app.cli", "--home", str(home), *args]


def run(
    work_dir: Path,
    *,
    seed: int,
    rounds: int,
    kills_per_stage: int,
    template: Path | None = None,
    log: Callable[[str], None] = print,
) -> ChaosResult:
    """Run ``rounds`` rounds of ``kills_per_stage`` kills per stage each (see the module doc).

    ``template`` is a home with the demo's works registered already (made when None).
    """
    rng = random.Random(seed)
    demo = build()
    work_dir.mkdir(parents=True, exist_ok=True)
    # Small batches: more commits per run, so more distinct points for a kill to land between.
    env = {
        **os.environ,
        "TANBA_CRAWL_DELAY_S": CRAWL_DELAY_S,
        "TANBA_BATCH_SIZE": "4",
        "TANBA_MATCHER_BATCH_SIZE": "4",
    }
    results: list[RoundResult] = []
    with SiteServer(demo.sites) as server:
        if template is None:
            template = work_dir / "template"
            register(template, demo, env)
        targets = demo.write_targets(work_dir / "targets.yaml", server.port)
        for number in range(1, rounds + 1):
            home = work_dir / f"round-{number}"
            shutil.copytree(template, home)
            result = _round(number, home, demo, server, targets, env, rng, kills_per_stage)
            results.append(result)
            log(
                f"round {number}: {len(result.kills)} kills"
                f" ({sum(k.busy for k in result.kills)} mid-work),"
                f" alerts missing {len(result.missing)}, unexpected {len(result.unexpected)},"
                f" duplicated {result.duplicated}, problems {len(result.integrity)},"
                f" {result.seconds:.0f} s"
            )
    return ChaosResult(seed=seed, rounds=results)


def register(home: Path, demo: DemoSite, env: dict[str, str] | None = None) -> None:
    """Register the demo's works in ``home`` (``tanba works import``)."""
    manifest = demo.write_manifest(home.parent / f"{home.name}-works.csv")
    done = subprocess.run(
        tanba_command(home, "works", "import", str(manifest)),
        env=env or dict(os.environ),
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"registering the demo works failed:\n{done.stderr}")


def _round(
    number: int,
    home: Path,
    demo: DemoSite,
    server: SiteServer,
    targets: Path,
    env: dict[str, str],
    rng: random.Random,
    kills_per_stage: int,
) -> RoundResult:
    started = time.monotonic()
    logs = home / "logs"
    logs.mkdir()
    commands = {
        "crawl": tanba_command(home, "crawl", str(targets), *server.resolve_args()),
        "fingerprint": tanba_command(home, "worker", "fingerprint"),
        "matcher": tanba_command(home, "worker", "matcher"),
    }
    stages = {name: _Stage(name, commands[name], env, logs) for name in STAGES}
    triggers = {name: _Trigger(name, home, server, rng) for name in STAGES}
    left = dict.fromkeys(STAGES, kills_per_stage)
    result = RoundResult(round=number)
    for name, stage in stages.items():
        stage.start()
        triggers[name].arm(stage.pid)
    while any(left.values()):
        time.sleep(0.02)
        for name, stage in stages.items():
            if not stage.alive():
                if left[name] or (name == "crawl" and any(left.values())):
                    # A crawl that finished: another one, to be killed midway or to keep
                    # work coming for the workers' kills.
                    stage.start()
                    triggers[name].arm(stage.pid)
                continue
            if left[name] and triggers[name].due():
                busy = _busy(name, home, triggers[name])
                stage.kill()
                result.kills.append(Kill(number, name, round(time.monotonic() - started, 3), busy))
                left[name] -= 1
                stage.start()
                triggers[name].arm(stage.pid)

    crawl = stages["crawl"]
    assert crawl.process is not None
    if crawl.process.wait(timeout=600) != 0:
        crawl.start()  # its last run failed: one more, which must succeed
        if crawl.stop(timeout_s=600) != 0:
            result.integrity.append(f"the crawl failed, see {logs}")
    for name in ("fingerprint", "matcher"):
        stages[name].stop()
    for name in ("fingerprint", "matcher"):
        done = subprocess.run(
            tanba_command(home, "worker", name, "--until-idle"),
            env=env,
            capture_output=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            result.integrity.append(f"{name} --until-idle failed: {done.stderr[-500:]!r}")
    check_home(result, home, demo, server.port)
    result.seconds = time.monotonic() - started
    return result


_PATIENCE_S = 60.0


class _Trigger:
    """When to kill a stage's current process: once it is at work, after a random delay.

    The crawl is killed after a random number (1-24) of requests reached the site
    since it started. A worker is killed a random 0-1 s (the matcher: 0-0.1 s)
    after it is seen ready (it holds the bus open) with messages waiting for its
    group, or after
    ``_PATIENCE_S`` if it never is. All draws come from the round's seeded generator.
    """

    def __init__(self, stage: str, home: Path, server: SiteServer, rng: random.Random) -> None:
        self.stage = stage
        self.home = home
        self.server = server
        self.rng = rng
        self.pid: int | None = None
        self.arm(None)

    def arm(self, pid: int | None) -> None:
        self.pid = pid
        self.armed_at = time.monotonic()
        self.requests_at_start = len(self.server.log)
        self.threshold = self.rng.randint(1, 24)
        # The matcher clears a batch in well under a second: kill it soon after work arrives.
        self.delay_s = self.rng.uniform(0.0, 0.1 if self.stage == "matcher" else 1.0)
        self.working_since: float | None = None

    def due(self) -> bool:
        now = time.monotonic()
        if self.stage == "crawl":
            return self.requests_since_start() >= self.threshold
        if now - self.armed_at > _PATIENCE_S:
            return True
        if self.working_since is None:
            if _holds_bus(self.pid, self.home) and _waiting(self.stage, self.home) > 0:
                self.working_since = now
            return False
        return now - self.working_since >= self.delay_s

    def requests_since_start(self) -> int:
        return len(self.server.log) - self.requests_at_start


def _holds_bus(pid: int | None, home: Path) -> bool:
    """Whether process ``pid`` has the bus database open (it is past its start-up)."""
    if pid is None:
        return False
    bus = str(home / "bus.sqlite3")
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == bus:
                return True
        except OSError:
            continue
    return False


def _committed(stage: str, home: Path) -> int:
    if stage == "crawl":
        return 0
    group, topic = _GROUPS[stage]
    try:
        with sqlite3.connect(home / "bus.sqlite3", timeout=5) as db:
            row = db.execute(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ?", (group, topic)
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0]) if row else 0


def _waiting(stage: str, home: Path) -> int:
    _, topic = _GROUPS[stage]
    try:
        with sqlite3.connect(home / "bus.sqlite3", timeout=5) as db:
            return int(
                db.execute(
                    "SELECT COUNT(*) FROM messages WHERE topic = ? AND offset >= ?",
                    (topic, _committed(stage, home)),
                ).fetchone()[0]
            )
    except sqlite3.Error:
        return 0


def _busy(stage: str, home: Path, trigger: _Trigger) -> bool:
    """Whether ``stage`` has work in flight now: fetching, or messages not committed yet."""
    if stage == "crawl":
        return trigger.requests_since_start() > 0
    return _waiting(stage, home) > 0


def alert_keys(home: Path) -> list[tuple[str, str, str, str]]:
    """(work, page URL, media URL, jurisdiction) of every stored alert, one entry per alert."""
    store = EmbeddedAlertStore(home / "alerts.sqlite3")
    try:
        page = store.search(AlertQuery(limit=100_000))
    finally:
        store.close()
    return [(a.work_id, a.page_url, a.media_url, a.jurisdiction) for a in page.alerts]


def check_home(result: RoundResult, home: Path, demo: DemoSite, port: int) -> None:
    """Fill ``result`` with what ``home`` holds against what the demo web must give."""
    expected = demo.alert_keys(port)
    found = alert_keys(home)
    result.expected = len(expected)
    result.missing = sorted(expected - set(found))
    result.unexpected = sorted(set(found) - expected)
    result.duplicated = len(found) - len(set(found))
    bus = EmbeddedBus(home / "bus.sqlite3")
    try:
        result.dead_letters = sum(1 for _ in bus.replay(topics.DEAD_LETTER))
        quarantined = {
            decode(m.value, MediaQuarantined).occurrence.media_url.split(str(port), 1)[1]
            for m in bus.replay(topics.QUARANTINE)
        }
        result.quarantine_wrong = sorted(quarantined ^ set(demo.broken))
        events = [decode(m.value, MediaDiscovered) for m in bus.replay(topics.MEDIA)]
    finally:
        bus.close()
    result.events = len(events)
    for name in ("bus.sqlite3", "alerts.sqlite3"):
        with sqlite3.connect(home / name) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            result.integrity.append(f"{name}: {verdict}")
    result.integrity += _blob_problems(home / "blobs")
    records, problems = _warc_problems(home / "captures")
    result.warc_records = records
    result.integrity += problems
    for event in events:
        result.integrity += _evidence_problems(home, event)


def _blob_problems(root: Path) -> list[str]:
    problems = []
    for blob in root.glob("*/*/*"):
        if blob.name.startswith(".tmp-"):
            continue  # a write killed midway: never renamed, never referenced
        if hashlib.sha256(blob.read_bytes()).hexdigest() != blob.name:
            problems.append(f"blob {blob} does not match its name")
    return problems


def _warc_problems(captures: Path) -> tuple[int, list[str]]:
    records, problems = 0, []
    for warc in sorted(captures.glob("*/*.warc.gz")):
        try:
            with open(warc, "rb") as f:
                for record in ArchiveIterator(f):
                    record.content_stream().read()
                    records += 1
        except Exception as exc:  # any failure to read one through is the finding
            problems.append(f"{warc}: unreadable after record {records}: {exc}")
    return records, problems


def _evidence_problems(home: Path, event: MediaDiscovered) -> list[str]:
    o = event.occurrence
    problems = []
    blob = home / "blobs" / o.sha256[:2] / o.sha256[2:4] / o.sha256
    if not blob.exists():
        problems.append(f"event for {o.media_url}: blob {o.sha256} missing")
    for ref, url in ((o.page_capture, o.page_url), (o.media_capture, o.media_url)):
        if ref is None:
            problems.append(f"event for {o.media_url}: no capture reference")
            continue
        try:
            with open(home / "captures" / ref.warc, "rb") as f:
                f.seek(ref.offset)
                record = next(iter(ArchiveIterator(f)))
                target = record.rec_headers.get_header("WARC-Target-URI")
        except Exception as exc:  # a missing file or a bad offset is the finding
            problems.append(f"capture {ref.warc}@{ref.offset}: {exc}")
            continue
        if target != url:
            problems.append(f"capture {ref.warc}@{ref.offset} is {target}, not {url}")
    return problems
