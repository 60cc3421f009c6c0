"""Detection quality on real media: recall, false matches and score margins per alteration.

Usage: ``python -m bench.quality [--images] [--audio] [--distractors N] [--seed S] [--cache DIR]``
(``make -C bench bench-quality`` runs both). Works are registered from their
original files; every work is then queried once per alteration, and every
distractor (another author's image or track) is queried as served and once
altered. Tanba and the baselines run side by side on the same bytes.

A row's *recall* is the share of its queries whose work is matched; *false*
counts wrong works matched; *weakest* is the lowest score of a true match and
*strongest* the highest score any wrong work got (matched or not; one the matcher refused
is shown just under the threshold), so
``weakest - strongest`` is the margin a threshold has. Altered copies are
generated from a seed per (work, alteration) and can be kept in ``--cache``.

Images: ``--split calibration|held-out`` draws the distractors from one of two
disjoint halves of every package's images (by a hash of the path), so the
similarity threshold set on the calibration pool is checked on images it never
saw; the works (too few to halve) are the same in both. ``--split unseen`` asks a
third set, works and distractors from packages no image setting was chosen on
(:func:`bench.media.unseen_works`: photographs and artwork of 200 to 6,000 px, a
third registered as small originals): the README's image figures are its. Every
split also reports the alterations of the unseen set's floors
(``bench.image_alterations.HARD_ALTERATIONS``: a crop keeping 60% of the picture,
rotations of 5-10°, the picture 120-400 px wide in a page, in a banner, rotations of 5-10°
on a canvas enlarged to hold the whole picture).

Audio: ``--split calibration|held-out`` keeps the even- or odd-placed works and
distractor tracks (the same copies as in a full run); ``--split unseen`` runs on
music of three other packages (``bench.media.unseen_tracks``) under voices and
languages no threshold was chosen with, the figures the README reports; ``--calibrate-audio JSON``
measures the voice LLR model (``tanba/matcher/chromaprint_llr.json``) on the calibration
half only, so the held-out half reports on tracks the model never saw. Distractor
tracks are queried whole (as a crawled file usually is) and as excerpts.
``--repeats`` measures whether a match lists every position of a passage the work
repeats (:mod:`bench.repeats`).
"""

from __future__ import annotations

import os

# One BLAS thread, as in the fingerprint sandbox: a few image prints differ with more.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from bench import audio_alterations, media
from bench.image_alterations import ALTERATIONS, HARD_ALTERATIONS, jpeg, web
from bench.methods import (
    FullFileChromaprint,
    Method,
    PdqBaseline,
    PhashBaseline,
    TanbaAudio,
    TanbaImages,
    audio_print_of,
)
from bench.report import Table
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.audio import AudioPrint


def _cached(cache: Path | None, key: str, make: Callable[[], bytes]) -> bytes:
    if cache is None:
        return make()
    path = cache / hashlib.sha256(key.encode()).hexdigest()[:32]
    if path.is_file():
        return path.read_bytes()
    data = make()
    cache.mkdir(parents=True, exist_ok=True)
    part = path.with_suffix(f".{os.getpid()}.part")  # two runs sharing a cache never read half
    part.write_bytes(data)
    part.replace(path)
    return data


def _source(path: Path) -> Image.Image:
    """The work as RGB (transparency on white), at most 2048 px: alterations start from it."""
    return media.WorkImage(path).source()


