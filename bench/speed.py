"""Fingerprinting and matching speed, side by side with the baselines, in one run.

Usage: ``python -m bench.speed [--sizes 10000,100000,1000000] [--files N]``
(``make -C bench bench-speed``). Prints:

- image fingerprinting per second (each file timed with both, one after the other) on 1280-px web JPEGs (real photos), Tanba's
  query fingerprint against ``imagehash.phash(Image.open(f))``, and whether the
  hashes agree: the same pHash algorithm on the same pixels must give the same
  bits; Tanba decodes JPEG at reduced size, so its whole-image hash is also
  compared with the naive one as a Hamming distance;
- audio fingerprinting time against the ``fpcalc -raw`` command on the same files
  (Tanba's time includes the spectral-peak landmarks, which fpcalc does not make);
- image index queries per second at each size of registered 64-bit hashes
  (uniformly random, as real collections are too small), multi-index hashing
  against faiss ``IndexBinaryFlat`` (a brute-force scan), the memory each
  holds, and whether both return exactly the same hits within the radius;
- audio excerpt queries per second against 1,000 registered tracks derived from
  real fingerprints, the inverted index against the linear scan; and the landmark
  index's candidate search at the same size, its sorted table against the linear one.

All single-threaded where the library allows it (``faiss.omp_set_num_threads(1)``):
the figures compare algorithms, not core counts.
"""

from __future__ import annotations

import os

# One BLAS thread, as in the fingerprint sandbox (tanba/fingerprint/sandbox.py): set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from bench import media
from bench.image_alterations import jpeg, web
from tanba.core.settings import Settings
from tanba.core.signals.audio import Landmarks
from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImageHash
from tanba.fingerprint.audio import audio_print
from tanba.fingerprint.image import coefficients, image_print, phash
from tanba.matcher.audio_index import InvertedAudioIndex
from tanba.matcher.audio_signal import audio_rule
from tanba.matcher.index import LinearAudioIndex
from tanba.matcher.landmark_index import LinearLandmarkIndex, SortedLandmarkIndex
from tanba.matcher.segments import SegmentedImageIndex, Tuning, Windows

MAX_PIXELS = 200_000_000


def _rate(count: int, seconds: float) -> str:
    return f"{count / seconds:10.1f}/s"


def web_jpegs(files: int, folder: Path) -> list[Path]:
    """``files`` real photos and drawings as 1280-px web JPEGs in ``folder`` (as a crawler finds them)."""
    sources = (media.work_photos() + media.distractor_images(files))[:files]
    paths = []
    for i, p in enumerate(sources):
        with Image.open(p) as im:
            rgb = im.convert("RGB")
        path = folder / f"{i:04d}.jpg"
        path.write_bytes(jpeg(web(rgb.resize((1280, round(1280 * rgb.height / rgb.width))))))
        paths.append(path)
    return paths


def image_fingerprinting(files: int) -> str:
    import imagehash

    folder = Path(tempfile.mkdtemp(prefix="tanba-speed-"))
    paths = web_jpegs(files, folder)
    # Warm the page cache and the libraries once, then time each side over the same files.
    for p in paths[:5]:
        imagehash.phash(Image.open(p))
        image_print(p.read_bytes(), max_pixels=MAX_PIXELS)
    # Interleaved file by file, so a change of load on the machine hits both sides alike.
    naive, prints = [], []
    naive_s = tanba_s = 0.0
    for p in paths:
        started = time.perf_counter()
        naive.append(imagehash.phash(Image.open(p)))
        naive_s += time.perf_counter() - started
        started = time.perf_counter()
        prints.append(image_print(p.read_bytes(), max_pixels=MAX_PIXELS))
        tanba_s += time.perf_counter() - started
    windows = sum(len(fp.hashes) for fp in prints)
    # Same algorithm, same pixels: Tanba's pHash of a decoded image against imagehash's.
    same = sum(
        phash(coefficients(Image.open(p).convert("L")))
        == int(str(imagehash.phash(Image.open(p))), 16)
        for p in paths
    )
    distances = [
        bin(int(fp.hashes[0].value, 16) ^ int(str(h), 16)).count("1")
        for fp, h in zip(prints, naive, strict=True)
        if fp.hashes and fp.hashes[0].variant == "full"
    ]
    for p in paths:
        p.unlink()
    folder.rmdir()
    return (
        f"IMAGE FINGERPRINTING: {len(paths)} web JPEGs of 1280 px (real photos and drawings)\n"
        f"  imagehash.phash(Image.open(f)) {_rate(len(paths), naive_s)}\n"
        f"  tanba image_print (query)      {_rate(len(paths), tanba_s)}   "
        f"{naive_s / tanba_s:.1f}× the naive rate; {windows / len(paths):.1f} windows per image\n"
        f"  same pHash on the same pixels: {same}/{len(paths)} hashes equal to imagehash's\n"
        f"  tanba whole-image hash (JPEG decoded at a reduced DCT scale) vs naive: "
        f"{sum(d == 0 for d in distances)}/{len(distances)} equal, mean distance "
        f"{np.mean(distances):.2f} bits, max {max(distances)}\n"
    )


