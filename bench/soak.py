"""Soak: 50,000 media items through the embedded pipeline, with the workers' memory over time.

Run::

    .venv/bin/python -m bench.soak [--items 50000] [--distinct 5000] [--json out.json]

What it does: registers 4 real photos (Debian's wallpapers, through ``tanba
works add``) in a fresh home, makes ``--distinct`` real-image variants
(resized, cropped, re-compressed, some mirrored) of those and 6 unrelated
photos, and publishes ``--items`` ``MediaDiscovered`` events for them on the
embedded bus, in shuffled order and in chunks while the workers run, each on
its own page URL (so every match is a distinct alert). ``tanba worker
fingerprint`` and ``tanba worker matcher`` run as separate processes, as in
production; the fingerprint stage decodes in its sandbox child. No crawler:
the events are published directly (the crawler's own memory is not measured).

Resident memory (VmRSS from /proc) of the fingerprint worker, its decoder
child and the matcher is sampled every second; the report gives it after the
first 1,000 items (start, past warm-up), at the middle and at the end, with
the throughput and the final counts (fingerprinted, quarantined, alerts).
Flat memory means no growth with the number of items once caches are full:
the fingerprint cache holds 4096 results, so ``--distinct`` above that makes
the workers decode again and again rather than serve from the cache.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from PIL import Image, ImageOps

from tanba.app.demo import media
from tanba.core import topics
from tanba.core.blobs import FileBlobStore
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.schemas.base import encode
from tanba.core.schemas.common import MediaOccurrence
from tanba.core.schemas.media import MediaDiscovered

REGISTERED = 4
CHUNK = 2000
SAMPLE_S = 1.0


@dataclass
class Sample:
    """One reading: seconds since start, items fully processed, RSS in MB per process."""

    t: float
    done: int
    rss_mb: dict[str, float]


@dataclass
class SoakResult:
    items: int
    distinct: int
    seconds: float = 0.0
    fingerprinted: int = 0
    quarantined: int = 0
    alerts: int = 0
    samples: list[Sample] = field(default_factory=list)

    def at(self, done: int) -> Sample:
        """The first sample with at least ``done`` items processed (the last one if none)."""
        return next((s for s in self.samples if s.done >= done), self.samples[-1])


def variants(photos: list[Path], count: int, rng: random.Random) -> list[bytes]:
    """``count`` distinct JPEG variants of ``photos``, as a site would serve copies."""
    bases = []
    for photo in photos:
        with Image.open(photo) as im:
            image = im.convert("RGB")
            image.thumbnail((960, 960))
            bases.append(image)
    out: list[bytes] = []
    seen: set[bytes] = set()
    while len(out) < count:
        image = bases[len(out) % len(bases)]
        w, h = image.size
        c = rng.uniform(0.0, 0.08)
        cropped = image.crop((int(w * c), int(h * c), int(w * (1 - c)), int(h * (1 - c))))
        width = rng.randint(200, 640)
        resized = cropped.resize((width, max(1, round(width * cropped.height / cropped.width))))
        if rng.random() < 0.2:
            resized = ImageOps.mirror(resized)
        buf = io.BytesIO()
        resized.save(buf, "JPEG", quality=rng.randint(50, 92))
        data = buf.getvalue()
        if data not in seen:
            seen.add(data)
            out.append(data)
    return out


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def children(pid: int) -> list[int]:
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(c) for c in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def processed(db: Path) -> int:
    """Items through both stages: the matcher's committed fingerprints plus quarantines."""
    with sqlite3.connect(db, timeout=30) as conn:
        row = conn.execute(
            "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ?",
            (topics.GROUP_MATCHER, topics.FINGERPRINTS),
        ).fetchone()
        matched = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE topic = ? AND offset < ?",
            (topics.FINGERPRINTS, row[0] if row else 0),
        ).fetchone()[0]
        quarantined = conn.execute(
            "SELECT COUNT(*) FROM messages WHERE topic = ?", (topics.QUARANTINE,)
        ).fetchone()[0]
    return int(matched) + int(quarantined)