def run_images(
    settings: Settings,
    distractors: int,
    cache: Path | None,
    limit: int,
    baselines: bool = True,
    seed: int = 1,
    split: str = "all",
) -> str:
    if split == media.UNSEEN:
        candidates = media.unseen_works()[:limit]
        others = media.unseen_distractor_images(distractors, seed)
    else:
        candidates = [media.WorkImage(p) for p in media.work_photos()[:limit]]
        others = media.distractor_images(distractors, seed, pool=split)
    alterations = ALTERATIONS + HARD_ALTERATIONS
    tanba = TanbaImages(settings)
    methods: list[Method] = [tanba]
    if baselines:
        methods += [PhashBaseline(), PdqBaseline()]
    table = Table([m.name for m in methods])
    started = time.perf_counter()
    # A work too flat to fingerprint is refused at registration (Tanba says so to its owner):
    # it is left out for every method, and listed.
    # Each work keeps its place in the full list as its random seed, flat ones or not.
    works: list[tuple[int, media.WorkImage]] = []
    flat = []
    for place, work in enumerate(candidates):
        data = work.data()
        if not tanba.register(f"w{len(works)}", data):
            flat.append(work)
            continue
        for m in methods[1:]:
            m.register(f"w{len(works)}", data)
        works.append((place, work))
    for i, (place, work) in enumerate(works):
        image: Image.Image | None = None
        for a, alteration in enumerate(alterations):

            def make(a: int = a, alteration=alteration, place: int = place, work=work) -> bytes:
                nonlocal image
                image = image or work.source()
                return alteration.apply(image, np.random.default_rng([place, a]))

            key = work.path if work.long_side is None else work.name
            query = _cached(cache, f"img|{key}|{alteration.name}|v1", make)
            for m in methods:
                table.tally(alteration.name, m.name).add(m.scores(query), f"w{i}", m.accept)
        print(f"  images: work {i + 1}/{len(works)}", file=sys.stderr, end="\r")
    rng = np.random.default_rng(99)
    for k, path in enumerate(others):
        alteration = ALTERATIONS[int(rng.integers(len(ALTERATIONS)))]

        def served(path: Path = path) -> bytes:
            return jpeg(web(_source(path)))

        def altered(path: Path = path, alteration=alteration, k: int = k) -> bytes:
            return alteration.apply(_source(path), np.random.default_rng([10_000 + k]))

        for key, make_query in (("served", served), (alteration.name, altered)):
            query = _cached(cache, f"dis|{path}|{key}|v1", make_query)
            for m in methods:
                table.tally("distractors", m.name).add(m.scores(query), None, m.accept)
        print(f"  images: distractor {k + 1}/{len(others)}", file=sys.stderr, end="\r")
    took = time.perf_counter() - started
    rules = "\n".join(f"  {m.name}: {m.rule}" for m in methods)
    refused = ", ".join(w.name for w in flat) or "none"
    small = sum(w.long_side is not None for _, w in works)
    return (
        f"IMAGES: {len(works)} works ({small} small originals) × {len(alterations)} alterations; "
        f"{len(others)} distractor images (sample seed {seed}, {split} pool), each queried as "
        f"served and once altered ({took:.0f} s)\n"
        f"works refused at registration as too flat to fingerprint: {refused}\n"
        + table.render(true_rows=[a.name for a in alterations])
        + f"\nrules:\n{rules}\n"
    )


def _split(paths: list[Path], split: str) -> list[Path]:
    """Every track, or the calibration half (even places) or the held-out half (odd places)."""
    return {"all": paths, "calibration": paths[::2], "held-out": paths[1::2]}[split]


def _audio_of(path: Path, settings: Settings) -> AudioPrint | None:
    from tanba.fingerprint.audio import audio_print

    try:
        return audio_print(path, max_seconds=settings.audio_max_seconds, timeout_s=120)
    except Exception:
        return None


def _work_queries(
    works: list[Path],
    settings: Settings,
    cache: Path | None,
    kinds: tuple[str, ...] = (),
    places: set[int] | None = None,
    alterations: tuple[audio_alterations.AudioAlteration, ...] = audio_alterations.ALTERATIONS,
) -> Iterator[
    tuple[int, audio_alterations.AudioAlteration, audio_alterations.Clip, bytes, AudioPrint | None]
]:
    """(work place, alteration, clip, MP3 bytes, print) of every altered excerpt of the works.

    ``kinds`` (alteration names' endings) limits the alterations and ``places`` the
    works; the seeds are the
    work's place and the alteration's place in the full lists either way, so a query
    is the same bytes in every run that asks for it.
    """
    for i, path in enumerate(works):
        if places is not None and i not in places:
            continue
        fp = _audio_of(path, settings)
        assert fp is not None, f"cannot fingerprint the work {path}"
        for a, alteration in enumerate(alterations):
            if kinds and not alteration.name.endswith(kinds):
                continue
            rng = np.random.default_rng([i, a])
            clip = audio_alterations.choose_clip(alteration, fp.duration_s, rng)
            query = _cached(
                cache,
                f"aud|{path}|{alteration.name}|{clip.start_s:.3f}|{clip.seconds}|v1",
                partial(alteration.apply, path, clip, rng),
            )
            yield i, alteration, clip, query, audio_print_of(query, settings)
        print(f"  audio: work {i + 1}/{len(works)}", file=sys.stderr, end="\r")


