"""Match fingerprints against the registered works, whatever index sits behind.

Shared by the matcher stage and ``tanba match``, so a file checked by hand is
judged exactly as a crawled one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fingerprint import landmarks
from fingerprint.image import descriptors, similarity
from matcher.audio_index import InvertedAudioIndex
from matcher.audio_score import Alignment, AudioRule, aligned, default_model, moving_counts
from matcher.index import AudioIndex, ImageIndex
from matcher.landmark_index import LandmarkHit, LandmarkIndex, SortedLandmarkIndex
from matcher.mih_index import MultiIndexImageIndex
from tanba.alerts import MatchDetail
from tanba.schemas.common import AudioPrint, Fingerprint, ImagePrint
from tanba.schemas.works import Work
from tanba.settings import Settings


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
class Match:
    """A registered work that a fingerprint matches, with a 0..1 score and the raw figures."""

    work: Work
    score: float
    detail: MatchDetail


class Matcher:
    """The registered works and their indexes."""

    def __init__(
        self,
        settings: Settings,
        image_index: ImageIndex | None = None,
        audio_index: AudioIndex | None = None,
        landmark_index: LandmarkIndex | None = None,
    ) -> None:
        self.settings = settings
        self.works: dict[str, Work] = {}
        self.images = image_index or MultiIndexImageIndex()
        self.audio = audio_index or InvertedAudioIndex()
        self.landmarks = landmark_index or SortedLandmarkIndex()
        # Per work, the descriptor of each hashed window, for verifying index candidates.
        self._descriptors: dict[str, dict[str, np.ndarray]] = {}
        # Per audio work, its Chromaprint items, for verifying landmark candidates.
        self._items: dict[str, np.ndarray] = {}

    def add(self, work: Work) -> None:
        """Index a work (again, if it changed)."""
        self.remove(work.work_id)
        self.works[work.work_id] = work
        fp = work.fingerprint
        if fp.image is not None:
            self.images.add(work.work_id, fp.image.hashes)
            if fp.image.descriptors_b64:
                rows = descriptors(fp.image)
                self._descriptors[work.work_id] = {
                    h.variant: row for h, row in zip(fp.image.hashes, rows, strict=True)
                }
        if fp.audio is not None:
            items = fp.audio.items()
            self.audio.add(work.work_id, items)
            if fp.audio.landmarks == landmarks.ALGORITHM:
                self.landmarks.add(work.work_id, landmarks.Landmarks.unpack(fp.audio.landmarks_b64))
                self._items[work.work_id] = items

    def remove(self, work_id: str) -> None:
        if self.works.pop(work_id, None) is not None:
            self.images.remove(work_id)
            self.audio.remove(work_id)
            self.landmarks.remove(work_id)
            self._descriptors.pop(work_id, None)
            self._items.pop(work_id, None)

    def match(self, fingerprint: Fingerprint) -> list[Match]:
        """Every work the fingerprint matches, best first."""
        if fingerprint.image is not None:
            return self._match_image(fingerprint.image)
        if fingerprint.audio is not None:
            return self._match_audio(fingerprint.audio)
        return []

    def _match_audio(self, audio: AudioPrint) -> list[Match]:
        """Chromaprint index hits under the audio rule, then verified landmark candidates.

        The score is 1 - 2 x the effective BER. A voice-robust match (LLR test, or a
        landmark candidate) has a high raw BER; its effective BER puts it on the
        same scale as a BER match (see :meth:`AudioRule.effective_ber`), so scores
        rank every kind and every match scores at least ``1 - 2 ber_limit(span)``.
        """
        rule = audio_rule(self.settings)
        matches = {}
        for hit in self.audio.query(audio.items(), rule):
            effective = rule.effective_ber(hit.ber, hit.llr, hit.span)
            alignment = Alignment(hit.ber, hit.work_offset, hit.query_offset, hit.span, hit.llr)
            matches[hit.work_id] = self._audio_match(
                hit.work_id, audio, alignment, effective, audio.algorithm
            )
        limit = self.settings.audio_landmark_min_llr
        for candidate in self.landmark_candidates(audio, self.settings.audio_landmark_min_votes):
            work_id, alignment = candidate.hit.work_id, candidate.alignment
            if work_id in matches or not candidate.judgeable or not candidate.llr >= limit:
                continue
            effective = rule.effective_ber(alignment.ber, alignment.llr, alignment.span, limit)
            algorithm = f"{audio.landmarks}+{audio.algorithm}"
            matches[work_id] = self._audio_match(
                work_id, audio, alignment, effective, algorithm, votes=candidate.hit.votes
            )
        return sorted(matches.values(), key=lambda m: (-m.score, m.work.work_id))

    def _audio_match(
        self,
        work_id: str,
        audio: AudioPrint,
        alignment: Alignment,
        effective_ber: float,
        algorithm: str,
        votes: int | None = None,
    ) -> Match:
        """A match scored 1 - 2 x the effective BER, its span in seconds for the report."""
        detail = MatchDetail(
            algorithm=algorithm,
            ber=round(alignment.ber, 4),
            votes=votes,
            offset_s=round(alignment.work_offset * audio.item_s, 2),
            query_offset_s=round(alignment.query_offset * audio.item_s, 2),
            duration_s=round(alignment.span * audio.item_s, 2),
        )
        return Match(self.works[work_id], round(max(0.0, 1 - 2 * effective_ber), 4), detail)

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
        if audio.landmarks != landmarks.ALGORITHM or min_votes <= 0:
            return []
        rule = audio_rule(self.settings)
        items = audio.items()
        counts = moving_counts(items)
        frame_items = landmarks.FRAME_S / audio.item_s
        found = []
        for hit in self.landmarks.query(landmarks.Landmarks.unpack(audio.landmarks_b64), min_votes):
            first = int(hit.start * frame_items)
            window = items[first : int(np.ceil(hit.end * frame_items))]
            shift = round(hit.offset * frame_items) + first
            ref = self._items[hit.work_id]
            best = max(
                (aligned(ref, window, shift + k, default_model()) for k in range(-2, 3)),
                key=lambda a: a.llr,
            )
            best = replace(best, query_offset=best.query_offset + first)  # in the whole copy
            moving = int(counts[best.query_offset + best.span] - counts[best.query_offset])
            found.append(LandmarkCandidate(hit, best, rule.judgeable(best.span, moving)))
        return found

    def _match_image(self, image: ImagePrint) -> list[Match]:
        """Index candidates within the Hamming radius, verified by descriptor similarity.

        The index only says where to look; the cosine similarity of the two windows'
        descriptors decides, and is the score. A print without descriptors (made
        before they existed) falls back to the Hamming radius alone.
        """
        s = self.settings
        queries = descriptors(image) if image.descriptors_b64 else None
        best: dict[str, tuple[float, int, str]] = {}
        for hit in self.images.candidates(image.hashes, s.image_max_distance):
            reference = self._descriptors.get(hit.work_id, {}).get(hit.variant)
            if queries is None or reference is None:
                score = 1 - hit.distance / 64
            else:
                score = float(similarity(reference, queries[hit.query])[0])
                if score < s.image_min_similarity:
                    continue
            if hit.work_id not in best or score > best[hit.work_id][0]:
                best[hit.work_id] = (score, hit.distance, hit.variant)
        algorithm = image.hashes[0].algorithm if image.hashes else ""
        matches = [
            Match(
                self.works[work_id],
                round(max(0.0, score), 4),
                MatchDetail(algorithm=algorithm, distance=distance, variant=variant),
            )
            for work_id, (score, distance, variant) in best.items()
        ]
        return sorted(matches, key=lambda m: (-m.score, m.work.work_id))


@dataclass(frozen=True)
class LandmarkCandidate:
    """A landmark index hit and its best Chromaprint alignment (positions in the whole copy)."""

    hit: LandmarkHit
    alignment: Alignment
    judgeable: bool  # the span is long enough, and enough of it moving, to be judged

    @property
    def llr(self) -> float:
        return self.alignment.llr
