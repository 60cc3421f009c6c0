"""Catalogue scale: a million registered images in one matcher, cold start, query time, memory.

Usage: ``python -m bench.catalogue [--works 1000000] [--real 600] [--queries 300] [--dir DIR]``
(``make -C bench bench-catalogue``).

How the catalogue is built: ``--real`` real pictures (the wallpapers registered
as works in ``bench.quality`` and Open Clip Art, Wesnoth and Tux Paint images) get
their real reference prints (about 135 windows each). The rest of the million
re-use those prints with each window's pHash XORed with 12 random bits and its
descriptor with noise (cosine about 0.7 to its source): the windows keep the
bit statistics of real pictures (which buckets are crowded) without being
copies of each other. The catalogue is written as segments under ``--dir`` by
the matcher's own :class:`~tanba.matcher.segments.SegmentedImageIndex`.

Then a fresh child process measures what a restarted matcher sees: the time to
open the saved catalogue, its resident memory, and per query (the
matcher's whole image decision: candidates within the radius, descriptor
verification) the p50/p95 time on altered copies of the registered
wallpapers (crop 25%, a page screenshot, JPEG q30, mirror) and on unrelated
pictures; recall and false matches at this size; the time until a newly added
work matches. Beside it, in the same run, the baseline: a brute-force scan of
every registered hash (numpy XOR and popcount over the memory-mapped hashes,
the linear reference's method) on a few of the same queries.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import media
from bench.image_alterations import ALTERATIONS
from bench.quality import _source
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.image import ImagePrint
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.match import without_print
from tanba.matcher.segments import SegmentedImageIndex, Tuning, Windows
from tanba.matcher.state import MatcherState, WorkShelf
from tanba.matcher.worker import MatcherStage

MAX_PIXELS = 200_000_000
BLOCK = 100_000  # works per block written as one segment
FLIPS = 12
SHOWN = ("crop_25", "page_canvas", "jpeg_q30", "mirror")
THUMBNAILS_MARK = "thumbnails"  # a catalogue whose shelved works keep their thumbnails


def _rss() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in GiB."""
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return tuple(int(fields[k].split()[0]) / 2**20 for k in ("VmRSS", "VmHWM"))  # type: ignore[return-value]


def _real_prints(count: int) -> tuple[list[str], list[ImagePrint]]:
    works = media.work_photos()
    # scikit-image's samples are left out: they hold one picture twice (in colour and grey).
    others = [
        p
        for p in media.distractor_images(
            max(0, count - len(works)) + 40, seed=3, pool="calibration"
        )
        if "skimage" not in p.parts
    ][: max(0, count - len(works))]
    names, prints = [], []
    for path in works + others:
        image = image_print(path.read_bytes(), max_pixels=MAX_PIXELS, variants=REFERENCE)
        if image.hashes:
            names.append(str(path))
            prints.append(image)
        print(f"  real prints {len(prints)}", file=sys.stderr, end="\r")
    return names, prints


def _shelve(shelf: WorkShelf, ids: list[int], prints: list[ImagePrint]) -> None:
    """The works as the matcher keeps them (without image prints, but for the thumbnail of
    the print each re-uses), in one transaction."""
    rows = []
    for i in ids:
        source = prints[i % len(prints)]
        work = Work(
            work_id=f"w{i:07d}",
            owner="agency",
            title=f"photo {i}",
            media=IMAGE,
            sha256="0" * 64,
            registered_at="2026-12-06T00:00:00Z",
            fingerprint=Fingerprint(media=IMAGE, sha256="0" * 64, image=source),
        )
        rows.append((work.work_id, IMAGE, without_print(work).model_dump_json()))
    with shelf.db.write() as conn:
        conn.executemany("INSERT OR REPLACE INTO works VALUES (?, ?, ?)", rows)


def reshelve(directory: Path, works: int, real: int) -> None:
    """Give the shelved works of a catalogue built before thumbnails their thumbnails
    (the index is left as it is: its windows did not change)."""
    names, prints = _real_prints(real)
    if names != json.loads((directory / "real.json").read_text()):
        raise SystemExit(f"{directory} holds other real pictures: delete it to rebuild")
    shelf = WorkShelf(directory / "works.sqlite")
    for first in range(0, works, BLOCK):
        _shelve(shelf, list(range(first, min(works, first + BLOCK))), prints)
        print(f"  thumbnails {min(works, first + BLOCK):,}", file=sys.stderr, end="\r")
    (directory / THUMBNAILS_MARK).write_text("1")


