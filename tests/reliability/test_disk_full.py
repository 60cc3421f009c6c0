"""A full disk: every write stops with DiskFull saying where, and resumes when space returns.

The home lives on a small tmpfs the test mounts (it runs as root, as CI does).
First each store on its own: bus, consumer commit, alert store, blob store and
WARC writer raise :class:`DiskFull` naming the file and the mount point, keep
nothing half-written, and work again once the filler is deleted. Then the
real pipeline, stage by stage as separate processes: each one, started on a
full disk, logs that the disk is full and where, stays up, and finishes once
space is back; the alerts are then exactly the demo's.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.http import Request, Response
from warcio.archiveiterator import ArchiveIterator

from bench.harness.chaos import RoundResult, check_home, tanba_command
from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import DemoSite
from tanba.core.alerts import Alert
from tanba.core.blobs import FileBlobStore
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.exceptions import DiskFull
from tanba.core.store import AlertQuery
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.crawlers.warc import WarcWriter
from tests.reliability.diskfull import checkpoint, fill, small_disk
from tests.support.alerts import make_alert


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with small_disk(tmp_path / "disk", size_mb=8) as mounted:
        yield mounted


def alert(n: int) -> Alert:
    return make_alert(page=f"http://kino.example.kz/{n}")


def exchange(n: int, size: int = 64 << 10) -> Response:
    """An HTTP exchange whose body does not compress (so its WARC record is ``size`` large)."""
    url = f"http://kino.example.kz/{n}.jpg"
    return Response(url, body=random.Random(n).randbytes(size), request=Request(url))


def test_each_store_refuses_cleanly_on_a_full_disk_and_works_once_space_is_back(
    disk: Path,
) -> None:
    bus = EmbeddedBus(disk / "bus.sqlite3")
    bus.publish("t", [Record("k", b"before")])
    consumer = bus.consumer("g", ["t"])
    batch = consumer.poll(10, 0.1)
    store = EmbeddedAlertStore(disk / "alerts.sqlite3")
    store.upsert([alert(0)])
    blobs = FileBlobStore(disk / "blobs")
    warc = WarcWriter(disk / "captures", "c/t.warc.gz")
    warc.write(exchange(0))
    checkpoint(disk)
    filler = fill(disk)

    where = f"the file system at {disk} has"
    with pytest.raises(DiskFull, match=f"cannot write the embedded bus {disk}/bus.sqlite3"):
        bus.publish("t", [Record("k", b"x" * 100_000)])
    with pytest.raises(DiskFull, match=where):
        consumer.commit(batch)
    with pytest.raises(DiskFull, match=f"cannot write the embedded alert store .*; {where}"):
        store.upsert([alert(n) for n in range(1, 200)])
    with pytest.raises(DiskFull, match=f"cannot write the blob .*; {where}"):
        blobs.put(b"y" * (1 << 20))
    assert not list((disk / "blobs").glob("*/*/.tmp-*"))  # nothing half-written left
    size = warc.path.stat().st_size
    with pytest.raises(DiskFull, match=f"cannot write the WARC capture .*; {where}"):
        warc.write(exchange(1, size=1 << 20))
    assert warc.path.stat().st_size == size  # cut back to where the exchange began

    filler.unlink()
    bus.publish("t", [Record("k", b"after")])
    consumer.commit(batch)
    store.upsert([alert(n) for n in range(1, 200)])
    digest = blobs.put(b"y" * (1 << 20))
    ref = warc.write(exchange(2))
    warc.close()

    assert [m.value for m in bus.replay("t")] == [b"before", b"after"]
    assert store.search(AlertQuery(limit=1000)).total == 200
    assert blobs.get(digest) == b"y" * (1 << 20)
    with open(warc.path, "rb") as f:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(f)]
    assert uris.count("http://kino.example.kz/0.jpg") == 2  # request and response
    assert uris.count("http://kino.example.kz/1.jpg") == 0  # the refused exchange left no trace
    assert ref.offset > 0
    bus.close()
    store.close()


def _wait_for(log: Path, text: str, process: subprocess.Popen[bytes], timeout_s: float) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        content = log.read_text(errors="replace") if log.exists() else ""
        if text in content:
            return content
        if process.poll() is not None:
            break
        time.sleep(0.1)
    content = log.read_text(errors="replace") if log.exists() else ""
    raise AssertionError(f"{text!r} never appeared (exit {process.poll()}):\n{content[-3000:]}")


def _stage_through_a_full_disk(
    home: Path, disk: Path, args: list[str], expect: list[str], logs: Path
) -> str:
    """Start ``tanba ARGS`` on a full disk, see it say so and wait, free the disk, see it finish.

    The test holds each database open meanwhile, as the other stages of a running
    installation do: SQLite then keeps its WAL index, and a stage that starts can open
    the database and fail only at its first write (a stage started when no process
    has the database open cannot even map the index, and exits with the same message).
    """
    keepers = [sqlite3.connect(db) for db in sorted(home.glob("*.sqlite3"))]
    for keeper in keepers:
        keeper.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # maps the WAL index
    try:
        checkpoint(home)
        filler = fill(disk)
        log = logs / f"{args[0]}-{args[1] if len(args) > 1 else ''}.log".replace("/", "_")
        with open(log, "wb") as out:
            process = subprocess.Popen(tanba_command(home, *args), stdout=out, stderr=out)
            try:
                text = _wait_for(log, "disk full", process, timeout_s=300)
                time.sleep(1.0)  # it keeps retrying and stays up
                assert process.poll() is None, text[-3000:]
            finally:
                filler.unlink()
            assert process.wait(timeout=300) == 0, log.read_text(errors="replace")[-3000:]
    finally:
        for keeper in keepers:
            keeper.close()
    text = log.read_text(errors="replace")
    for fragment in expect:
        assert fragment in text, f"{fragment!r} not in:\n{text[-3000:]}"
    return text


def test_the_pipeline_pauses_on_a_full_disk_and_loses_nothing(
    tmp_path: Path, demo: DemoSite, registered_home: Path
) -> None:
    size_mb = sum(f.stat().st_size for f in registered_home.rglob("*") if f.is_file()) // 2**20
    logs = tmp_path / "logs"
    logs.mkdir()
    with (
        small_disk(tmp_path / "disk", size_mb=size_mb + 24) as disk,
        SiteServer(demo.sites) as server,
    ):
        home = disk / "home"
        shutil.copytree(registered_home, home)
        EmbeddedAlertStore(home / "alerts.sqlite3").close()  # an installation has its store
        targets = demo.write_targets(tmp_path / "targets.yaml", server.port)
        where = f"the file system at {disk} has"
        # The crawl's jobs are published while there is room; a crawler then takes them
        # and meets the full disk at its first capture (`tanba crawl` started on a full
        # disk would wait at publishing its jobs instead, before any fetch).
        published = subprocess.run(
            tanba_command(home, "crawl", str(targets), "--no-wait", *server.resolve_args()),
            capture_output=True,
            text=True,
            check=False,
        )
        assert published.returncode == 0, published.stderr
        _stage_through_a_full_disk(
            home,
            disk,
            ["worker", "crawler", "--until-idle"],
            ["disk full: cannot write the WARC capture", where, "crawl paused", "crawl resumed"],
            logs,
        )
        for stage, what in (
            ("fingerprint", "the embedded bus"),
            ("matcher", "the embedded alert store"),
        ):
            _stage_through_a_full_disk(
                home,
                disk,
                ["worker", stage, "--until-idle"],
                [f"{stage}: disk full: cannot write {what}", where, "nothing committed"],
                logs,
            )
        result = RoundResult(round=1)
        check_home(result, home, demo, server.port)
    assert result.ok, result