def soak(home: Path, items: int, distinct: int, seed: int, log: object = print) -> SoakResult:
    say = log if callable(log) else print
    rng = random.Random(seed)
    photos = media.photos()[: REGISTERED + 6]
    tanba = [sys.executable, "-m", "tanba.app.cli", "--home", str(home)]
    registered = [str(p) for p in photos[:REGISTERED]]
    subprocess.run([*tanba, "works", "add", *registered, "--owner", "Soak"], check=True)
    say(f"registered {REGISTERED} works; making {distinct} variants ...")
    blobs = FileBlobStore(home / "blobs")
    shas = [blobs.put(v) for v in variants(photos, distinct, rng)]
    bus = EmbeddedBus(home / "bus.sqlite3")
    order = [rng.randrange(distinct) for _ in range(items)]

    def event(n: int) -> Record:
        sha = shas[order[n]]
        site = f"soak{n % 50}.example.kz"
        occurrence = MediaOccurrence(
            target="soak",
            site=site,
            page_url=f"http://{site}/page{n}.html",
            media_url=f"http://{site}/img/{sha[:16]}.jpg",
            sha256=sha,
            size=1,
            content_type="image/jpeg",
            fetched_at="2026-03-01T12:00:00Z",
        )
        return Record(site, encode(MediaDiscovered(occurrence=occurrence)))

    result = SoakResult(items=items, distinct=distinct)
    logs = home / "logs"
    logs.mkdir(exist_ok=True)
    workers = {}
    for stage in ("fingerprint", "matcher"):
        out = open(logs / f"{stage}.log", "wb")  # noqa: SIM115 - closed with the process
        workers[stage] = subprocess.Popen([*tanba, "worker", stage], stdout=out, stderr=out)
    started = time.monotonic()
    published = 0
    next_sample = 0.0
    try:
        while True:
            done = processed(home / "bus.sqlite3")
            if published < items and published - done < CHUNK:
                batch = [event(n) for n in range(published, min(items, published + CHUNK))]
                bus.publish(topics.MEDIA, batch)
                published += len(batch)
            now = time.monotonic() - started
            if now >= next_sample or done >= items:
                fp = workers["fingerprint"].pid
                rss = {
                    "fingerprint worker": rss_mb(fp),
                    "decoder child": sum(rss_mb(c) for c in children(fp)),
                    "matcher worker": rss_mb(workers["matcher"].pid),
                }
                result.samples.append(Sample(round(now, 1), done, rss))
                next_sample = now + SAMPLE_S
                if len(result.samples) % 30 == 0:
                    say(f"{now:6.0f} s: {done}/{items} done, RSS {rss}")
            if done >= items:
                break
            for stage, process in workers.items():
                if process.poll() is not None:
                    raise RuntimeError(f"the {stage} worker died; see {logs}/{stage}.log")
            time.sleep(0.2)
    finally:
        for process in workers.values():
            process.send_signal(signal.SIGTERM)
        for process in workers.values():
            process.wait(timeout=120)
    result.seconds = time.monotonic() - started
    with sqlite3.connect(home / "bus.sqlite3") as conn:
        count = dict(conn.execute("SELECT topic, COUNT(*) FROM messages GROUP BY topic").fetchall())
    result.fingerprinted = int(count.get(topics.FINGERPRINTS, 0))
    result.quarantined = int(count.get(topics.QUARANTINE, 0))
    with sqlite3.connect(home / "alerts.sqlite3") as conn:
        result.alerts = int(conn.execute("SELECT COUNT(*) FROM alerts").fetchone()[0])
    bus.close()
    return result


def table(result: SoakResult) -> str:
    """The figures as a Markdown table."""
    points = [("start (1,000 items)", 1000), ("middle", result.items // 2), ("end", result.items)]
    names = list(result.samples[0].rss_mb)
    lines = [
        "| point | items done | " + " | ".join(f"{n} RSS (MB)" for n in names) + " |",
        "|---|---:|" + "---:|" * len(names),
    ]
    for label, n in points:
        s = result.at(n)
        lines.append(
            f"| {label} | {s.done:,} | " + " | ".join(f"{s.rss_mb[k]:.0f}" for k in names) + " |"
        )
    lines.append("")
    lines.append(
        f"{result.items:,} items ({result.distinct:,} distinct images) in {result.seconds:.0f} s"
        f" ({result.items / max(result.seconds, 1e-9):.0f} items/s): fingerprinted"
        f" {result.fingerprinted:,}, quarantined {result.quarantined:,}, alerts {result.alerts:,}."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.soak", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--items", type=int, default=50_000)
    parser.add_argument("--distinct", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--home", type=Path, default=None, help="default: a temporary directory")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tanba-soak-") as tmp:
        home = args.home or Path(tmp) / "home"
        result = soak(home, args.items, args.distinct, args.seed)
    print(table(result))
    if args.json is not None:
        args.json.write_text(json.dumps(asdict(result), indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