def audio_fingerprinting(count: int) -> str:
    tracks = (media.work_tracks() + media.distractor_tracks())[:count]
    for t in tracks[:2]:  # warm-up
        audio_print(t, max_seconds=900, timeout_s=120)
        subprocess.run(["fpcalc", "-raw", str(t)], capture_output=True, check=False)
    ours, theirs = [], []
    tanba_s = fpcalc_s = 0.0
    for t in tracks:  # interleaved, as for images
        started = time.perf_counter()
        ours.append(audio_print(t, max_seconds=900, timeout_s=120))
        tanba_s += time.perf_counter() - started
        started = time.perf_counter()
        # fpcalc exits 3 when the last frame of a file is damaged; its fingerprint is still printed.
        done = subprocess.run(
            ["fpcalc", "-raw", "-length", "900", str(t)],
            capture_output=True,
            text=True,
            check=False,
        )
        fpcalc_s += time.perf_counter() - started
        line = next(x for x in done.stdout.splitlines() if x.startswith("FINGERPRINT="))
        theirs.append(np.array([int(v) for v in line[12:].split(",")], dtype=np.int64) & 0xFFFFFFFF)
    audio_seconds = sum(fp.duration_s for fp in ours)
    agree = [
        float(np.mean(fp.items()[: min(len(fp.items()), len(r))] == r[: len(fp.items())]))
        for fp, r in zip(ours, theirs, strict=True)
    ]
    identical = sum(np.array_equal(fp.items(), r) for fp, r in zip(ours, theirs, strict=True))
    return (
        f"AUDIO FINGERPRINTING: {len(tracks)} tracks, {audio_seconds / 60:.1f} min of music\n"
        f"  fpcalc -raw          {fpcalc_s:7.2f} s\n"
        f"  tanba audio_print    {tanba_s:7.2f} s   {tanba_s / fpcalc_s:.2f}× fpcalc's time\n"
        f"  items equal to fpcalc's at the same position: {np.mean(agree) * 100:.1f}% on average; "
        f"{identical}/{len(tracks)} tracks with every item equal\n"
    )


