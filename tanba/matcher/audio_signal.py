"""Audio matching: Chromaprint alignments under the audio rule, and verified landmark candidates.

Contract: :class:`AudioSignal` is the audio :class:`~tanba.matcher.signal.SignalIndex`.
A query's Chromaprint items are aligned with every registered track the index
proposes; an alignment the :class:`~tanba.matcher.audio_score.AudioRule` accepts (a
low bit error rate, or a high log-likelihood ratio under a voice) is a match.
Then the landmark index proposes works by votes on one time offset inside a
10 s window of the copy (a 5 s excerpt under a voice, which Chromaprint's items
alone cannot tell from chance), and each candidate is verified on Chromaprint's
items over the voted span (:meth:`AudioSignal.landmark_candidates`).

The score is 1 - 2 x the effective BER: a voice-robust match (LLR test, or a
landmark candidate) has a high raw BER, and its effective BER puts it on the
same scale as a BER match (:meth:`AudioRule.effective_ber`), so scores rank
every kind and every match scores at least ``1 - 2 ber_limit(span)``.

A landmark candidate Chromaprint does not verify may still match on its votes alone
(``audio_landmark_alone_votes``, off by default): the LLR model was measured under
one voice, and under voices it never heard real copies scored below its bar while
their landmarks voted for the work dozens of times (README, "Music never tuned on").
Votes alone must also lead every rival hit (:func:`_leads`): tracks of one album that
share a beat or a sample with a registered one vote for it too, but on several offsets,
or for its album mates as well.

Last, copies played faster or slower (pitch and tempo together, as a sped-up
re-upload or a PAL 25/24 transfer): the copy's landmarks are put back at each
speed of :data:`SPEEDS` (:func:`tanba.core.signals.audio.at_speed`) and voted
again, so the cost is the matcher's, not the fingerprinting's. Chromaprint cannot
verify such a copy (its chroma moves a third of a semitone at 2%, a semitone at
5%, and its items drift against the work's), so a work found only at another
speed is matched on the votes alone, at a bar far above the landmark path's
candidates' (``audio_speed_min_votes``): at the right speed a 5 s copy gathers
dozens of votes on one offset, unrelated music a handful. The search is off
unless ``audio_speed_min_votes`` is set (README: at 100,000 tracks it costs
about 3.5 times the query and matched tracks derived by a frequency shift).

Each match lists every position of the work where its passage occurs, ranked
(``MatchDetail.positions``; :mod:`tanba.matcher.audio_positions` finds them with
the rule the match passed): a work that repeats the passage (a chorus, a loop)
is matched at each occurrence, and naming one as the only one misleads.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace

import numpy as np

from tanba.core.schemas.common import AUDIO, Fingerprint
from tanba.core.schemas.matches import MatchDetail, MatchPosition
from tanba.core.settings import Settings
from tanba.core.signals.audio import FRAME_S, AudioPrint, at_speed
from tanba.matcher.audio_index import InvertedAudioIndex
from tanba.matcher.audio_positions import (
    MAX_POSITIONS,
    MIN_SEPARATION_S,
    Position,
    PositionFinder,
    PositionTest,
    VotedPositions,
)
from tanba.matcher.audio_score import (
    Alignment,
    AudioRule,
    best_aligned,
    default_model,
    moving_counts,
)
from tanba.matcher.index import AudioIndex
from tanba.matcher.landmark_index import LandmarkHit, LandmarkIndex, SortedLandmarkIndex, sampled
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked

# The speeds a copy is searched at besides 1 (copy played that many times faster): every
# 1% from -5% to +5%. One step apart, a copy between two of them is at most 0.5% off
# one, where the votes measured were still a third to a half of the exact speed's
# (a 2% copy searched at 1.02 gathered 40 to 180 votes, at 1.03 3 to 26); -5% to +5%
# covers the PAL speed-up (25/24, searched at 1.04) and its inverse.
SPEEDS = tuple(round(1 + step / 100, 2) for step in range(-5, 6) if step)
# A work found at another speed must have more than this many times its votes at speed 1.
SPEED_PEAK = 2
# A work matched on its landmark votes alone at speed 1 must have at least these many times
# the votes of any other work's hit, and of its own hits at other offsets (see _leads).
ALONE_LEAD_OTHERS = 3
ALONE_LEAD_OWN = 1.25


def audio_rule(settings: Settings) -> AudioRule:
    """The audio match rule the settings describe (BER test, and the LLR test unless off)."""
    return AudioRule(
        settings.audio_max_ber,
        settings.audio_min_items,
        settings.audio_full_span_items,
        settings.audio_min_llr if settings.audio_min_llr > 0 else None,
        settings.audio_llr_min_items,
    )


@dataclass(frozen=True)
class LandmarkCandidate:
    """A landmark index hit and its best Chromaprint alignment (positions in the whole copy)."""

    hit: LandmarkHit
    alignment: Alignment
    judgeable: bool  # the span is long enough, and enough of it moving, to be judged

    @property
    def llr(self) -> float:
        return self.alignment.llr


@dataclass(frozen=True)
class SpeedHit:
    """A landmark index hit of the copy put back at ``speed`` (frames in the work's time)."""

    hit: LandmarkHit
    speed: float


class AudioSignal(SignalIndex):
    """Registered tracks: a Chromaprint index, a landmark index, and each track's items."""

    kind = AUDIO

    def __init__(
        self,
        settings: Settings,
        index: AudioIndex | None = None,
        landmarks: LandmarkIndex | None = None,
        positions: PositionFinder | None = None,
    ) -> None:
        self.settings = settings
        self.index = index or InvertedAudioIndex()
        self.landmarks = landmarks or SortedLandmarkIndex()
        self.positions = positions or VotedPositions()

    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        audio = _whole(fingerprint)
        if audio is None:
            return
        self.remove(work_id)
        self.index.add(work_id, audio.items())
        table = audio.landmark_table()
        if table is not None:
            self.landmarks.add(work_id, sampled(table))

    def remove(self, work_id: str) -> None:
        self.index.remove(work_id)
        self.landmarks.remove(work_id)

    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        """Chromaprint index hits under the audio rule, then verified landmark candidates.

        Each match lists every position of the work where its passage passes the
        rule the match passed (:mod:`tanba.matcher.audio_positions`), best first; the
        match's own offset is the first.
        """
        audio = _whole(fingerprint)
        if audio is None:
            return []
        rule = audio_rule(self.settings)
        matches = {}
        items = audio.items()
        candidates = self.landmark_candidates(audio, self.settings.audio_landmark_min_votes)
        shifts: dict[str, list[int]] = defaultdict(list)  # work item - copy item, voted
        for c in candidates:
            shifts[c.hit.work_id].append(c.alignment.work_offset - c.alignment.query_offset)
        for hit in self.index.query(items, rule):
            alignment = Alignment(hit.ber, hit.work_offset, hit.query_offset, hit.span, hit.llr)
            keyed = hit.ber <= rule.ber_limit(hit.span)
            test = PositionTest(rule, voted=_voted(alignment, shifts[hit.work_id]), keyed=keyed)
            found = self._positions(hit.work_id, items, audio.item_s, alignment, test)
            matches[hit.work_id] = _scored(hit.work_id, audio, found, test, audio.algorithm)
        limit = self.settings.audio_landmark_min_llr
        for candidate in candidates:
            work_id, alignment = candidate.hit.work_id, candidate.alignment
            if work_id in matches or not candidate.judgeable or not candidate.llr >= limit:
                continue
            test = PositionTest(rule, limit, _voted(alignment, shifts[work_id]), keyed=False)
            found = self._positions(work_id, items, audio.item_s, alignment, test)
            algorithm = f"{audio.landmarks}+{audio.algorithm}"
            matches[work_id] = _scored(
                work_id, audio, found, test, algorithm, votes=candidate.hit.votes
            )
        at_one: dict[str, LandmarkHit] = {}  # each work's most voted hit at speed 1 (5 or more)
        for c in candidates:
            if c.hit.work_id not in at_one or c.hit.votes > at_one[c.hit.work_id].votes:
                at_one[c.hit.work_id] = c.hit
        alone = self.settings.audio_landmark_alone_votes
        hits = [c.hit for c in candidates]
        for work_id, voted in at_one.items():
            if work_id in matches or alone <= 0 or voted.votes < alone:
                continue
            if _leads(voted, hits):  # not a beat or a sample several tracks share
                matches[work_id] = self._on_votes(audio, SpeedHit(voted, 1.0), rule)
        votes_at_one = {work_id: voted.votes for work_id, voted in at_one.items()}
        for sped in self.speed_hits(audio, self.settings.audio_speed_min_votes, votes_at_one):
            if sped.hit.work_id not in matches:
                matches[sped.hit.work_id] = self._on_votes(audio, sped, rule)
        return ranked(list(matches.values()))

    def speed_hits(
        self, audio: AudioPrint, min_votes: int, at_one: dict[str, int] | None = None
    ) -> list[SpeedHit]:
        """Each work's best landmark hit with ``min_votes`` at one of :data:`SPEEDS`.

        A work's hit counts only with more than :data:`SPEED_PEAK` times the votes it
        had at speed 1 (``at_one``, per work): a copy at speed 1 still gathers votes
        at 0.99 and 1.01 (a tenth to a fifth of its own), and whether it matches is
        Chromaprint's to say there, not the speed search's (music whose peaks are a
        work's but whose chroma is not, which Chromaprint refuses at speed 1, passed the
        speed search's bar at 0.99). Most votes
        first (then work id); empty when the print has no landmarks or ``min_votes``
        is 0 (the path is off).
        """
        at_one = at_one or {}
        table = audio.landmark_table()
        if table is None or min_votes <= 0:
            return []
        best: dict[str, SpeedHit] = {}
        for speed in SPEEDS:
            for hit in self.landmarks.query(sampled(at_speed(table, speed)), min_votes):
                if hit.votes <= SPEED_PEAK * at_one.get(hit.work_id, 0):
                    continue
                if hit.work_id not in best or hit.votes > best[hit.work_id].hit.votes:
                    best[hit.work_id] = SpeedHit(hit, speed)
        return sorted(best.values(), key=lambda h: (-h.hit.votes, h.hit.work_id))

    def _on_votes(self, audio: AudioPrint, sped: SpeedHit, rule: AudioRule) -> SignalMatch:
        """A match on the landmark votes alone: the voted window, where it sits in the work.

        Either a copy at another speed, or one at speed 1 whose Chromaprint items a voice
        the LLR model never heard has changed too much to verify
        (``audio_landmark_alone_votes``); the algorithm names which (``@speed``, ``@votes``).

        Its one position is the window's start in the copy and in the work (the copy
        runs ``speed`` times as fast from there: ``MatchDetail.scale``). The BER is
        that of the copy's Chromaprint items against the work's at the copy's speed
        (each copy item against the work item at its time), for the record: pitch
        moves the chroma, so it is not what decided. The score is the audio rule's
        floor for the span, higher only where those items agree better.
        """
        hit, speed = sped.hit, sped.speed
        items = audio.items()
        first_s = hit.start * FRAME_S / speed  # copy seconds (the hit's frames are the work's)
        last_s = min(hit.end * FRAME_S / speed, audio.duration_s)
        copy = np.arange(int(first_s / audio.item_s), max(int(last_s / audio.item_s), 1))
        copy = copy[copy < len(items)]
        ref = self.index.items(hit.work_id)
        work_s = hit.offset * FRAME_S  # where the copy's start sits in the work
        ber = 0.5
        if ref is not None and len(copy):
            at = np.rint((speed * copy * audio.item_s + work_s) / audio.item_s).astype(np.int64)
            for shift in range(-2, 3):
                inside = (at + shift >= 0) & (at + shift < len(ref))
                if inside.sum() >= rule.min_items:
                    bits = np.bitwise_count(ref[at[inside] + shift] ^ items[copy[inside]])
                    ber = min(ber, float(bits.sum()) / (32 * int(inside.sum())))
        span = len(copy)
        score = round(max(0.0, 1 - 2 * min(ber, rule.ber_limit(max(span, 1)))), 4)
        offset_s = round(work_s + speed * first_s, 2)
        position = MatchPosition(
            offset_s=offset_s,
            query_offset_s=round(first_s, 2),
            duration_s=round(last_s - first_s, 2),
            ber=round(ber, 4),
            score=score,
        )
        detail = MatchDetail(
            algorithm=f"{audio.landmarks}@speed" if speed != 1 else f"{audio.landmarks}@votes",
            ber=round(ber, 4),
            votes=hit.votes,
            offset_s=offset_s,
            query_offset_s=position.query_offset_s,
            duration_s=position.duration_s,
            scale=speed if speed != 1 else None,
            positions=[position],
        )
        return SignalMatch(hit.work_id, score, detail)

    def _positions(
        self,
        work_id: str,
        items: np.ndarray,
        item_s: float,
        best: Alignment,
        test: PositionTest,
    ) -> list[Alignment]:
        """Every position of the work where the copy's matched passage passes ``test``, ranked.

        The match's own alignment comes first: the one its evidence chose (the lowest
        BER of the offsets the index voted for, or the landmarks' most voted offset,
        which a repeat may outscore by a hair on Chromaprint's items alone: a 5 s
        voice-over of a looping track had 35 votes at its place and 5 at a bar 5 s
        earlier that scored 0.871 to its 0.868). The other positions follow, best
        score first; a position within :data:`MIN_SEPARATION_S` of the match's own is
        that one.
        """
        ref = self.index.items(work_id)
        passage = items[best.query_offset : best.query_offset + best.span]
        found: list[Position] = (
            [] if ref is None else self.positions.positions(ref, passage, test, item_s)
        )
        apart = MIN_SEPARATION_S / item_s
        others = [
            Alignment(p.ber, p.work_offset, best.query_offset, best.span, p.llr)
            for p in found
            if abs(p.work_offset - best.work_offset) >= apart
        ]
        return [best, *others][:MAX_POSITIONS]

    def landmark_candidates(self, audio: AudioPrint, min_votes: int) -> list[LandmarkCandidate]:
        """The landmark index's candidates for a copy, each aligned on Chromaprint's items.

        The copy's items within a candidate's window are aligned with the work's at
        the voted offset (within two items either way, the two fingerprints' frames
        being unrelated), keeping the alignment of highest mean LLR per item. The
        matcher accepts a candidate whose span the audio rule can judge (long
        enough, and enough of it moving) with an LLR of ``audio_landmark_min_llr``:
        the landmarks pick one alignment among all works and offsets, so a bar far
        below the LLR test's own (which must hold against every alignment) is
        enough; and music that only shares a drum pattern with the work, which
        collects votes too, has unrelated chroma there and fails. Empty when the
        print has no landmarks or ``min_votes`` is 0 (the path is off).
        """
        table = audio.landmark_table()
        if table is None or min_votes <= 0:
            return []
        rule = audio_rule(self.settings)
        items = audio.items()
        counts = moving_counts(items)
        frame_items = FRAME_S / audio.item_s
        found = []
        for hit in self.landmarks.query(sampled(table), min_votes):
            first = int(hit.start * frame_items)
            window = items[first : int(np.ceil(hit.end * frame_items))]
            shift = round(hit.offset * frame_items) + first
            ref = self.index.items(hit.work_id)
            if ref is None:
                continue
            best = best_aligned(ref, window, shift + np.arange(-2, 3), default_model())
            if best.span < rule.min_items:
                continue  # hardly any overlap (votes at the copy's or the work's very end)
            best = replace(best, query_offset=best.query_offset + first)  # in the whole copy
            moving = int(counts[best.query_offset + best.span] - counts[best.query_offset])
            found.append(LandmarkCandidate(hit, best, rule.judgeable(best.span, moving)))
        return found


def _leads(voted: LandmarkHit, hits: list[LandmarkHit]) -> bool:
    """Whether ``voted`` leads its rival hits: other works' and its own work's other offsets.

    It needs :data:`ALONE_LEAD_OTHERS` times the votes of any other work's hit and
    :data:`ALONE_LEAD_OWN` times those of its own work's hits at other offsets (the
    index keeps a work's windows at neighbouring offsets as one). Tracks of one album
    that share a beat or a sample with a registered one vote for it on several
    offsets at once, or for its album mates too. On the calibration material
    (bench.quality's calibration half, and the album tracks of seven other game
    packages, half of each registered and the other half asked whole and in 5 to
    20 s slices) two such tracks passed 15 votes: Widelands' ``ingame_19`` gave
    ``ingame_18`` 20 votes with another work at 8 (0.40 of them), SuperTux's
    ``shallow-green`` gave ``call_of_the_winding_path`` 104 with 89 on another offset
    (0.86). Copies under a voice had no other work past 5 votes; a work that repeats
    the passage note for note gets votes at each place (0.76 on a loop of Frozen
    Bubble's, ``tests/matcher/test_audio_votes.py``), so its own offsets are held to a
    lighter lead than other works. These two leads were the least that kept both
    pairs out and lost no voice-over of the calibration half.
    """
    others = own = 0
    for h in hits:
        if h.work_id != voted.work_id:
            others = max(others, h.votes)
        elif h is not voted and abs(h.offset - voted.offset) > 1:
            own = max(own, h.votes)
    return voted.votes >= ALONE_LEAD_OTHERS * others and voted.votes >= ALONE_LEAD_OWN * own


def _whole(fingerprint: Fingerprint) -> AudioPrint | None:
    """The audio print, which must be whole: a stub's items are in the blob store."""
    audio = fingerprint.audio
    if audio is not None and audio.blob:
        raise ValueError(
            f"the print of {fingerprint.sha256} is a stub for blob {audio.blob}: resolve it "
            "with tanba.core.print_blobs.resolved before indexing or matching it"
        )
    return audio


def _voted(best: Alignment, shifts: list[int]) -> tuple[int, ...]:
    """Work offsets (items) of the passage where the index or the landmarks voted."""
    return tuple(sorted({best.work_offset, *(best.query_offset + s for s in shifts)}))


def _scored(
    work_id: str,
    audio: AudioPrint,
    found: list[Alignment],
    test: PositionTest,
    algorithm: str,
    votes: int | None = None,
) -> SignalMatch:
    """A match scored 1 - 2 x the effective BER of its best position; every position listed."""
    seconds = audio.item_s
    best = found[0]

    def score(a: Alignment) -> float:
        return round(max(0.0, 1 - 2 * test.effective_ber(a.ber, a.llr, a.span)), 4)

    detail = MatchDetail(
        algorithm=algorithm,
        ber=round(best.ber, 4),
        votes=votes,
        offset_s=round(best.work_offset * seconds, 2),
        query_offset_s=round(best.query_offset * seconds, 2),
        duration_s=round(best.span * seconds, 2),
        positions=[
            MatchPosition(
                offset_s=round(a.work_offset * seconds, 2),
                query_offset_s=round(a.query_offset * seconds, 2),
                duration_s=round(a.span * seconds, 2),
                ber=round(a.ber, 4),
                score=score(a),
            )
            for a in found
        ],
    )
    return SignalMatch(work_id, score(best), detail)
