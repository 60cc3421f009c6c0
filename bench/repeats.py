"""Repeated passages: does a match list every position of the work where its excerpt occurs?

Run by ``python -m bench.quality --repeats [--split calibration|held-out]`` (the
works' halves of ``bench.quality``; the held-out half stands for the unseen set).

Which passages repeat, and where, is found apart from the matcher's rule, in two
independent steps per 10 s passage on a grid of every registered track:

1. **Self-similarity of the track's print:** the passage's own Chromaprint items
   slid over the whole track; an offset 2 s or more from the passage where they
   agree at BER <= :data:`REPEAT_BER` is a candidate repeat.
2. **Confirmed on the sound itself:** the log-magnitude spectrogram (numpy's FFT
   of the PCM ffmpeg decodes; neither Chromaprint nor the landmarks) of the track
   at the candidate correlates with the passage's at >= :data:`REPEAT_CORR`.

A passage with confirmed repeats is a *repeating* excerpt (R); one whose print
agrees nowhere else at BER <= :data:`NEAR_BER` is a *non-repeating* one (N). Each
is cut from the track as :mod:`bench.audio_alterations` cuts (MP3, noise, a
voice) and matched against every registered track of the half. A listed position
(where it puts the excerpt's start in the work) is *the cut* within 1 s of where
it was cut, *a repeat* within 1 s of a confirmed one, *a near-repeat* where the
track's print agrees with the passage at BER <= :data:`NEAR_BER` (music that
nearly repeats: a bar with a variation; listed, explained, not counted false),
and *false* otherwise; false ones are printed one by one.
"""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from bench import audio_alterations, media
from bench.methods import as_work, audio_print_of
from bench.quality import _audio_of, _cached, _split
from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.settings import Settings
from tanba.matcher.audio_positions import LinearPositions, Position, PositionFinder, PositionTest
from tanba.matcher.audio_signal import AudioSignal
from tanba.matcher.match import Match, Matcher

EXCERPT_S = 10
GRID_S = 10.0  # passages considered: one every GRID_S seconds of each track
REPEAT_BER = 0.15  # the track's own print at a repeat (note for note: about 0.05-0.12)
NEAR_BER = 0.30  # below this the track comes near repeating the passage (chance: 0.45-0.5)
REPEAT_CORR = 0.80  # spectrogram correlation at a confirmed repeat (elsewhere: 0.2-0.5)
SEPARATION_S = 2.0  # a repeat starts this far from the passage at least
TOLERANCE_S = 1.0  # a listed position this close to a true one is that one
PER_TRACK = (3, 2)  # repeating, non-repeating excerpts per track at most
KINDS = ("plain", "mp3_64k", "noise_15db", "voice")
_SR, _WIN, _HOP = 11025, 2048, 512


@dataclass
class Row:
    """One alteration's tally."""

    excerpts_r: int = 0
    repeats: int = 0  # confirmed repeats of the R excerpts (besides their cut)
    listed: int = 0  # of those, listed by the match
    cut_listed: int = 0  # R excerpts whose cut position is listed
    matched_r: int = 0  # R excerpts matched to their work at all
    near: int = 0  # near-repeats listed (R and N)
    false_r: int = 0
    excerpts_n: int = 0
    matched_n: int = 0
    extra_n: int = 0  # positions besides the cut on N excerpts (near or false)
    false_n: int = 0
    false_lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Passage:
    """A passage of a track: where it starts, and its confirmed repeats' starts (seconds)."""

    start_s: float
    repeats: tuple[float, ...]


def _pcm(path: Path) -> np.ndarray:
    done = subprocess.run(
        ["ffmpeg", "-nostdin", "-v", "error", "-i", str(path), "-vn", "-ac", "1",
         "-ar", str(_SR), "-f", "f32le", "-"],
        capture_output=True, check=True, timeout=300,
    )  # fmt: skip
    return np.frombuffer(done.stdout, np.float32)


