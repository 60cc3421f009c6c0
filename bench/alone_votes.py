"""Votes alone: how far a landmark candidate leads its rivals, on calibration material only.

Usage: ``python -m bench.alone_votes [--cache DIR]``. Prints the grid that chose
``TANBA_AUDIO_LANDMARK_ALONE_VOTES``'s leads (``tanba.matcher.audio_signal``
``ALONE_LEAD_OTHERS`` and ``ALONE_LEAD_OWN``): per votes bar and pair of leads, the
voice-over recall of the calibration half and the false matches the votes alone add.

The material never includes the unseen set (:func:`bench.media.unseen_tracks`):

* ``bench.quality``'s calibration half: its even-placed works registered and their
  altered excerpts asked (the same cached copies as ``--split calibration``), its
  even-placed distractor tracks asked whole and as excerpts;
* album tracks of the game packages with 12 or more music files among
  ``bench.audio_catalogue``'s real tracks (its cached prints), bench.quality's own
  tracks left out: tracks of one
  composer and one album share sounds, beats and samples, which the calibration half
  lacks and the unseen set's Warzone 2100 albums showed. Every package's even-placed
  tracks are registered beside the calibration works, and its odd-placed ones are
  asked whole and as two slices each of 5, 10 and 20 s (cut from the print). An
  asked track that Chromaprint matches whole is a version of a registered one (one
  music in two files, as ``menu.ogg`` and ``ingame_14.ogg`` of Widelands): it and its
  slices are left out of the false matches and listed.

Only the votes alone are scored: a query's votes-alone work is one whose most voted
landmark candidate has the bar's votes and leads the other works' hits and its own
other offsets by the leads; it counts when no other path matched it already.
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import sys
from collections import defaultdict
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from bench import audio_alterations, media
from bench.audio_catalogue import real_tracks
from bench.methods import audio_print_of
from bench.quality import _audio_of, _cached, _work_queries
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import (
    CHROMAPRINT,
    FRAME_S,
    ITEM_S,
    LANDMARKS,
    AudioPrint,
    Landmarks,
)
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.landmark_index import LandmarkHit

ALBUM_TRACKS = 12  # a package with this many music files holds albums
SLICES = ((5, 2), (10, 2), (20, 2))  # (seconds, how many) of every asked album track
BARS = (12, 15, 20)
LEADS = (1.0, 1.5, 2.0, 2.5, 3.0)
OWN_LEADS = (0.0, 1.0, 1.25, 1.5, 2.0)


@dataclass
class Query:
    """One asked print: its true work (None: unrelated), what matched, the landmark hits."""

    name: str
    truth: str | None
    matched: set[str]
    hits: list[LandmarkHit]
    version: bool = False


def _print(items: np.ndarray, hashes: np.ndarray, frames: np.ndarray) -> AudioPrint:
    fp = AudioPrint.from_items(CHROMAPRINT, len(items) * ITEM_S, ITEM_S, items)
    marks = Landmarks(hashes.astype(np.uint32), frames.astype(np.uint32))
    return fp.model_copy(update={"landmarks": LANDMARKS, "landmarks_b64": marks.pack()})


def _whole(track: dict[str, object]) -> AudioPrint:
    return _print(
        np.asarray(track["items"], np.uint32),
        np.asarray(track["hashes"]),
        np.asarray(track["frames"]),
    )


def _sliced(track: dict[str, object], start_s: float, seconds: float) -> AudioPrint:
    items = np.asarray(track["items"], np.uint32)
    hashes, frames = np.asarray(track["hashes"]), np.asarray(track["frames"], np.int64)
    first, last = round(start_s / FRAME_S), round((start_s + seconds) / FRAME_S)
    keep = (frames >= first) & (frames < last)
    return _print(
        items[int(start_s / ITEM_S) : int((start_s + seconds) / ITEM_S)],
        hashes[keep],
        frames[keep] - first,
    )


def _albums() -> dict[str, list[dict[str, object]]]:
    """Real tracks by package (the two path parts after /usr/share), bench.quality's left out."""
    found: dict[str, list[dict[str, object]]] = defaultdict(list)
    quality = {str(p) for p in media.work_tracks() + media.distractor_tracks()}
    for track in real_tracks():
        path = Path(str(track["path"]))
        assert not media.unseen_music(path), f"{path} is of the unseen set"
        if str(path) not in quality:  # registered or asked by the calibration half already
            found["/".join(path.parts[3:5])].append(track)
    return {k: v for k, v in sorted(found.items()) if len(v) >= ALBUM_TRACKS}


