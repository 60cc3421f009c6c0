"""What gathering the matcher shards' answers costs, beside one matcher, in one run.

Usage: ``python -m bench.gather [--works 300] [--queries 100] [--shards 2]``

The catalogue: the wallpapers registered in ``bench.quality`` (at 1,024 px) and
``--works`` real images by other authors (Open Clip Art, Wesnoth, Tux Paint,
scikit-image: the drawings and icons whose windows look alike). The prints: a
JPEG copy (q75, 10% cropped off the right) of every wallpaper, and ``--queries``
unrelated real images (the other half of the same packages). Each print is one
``FingerprintComputed`` event, judged by one matcher stage and by ``--shards`` shard
stages whose answers the gather stage decides, in this process on the embedded bus
(the stages' ``handle`` and the gather's decision, without the bus's own cost).

With ``--kafka HOST:PORT`` it then measures the latency on that broker (topics under a
namespace of their own, deleted after): the copies are published one at a time, each
once the previous one's alert is stored, through one matcher and then through the shards
and a gather stage (worker threads in this process, alerts in an embedded store), and the
time from publishing a print to its alert being stored is printed for both.

Printed: per print, the bytes the shards publish to ``tanba.match-answers`` (beside
the fingerprint event every shard reads anyway), the CPU time one matcher spends
beside the shards' (summed, and the slowest shard: the shards run in parallel) and
the gather's decision; whether the alerts are the same; and which windows the shards'
eager detail checks cost.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import io
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from bench.media import CALIBRATION, HELD_OUT, distractor_images, work_photos
from tanba.core import topics
from tanba.core.bus import Message, Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.bus.kafka import KafkaBus
from tanba.core.clock import FixedClock
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.common import IMAGE, Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.gather import ShardAnswered
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.shards import Shard
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.core.worker import Stage, Worker
from tanba.fingerprint.image import REFERENCE, image_print
from tanba.matcher.gather import GatherStage, decision
from tanba.matcher.worker import MatcherStage

MAX_PIXELS = 10**9


def _jpeg(image: Image.Image, quality: int) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=quality)
    return out.getvalue()


def _picture(path: Path, side: int = 1024) -> Image.Image:
    with Image.open(path) as im:
        image = im.convert("RGB")
    image.thumbnail((side, side))
    return image


def _work(work_id: str, path: Path) -> Work:
    image = image_print(_jpeg(_picture(path), 95), max_pixels=MAX_PIXELS, variants=REFERENCE)
    fingerprint = Fingerprint(media=IMAGE, sha256="0" * 64, image=image)
    return Work(
        work_id=work_id,
        owner="bench",
        title=path.name,
        media=IMAGE,
        sha256="0" * 64,
        territories=["KZ"],
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=fingerprint,
    )


def _query(name: str, data: bytes) -> FingerprintComputed:
    fingerprint = Fingerprint(
        media=IMAGE, sha256="1" * 64, image=image_print(data, max_pixels=MAX_PIXELS)
    )
    occurrence = MediaOccurrence(
        target="bench",
        site="bench.example.kz",
        page_url=f"http://bench.example.kz/{name}",
        media_url=f"http://bench.example.kz/{name}.jpg",
        sha256="1" * 64,
        size=len(data),
        fetched_at="2026-12-06T00:00:00.000Z",
    )
    return FingerprintComputed(occurrence=occurrence, fingerprint=fingerprint)


def _copy(path: Path) -> bytes:
    image = _picture(path)
    return _jpeg(image.crop((0, 0, round(image.width * 0.9), image.height)), 75)


def _stats(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    digits = 0 if ordered[-1] >= 100 else 2
    return " / ".join(f"{v:,.{digits}f}" for v in (statistics.median(ordered), p95, ordered[-1]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--works", type=int, default=300)
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--shards", type=int, default=2)
    parser.add_argument("--kafka", default="", help="also measure the latency on this broker")
    args = parser.parse_args(argv)
    settings = Settings.from_env(dict(os.environ))
    wallpapers = work_photos()
    others = distractor_images(args.works, pool=CALIBRATION)
    unrelated = distractor_images(args.queries, seed=2, pool=HELD_OUT)
    started = time.perf_counter()
    works = [_work(f"wallpaper-{i}", p) for i, p in enumerate(wallpapers)]
    works += [_work(f"other-{i}", p) for i, p in enumerate(others)]
    events = [_query(f"copy-{i}", _copy(p)) for i, p in enumerate(wallpapers)]
    events += [_query(f"unrelated-{i}", p.read_bytes()) for i, p in enumerate(unrelated)]
    print(
        f"{len(works)} works, {len(events)} prints ({len(wallpapers)} copies), "
        f"fingerprinted in {time.perf_counter() - started:.0f} s; {args.shards} shards"
    )
    with tempfile.TemporaryDirectory() as tmp:
        bus = EmbeddedBus(Path(tmp) / "bus.sqlite")
        store = EmbeddedAlertStore(Path(tmp) / "alerts.sqlite")
        WorkRegistry(bus).register(works)

        def stage(shard: Shard) -> MatcherStage:
            made = MatcherStage(
                settings, bus, store, FixedClock(), JurisdictionRegistry.load(), shard=shard
            )
            made.before_batch()
            return made

        one = stage(Shard(0, 1))
        shards = [stage(Shard(i, args.shards)) for i in range(args.shards)]
        single_ms, summed_ms, slowest_ms, gather_ms = [], [], [], []
        answer_bytes, event_bytes = [], []
        alerted: list[tuple[FingerprintComputed, str]] = []  # the prints one matcher alerts on
        same = 0
        for offset, event in enumerate(events):
            raw = encode(event)
            message = Message(topics.FINGERPRINTS, 0, offset, "bench.example.kz", raw)
            event_bytes.append(len(raw))
            t = time.perf_counter()
            expected = one.handle(message)
            if expected:
                alerted.append((event, expected[0].id))
            single_ms.append(1000 * (time.perf_counter() - t))
            times, records = [], []
            for shard in shards:
                t = time.perf_counter()
                records += shard.handle(message)
                times.append(1000 * (time.perf_counter() - t))
            summed_ms.append(sum(times))
            slowest_ms.append(max(times))
            answer_bytes.append(sum(len(r.value) for r in records))
            t = time.perf_counter()
            answers = [decode(r.value, ShardAnswered) for r in records]
            decided = decision(settings, answers)
            gather_ms.append(1000 * (time.perf_counter() - t))
            same += [e.model_dump() for e in decided] == [e.model_dump() for e in expected]
    print(f"alerts the same as one matcher's: {same} / {len(events)} prints")
    rows: list[tuple[str, Sequence[float]]] = [
        ("fingerprint event, read by every shard (bytes)", event_bytes),
        ("answers published, all shards (bytes)", answer_bytes),
        ("one matcher: handle (ms)", single_ms),
        (f"{args.shards} shards: handle, summed (ms)", summed_ms),
        (f"{args.shards} shards: handle, slowest shard (ms)", slowest_ms),
        ("gather: decode and decide (ms)", gather_ms),
    ]
    copies = len(wallpapers)
    print("| per print, median / p95 / max | copies | unrelated |\n|---|---|---|")
    for label, values in rows:
        print(f"| {label} | {_stats(values[:copies])} | {_stats(values[copies:])} |")
    if args.kafka:
        print(
            f"publish to alert stored on Kafka, {len(alerted) - 1} prints, ms (median / p95 / max):"
        )
        for count in (1, args.shards):
            found = _latency(args.kafka, settings, works, alerted, count)
            label = "one matcher" if count == 1 else f"{count} shards and a gather"
            print(f"  {label:<46} {_stats(found)}")
    return 0


def _latency(
    bootstrap: str,
    settings: Settings,
    works: list[Work],
    alerted: list[tuple[FingerprintComputed, str]],
    count: int,
) -> list[float]:
    """Milliseconds from publishing each print to its alert (id given) stored, ``count`` shards."""
    bus = KafkaBus(bootstrap, namespace=f"benchgather{uuid.uuid4().hex[:8]}")
    stop = threading.Event()
    threads = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = EmbeddedAlertStore(Path(tmp) / "alerts.sqlite")
            WorkRegistry(bus).register(works)
            stages: list[Stage] = [
                MatcherStage(
                    settings, bus, store, FixedClock(), JurisdictionRegistry.load(), shard=shard
                )
                for shard in (Shard(i, count) for i in range(count))
            ]
            if count > 1:
                stages.append(GatherStage(settings, bus, store))
            for stage in stages:
                worker = Worker(stage, bus, settings, stop=stop)
                threads.append(threading.Thread(target=worker.run, daemon=True))
                threads[-1].start()
            found = []
            for event, ident in alerted:
                occurrence = event.occurrence
                started = time.perf_counter()
                bus.publish(topics.FINGERPRINTS, [Record(occurrence.site, encode(event))])
                while store.get(ident) is None:
                    if time.perf_counter() - started > 120:
                        raise TimeoutError(f"no alert for {occurrence.page_url} after 120 s")
                    time.sleep(0.002)
                found.append(1000 * (time.perf_counter() - started))
            return found[1:]  # the first waited for the groups to form
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        bus.delete_namespace()
        bus.close()


if __name__ == "__main__":
    raise SystemExit(main())