def _spectrogram(pcm: np.ndarray) -> np.ndarray:
    """Log magnitude, 27 Hz to 4 kHz, one row every 46 ms."""
    frames = sliding_window_view(pcm, _WIN)[::_HOP] * np.hanning(_WIN).astype(np.float32)
    magnitude = np.abs(np.fft.rfft(frames, axis=1))[:, 5:745]
    return np.log1p(100 * magnitude / (magnitude.max() + 1e-9))


def _correlation(spec: np.ndarray, a_s: float, b_s: float, seconds: float) -> float:
    """Best Pearson correlation of the spectrogram at a_s and near b_s (±3 rows), over seconds."""
    n, a = round(seconds * _SR / _HOP), round(a_s * _SR / _HOP)
    first = spec[a : a + n].ravel()
    first = first - first.mean()
    best = -1.0
    for shift in range(-3, 4):
        b = round(b_s * _SR / _HOP) + shift
        if b < 0 or b + n > len(spec) or a + n > len(spec):
            continue
        other = spec[b : b + n].ravel()
        other = other - other.mean()
        denominator = float(np.linalg.norm(first) * np.linalg.norm(other)) + 1e-9
        best = max(best, float(first @ other) / denominator)
    return best


def _self_ber(items: np.ndarray, start: int, length: int) -> np.ndarray:
    """The passage's BER at every offset of its own track."""
    passage = items[start : start + length]
    windows = sliding_window_view(items, length)
    return np.bitwise_count(windows ^ passage).sum(axis=1) / (32 * length)


def _passages(
    items: np.ndarray, item_s: float, duration_s: float, spec: np.ndarray
) -> tuple[list[Passage], list[Passage], int]:
    """(repeating passages, non-repeating ones, candidates the spectrogram did not confirm)."""
    length = round(EXCERPT_S / item_s) - 15  # about the print of a 10 s excerpt
    apart = round(SEPARATION_S / item_s)
    repeating, single, unconfirmed = [], [], 0
    for start_s in np.arange(GRID_S / 2, duration_s - EXCERPT_S - 1, GRID_S).tolist():
        start = round(start_s / item_s)
        ber = _self_ber(items, start, length)
        far = np.abs(np.arange(len(ber)) - start) >= apart
        if not (far & (ber <= NEAR_BER)).any():
            single.append(Passage(start_s, ()))
            continue
        found: list[int] = []
        for at in np.argsort(ber, kind="stable").tolist():
            if ber[at] > REPEAT_BER:
                break
            if far[at] and all(abs(at - f) >= apart for f in found):
                found.append(at)
        confirmed = [
            at * item_s
            for at in found
            if _correlation(spec, start_s, at * item_s, EXCERPT_S) >= REPEAT_CORR
        ]
        unconfirmed += len(found) - len(confirmed)
        if confirmed:
            repeating.append(Passage(start_s, tuple(confirmed)))
    return repeating, single, unconfirmed


class _Timed(PositionFinder):
    """A position finder that adds the seconds its ``positions`` calls take to ``seconds``."""

    def __init__(self, inner: PositionFinder) -> None:
        super().__init__(inner.model)
        self.inner = inner
        self.seconds = 0.0

    def positions(
        self, ref: np.ndarray, passage: np.ndarray, test: PositionTest, item_s: float
    ) -> list[Position]:
        began = time.perf_counter()
        try:
            return self.inner.positions(ref, passage, test, item_s)
        finally:
            self.seconds += time.perf_counter() - began

    def _offsets(self, ref: np.ndarray, passage: np.ndarray, test: PositionTest) -> np.ndarray:
        raise NotImplementedError("the inner finder chooses the offsets")


def _spread(found: list[Passage], count: int) -> list[Passage]:
    """Up to ``count`` of the passages, evenly spread over the list."""
    if len(found) <= count:
        return found
    return [found[round(i * (len(found) - 1) / max(1, count - 1))] for i in range(count)]


