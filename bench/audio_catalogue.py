"""Catalogue scale for audio: 100,000 registered tracks in one matcher, cold start, query time, memory.

Usage: ``python -m bench.audio_catalogue [--tracks 100000] [--queries 30] [--dir DIR]``
(``make -C bench bench-audio-catalogue``; ``bench/fetch-media`` installs the music).

How the catalogue is built: every music file of at least 1 MB and 60 s that the
Debian packages of ``bench/fetch-media`` install (game soundtracks: about 290
tracks) is fingerprinted once (cached). Four in five are registered with their
real prints; the fifth are never registered and give the unrelated queries.
The rest of the catalogue re-uses the registered real prints, 3 to 5 minutes
of each (a window of the track, cut at a random place and wrapped around):
every Chromaprint item is XORed with one 12-bit mask per derived track (a bit
error rate of 0.375 to its source: no derived track matches its source or
another), and every landmark hash has its frequency moved by a per-track step
(and its frequency step mirrored for half of them), so the derived tracks keep
real music's structure (repeats, silences, how items follow each other, which
hash values are common) without being copies. The tracks are written by the
matcher's own state (:class:`~tanba.matcher.state.MatcherState`: the audio
segments and the works shelf) as a replay of the works topic would.

Then a fresh child process measures what a restarted matcher sees: the time to
open its state, its resident memory, and per 10 s excerpt (the matcher's whole
audio decision: Chromaprint votes and verification, landmark candidates
verified on Chromaprint) the p50/p95 time, first pass and warm; recall on
10 s excerpts of registered real tracks (plain, MP3 64 kbit/s, 15 dB noise, a
voice at the music's loudness) and 5 s ones under a voice, and false matches on
10 s excerpts of the unregistered ones (a match of a file that is a version of
the other by name, such as SuperTuxKart's ``x_fast.ogg``, is listed apart); the
time until a new track matches. Beside it, in the same run, the
baseline: the linear reference (:class:`~tanba.matcher.index.LinearAudioIndex`)
on 1,000 of the tracks, per excerpt, scaled to the catalogue.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import json
import sys
import time
from functools import partial
from pathlib import Path

import numpy as np

from bench import audio_alterations
from bench.catalogue import _rss, measured_apart, restarted_stage
from bench.media import unseen_music
from bench.methods import audio_print_of
from bench.quality import _cached
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.signals.audio import CHROMAPRINT, FRAME_S, ITEM_S, AudioPrint, Landmarks
from tanba.fingerprint.audio import audio_print
from tanba.matcher.audio_score import AudioRule
from tanba.matcher.audio_segments import AudioTuning
from tanba.matcher.index import LinearAudioIndex
from tanba.matcher.key_table import KeyTable, joined
from tanba.matcher.landmark_index import LandmarkSegment, sampled
from tanba.matcher.state import MatcherState

PRINTS = Path.home() / ".cache" / "tanba-bench" / "audio-prints"
CLIPS = Path.home() / ".cache" / "tanba-bench" / "audio-catalogue-clips"
MASK_BITS = 12
BINS = 357  # landmark frequency bins (tanba.fingerprint.landmarks)
KINDS = ("10s plain", "10s mp3_64k", "10s noise_15db", "10s voice", "5s voice")
UNRELATED_KINDS = ("10s plain", "10s voice")
BLOCK = 4096  # tracks per segment written by the build
BASELINE_TRACKS = 1000


def real_tracks() -> list[dict[str, object]]:
    """Items, landmarks, path and duration of every music file of 60 s or more (cached)."""
    PRINTS.mkdir(parents=True, exist_ok=True)
    paths = sorted(
        p
        for ext in ("ogg", "flac", "mp3")
        for p in Path("/usr/share").rglob(f"*.{ext}")
        if p.stat().st_size > 1_000_000 and not unseen_music(p)
    )
    tracks = []
    for path in paths:
        cached = PRINTS / f"{hashlib.sha1(str(path).encode()).hexdigest()[:16]}.npz"
        if not cached.is_file():
            try:
                fp = audio_print(path, max_seconds=900, timeout_s=120)
            except Exception as exc:  # a file the decoder refuses is left out, and said
                print(f"  left out {path}: {exc}", file=sys.stderr)
                continue
            marks = fp.landmark_table()
            assert marks is not None
            np.savez(
                cached, items=fp.items(), hashes=marks.hashes, frames=marks.frames,
                path=str(path), duration=fp.duration_s,
            )  # fmt: skip
        data = np.load(cached)
        if float(data["duration"]) >= 60:
            tracks.append({k: data[k] for k in ("items", "hashes", "frames")}
                          | {"path": str(data["path"]), "duration": float(data["duration"])})  # fmt: skip
    return tracks


def split(
    tracks: list[dict[str, object]],
) -> tuple[list[dict[str, object]], list[dict[str, object]]]:
    """(registered, never registered): one in five by a hash of the path."""

    def apart(track: dict[str, object]) -> bool:
        return int(hashlib.sha1(str(track["path"]).encode()).hexdigest(), 16) % 5 == 0

    return [t for t in tracks if not apart(t)], [t for t in tracks if apart(t)]


def _shelved(items: np.ndarray) -> AudioPrint:
    """The print as the matcher shelves it (:func:`~tanba.matcher.match.without_print`)."""
    return AudioPrint(
        algorithm=CHROMAPRINT, duration_s=round(len(items) * ITEM_S, 3), item_s=ITEM_S, items_b64=""
    )


def derived(source: dict[str, object], rng: np.random.Generator) -> tuple[np.ndarray, Landmarks]:
    """3 to 5 minutes of a real track, cut at a random place and wrapped, made another track."""
    items = np.asarray(source["items"], np.uint32)
    hashes = np.asarray(source["hashes"], np.int64)
    frames = np.asarray(source["frames"], np.int64)
    seconds = float(rng.uniform(180, 300))
    count = min(len(items), int(seconds / ITEM_S))
    start = int(rng.integers(0, len(items)))
    mask = np.uint32(sum(1 << int(b) for b in rng.choice(32, MASK_BITS, replace=False)))
    new_items = np.roll(items, -start)[:count] ^ mask
    span = int(frames.max()) + 1
    frame_start = int(start * ITEM_S / FRAME_S)
    new_frames = (frames - frame_start) % span
    keep = new_frames < int(count * ITEM_S / FRAME_S)
    f, df, dt = hashes >> 16, ((hashes >> 8) & 0xFF) - 128, hashes & 0xFF
    f = (f + int(rng.integers(1, BINS))) % BINS
    if rng.random() < 0.5:
        df = -df
    new_hashes = ((f << 16) | ((df + 128) << 8) | dt)[keep]
    order = np.argsort(new_frames[keep], kind="stable")
    return new_items, Landmarks(
        new_hashes[order].astype(np.uint32), new_frames[keep][order].astype(np.uint32)
    )


def _work(work_id: str, fp: AudioPrint) -> Work:
    return Work(
        work_id=work_id,
        owner="label",
        title=work_id,
        media=AUDIO,
        sha256=hashlib.sha256(work_id.encode()).hexdigest(),
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp),
    )


def build(directory: Path, count: int) -> dict[str, object]:
    registered, _ = split(real_tracks())
    sources = [t for t in registered if float(t["duration"]) >= 180]  # type: ignore[arg-type]
    state = MatcherState(directory, audio_tuning=AudioTuning(freeze_tracks=BLOCK, background=False))
    rng = np.random.default_rng(2026)
    started = time.perf_counter()
    items_total = marks_total = 0
    for block in range(0, count, BLOCK):
        with state.works.batch():
            for number in range(block, min(count, block + BLOCK)):
                if number < len(registered):
                    track = registered[number]
                    items = np.asarray(track["items"], np.uint32)
                    marks = Landmarks(
                        np.asarray(track["hashes"], np.uint32),
                        np.asarray(track["frames"], np.uint32),
                    )
                    work_id = f"real-{number}"
                else:
                    items, marks = derived(sources[number % len(sources)], rng)
                    work_id = f"t{number}"
                state.works[work_id] = _work(work_id, _shelved(items))
                state.audio.add(work_id, items)
                state.landmarks.add(work_id, sampled(marks))
                items_total += len(items)
                marks_total += len(marks.hashes)
        print(f"  built {min(count, block + BLOCK):,} tracks, {time.perf_counter() - started:.0f} s",
              file=sys.stderr, flush=True)  # fmt: skip
    state.save({})
    state.close()
    (directory / "real.json").write_text(json.dumps([str(t["path"]) for t in registered]))
    return {
        "tracks": count,
        "build s": round(time.perf_counter() - started),
        "mean duration s": round(items_total * ITEM_S / count, 1),
        "landmarks a second (all; a quarter indexed)": round(marks_total / (items_total * ITEM_S)),
    }


def _queries(per_kind: int) -> list[tuple[str | None, str, AudioPrint, str]]:
    """(true work id or None, kind, print, source file) of excerpts, altered as in bench.quality."""
    registered, unregistered = split(real_tracks())
    by_name = {a.name: a for a in audio_alterations.ALTERATIONS}
    settings = Settings.from_env()
    found: list[tuple[str | None, str, AudioPrint, str]] = []
    step = max(1, len(registered) // per_kind)
    plan: list[tuple[str | None, dict[str, object], tuple[str, ...]]] = []
    for i in range(0, len(registered), step)[:per_kind]:
        plan.append((f"real-{i}", registered[i], KINDS))
    for track in unregistered[: per_kind * 2]:
        plan.append((None, track, UNRELATED_KINDS))
    for truth, track, kinds in plan:
        for kind in kinds:
            rng = np.random.default_rng([len(found), 11])
            seconds = float(kind.split("s ")[0])
            start = round(float(rng.uniform(0, float(track["duration"]) - seconds - 0.5)), 3)  # type: ignore[arg-type]
            path = Path(str(track["path"]))
            clip = audio_alterations.Clip(start, seconds)
            data = _cached(
                CLIPS, f"{path}|{kind}|{start}", partial(by_name[kind].apply, path, clip, rng)
            )
            fp = audio_print_of(data, settings)
            if fp is not None:
                found.append((truth, kind, fp, str(path)))
    return found


def _same_music(a: str, b: str) -> bool:
    """One file is a version of the other by name (SuperTuxKart ships ``x.ogg`` and ``x_fast.ogg``)."""
    first, second = Path(a).stem, Path(b).stem
    return first != second and (first.startswith(second) or second.startswith(first))


def measure(directory: Path, per_kind: int) -> dict[str, object]:
    settings = Settings.from_env()
    queries = _queries(per_kind)
    before = _rss()[0]
    started = time.perf_counter()
    state = MatcherState(directory)
    stage = restarted_stage(settings, state)
    opened = time.perf_counter() - started
    rss_open = _rss()[0] - before
    count = len(state.audio.store)
    matcher = stage.matcher
    registered = json.loads((directory / "real.json").read_text())
    first, warm = [], []
    recall: dict[str, list[bool]] = {}
    false, same_music, wrong = 0, [], []
    for truth, kind, fp, path in queries:
        fingerprint = Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp)
        t = time.perf_counter()
        matches = [m.work.work_id for m in matcher.match(fingerprint)]
        if kind.startswith("10s"):  # the figure: per 10 s excerpt
            first.append((time.perf_counter() - t) * 1000)
        if truth is not None:
            recall.setdefault(kind, []).append(truth in matches)
        for w in matches:
            if w == truth:
                continue
            other = registered[int(w.removeprefix("real-"))] if w.startswith("real-") else w
            if _same_music(path, other):
                same_music.append(f"{Path(path).name} -> {Path(other).name}")
            else:
                false += 1
                wrong.append(f"{kind} of {Path(path).name} -> {w} ({Path(other).name})")
    for _, kind, fp, _ in queries:
        if kind.startswith("10s"):
            t = time.perf_counter()
            matcher.match(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
            warm.append((time.perf_counter() - t) * 1000)
    # A new track: added to the delta, matchable by the next query (no rebuild).
    truth, _, fp, _ = queries[0]
    t = time.perf_counter()
    signal = matcher.signals[AUDIO]
    signal.add("new-track", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
    matched_new = any(
        m.work_id == "new-track"
        for m in signal.match(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
    )
    new_ms = (time.perf_counter() - t) * 1000
    rss, peak = _rss()
    # Baseline: the linear reference over 1,000 tracks, scaled to the catalogue.
    linear, tracks = LinearAudioIndex(), 0
    for i, (segment, _alive) in enumerate(state.audio.store.searchable()):
        for number in range(min(len(segment.ids), BASELINE_TRACKS - tracks)):
            linear.add(f"{i}-{number}", np.asarray(segment.track(number)))
            tracks += 1
    rule = AudioRule(settings.audio_max_ber, settings.audio_min_items, settings.audio_full_span_items,
                     settings.audio_min_llr, settings.audio_llr_min_items)  # fmt: skip
    t = time.perf_counter()
    for _, _, fp, _ in queries[:3]:
        linear.query(fp.items(), rule)
    scan_ms = (time.perf_counter() - t) * 1000 / 3 * count / max(1, tracks)
    disk = sum(f.stat().st_size for f in directory.rglob("*") if f.is_file())
    return {
        "cold start of the matcher stage s": round(opened, 2),
        "RSS after start GiB": round(rss_open, 2),
        "tracks": count,
        "queries (10 s excerpts and 5 s voice-overs)": len(queries),
        "recall per alteration": {k: f"{sum(v)}/{len(v)}" for k, v in recall.items()},
        "false matches": false,
        "false matches seen": wrong[:12],
        "same music in another file (not counted)": same_music,
        "query p50 ms, first pass": round(float(np.percentile(first, 50)), 1),
        "query p95 ms, first pass": round(float(np.percentile(first, 95)), 1),
        "query p50 ms, warm": round(float(np.percentile(warm, 50)), 1),
        "query p95 ms, warm": round(float(np.percentile(warm, 95)), 1),
        "new track add+match ms": round(new_ms, 1),
        "new track matched": matched_new,
        "RSS GiB": round(rss, 2),
        "peak RSS GiB": round(peak, 2),
        "baseline linear scan ms/query (scaled)": round(scan_ms),
        "state on disk GiB": round(disk / 2**30, 2),
    }


def merge(directory: Path, how: str) -> dict[str, object]:
    """Merge the two smallest landmark segments as the matcher does (``chunked``) or by
    sorting every kept row again (``sorted``, the baseline): time and peak memory."""
    root = directory / "audio" / "landmarks"
    names = [e["name"] for e in json.loads((root / "manifest.json").read_text())["segments"]]
    segments = sorted((LandmarkSegment.load(root / n) for n in names), key=lambda s: s.rows)[:2]
    alive = [np.ones(len(s.ids), bool) for s in segments]
    before = _rss()[0]
    started = time.perf_counter()
    if how == "chunked":
        rows = LandmarkSegment.merged(segments, alive).rows
    else:
        _, _, renumber = joined([s.bases for s in segments], [s.ids for s in segments], alive)
        keys = np.concatenate([s.table.keys_between(0, s.rows) for s in segments])
        new = np.concatenate(
            [renumber(i, np.asarray(s.table.rows)) for i, s in enumerate(segments)]
        )
        rows = len(KeyTable.build(keys, new, segments[0].table.size).rows)
    return {
        "rows": rows,
        "s": round(time.perf_counter() - started, 1),
        "peak RSS GiB": round(_rss()[1], 2),
        "RSS before GiB": round(before, 2),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=30, help="registered tracks asked about")
    parser.add_argument(
        "--dir", type=Path, default=Path.home() / ".cache" / "tanba-audio-catalogue"
    )
    parser.add_argument("--measure-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument(
        "--merge", action="store_true", help="time a merge of the two smallest landmark segments"
    )
    parser.add_argument("--how", choices=("chunked", "sorted"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    directory = args.dir / f"{args.tracks}"
    if args.measure_only and args.how:
        print(json.dumps(merge(directory, args.how)))
        return 0
    if args.merge:
        for how in ("chunked", "sorted"):  # each in a fresh process: its own peak memory
            figures = measured_apart(
                "bench.audio_catalogue",
                ["--tracks", str(args.tracks), "--dir", str(args.dir), "--how", how],
            )
            print(f"MERGE of two landmark segments, {how}: {json.dumps(figures)}")
        return 0
    if args.measure_only:
        print(json.dumps(measure(directory, args.queries)))
        return 0
    if not (directory / "real.json").is_file():
        directory.mkdir(parents=True, exist_ok=True)
        print(f"AUDIO CATALOGUE built: {json.dumps(build(directory, args.tracks))}", flush=True)
    _queries(args.queries)  # the excerpts are made (and cached) before the child measures
    figures = measured_apart(
        "bench.audio_catalogue",
        ["--tracks", str(args.tracks), "--queries", str(args.queries), "--dir", str(args.dir)],
    )
    print(f"AUDIO CATALOGUE of {args.tracks:,} registered tracks (a restarted matcher process):")
    for key, value in figures.items():
        print(f"  {key:40s} {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