def queries(settings: Settings, cache: Path | None) -> tuple[list[Query], str]:
    """Every query of the calibration material, asked of one matcher (and what it holds)."""
    signal = AudioSignal(settings)
    works = media.work_tracks()[::2]
    places = {media.work_tracks().index(p) for p in works}
    for place in places:
        fp = _audio_of(media.work_tracks()[place], settings)
        assert fp is not None
        signal.add(f"t{place}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
    albums = _albums()
    asked: list[tuple[str, str | None, AudioPrint]] = []
    for package, tracks in albums.items():
        for n, track in enumerate(tracks[::2]):
            fp = _whole(track)
            signal.add(f"{package}#{n}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
        rng = np.random.default_rng(7)
        for track in tracks[1::2]:
            name = str(track["path"])
            asked.append((f"{name}|whole", None, _whole(track)))
            for seconds, count in SLICES:
                for _ in range(count):
                    room = max(0.0, float(str(track["duration"])) - seconds - 1)
                    start = float(rng.uniform(0, room))
                    asked.append((f"{name}|{seconds}s slice", None, _sliced(track, start, seconds)))
    for place, alteration, _clip, _data, fp in _work_queries(
        media.work_tracks(), settings, cache, places=places
    ):
        if fp is not None and "speed" not in alteration.name:
            asked.append((alteration.name, f"t{place}", fp))
    others = media.distractor_tracks()
    for k, path in enumerate(others):
        if k % 2:
            continue
        whole = _audio_of(path, settings)
        if whole is None:
            continue
        asked.append((f"{path}|whole", None, whole))
        for a, alteration in enumerate(audio_alterations.distractor_alterations("calibration")):
            rng = np.random.default_rng([1000 + k, a])
            clip = audio_alterations.choose_clip(alteration, whole.duration_s, rng)
            data = _cached(
                cache,
                f"daud|{path}|{alteration.name}|{clip.start_s:.3f}|v1",
                partial(alteration.apply, path, clip, rng),
            )
            fp = audio_print_of(data, settings)
            if fp is not None:
                asked.append((f"{path}|{alteration.name}", None, fp))
    found = []
    for name, truth, fp in asked:
        fingerprint = Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp)
        matched = {m.work_id for m in signal.match(fingerprint)}
        hits = [c.hit for c in signal.landmark_candidates(fp, settings.audio_landmark_min_votes)]
        found.append(Query(name, truth, matched, hits))
    versions = {q.name.rsplit("|", 1)[0] for q in found if q.name.endswith("|whole") and q.matched}
    for q in found:
        q.version = q.name.rsplit("|", 1)[0] in versions
    held = (
        f"{len(places)} calibration works and {sum(len(t[::2]) for t in albums.values())} album "
        f"tracks of {', '.join(f'{k} ({len(v)})' for k, v in albums.items())} registered; "
        f"{len(found)} queries; versions left out: "
        + (", ".join(sorted(Path(v).name for v in versions)) or "none")
    )
    return found, held


def alone(q: Query, bar: int, lead: float, own_lead: float) -> set[str]:
    """Works the query's votes alone would match (besides those already matched)."""
    best: dict[str, LandmarkHit] = {}
    for h in q.hits:
        if h.work_id not in best or h.votes > best[h.work_id].votes:
            best[h.work_id] = h
    out = set()
    for work_id, voted in best.items():
        others = max((h.votes for h in q.hits if h.work_id != work_id), default=0)
        own = max(
            (
                h.votes
                for h in q.hits
                if h.work_id == work_id and h is not voted and abs(h.offset - voted.offset) > 1
            ),
            default=0,
        )
        if voted.votes >= bar and voted.votes >= lead * others and voted.votes >= own_lead * own:
            out.add(work_id)
    return out - q.matched


def grid(found: list[Query]) -> list[str]:
    voiced = [q for q in found if q.truth is not None and "voice" in q.name]
    lines = [
        f"  {'bar':>3} {'others':>6} {'own':>5}  voice-over recall ({len(voiced)})  false (added)"
    ]
    base = sum(q.truth in q.matched for q in voiced)
    lines.append(f"  off              {base / len(voiced):.3f}")
    for bar in BARS:
        for lead in LEADS:
            for own_lead in OWN_LEADS:
                got = sum(
                    q.truth in q.matched or q.truth in alone(q, bar, lead, own_lead) for q in voiced
                )
                false = [
                    (q.name, w)
                    for q in found
                    if not q.version
                    for w in alone(q, bar, lead, own_lead) - {q.truth}
                ]
                names = "; ".join(f"{Path(n).name} -> {w}" for n, w in false[:3])
                lines.append(
                    f"  {bar:>3} {lead:>6} {own_lead:>5}  {got / len(voiced):.3f}"
                    f"{'':25s}{len(false):>3}  {names}"
                )
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, default=None, help="bench.quality's cached copies")
    args = parser.parse_args(argv)
    found, held = queries(Settings.from_env(), args.cache)
    print(f"VOTES ALONE on calibration material: {held}", file=sys.stderr)
    print(f"VOTES ALONE on calibration material: {held}")
    print("\n".join(grid(found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