def run_audio(settings: Settings, cache: Path | None, limit: int, split: str = "all") -> str:
    from tanba.fingerprint.audio import ITEM_S

    # Places in the full lists seed the copies, so a split's queries equal the full run's.
    if split == "unseen":  # other packages, other voices: nothing here chose a threshold
        all_works, all_others = media.unseen_tracks()[::2][:limit], media.unseen_tracks()[1::2]
        works, others = all_works, all_others
    else:
        all_works, all_others = media.work_tracks()[:limit], media.distractor_tracks()
        works, others = _split(all_works, split), _split(all_others, split)
    places = [all_works.index(p) for p in works]
    alterations = audio_alterations.alterations(split)
    tanba = TanbaAudio(settings)
    full = FullFileChromaprint()
    methods: list[_AudioMethod] = [tanba]
    table = Table([tanba.name, full.name])
    started = time.perf_counter()
    refs = {}
    for i, path in enumerate(works):
        fp = _audio_of(path, settings)
        assert fp is not None, f"cannot fingerprint the work {path}"
        refs[i] = fp.items()
        tanba.register_items(f"t{i}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
        full.register_items(f"t{i}", fp.items())
    rows = []
    offset_errors: dict[str, list[tuple[float, str]]] = {m.name: [] for m in methods}
    for place, alteration, clip, _data, fp in _work_queries(
        all_works, settings, cache, places=set(places), alterations=alterations
    ):
        if place not in places:
            continue
        i = places.index(place)
        if alteration.name not in rows:
            rows.append(alteration.name)
        truth = f"t{i}"
        if fp is None:  # refused by the pipeline: a miss for every method
            table.tally(alteration.name, full.name).add({}, truth, full.accept)
            tanba.last, tanba.offsets, tanba.accepted = {}, {}, set()
        else:
            tanba.scores_of(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
            table.tally(alteration.name, full.name).add(
                full.scores_of(fp.items()), truth, full.accept
            )
        # The passage compared for note-for-note repeats: as long as Chromaprint's print of it.
        length = len(fp.items()) if fp is not None else round(clip.seconds / ITEM_S) - 15
        for m in methods:
            error = None
            if truth in m.offsets and m.accept(truth, m.last.get(truth, 0.0)):
                error = _offset_error(refs[i], clip.start_s, m.offsets[truth], length)
                if "speed" not in alteration.name:
                    offset_errors[m.name].append((error, alteration.name))
            table.tally(alteration.name, m.name).add(m.last, truth, m.accept, error)
    for path in others:
        k = all_others.index(path)
        fp0 = _audio_of(path, settings)
        if fp0 is None:
            continue
        # The whole track, as a crawled file usually is: minutes of music to collect chance votes.
        tanba.scores_of(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp0))
        table.tally("whole distractors", full.name).add(
            full.scores_of(fp0.items()), None, full.accept
        )
        for m in methods:
            table.tally("whole distractors", m.name).add(m.last, None, m.accept)
        for a, alteration in enumerate(audio_alterations.distractor_alterations(split)):
            rng = np.random.default_rng([1000 + k, a])
            clip = audio_alterations.choose_clip(alteration, fp0.duration_s, rng)
            query = _cached(
                cache,
                f"daud|{path}|{alteration.name}|{clip.start_s:.3f}|v1",
                partial(alteration.apply, path, clip, rng),
            )
            fp = audio_print_of(query, settings)
            if fp is None:
                continue
            tanba.scores_of(Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
            table.tally("distractors", full.name).add(full.scores_of(fp.items()), None, full.accept)
            for m in methods:
                table.tally("distractors", m.name).add(m.last, None, m.accept)
    took = time.perf_counter() - started
    rules = [(m.name, m.rule) for m in methods] + [(full.name, full.rule)]
    which = {"all": "", "unseen": " (UNSEEN music and voices)"}.get(split, f" ({split} half)")
    return (
        f"AUDIO{which}: {len(works)} tracks × {len(alterations)} queries; "
        f"{len(others)} distractor tracks, whole and excerpts of each ({took:.0f} s)\n"
        + table.render(offsets=True, true_rows=[r for r in rows if "speed" not in r])
        + "\n  offset: worst |reported - true| start of the excerpt in the work, in seconds, where"
        + "\n    a note-for-note repeat of the passage elsewhere in the work counts as true"
        + "\n  ALL (copies) leaves out the speed rows, as the issue reports them apart"
        + "".join(
            f"\n  worst offset of {m.name} (copies): {_worst(offset_errors[m.name])}"
            for m in methods
        )
        + "\nrules:"
        + "".join(f"\n  {name}: {rule}" for name, rule in rules)
        + "\n"
    )


def _worst(errors: list[tuple[float, str]]) -> str:
    """The worst offset error, and the rows of any beyond a second."""
    worst = max((e for e, _ in errors), default=0.0)
    wrong = sorted({row for e, row in errors if e > 1.0})
    return f"{worst:.3f} s" + (f" (over 1 s in: {', '.join(wrong)})" if wrong else "")


class _AudioMethod(Protocol):
    """What the audio table reads from a method after it scored a query."""

    name: str
    rule: str
    last: dict[str, float]  # score per work of the last query
    offsets: dict[str, float]  # reported start in the work, seconds, per accepted work

    def accept(self, work_id: str, score: float) -> bool: ...


_LANDMARK_GRID = ((2, 3, 4, 5, 6, 8), (1.0, 1.5, 2.0, 2.5, 3.0))


def calibrate_landmarks(settings: Settings, cache: Path | None) -> str:
    """Recall and false matches of the landmark path over a grid of its two settings.

    On clips apart from the table's (other seeds): five 5 s voice-over excerpts of
    every work, eight voice-over and eight plain 5 s excerpts of every distractor
    track, and each distractor track whole. Every work is registered, as in a full
    run; the figures are given for the calibration half (even-placed works and
    distractor tracks), which chose ``TANBA_AUDIO_LANDMARK_MIN_VOTES`` and
    ``..._MIN_LLR``, and for the held-out half, which checks them. Only the landmark
    path is scored: a pair passes when some candidate of the work has that many
    votes, a span the audio rule can judge and that mean LLR.
    """
    from tanba.matcher.audio_signal import AudioSignal, LandmarkCandidate

    works, others = media.work_tracks(), media.distractor_tracks()
    signal = AudioSignal(settings)
    durations = {}
    for i, path in enumerate(works):
        fp = _audio_of(path, settings)
        assert fp is not None, f"cannot fingerprint the work {path}"
        signal.add(f"t{i}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
        durations[path] = fp.duration_s
    queries: list[tuple[str, str | None, AudioPrint]] = []  # (half, true work, print)
    by_name = {a.name: a for a in audio_alterations.ALTERATIONS}
    kinds = {kind: by_name[f"5s {kind}"].apply for kind in ("voice", "plain")}
    plan = [(f"t{i}", i, p, {"voice": 5}) for i, p in enumerate(works)]
    plan += [(None, k, p, {"voice": 8, "plain": 8}) for k, p in enumerate(others)]
    for truth, place, path, counts in plan:
        half = "calibration" if place % 2 == 0 else "held-out"
        if truth is None:
            whole = _audio_of(path, settings)
            if whole is None:
                continue
            durations[path] = whole.duration_s
            queries.append((half, None, whole))
        for kind, count in counts.items():
            for r in range(count):
                rng = np.random.default_rng([7000 + place, r, len(kind), 1 if truth else 2])
                start = round(float(rng.uniform(0, max(0.0, durations[path] - 5.5))), 3)
                clip = audio_alterations.Clip(start, 5.0)
                data = _cached(
                    cache,
                    f"lmcal|{path}|{kind}|{r}|{start:.3f}|v1",
                    partial(kinds[kind], path, clip, rng),
                )
                fp = audio_print_of(data, settings)
                if fp is not None:
                    queries.append((half, truth, fp))
        print(f"  landmark calibration: {place + 1} tracks", file=sys.stderr, end="\r")
    scored = [
        (half, truth, signal.landmark_candidates(fp, min(_LANDMARK_GRID[0])))
        for half, truth, fp in queries
    ]

    def passes(c: LandmarkCandidate, votes: int, llr: float) -> bool:
        return c.hit.votes >= votes and c.judgeable and c.llr >= llr

    lines = [
        f"LANDMARK PATH: {len(queries)} queries (5 voice-over 5 s clips per work; 8 voice-over,"
        " 8 plain 5 s clips and the whole track per distractor track)",
        "recall of voice-over clips / queries with a wrong work passing, per (votes, LLR):",
    ]
    for half in ("calibration", "held-out"):
        mine = [(t, c) for h, t, c in scored if h == half]
        copies = sum(t is not None for t, _ in mine)
        lines.append(f"  {half} half: {copies} voice-over clips, {len(mine) - copies} distractors")
        for votes in _LANDMARK_GRID[0]:
            cells = []
            for llr in _LANDMARK_GRID[1]:
                found = sum(
                    any(c.hit.work_id == t and passes(c, votes, llr) for c in cs)
                    for t, cs in mine
                    if t is not None
                )
                false = sum(
                    any(c.hit.work_id != t and passes(c, votes, llr) for c in cs) for t, cs in mine
                )
                cells.append(f"LLR {llr:.1f}: {found / max(copies, 1):.3f}/{false}")
            lines.append(f"    votes {votes:>2}  " + "  ".join(cells))
    return "\n".join(lines) + "\n"


_SPEED_GRID = (6, 8, 10, 12, 15, 20, 25, 30)
_SPEED_KINDS = ("speed_2pc", "speed_5pc", "speed_pal", "speed_1to5pc")


def calibrate_speed(settings: Settings, cache: Path | None, split: str) -> str:
    """Votes of the speed search (``TANBA_AUDIO_SPEED_MIN_VOTES``): copies' own and chance's.

    Every work of the split is registered; its speed-changed excerpts (the table's
    own queries) give the true work's best votes at any searched speed, and every
    distractor query of the table (excerpts and whole tracks) and every wrong work
    of a copy's query give chance's. Printed per bar: the share of copies found,
    and the queries where a wrong work reached the bar. The bar is chosen on the
    works of ``bench.media.work_tracks`` (``--split all``), never on ``unseen``.
    """
    from tanba.matcher.audio_signal import AudioSignal

    if split == "unseen":
        works, others = media.unseen_tracks()[::2], media.unseen_tracks()[1::2]
    else:
        works, others = media.work_tracks(), media.distractor_tracks()
    signal = AudioSignal(settings)
    for i, path in enumerate(works):
        fp = _audio_of(path, settings)
        assert fp is not None, f"cannot fingerprint the work {path}"
        signal.add(f"t{i}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp))
    low = min(_SPEED_GRID)
    true_votes: dict[str, list[int]] = {}  # per row: the true work's best votes (0: none)
    wrong_votes: list[int] = []  # per query: the best wrong work's votes
    for place, alteration, _clip, _data, fp in _work_queries(
        works, settings, cache, kinds=_SPEED_KINDS, alterations=audio_alterations.alterations(split)
    ):
        hits = signal.speed_hits(fp, low) if fp is not None else []
        votes = {h.hit.work_id: h.hit.votes for h in hits}
        true_votes.setdefault(alteration.name, []).append(votes.pop(f"t{place}", 0))
        wrong_votes.append(max(votes.values(), default=0))
    distractor_votes = []
    for k, path in enumerate(others):
        whole = _audio_of(path, settings)
        if whole is None:
            continue
        queries = [whole]
        for a, alteration in enumerate(audio_alterations.distractor_alterations(split)):
            rng = np.random.default_rng([1000 + k, a])
            clip = audio_alterations.choose_clip(alteration, whole.duration_s, rng)
            query = _cached(
                cache,
                f"daud|{path}|{alteration.name}|{clip.start_s:.3f}|v1",
                partial(alteration.apply, path, clip, rng),
            )
            if (fp := audio_print_of(query, settings)) is not None:
                queries.append(fp)
        for fp in queries:
            hits = signal.speed_hits(fp, low)
            distractor_votes.append(max((h.hit.votes for h in hits), default=0))
    lines = [
        f"SPEED SEARCH ({split}): {len(works)} works, {sum(map(len, true_votes.values()))} "
        f"speed-changed excerpts, {len(distractor_votes)} distractor queries",
        "  highest chance votes: distractor queries "
        f"{max(distractor_votes, default=0)}, wrong works of copies {max(wrong_votes, default=0)}",
        "  lowest true votes per row: "
        + ", ".join(f"{row} {min(v)}" for row, v in sorted(true_votes.items())),
        "  per bar: recall of the speed rows / distractor queries with a work at the bar"
        " / copies with a wrong work at the bar",
    ]
    every = [v for vs in true_votes.values() for v in vs]
    for bar in _SPEED_GRID:
        found = sum(v >= bar for v in every) / max(len(every), 1)
        false = sum(v >= bar for v in distractor_votes)
        wrong = sum(v >= bar for v in wrong_votes)
        lines.append(f"    votes >= {bar:>2}: {found:.3f} / {false} / {wrong}")
    return "\n".join(lines) + "\n"


def calibrate_audio(settings: Settings, cache: Path | None, out: Path) -> str:
    """Measure the voice LLR model on the calibration half of the works and write it to ``out``.

    For every voice-over excerpt of an even-placed work, the true alignment (the best
    BER within 6 items of where the excerpt was cut) gives the (work code, copy code)
    pair counts of each classifier, with one added to every cell; unrelated music is
    modelled as independent codes with the works' own code frequencies. The bits are
    ranked by how often they flip there. The held-out half (``--split held-out``) is
    left for reporting.
    """
    from tanba.fingerprint.audio import ITEM_S

    works = media.work_tracks()
    calibration = set(range(0, len(works), 2))
    refs = {i: fp.items() for i in calibration if (fp := _audio_of(works[i], settings))}
    pairs = np.ones((16, 4, 4))
    flips = np.zeros(32)
    items = 0
    shifts = np.arange(30, -1, -2, dtype=np.uint32)  # classifier k's code sits at bit 30 - 2k
    voiced = _work_queries(works, settings, cache, ("voice",), calibration)
    for place, _alteration, clip, _data, fp in voiced:
        if place not in calibration or fp is None:
            continue
        ref, query = refs[place], fp.items()
        windows = np.lib.stride_tricks.sliding_window_view(ref, len(query))
        errors = np.bitwise_count(windows ^ query).sum(axis=1)
        truth = round(clip.start_s / ITEM_S)
        lo, hi = max(0, truth - 6), min(len(errors), truth + 7)
        at = lo + int(np.argmin(errors[lo:hi]))
        work_codes = (ref[at : at + len(query), None] >> shifts) & 3
        copy_codes = (query[:, None] >> shifts) & 3
        for k in range(16):
            np.add.at(pairs[k], (work_codes[:, k], copy_codes[:, k]), 1)
        diff = ref[at : at + len(query)] ^ query
        flips += ((diff[:, None] >> np.arange(32, dtype=np.uint32)) & 1).sum(axis=0)
        items += len(query)
    every = np.concatenate(list(refs.values()))
    codes = (every[:, None] >> shifts) & 3
    share = np.stack([np.bincount(codes[:, k], minlength=4) for k in range(16)]) / len(every)
    llr = np.log(pairs / pairs.sum(axis=(1, 2), keepdims=True)) - np.log(
        share[:, :, None] * share[:, None, :]
    )
    flip_rate = flips / max(items, 1)
    model = {
        "about": "log P(work code, copy code | voice over the music) / P(.. | unrelated) per "
        "Chromaprint classifier (16 x 4 x 4), and the item's bits from least to most often "
        "flipped under a voice; written by python -m bench.quality --calibrate-audio from the "
        "even-placed works' voice excerpts",
        "items": items,
        "llr": np.round(llr, 3).tolist(),
        "robust_bits": [int(b) for b in np.argsort(flip_rate, kind="stable")],
        "flip_rate": np.round(flip_rate, 3).tolist(),
    }
    # One classifier's 4 x 4 table per line: the file stays readable and diffable.
    text = json.dumps(model, indent=1)
    for k, table in enumerate(model["llr"]):
        text = text.replace(json.dumps(table, indent=1).replace("\n", "\n  "), json.dumps(table), 1)
        assert json.loads(text)["llr"][k] == table
    out.write_text(text + "\n")
    return f"wrote {out}: {items} aligned items of {len(calibration)} works' voice excerpts\n"


def _offset_error(ref: np.ndarray, true_s: float, reported_s: float, length: int) -> float:
    """Seconds between the reported start and the true one, or any exact repeat of that passage.

    Songs repeat: a chorus or a loop that recurs note for note (its own fingerprint
    at BER <= 0.1) is the same passage, and reporting either place is right.
    """
    from tanba.fingerprint.audio import ITEM_S

    start = round(true_s / ITEM_S)
    passage = ref[start : start + length]
    if len(passage) < 8:
        return abs(reported_s - true_s)
    windows = np.lib.stride_tricks.sliding_window_view(ref, len(passage))
    ber = np.bitwise_count(windows ^ passage).sum(axis=1) / (32 * len(passage))
    same = np.flatnonzero(ber <= 0.1) * ITEM_S
    same = same if len(same) else np.array([true_s])
    return float(np.min(np.abs(same - reported_s)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", action="store_true", help="run the image benchmark")
    parser.add_argument("--audio", action="store_true", help="run the audio benchmark")
    parser.add_argument("--distractors", type=int, default=2500, help="distractor images")
    parser.add_argument(
        "--seed", type=int, default=1, help="which distractors are drawn (another seed: held out)"
    )
    parser.add_argument("--works", type=int, default=10_000, help="use at most this many works")
    parser.add_argument("--cache", type=Path, default=None, help="keep generated copies here")
    parser.add_argument("--no-baselines", action="store_true", help="Tanba only (calibration)")
    parser.add_argument(
        "--split",
        choices=("all", "calibration", "held-out", "unseen"),
        default="all",
        help="every work and distractor, or the half thresholds are calibrated on, or the other"
        " (images: distractor pools; audio: works and distractor tracks); unseen: images,"
        " works and distractors of packages no threshold was chosen on; audio, music of"
        " other packages under voices no threshold was chosen with",
    )
    parser.add_argument(
        "--calibrate-audio",
        type=Path,
        metavar="JSON",
        help="measure the audio voice model on the calibration half and write it (then stop)",
    )
    parser.add_argument(
        "--repeats",
        action="store_true",
        help="repeated passages: repeats that exist and those a match lists (bench/repeats.py)",
    )
    parser.add_argument(
        "--linear-positions",
        action="store_true",
        help="with --repeats: find positions with the linear reference instead of the votes",
    )
    parser.add_argument(
        "--calibrate-speed",
        action="store_true",
        help="print the speed search's votes on copies and on distractors (with --split)",
    )
    parser.add_argument(
        "--calibrate-landmarks",
        action="store_true",
        help="print the landmark path's recall and false matches over a grid of its settings",
    )
    args = parser.parse_args(argv)
    both = not (args.images or args.audio)
    settings = Settings.from_env()
    if args.calibrate_landmarks:
        print(calibrate_landmarks(settings, args.cache), end="")
        return 0
    if args.calibrate_speed:
        print(calibrate_speed(settings, args.cache, args.split), end="")
        return 0
    if args.calibrate_audio:
        print(calibrate_audio(settings, args.cache, args.calibrate_audio), end="")
        return 0
    if args.repeats:
        from bench.repeats import run_repeats  # it uses this module's helpers

        print(run_repeats(settings, args.cache, args.split, args.linear_positions), end="")
        return 0
    out = []
    if args.images or both:
        out.append(
            run_images(
                settings,
                args.distractors,
                args.cache,
                args.works,
                not args.no_baselines,
                args.seed,
                args.split,
            )
        )
        print(out[-1], flush=True)
    if args.audio or both:
        out.append(run_audio(settings, args.cache, args.works, args.split))
        print(out[-1], flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