def _flip(values: np.ndarray, bits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    out = values.copy()
    for i, k in enumerate(bits):
        for b in rng.choice(64, size=int(k), replace=False):
            out[i] ^= np.uint64(1) << np.uint64(int(b))
    return out


def _segment_bytes(index: SegmentedImageIndex) -> int:
    """Bytes of the search structures a query reads: hashes, bucket tables and owners."""
    keys = ("hashes", "order", "sorted", "starts", "work", "variant")
    return sum(s.arrays[k].nbytes for s in index._segments for k in keys)


def image_index(sizes: list[int], radius: int, queries: int) -> str:
    import faiss

    faiss.omp_set_num_threads(1)
    rng = np.random.default_rng(5)
    lines = [
        f"IMAGE INDEX: radius {radius} bits of 64, {queries} single-hash queries per size "
        "(half within the radius of a registered hash, half random)"
    ]
    for n in sizes:
        values = rng.integers(0, 2**63, size=n, dtype=np.uint64) | (
            rng.integers(0, 2, size=n, dtype=np.uint64) << np.uint64(63)
        )
        near = _flip(
            values[rng.integers(0, n, queries // 2)], rng.integers(0, radius + 1, queries // 2), rng
        )
        asked = np.concatenate(
            [near, rng.integers(0, 2**63, size=queries - len(near), dtype=np.uint64)]
        )
        mih = SegmentedImageIndex(tuning=Tuning(background=False))
        started = time.perf_counter()
        per_work = 100
        works = n // per_work
        mih.add_block(
            Windows(
                [f"w{i}" for i in range(works)],
                values,
                np.zeros((n, DESCRIPTOR_LENGTH), np.int8),
                np.repeat(np.arange(works, dtype=np.int32), per_work),
                np.tile(np.arange(per_work, dtype=np.uint16), works),
                [f"v{j}" for j in range(per_work)],
            )
        )
        mih_build = time.perf_counter() - started
        started = time.perf_counter()
        flat = faiss.IndexBinaryFlat(64)
        flat.add(values.astype(">u8").view(np.uint8).reshape(n, 8))
        flat_build = time.perf_counter() - started
        hashes = [ImageHash(algorithm="phash64", value=f"{int(v):016x}") for v in asked]
        codes = asked.astype(">u8").view(np.uint8).reshape(-1, 8)
        started = time.perf_counter()
        ours = [mih.candidates([h], radius) for h in hashes]
        mih_s = time.perf_counter() - started
        started = time.perf_counter()
        theirs = [flat.range_search(codes[i : i + 1], radius + 1) for i in range(len(codes))]
        flat_s = time.perf_counter() - started
        same = 0
        for hits, (_, dist, ids) in zip(ours, theirs, strict=True):
            mine = sorted(
                (int(w[1:]) * per_work + int(v[1:]), d)
                for w, d, v in ((h.work_id, h.distance, h.variant) for h in hits)
            )
            same += mine == sorted(zip(ids.tolist(), dist.tolist(), strict=True))
        found = sum(len(h) for h in ours)
        lines.append(
            f"  n={n:>9,}  multi-index {_rate(len(hashes), mih_s)} "
            f"({_segment_bytes(mih) / 2**20:6.1f} MiB, built in {mih_build:5.2f} s) | "
            f"faiss IndexBinaryFlat {_rate(len(hashes), flat_s)} "
            f"({n * 8 / 2**20:6.1f} MiB, {flat_build:4.2f} s) | "
            f"{mih_s and flat_s / mih_s:5.1f}× faster | same hits {same}/{len(hashes)}, "
            f"{found} within radius"
        )
    return "\n".join(lines) + "\n"


def audio_index(tracks: int, queries: int, settings: Settings) -> str:
    rng = np.random.default_rng(6)
    real = [audio_print(t, max_seconds=900, timeout_s=120).items() for t in media.work_tracks()]
    # Derived tracks: a real track's items XOR a random word per track, so each keeps real
    # item statistics and timing but none matches another.
    derived = {
        f"t{k}": real[k % len(real)] ^ np.uint32(rng.integers(0, 2**32)) for k in range(tracks)
    }
    inverted, linear = InvertedAudioIndex(), LinearAudioIndex()
    for work_id, items in derived.items():
        inverted.add(work_id, items)
        linear.add(work_id, items)
    started = time.perf_counter()
    rule = audio_rule(settings)  # as the matcher queries: the BER test and the voice (LLR) test
    inverted.query(next(iter(derived.values()))[:80], rule)
    build = time.perf_counter() - started
    asked = []
    for _ in range(queries):
        work_id = f"t{int(rng.integers(tracks))}"
        items = derived[work_id]
        start = int(rng.integers(0, len(items) - 81))
        excerpt = items[start : start + 80].copy()
        # MP3-like damage: 6% of bits flipped (the benchmark's copies are at 3-8%).
        flips = rng.random((80, 32)) < 0.06
        excerpt ^= (flips * (1 << np.arange(32, dtype=np.uint64))).sum(axis=1).astype(np.uint32)
        asked.append((work_id, start, excerpt))
    started = time.perf_counter()
    found = sum(
        bool(hits) and hits[0].work_id == w and hits[0].work_offset - hits[0].query_offset == s
        for w, s, q in asked
        for hits in (inverted.query(q, rule),)
    )
    inverted_s = time.perf_counter() - started
    few = asked[: max(3, queries // 20)]
    started = time.perf_counter()
    for _, _, q in few:
        linear.query(q, rule)
    linear_s = time.perf_counter() - started
    total_items = sum(len(v) for v in derived.values())
    # A crawled file is usually a whole track of unrelated music: many more items to
    # vote with than an excerpt, and the voice (LLR) test on every candidate.
    whole = [
        audio_print(t, max_seconds=900, timeout_s=120).items()
        for t in media.distractor_tracks()[:3]
    ]
    ber_only = replace(rule, min_llr=None)
    whole_s = {}
    for name, chosen in (("BER and voice tests", rule), ("BER test alone", ber_only)):
        started = time.perf_counter()
        for items in whole:
            inverted.query(items, chosen)
        whole_s[name] = (time.perf_counter() - started) / len(whole)
    per_track = ", ".join(f"{name} {1000 * s:.0f} ms" for name, s in whole_s.items())
    return (
        f"AUDIO INDEX: {tracks} tracks ({total_items:,} items, derived from {len(real)} real "
        f"fingerprints), 10 s excerpts with 6% bit errors\n"
        f"  inverted index  {_rate(len(asked), inverted_s)}  (built in {build:.2f} s; "
        f"{found}/{len(asked)} found at the right offset)\n"
        f"  linear scan     {_rate(len(few), linear_s)}  ({len(few)} queries)   "
        f"{(len(few) / linear_s) and (len(asked) / inverted_s) / (len(few) / linear_s):.0f}× faster\n"
        f"  a whole unrelated track as the query ({np.mean([len(w) for w in whole]):.0f} items "
        f"on average): {per_track} per track\n"
    )


def landmark_index(tracks: int, queries: int, settings: Settings) -> str:
    """Landmark candidates per second at ``tracks`` works, against the linear reference."""
    rng = np.random.default_rng(11)
    real = [
        Landmarks.unpack(audio_print(t, max_seconds=900, timeout_s=120).landmarks_b64)
        for t in media.work_tracks()
    ]
    # Derived works: a real track's landmarks with every hash XOR a random word per work,
    # so each keeps real timing and hash statistics but none matches another.
    derived = {}
    for k in range(tracks):
        marks = real[k % len(real)]
        word = np.uint32(rng.integers(0, 1 << 25))
        derived[f"t{k}"] = Landmarks(marks.hashes ^ word, marks.frames)
    fast, linear = SortedLandmarkIndex(), LinearLandmarkIndex()
    for work_id, marks in derived.items():
        fast.add(work_id, marks)
        linear.add(work_id, marks)
    count = sum(len(m.hashes) for m in derived.values())
    started = time.perf_counter()
    fast.query(Landmarks(np.zeros(1, np.uint32), np.zeros(1, np.uint32)), 1)  # builds the table
    build = time.perf_counter() - started
    asked = []
    for _ in range(queries):
        work_id = f"t{int(rng.integers(tracks))}"
        marks = derived[work_id]
        start = int(rng.integers(0, max(1, int(marks.frames[-1]) - 313)))
        # A 5 s excerpt under a voice keeps about a tenth of its landmarks (measured: 20-300
        # votes of about 1,400 query landmarks); the rest are the voice's own.
        inside = (marks.frames >= start) & (marks.frames < start + 313)
        keep = inside & (rng.random(len(marks.hashes)) < 0.1)
        noise = int(inside.sum())
        hashes = np.concatenate([marks.hashes[keep], rng.integers(0, 1 << 25, noise, np.uint32)])
        frames = np.concatenate(
            [marks.frames[keep] - start, rng.integers(0, 313, noise).astype(np.uint32)]
        )
        order = np.argsort(frames, kind="stable")
        asked.append((work_id, Landmarks(hashes[order], frames[order])))
    minimum = settings.audio_landmark_min_votes
    started = time.perf_counter()
    found = sum(
        bool(hits) and hits[0].work_id == w for w, q in asked for hits in (fast.query(q, minimum),)
    )
    fast_s = time.perf_counter() - started
    few = asked[: max(3, queries // 20)]
    started = time.perf_counter()
    for _, q in few:
        linear.query(q, minimum)
    linear_s = time.perf_counter() - started
    whole = derived["t0"]
    started = time.perf_counter()
    fast.query(Landmarks(whole.hashes ^ np.uint32(1 << 24), whole.frames), minimum)
    whole_s = time.perf_counter() - started
    table_mib = count * 12 / 2**20
    return (
        f"LANDMARK INDEX: {tracks} tracks ({count:,} landmarks, derived from {len(real)} real "
        f"tracks; table {table_mib:.0f} MiB), 5 s excerpts keeping a tenth of their landmarks\n"
        f"  sorted table    {_rate(len(asked), fast_s)}  (built in {build:.1f} s; "
        f"{found}/{len(asked)} found as the first candidate)\n"
        f"  linear search   {_rate(len(few), linear_s)}  ({len(few)} queries)   "
        f"{(len(asked) / fast_s) / (len(few) / linear_s):.0f}× faster\n"
        f"  a whole unrelated track of {len(whole.hashes):,} landmarks as the query: "
        f"{1000 * whole_s:.0f} ms\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--files", type=int, default=200, help="web JPEGs to fingerprint")
    parser.add_argument("--tracks", type=int, default=12, help="tracks to fingerprint")
    parser.add_argument("--queries", type=int, default=1000, help="index queries per size")
    args = parser.parse_args(argv)
    settings = Settings.from_env()
    print(f"python {sys.version.split()[0]}, numpy {np.__version__}, 1 thread\n", flush=True)
    print(image_fingerprinting(args.files), flush=True)
    print(audio_fingerprinting(args.tracks), flush=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(image_index(sizes, settings.image_max_distance, args.queries), flush=True)
    print(audio_index(1000, 200, settings), flush=True)
    print(landmark_index(1000, 200, settings), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