def run_repeats(
    settings: Settings, cache: Path | None, split: str = "all", linear: bool = False
) -> str:
    """The repeated-passage table of one half of the works (see the module doc).

    ``linear``: positions found by the linear reference (every offset of the work)
    instead of the voted finder the matcher uses, to tell what the votes miss.
    """
    started = time.perf_counter()
    works = _split(media.work_tracks(), split)
    matcher = Matcher(settings)
    signal = matcher.signals[AUDIO]
    assert isinstance(signal, AudioSignal)
    timed = _Timed(LinearPositions() if linear else signal.positions)
    signal.positions = timed
    match_ms: list[float] = []
    finder_ms: list[float] = []
    prints = {}
    for i, path in enumerate(works):
        fp = _audio_of(path, settings)
        assert fp is not None, f"cannot fingerprint the work {path}"
        prints[i] = fp
        matcher.add(as_work(f"t{i}", Fingerprint(media=AUDIO, sha256="0" * 64, audio=fp)))
    alterations = {
        a.name.split(" ", 1)[1]: (n, a)
        for n, a in enumerate(audio_alterations.ALTERATIONS)
        if a.seconds == EXCERPT_S and a.name.split(" ", 1)[1] in KINDS
    }
    rows = {kind: Row() for kind in KINDS}
    totals = {"passages R": 0, "passages N": 0, "candidates unconfirmed": 0, "repeats": 0}
    for i, path in enumerate(works):
        fp = prints[i]
        items = fp.items()
        spec = _spectrogram(_pcm(path))
        repeating, single, unconfirmed = _passages(items, fp.item_s, fp.duration_s, spec)
        totals["passages R"] += len(repeating)
        totals["passages N"] += len(single)
        totals["candidates unconfirmed"] += unconfirmed
        totals["repeats"] += sum(len(p.repeats) for p in repeating)
        chosen = [(p, True) for p in _spread(repeating, PER_TRACK[0])]
        chosen += [(p, False) for p in _spread(single, PER_TRACK[1])]
        for passage, repeats in chosen:
            for kind, (n, alteration) in alterations.items():
                clip = audio_alterations.Clip(passage.start_s, EXCERPT_S)
                rng = np.random.default_rng([i, n, round(passage.start_s)])
                query = _cached(
                    cache,
                    f"rep|{path}|{alteration.name}|{passage.start_s:.3f}|v1",
                    partial(alteration.apply, path, clip, rng),
                )
                qp = audio_print_of(query, settings)
                timed.seconds = 0.0
                began = time.perf_counter()
                matches = (
                    []
                    if qp is None
                    else matcher.match(Fingerprint(media=AUDIO, sha256="0" * 64, audio=qp))
                )
                match_ms.append(1000 * (time.perf_counter() - began))
                finder_ms.append(1000 * timed.seconds)
                mine = [m for m in matches if m.work.work_id == f"t{i}"]
                _tally(
                    rows[kind], passage, repeats, mine, items, fp.item_s, spec, f"{path.name}", kind
                )
        print(f"  repeats: work {i + 1}/{len(works)}", file=sys.stderr, end="\r")
    finder = "linear reference" if linear else "voted (the matcher's)"
    cost = (
        f"  time per query (matcher.match, all {len(works)} works): p50 "
        f"{np.percentile(match_ms, 50):.1f} ms, p95 {np.percentile(match_ms, 95):.1f} ms; of it "
        f"finding positions: p50 {np.percentile(finder_ms, 50):.2f} ms, p95 "
        f"{np.percentile(finder_ms, 95):.2f} ms, mean {np.mean(finder_ms):.2f} ms\n"
    )
    return _render(rows, totals, len(works), split, time.perf_counter() - started, finder) + cost


