"""Benchmark: the works list query of the console at a million works, on SQLite and Elasticsearch.

Usage::

    .venv/bin/python bench/works_list.py [--works 1000000] [--es-budget 600] [--repeat 40]
        [--baseline 2000] [--elastic http://127.0.0.1:9200] [--dir DIR]

Each catalogue (:mod:`tanba.core.works_catalog`) is filled with ``--works``
synthetic entries through its own write path (``apply`` in chunks of 5,000, as a
catch-up writes them): 1,000 owners, titles of three words from a 2,000-word
vocabulary, ``IMG_<n>.jpg`` file names, nine images to one recording. The
metadata is synthetic; lists never read prints, so no print is stored. The
Elasticsearch load stops after ``--es-budget`` seconds if it has not finished
(the figures then say how many works it held). Then each query the works page
and ``/api/works`` run is timed ``--repeat`` times (a different owner, word or
position each time) and its median and 95th percentile are printed side by side
for both stores beside the issue's 300 ms target:

* the first page (50 works, with the exact total);
* one owner's works; recordings only; a text search of one word (a rare word's
  start) and of one letter (a very common start);
* a deep page: the page after a random work's cursor (anywhere up to the end).

The baseline is today's list before this catalogue: ``WorkRegistry.all()``
replays the works topic and decodes every work with its print. It is timed on
``--baseline`` works with a print of a real image's size (446 hashes and
descriptors, synthetic values) on the embedded bus, and extrapolated linearly to
``--works`` (the replay is linear in the topic's length).
"""

from __future__ import annotations

import argparse
import base64
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.base import encode
from tanba.core.schemas.common import Fingerprint
from tanba.core.schemas.works import Work, WorkRegistered
from tanba.core.signals.image import ImageHash, ImagePrint
from tanba.core.works_catalog import WorkCatalog, WorkEntry, WorkQuery
from tanba.core.works_catalog.base import CHUNK, Change, encode_cursor, sort_key
from tanba.core.works_catalog.elastic import ElasticWorkCatalog
from tanba.core.works_catalog.embedded import EmbeddedWorkCatalog

TARGET_MS = 300.0
OWNERS = 1_000
VOCABULARY = 2_000
NAMESPACE = "bench-works-list"


def vocabulary(seed: int = 3) -> list[str]:
    rnd = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rnd.choice(letters) for _ in range(rnd.randint(4, 9))))
    return sorted(words)


WORDS = vocabulary()


def entry(i: int) -> WorkEntry:
    """The synthetic work number ``i`` (the same every run)."""
    rnd = random.Random(i)
    title = " ".join(rnd.choice(WORDS) for _ in range(3)).capitalize()
    media = "audio" if i % 10 == 0 else "image"
    return WorkEntry(
        work_id=f"w{i:07d}",
        owner=f"Owner {rnd.randrange(OWNERS):04d}",
        title=title,
        media=media,
        sha256=f"{i:064x}",
        filename=f"IMG_{i:07d}.{'mp3' if media == 'audio' else 'jpg'}",
        territories=["KZ", "RU"] if i % 3 else [],
        registered_at="2026-03-01T00:00:00.000Z",
        width=1024 if media == "image" else 0,
        height=768 if media == "image" else 0,
        windows=446 if media == "image" else 0,
        duration_s=200.0 if media == "audio" else 0.0,
    )


def load(catalog: WorkCatalog, n: int, budget_s: float) -> tuple[int, float]:
    """Write works 0..n-1 in chunks; stops after ``budget_s``. Returns (works held, seconds)."""
    start = time.perf_counter()
    done = 0
    while done < n and time.perf_counter() - start < budget_s:
        chunk = range(done, min(n, done + CHUNK))
        catalog.apply([Change(f"w{i:07d}", i, entry(i)) for i in chunk], {0: chunk[-1]})
        done = chunk[-1] + 1
        if done % 100_000 == 0:
            print(f"  {done:,} works in {time.perf_counter() - start:.0f} s", flush=True)
    return done, time.perf_counter() - start


def timed(run: Callable[[random.Random], object], repeat: int) -> tuple[float, float]:
    rnd = random.Random(11)
    run(rnd)  # warm the caches once, as a console that has served a page has
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        run(rnd)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, round(0.95 * len(times)) - 1)]


