"""Starting crawls from the console: a crawl job per run, a log of runs, and a scheduler.

Every run is a crawl job on ``tanba.crawl-jobs`` (:mod:`tanba.core.crawl_jobs`), published
one of two ways (``TANBA_CONSOLE_CRAWL_COMMAND``). With ``jobs``, :class:`JobLauncher`
publishes it from the console and the crawler workers (``tanba worker crawler``) run it;
the run is finished when the job's report is on ``tanba.crawls``. With ``run`` or
``crawl`` (the embedded set-up, where no crawler runs beside the console), a run starts
``python -m tanba.app.cli --home HOME {run|crawl} --target ID``, which publishes the job
and crawls it in that process, as ``tanba crawl`` does, with the console's settings in
its environment and its output in
``home/console/crawls/<run id>/crawl.log``: the child reads the target (and the
``--resolve`` entries recorded with it) from the target registry, as any
``tanba run`` does. A subprocess, because Twisted's reactor runs once per process
and a crawl must not block or crash the web server; the crawl reports its
counters on ``tanba.crawls`` as usual, where :mod:`tanba.console.stats` reads them.
Runs are kept by target id.

The :class:`Scheduler` starts active targets whose ``schedule_hours`` have passed
since their last run; ``tanba console`` ticks it once a minute in a thread.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
from dataclasses import dataclass, fields
from datetime import timedelta
from pathlib import Path
from typing import Protocol

from tanba.console.exceptions import Conflict
from tanba.console.targets import ConsoleTargets
from tanba.core.bus import Bus
from tanba.core.clock import Clock, iso, parse_iso
from tanba.core.crawl_jobs import job_for, job_record
from tanba.core.crawl_reports import CrawlReports
from tanba.core.exceptions import InputError, TanbaError
from tanba.core.resolve import parse_resolve
from tanba.core.schemas.targets import TargetRecord
from tanba.core.settings import Settings
from tanba.core.sqlite import Database, transaction
from tanba.core.target_registry import record_target
from tanba.core.topics import CRAWL_JOBS

log = logging.getLogger(__name__)
#: How a run the JobLauncher published is recorded in ``crawl_runs.command``: ``job <job id>``.
JOB_COMMAND = "job"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS crawl_runs (
    id TEXT PRIMARY KEY,
    target TEXT NOT NULL,
    started_at TEXT NOT NULL,
    started_by TEXT NOT NULL,
    command TEXT NOT NULL,
    log TEXT NOT NULL,
    pid INTEGER NOT NULL,
    finished_at TEXT NOT NULL DEFAULT '',
    returncode INTEGER
);
CREATE INDEX IF NOT EXISTS crawl_runs_target ON crawl_runs (target, started_at);
"""


@dataclass(frozen=True)
class CrawlRun:
    """One crawl started by the console (``target``: the target's id)."""

    id: str
    target: str
    started_at: str
    started_by: str
    command: str
    log: str
    pid: int
    finished_at: str = ""
    returncode: int | None = None

    @property
    def running(self) -> bool:
        return not self.finished_at


class RunLog:
    """The crawl runs the console started, durable in its database."""

    def __init__(self, db: Database) -> None:
        self._db = db
        db.conn().executescript(_SCHEMA)

    def add(self, run: CrawlRun) -> None:
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "INSERT INTO crawl_runs VALUES (?,?,?,?,?,?,?,?,?)",
                tuple(getattr(run, f.name) for f in fields(run)),
            )

    def finish(self, run_id: str, finished_at: str, returncode: int | None) -> None:
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "UPDATE crawl_runs SET finished_at=?, returncode=? WHERE id=?",
                (finished_at, returncode, run_id),
            )

    def get(self, run_id: str) -> CrawlRun | None:
        row = self._db.conn().execute("SELECT * FROM crawl_runs WHERE id = ?", (run_id,)).fetchone()
        return CrawlRun(*row) if row else None

    def runs(self, target: str, limit: int = 20) -> list[CrawlRun]:
        rows = self._db.conn().execute(
            "SELECT * FROM crawl_runs WHERE target = ? ORDER BY started_at DESC, id DESC LIMIT ?",
            (target, limit),
        )
        return [CrawlRun(*r) for r in rows]

    def last(self, target: str) -> CrawlRun | None:
        runs = self.runs(target, 1)
        return runs[0] if runs else None

    def close_orphans(self, now: str) -> None:
        """Mark runs left unfinished by an earlier console process as ended (return code None)."""
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "UPDATE crawl_runs SET finished_at=?, returncode=NULL WHERE finished_at=''", (now,)
            )


class CrawlLauncher(Protocol):
    """Starts the crawl of one target and records the run."""

    def start(self, record: TargetRecord, actor: str) -> CrawlRun: ...


def _check_launchable(record: TargetRecord, runs: RunLog) -> None:
    if record.archived:
        raise InputError(f"target {record.name!r} is archived; restore it before crawling")
    if record.spec.get("paused"):
        raise InputError(f"target {record.name!r} is paused; resume it before crawling")
    last = runs.last(record.id)
    if last is not None and last.running:
        raise Conflict(
            f"a crawl of {record.name!r} is running since {last.started_at}; wait for it"
        )