def _tally(
    row: Row,
    passage: Passage,
    repeats: bool,
    matches: list[Match],
    items: np.ndarray,
    item_s: float,
    spec: np.ndarray,
    name: str,
    kind: str,
) -> None:
    """Count one excerpt's listed positions against the truth (see the module doc)."""
    if repeats:
        row.excerpts_r += 1
        row.repeats += len(passage.repeats)
    else:
        row.excerpts_n += 1
    if not matches:
        return
    (match,) = matches
    starts = [p.offset_s - p.query_offset_s for p in match.detail.positions]
    if repeats:
        row.matched_r += 1
    else:
        row.matched_n += 1
    near_ber = _self_ber(items, round(passage.start_s / item_s), round(EXCERPT_S / item_s) - 15)
    cut = any(abs(s - passage.start_s) <= TOLERANCE_S for s in starts)
    if repeats:
        row.cut_listed += cut
        row.listed += sum(any(abs(s - r) <= TOLERANCE_S for s in starts) for r in passage.repeats)
    for s in starts:
        truths = (passage.start_s, *passage.repeats)
        if any(abs(s - t) <= TOLERANCE_S for t in truths):
            continue
        at = round(s / item_s)
        near = near_ber[max(0, at - 4) : at + 5]
        self_ber = float(near.min()) if len(near) else 1.0
        if not repeats:
            row.extra_n += 1
        if self_ber <= NEAR_BER:
            row.near += 1
            continue
        if repeats:
            row.false_r += 1
        else:
            row.false_n += 1
        corr = _correlation(spec, passage.start_s, s, EXCERPT_S)
        row.false_lines.append(
            f"    {name} cut at {passage.start_s:.1f} s ({kind}): listed {s:.1f} s, "
            f"the track's own BER there {self_ber:.3f}, spectrogram correlation {corr:.2f}"
        )


def _render(
    rows: dict[str, Row], totals: dict[str, int], works: int, split: str, took: float, finder: str
) -> str:
    which = "" if split == "all" else f" ({split} half)"
    lines = [
        f"REPEATS{which}: {works} tracks, {EXCERPT_S} s passages every {GRID_S:.0f} s: "
        f"{totals['passages R']} repeat elsewhere in their track ({totals['repeats']} confirmed "
        f"repeats; {totals['candidates unconfirmed']} print candidates the spectrogram did not "
        f"confirm), {totals['passages N']} nowhere (self BER > {NEAR_BER}); up to "
        f"{PER_TRACK[0]} + {PER_TRACK[1]} excerpts a track queried; position finder: {finder} "
        f"({took:.0f} s)",
        f"  {'alteration':<12} {'R excerpts':>10} {'matched':>8} {'cut listed':>10} "
        f"{'repeats':>8} {'listed':>7} {'near':>5} {'false':>6} | {'N excerpts':>10} "
        f"{'matched':>8} {'extra':>6} {'false':>6}",
    ]
    total = Row()
    for kind, r in [*rows.items(), ("ALL", total)]:
        if kind != "ALL":
            for name in Row.__dataclass_fields__:
                if name != "false_lines":
                    setattr(total, name, getattr(total, name) + getattr(r, name))
            total.false_lines += r.false_lines
        lines.append(
            f"  {kind:<12} {r.excerpts_r:>10} {r.matched_r:>8} {r.cut_listed:>10} "
            f"{r.repeats:>8} {r.listed:>7} {r.near:>5} {r.false_r:>6} | {r.excerpts_n:>10} "
            f"{r.matched_n:>8} {r.extra_n:>6} {r.false_n:>6}"
        )
    lines += [
        "  repeats: confirmed repeats of the R excerpts' passages (self BER <= "
        f"{REPEAT_BER}, spectrogram correlation >= {REPEAT_CORR}); listed: of those, listed "
        f"within {TOLERANCE_S:.0f} s",
        f"  near: other positions listed where the track's own print nearly repeats the passage "
        f"(self BER <= {NEAR_BER}); extra: positions besides the cut on N excerpts; false: "
        "positions listed where the track does not come near repeating the passage",
    ]
    lines += total.false_lines or ["  no false position"]
    return "\n".join(lines) + "\n"
