"""Crash safety of the embedded stores: a writer killed with SIGKILL at random, again and again.

Contract: :func:`run` starts a child (``python -m bench.harness.crashloop
--child HOME``) that loops over numbered batches; each batch publishes
``BATCH`` records to the embedded bus, upserts ``BATCH`` alerts into the
embedded store, stores a blob, appends an HTTP exchange to a WARC file,
commits a consumer group past what it read, and then prints ``ack N`` once
all of it returned. The parent kills the child with SIGKILL at a random time
(seeded), checks the home, and starts the child again (it resumes after the
last batch it finds), ``kills`` times. Checks after every kill:

- both SQLite files pass ``PRAGMA integrity_check``;
- a batch is all or nothing: every batch id has 0 or ``BATCH`` messages, and
  0 or ``BATCH`` alerts; every acknowledged batch is there whole;
- the group's committed offset never passes the newest message;
- every blob's name is the SHA-256 of its content (leftover ``.tmp-`` files
  are counted, and :meth:`BlobStore.sweep` removes them);
- the WARC file reads from start to end once reopened for appending (a
  record cut by the kill is dropped), and every acknowledged capture reference
  still points at its record.

Why a loop of kills rather than one: a single kill lands at one point of the
write path; dozens, at random, cover the window between a write and its fsync,
a rename and its directory sync, a transaction and its commit.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tanba.app.demo.alerts import make_alert
from tanba.core.alerts import Alert

BATCH = 7
TOPIC = "crash.test"
GROUP = "crash-group"


@dataclass
class CrashResult:
    """What the kills found."""

    kills: int = 0
    acked: int = 0  # batches acknowledged before their kill, summed over runs
    batches: int = 0  # batches found whole at the end
    tmp_files_swept: int = 0
    warc_tails_dropped: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def run(work_dir: Path, *, seed: int, kills: int) -> CrashResult:
    """Kill the writer ``kills`` times at random points and check the home after each."""
    rng = random.Random(seed)
    home = work_dir / "crash-home"
    home.mkdir(parents=True, exist_ok=True)
    result = CrashResult()
    acked_refs: dict[int, tuple[str, int]] = {}
    for _ in range(kills):
        child = subprocess.Popen(
            [sys.executable, "-m", "bench.harness.crashloop", "--child", str(home)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            result.problems.append("the writer did not start")
            child.kill()
            break
        time.sleep(rng.uniform(0.0, 0.8))
        child.send_signal(signal.SIGKILL)
        out, _ = child.communicate()
        result.kills += 1
        for line in out.splitlines():
            if line.startswith("ack "):
                _, batch, warc_offset, warc_length = line.split()
                acked_refs[int(batch)] = (warc_offset, int(warc_length))
                result.acked += 1
        _check(home, acked_refs, result)
    return result


def _check(home: Path, acked: dict[int, tuple[str, int]], result: CrashResult) -> None:
    from tanba.core.blobs import FileBlobStore

    for name in ("bus.sqlite3", "alerts.sqlite3"):
        if not (home / name).exists():
            continue
        with sqlite3.connect(home / name) as db:
            verdict = db.execute("PRAGMA integrity_check").fetchone()[0]
            if verdict != "ok":
                result.problems.append(f"{name}: {verdict}")
    with sqlite3.connect(home / "bus.sqlite3") as db:
        per_batch = dict(
            db.execute("SELECT key, COUNT(*) FROM messages WHERE topic = ? GROUP BY key", (TOPIC,))
        )
        newest = db.execute("SELECT COALESCE(MAX(offset), 0) FROM messages").fetchone()[0]
        row = db.execute(
            "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ?", (GROUP, TOPIC)
        ).fetchone()
    if row and row[0] > newest + 1:
        result.problems.append(f"committed offset {row[0]} is past the newest message {newest}")
    with sqlite3.connect(home / "alerts.sqlite3") as db:
        alerts = dict(db.execute("SELECT target, COUNT(*) FROM alerts GROUP BY target").fetchall())
    for key, count in per_batch.items():
        if count != BATCH:
            result.problems.append(f"batch {key}: {count} of {BATCH} messages")
    for key, count in alerts.items():
        if count != BATCH:
            result.problems.append(f"batch {key}: {count} of {BATCH} alerts")
    for batch in acked:
        if per_batch.get(f"b{batch}") != BATCH or alerts.get(f"b{batch}") != BATCH:
            result.problems.append(f"acknowledged batch {batch} is not all there")
    result.batches = len(per_batch)

    blobs = FileBlobStore(home / "blobs")
    for blob in (home / "blobs").glob("*/*/*"):
        if blob.name.startswith(".tmp-"):
            continue  # a write the kill cut short: never renamed, never referenced
        if hashlib.sha256(blob.read_bytes()).hexdigest() != blob.name:
            result.problems.append(f"blob {blob.name} does not match its content")
    result.tmp_files_swept += blobs.sweep(older_than_s=0)

    warc = home / "captures" / "crash.warc.gz"
    if warc.exists():
        before = warc.stat().st_size
        from tanba.crawlers.warc import WarcWriter

        WarcWriter(home / "captures", "crash.warc.gz").close()  # drops a cut tail
        if warc.stat().st_size < before:
            result.warc_tails_dropped += 1
        result.problems += _read_warc(warc, acked)


def _read_warc(warc: Path, acked: dict[int, tuple[str, int]]) -> list[str]:
    from warcio.archiveiterator import ArchiveIterator

    problems = []
    try:
        with open(warc, "rb") as f:
            for record in ArchiveIterator(f):
                record.content_stream().read()
    except Exception as exc:  # any failure to read through is the finding
        problems.append(f"WARC unreadable after reopening: {exc}")
    with open(warc, "rb") as f:
        for batch, (offset, _) in acked.items():
            f.seek(int(offset))
            try:
                record = next(iter(ArchiveIterator(f)))
                uri = record.rec_headers.get_header("WARC-Target-URI")
            except Exception as exc:  # a reference that no longer resolves is the finding
                problems.append(f"acknowledged capture of batch {batch}: {exc}")
                continue
            if uri != f"http://crash.example.kz/b{batch}":
                problems.append(f"acknowledged capture of batch {batch} is {uri}")
    return problems


# -- the child ------------------------------------------------------------------------------


def _child(home: Path) -> None:
    from scrapy.http import Request, Response

    from tanba.core.blobs import FileBlobStore
    from tanba.core.bus import Record
    from tanba.core.bus.embedded import EmbeddedBus
    from tanba.core.store.embedded import EmbeddedAlertStore
    from tanba.crawlers.warc import WarcWriter

    home.mkdir(parents=True, exist_ok=True)
    bus = EmbeddedBus(home / "bus.sqlite3")
    store = EmbeddedAlertStore(home / "alerts.sqlite3")
    blobs = FileBlobStore(home / "blobs")
    warc = WarcWriter(home / "captures", "crash.warc.gz")
    consumer = bus.consumer(GROUP, [TOPIC])
    with sqlite3.connect(home / "bus.sqlite3") as db:
        keys = [
            k for (k,) in db.execute("SELECT DISTINCT key FROM messages WHERE topic = ?", (TOPIC,))
        ]
    batch = max((int(k[1:]) for k in keys), default=-1) + 1
    rng = random.Random(os.getpid())
    print("ready", flush=True)
    while True:
        key = f"b{batch}"
        bus.publish(TOPIC, [Record(key, json.dumps({"i": i}).encode()) for i in range(BATCH)])
        store.upsert([_alert(key, i) for i in range(BATCH)])
        blobs.put(rng.randbytes(rng.randint(1 << 10, 1 << 20)))
        url = f"http://crash.example.kz/{key}"
        body = rng.randbytes(rng.randint(1 << 10, 256 << 10))
        ref = warc.write(Response(url, body=body, request=Request(url)))
        consumer.commit(consumer.poll(1000, 0.0))
        print(f"ack {batch} {ref.offset} {ref.length}", flush=True)
        batch += 1


def _alert(key: str, i: int) -> Alert:
    """The ``i``-th alert of batch ``key`` (its target names the batch, see _check)."""
    page = f"http://crash.example.kz/{key}"
    return make_alert(page=page, media_url=f"{page}/{i}.jpg", target=key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.harness.crashloop")
    parser.add_argument("--child", type=Path, required=True)
    _child(parser.parse_args().child)