def cases(held: int) -> dict[str, Callable[[WorkCatalog, random.Random], object]]:
    def deep(c: WorkCatalog, r: random.Random) -> object:
        cursor = encode_cursor(sort_key(entry(r.randrange(held))))
        return c.search(WorkQuery(after=cursor))

    return {
        "first page": lambda c, r: c.search(WorkQuery()),
        "one owner": lambda c, r: c.search(WorkQuery(owner=f"Owner {r.randrange(OWNERS):04d}")),
        "recordings only": lambda c, r: c.search(WorkQuery(media="audio")),
        "text: a word's start": lambda c, r: c.search(WorkQuery(text=r.choice(WORDS)[:4])),
        "text: one letter": lambda c, r: c.search(WorkQuery(text=r.choice("abcdefgh"))),
        "deep page (cursor)": deep,
    }


def baseline(n: int, folder: Path) -> float:
    """Seconds for WorkRegistry.all() over ``n`` works with image-sized prints."""
    rnd = random.Random(5)
    hashes = [
        ImageHash(algorithm="phash64", variant=f"w{k}", value=f"{rnd.getrandbits(64):016x}")
        for k in range(446)
    ]
    descriptors = base64.b64encode(rnd.randbytes(63 * 446)).decode("ascii")
    image = ImagePrint(
        width=1024, height=768, hashes=hashes, descriptor="bench", descriptors_b64=descriptors
    )
    with closing(EmbeddedBus(folder / "bus.sqlite3")) as bus:
        for start in range(0, n, 500):
            records = []
            for i in range(start, min(n, start + 500)):
                e = entry(i)
                fp = Fingerprint(media="image", sha256=e.sha256, image=image)
                work = Work(
                    **e.model_dump(exclude={"width", "height", "windows", "duration_s"})
                    | {"media": "image"},
                    fingerprint=fp,
                )
                records.append(Record(work.work_id, encode(WorkRegistered(work=work))))
            bus.publish(topics.WORKS, records)
        registry = WorkRegistry(bus)
        t0 = time.perf_counter()
        works = registry.all()
        sorted(works.values(), key=lambda w: (w.owner, w.title.lower(), w.work_id))
        return time.perf_counter() - t0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument("--es-budget", type=float, default=600.0, metavar="SECONDS")
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--baseline", type=int, default=2_000)
    parser.add_argument("--elastic", default="http://127.0.0.1:9200")
    parser.add_argument("--dir", type=Path, default=None, help="where the SQLite file goes")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        folder = Path(tmp)
        print(f"baseline: WorkRegistry.all() over {args.baseline:,} works ...", flush=True)
        base_s = baseline(args.baseline, folder)
        print(
            f"  {base_s * 1000:.0f} ms; extrapolated to {args.works:,} works: "
            f"{base_s * args.works / args.baseline:.0f} s per list request",
            flush=True,
        )
        stores: dict[str, tuple[WorkCatalog, int]] = {}
        sqlite = EmbeddedWorkCatalog(folder / "works.sqlite3")
        print(f"loading SQLite with {args.works:,} works ...", flush=True)
        held, seconds = load(sqlite, args.works, float("inf"))
        size = (folder / "works.sqlite3").stat().st_size
        print(
            f"  {held:,} works in {seconds:.0f} s ({held / seconds:,.0f}/s), {size / 2**20:.0f} MiB",
            flush=True,
        )
        stores["SQLite"] = (sqlite, held)
        elastic = ElasticWorkCatalog(args.elastic, namespace=NAMESPACE, refresh="false")
        elastic.drop()
        print(
            f"loading Elasticsearch with up to {args.works:,} works ({args.es_budget:.0f} s budget) ...",
            flush=True,
        )
        held, seconds = load(elastic, args.works, args.es_budget)
        elastic.refresh()
        print(f"  {held:,} works in {seconds:.0f} s ({held / seconds:,.0f}/s)", flush=True)
        stores["Elasticsearch"] = (elastic, held)
        try:
            names = list(stores)
            print()
            print(
                f"{'query (50 a page)':<24}"
                + "".join(f"{n + ' p50/p95 ms':>30}" for n in names)
                + "   target p95"
            )
            for label in cases(1):
                row = f"{label:<24}"
                for name in names:
                    catalog, held = stores[name]
                    run = cases(held)[label]
                    p50, p95 = timed(lambda r, c=catalog, f=run: f(c, r), args.repeat)
                    flag = "" if p95 < TARGET_MS else " !"
                    row += f"{f'{p50:.1f} / {p95:.1f}{flag}':>30}"
                print(row + f"   < {TARGET_MS:.0f}", flush=True)
            for name in names:
                catalog, held = stores[name]
                print(f"{name}: {catalog.count():,} works held")
        finally:
            elastic.drop()
            elastic.close()
            sqlite.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