def build(directory: Path, works: int, real: int) -> dict[str, object]:
    started = time.perf_counter()
    names, prints = _real_prints(real)
    took_prints = time.perf_counter() - started
    values = [np.array([h.as_int() for h in p.hashes], np.uint64) for p in prints]
    rows = [p.descriptor_rows() for p in prints]
    variants: dict[str, int] = {}
    codes = [
        np.array([variants.setdefault(h.variant, len(variants)) for h in p.hashes], np.uint16)
        for p in prints
    ]
    index, _ = SegmentedImageIndex.open(directory / "images", Tuning(background=False))
    shelf = WorkShelf(directory / "works.sqlite")
    rng = np.random.default_rng(11)
    started = time.perf_counter()
    for first in range(0, works, BLOCK):
        ids = list(range(first, min(works, first + BLOCK)))
        sources = [i % len(prints) for i in ids]
        hashes = np.concatenate([values[s] for s in sources])
        descriptors = np.concatenate([rows[s] for s in sources]).astype(np.int16)
        perturbed = np.array([i >= len(prints) for i in ids])
        mask = np.repeat(perturbed, [len(values[s]) for s in sources])
        flips = np.zeros(len(hashes), np.uint64)
        for _ in range(FLIPS):  # 12 draws, a few repeat: about 11.6 bits differ
            flips |= np.uint64(1) << rng.integers(0, 64, len(hashes)).astype(np.uint64)
        hashes = np.where(mask, hashes ^ flips, hashes)
        noise = rng.normal(0, 45, descriptors.shape).astype(np.int16)
        descriptors = np.where(mask[:, None], np.clip(descriptors + noise, -127, 127), descriptors)
        index.add_block(
            Windows(
                [f"w{i:07d}" for i in ids],
                hashes,
                descriptors.astype(np.int8),
                np.repeat(np.arange(len(ids), dtype=np.int32), [len(values[s]) for s in sources]),
                np.concatenate([codes[s] for s in sources]),
                list(variants),
            )
        )
        _shelve(shelf, ids, prints)
        print(f"  works {ids[-1] + 1:,}", file=sys.stderr, end="\r")
    index.save({"works_positions": {}})  # what MatcherState reads: nothing replayed yet
    (directory / "real.json").write_text(json.dumps(names))
    (directory / THUMBNAILS_MARK).write_text("1")
    stats = index.stats()
    return {
        "real prints": len(prints),
        "real prints s": round(took_prints, 1),
        "build s": round(time.perf_counter() - started, 1),
        "segments": stats["segments"],
        "windows": stats["rows"],
        "works": stats["works"],
        "disk GiB": round(
            sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**30, 2
        ),
    }


def _queries(count: int, real: list[str]) -> tuple[list[tuple[str, bytes]], list[Path]]:
    """Altered copies of the registered wallpapers (with their work id), and unrelated images."""
    wallpapers = set(map(str, media.work_photos()))
    works = [(f"w{i:07d}", Path(p)) for i, p in enumerate(real) if p in wallpapers]
    true: list[tuple[str, bytes]] = []
    for k, (work_id, path) in enumerate(works):
        image = _source(path)
        for alteration in ALTERATIONS:
            if alteration.name in SHOWN:
                true.append((work_id, alteration.apply(image, np.random.default_rng([k, 7]))))
        if len(true) >= count // 2:
            break
    registered = set(real)
    # Tux Paint's stamps are left out of the unrelated queries: many are Open Clip Art
    # drawings (a registered cityhouse.png is home1.png), so their matches are true ones.
    unrelated = [
        p
        for p in media.distractor_images(count + 200, seed=8, pool="held-out")
        if str(p) not in registered and "skimage" not in p.parts and "tuxpaint" not in p.parts
    ][: count - len(true)]
    return true, unrelated


def _source_of(work_id: str, real: list[str]) -> str:
    number = int(work_id[1:])
    source = real[number % len(real)]
    return source if number < len(real) else f"(perturbed {source})"


def restarted_stage(settings: Settings, state: MatcherState) -> MatcherStage:
    """The matcher stage as ``tanba worker matcher`` builds it on a saved state, its first
    batch read (an empty works topic here: nothing was registered after the save)."""
    scratch = Path(tempfile.mkdtemp(prefix="tanba-catalogue-"))
    stage = MatcherStage(
        settings,
        EmbeddedBus(scratch / "bus.sqlite"),
        EmbeddedAlertStore(scratch / "alerts.sqlite"),
        FixedClock(),
        JurisdictionRegistry.load(),
        state=state,
    )
    stage.before_batch()
    return stage