class JobLauncher:
    """Publishes each run as a crawl job for the crawler workers; a run ends with its report.

    ``refresh`` marks a run finished once a report of its crawl for its target is on
    ``tanba.crawls`` (whichever crawler ran it); :meth:`start` and the scheduler's tick
    call it, so a target is started again only after its last job is done.
    """

    def __init__(self, bus: Bus, runs: RunLog, reports: CrawlReports, clock: Clock) -> None:
        self._bus = bus
        self._runs = runs
        self._reports = reports
        self._clock = clock
        self._lock = threading.Lock()

    def start(self, record: TargetRecord, actor: str) -> CrawlRun:
        with self._lock:
            self.refresh(record.id)
            _check_launchable(record, self._runs)
            now = self._clock.now()
            crawl_id = now.strftime("%Y%m%dT%H%M%SZ")
            job = job_for(
                record_target(record),
                crawl_id,
                parse_resolve(record.resolve),
                requested_at=iso(now),
                requested_by=actor,
            )
            self._bus.publish(CRAWL_JOBS, [job_record(job)])
            run = CrawlRun(
                id=f"{crawl_id}-{record.id}-{secrets.token_hex(3)}",
                target=record.id,
                started_at=iso(now),
                started_by=actor,
                command=f"{JOB_COMMAND} {job.job_id}",
                log="",
                pid=0,
            )
            self._runs.add(run)
            return run

    def refresh(self, target: str) -> None:
        """Finish ``target``'s last run if it is a job whose report has arrived."""
        last = self._runs.last(target)
        if last is None or not last.running or not last.command.startswith(JOB_COMMAND):
            return
        crawl_id = last.command.removeprefix(JOB_COMMAND).strip().split("/", 1)[0]
        report = self._reports.crawl(target, crawl_id)
        if report is not None:
            self._runs.finish(last.id, report.finished_at, 0)


def subprocess_env(settings: Settings) -> dict[str, str]:
    """The environment of a child Tanba process: this one's, with every setting made explicit."""
    env = {**os.environ, **settings.variables()}
    env["TANBA_HOME"] = str(Path(settings.home).resolve())
    return env


class SubprocessLauncher:
    """Runs each crawl as ``python -m tanba.app.cli {run|crawl}`` and waits for it in a thread."""

    def __init__(self, settings: Settings, runs: RunLog, clock: Clock) -> None:
        self._settings = settings
        self._runs = runs
        self._clock = clock
        self._lock = threading.Lock()
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._done: dict[str, threading.Event] = {}
        runs.close_orphans(iso(clock.now()))

    def start(self, record: TargetRecord, actor: str) -> CrawlRun:
        with self._lock:
            _check_launchable(record, self._runs)
            now = self._clock.now()
            run_id = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{record.id}-{secrets.token_hex(3)}"
            folder = self._settings.path("console", "crawls", run_id)
            folder.mkdir(parents=True, exist_ok=True)
            command = [
                sys.executable,
                "-m",
                "tanba.app.cli",
                "--home",
                str(Path(self._settings.home).resolve()),
                self._settings.console_crawl_command,
                "--target",
                record.id,
            ]
            log_path = folder / "crawl.log"
            with open(log_path, "wb") as log:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=subprocess_env(self._settings),
                    start_new_session=True,  # Ctrl-C on the console does not kill a crawl midway
                )
            run = CrawlRun(
                id=run_id,
                target=record.id,
                started_at=iso(now),
                started_by=actor,
                command=" ".join(command),
                log=str(log_path),
                pid=proc.pid,
            )
            self._runs.add(run)
            self._procs[run_id] = proc
            self._done[run_id] = threading.Event()
        threading.Thread(target=self._wait, args=(run_id, proc), daemon=True).start()
        return run

    def _wait(self, run_id: str, proc: subprocess.Popen[bytes]) -> None:
        code = proc.wait()
        self._runs.finish(run_id, iso(self._clock.now()), code)
        with self._lock:
            self._procs.pop(run_id, None)
            done = self._done.pop(run_id, None)
        if done is not None:
            done.set()

    def wait(self, run_id: str, timeout_s: float) -> CrawlRun | None:
        """Block until a run started here has finished (tests, scripts); the run as recorded."""
        with self._lock:
            done = self._done.get(run_id)
        if done is not None:
            done.wait(timeout_s)
        return self._runs.get(run_id)

    def stop_all(self) -> None:
        """Terminate the crawls this launcher started (console shutdown in tests)."""
        with self._lock:
            procs = list(self._procs.values())
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()


class Scheduler:
    """Starts targets whose interval has passed since their last run (active, not running)."""

    def __init__(
        self, targets: ConsoleTargets, runs: RunLog, launcher: CrawlLauncher, clock: Clock
    ) -> None:
        self._targets = targets
        self._runs = runs
        self._launcher = launcher
        self._clock = clock

    def due(self) -> list[TargetRecord]:
        now = self._clock.now()
        due = []
        for record in self._targets.registry.records():
            hours = float(record.spec.get("schedule_hours") or 0)
            if record.spec.get("paused") or hours <= 0:
                continue
            if isinstance(self._launcher, JobLauncher):
                self._launcher.refresh(record.id)
            last = self._runs.last(record.id)
            if last is None or (
                not last.running and now - parse_iso(last.started_at) >= timedelta(hours=hours)
            ):
                due.append(record)
        return due

    def tick(self) -> list[CrawlRun]:
        """Start every due target; returns the runs started."""
        started = []
        for record in self.due():
            try:
                self._targets.launchable(record)
                started.append(self._launcher.start(record, actor="scheduler"))
            except Conflict:  # started by hand a moment ago
                continue
            except TanbaError as exc:  # e.g. private addresses no longer allowed here
                log.warning("scheduled crawl of %s not started: %s", record.id, exc)
        return started

    def run_forever(self, stop: threading.Event, interval_s: float = 60.0) -> None:
        while not stop.wait(interval_s):
            try:
                self.tick()
            except Exception:  # a failed tick (disk full, bad target) must not end the loop
                log.exception("scheduled crawls could not be started; trying again next minute")