def measure(directory: Path, queries: int, baseline: int) -> dict[str, object]:
    settings = Settings()
    real = json.loads((directory / "real.json").read_text())
    before = _rss()[0]
    # Cold start: the matcher stage as `tanba worker matcher` builds it, on its saved state.
    started = time.perf_counter()
    state = MatcherState(directory, Tuning(probe_bits=settings.image_probe_bits))
    stage = restarted_stage(settings, state)
    opened = time.perf_counter() - started
    rss_open = _rss()[0] - before
    index = state.images
    signal = stage.matcher
    true, unrelated = _queries(queries, real)
    prints = [(work_id, image_print(data, max_pixels=MAX_PIXELS)) for work_id, data in true] + [
        (None, image_print(path.read_bytes(), max_pixels=MAX_PIXELS)) for path in unrelated
    ]
    names = [f"copy of {work_id}" for work_id, _ in true] + [str(p) for p in unrelated]
    times, found, false = [], 0, 0
    fps: list[Fingerprint] = []
    wrong: list[str] = []
    candidates = []
    for (work_id, image), name in zip(prints, names, strict=True):
        fp = Fingerprint(media=IMAGE, sha256="0" * 64, image=image)
        t = time.perf_counter()
        # Each match's work is read from the shelf, as the alert needs it.
        matches = [(m.work.work_id, m.score) for m in signal.match(fp)]
        times.append(time.perf_counter() - t)
        candidates.append(len(index.candidates(image.hashes, settings.image_max_distance)))
        fps.append(fp)
        found += work_id is not None and any(w == work_id for w, _ in matches)
        false += sum(w != work_id for w, _ in matches)
        wrong += [
            f"{name} -> {w} {_source_of(w, real)} ({score})" for w, score in matches if w != work_id
        ]
    ms = np.array(times) * 1000
    # The same queries again: the pages they read are now in memory (a matcher that has
    # run a while), where the first pass read many of them from disk.
    warm = []
    for fp in fps:
        t = time.perf_counter()
        signal.match(fp)
        warm.append((time.perf_counter() - t) * 1000)
    # A new work: added to the delta, matchable by the next query (no rebuild).
    new_work = prints[0][1]
    t = time.perf_counter()
    index.add("new-work", new_work.hashes, new_work.descriptor_rows())
    fp = Fingerprint(media=IMAGE, sha256="0" * 64, image=new_work)
    matched_new = any(m.work_id == "new-work" for m in stage.matcher.signals[IMAGE].match(fp))
    new_ms = (time.perf_counter() - t) * 1000
    rss, peak = _rss()
    # Baseline: a brute-force scan of every registered hash, on a few of the same queries.
    hashes = [s.arrays["hashes"] for s in index._segments]
    t = time.perf_counter()
    for _, image in prints[:baseline]:
        for h in image.hashes:
            for block in hashes:
                np.flatnonzero(
                    np.bitwise_count(block ^ np.uint64(h.as_int())) <= settings.image_max_distance
                )
    scan_ms = (time.perf_counter() - t) * 1000 / max(1, baseline)
    return {
        "cold start of the matcher stage s": round(opened, 2),
        "RSS after start GiB": round(rss_open, 2),
        "queries": len(prints),
        "true queries": len(true),
        "recall": round(found / max(1, len(true)), 3),
        "false matches": false,
        "false matches seen": wrong[:12],
        "query p50 ms, first pass": round(float(np.percentile(ms, 50)), 1),
        "query p95 ms, first pass": round(float(np.percentile(ms, 95)), 1),
        "query p50 ms, warm": round(float(np.percentile(warm, 50)), 1),
        "query p95 ms, warm": round(float(np.percentile(warm, 95)), 1),
        "candidates p50": int(np.percentile(candidates, 50)),
        "new work add+match ms": round(new_ms, 1),
        "new work matched": matched_new,
        "RSS GiB": round(rss, 2),
        "peak RSS GiB": round(peak, 2),
        "baseline brute-force scan ms/query": round(scan_ms, 1),
        "state on disk GiB (index, shelf with thumbnails)": round(
            sum(f.stat().st_size for f in directory.rglob("*") if f.is_file()) / 2**30, 2
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=1_000_000)
    parser.add_argument("--real", type=int, default=600, help="real pictures with real prints")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--baseline", type=int, default=3, help="queries for the brute-force scan")
    parser.add_argument("--dir", type=Path, default=Path.home() / ".cache" / "tanba-catalogue")
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    directory = args.dir / f"{args.works}"
    if args.measure_only:
        print(json.dumps(measure(directory, args.queries, args.baseline)))
        return 0
    if not (directory / "real.json").is_file():
        directory.mkdir(parents=True, exist_ok=True)
        built = build(directory, args.works, args.real)
        print(f"CATALOGUE built: {json.dumps(built)}", flush=True)
    elif not (directory / THUMBNAILS_MARK).is_file():
        reshelve(directory, args.works, args.real)
    figures = measured_apart(
        "bench.catalogue",
        ["--works", str(args.works), "--queries", str(args.queries),
         "--baseline", str(args.baseline), "--dir", str(args.dir)],
    )  # fmt: skip
    print(f"CATALOGUE of {args.works:,} registered images (a restarted matcher process):")
    for key, value in figures.items():
        print(f"  {key:36s} {value}")
    return 0


def measured_apart(module: str, arguments: list[str]) -> dict[str, object]:
    """The figures ``python -m module --measure-only ...`` prints: measured in a fresh process,
    as a restarted matcher would be (nothing of the build in its memory)."""
    child = subprocess.run(
        [sys.executable, "-m", module, "--measure-only", *arguments],
        check=True,
        capture_output=True,
        text=True,
    )
    figures: dict[str, object] = json.loads(child.stdout.strip().splitlines()[-1])
    return figures


if __name__ == "__main__":
    sys.exit(main())
