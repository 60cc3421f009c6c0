"""Match fingerprints against the registered works, whatever index sits behind.

Shared by the matcher stage and ``tanba match``, so a file checked by hand is
judged exactly as a crawled one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fingerprint.image import descriptors, similarity
from matcher.audio_index import InvertedAudioIndex
from matcher.audio_score import AudioRule
from matcher.index import AudioIndex, ImageIndex
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
    ) -> None:
        self.settings = settings
        self.works: dict[str, Work] = {}
        self.images = image_index or MultiIndexImageIndex()
        self.audio = audio_index or InvertedAudioIndex()
        # Per work, the descriptor of each hashed window, for verifying index candidates.
        self._descriptors: dict[str, dict[str, np.ndarray]] = {}

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
            self.audio.add(work.work_id, fp.audio.items())

    def remove(self, work_id: str) -> None:
        if self.works.pop(work_id, None) is not None:
            self.images.remove(work_id)
            self.audio.remove(work_id)
            self._descriptors.pop(work_id, None)

    def match(self, fingerprint: Fingerprint) -> list[Match]:
        """Every work the fingerprint matches, best first."""
        if fingerprint.image is not None:
            return self._match_image(fingerprint.image)
        if fingerprint.audio is not None:
            return self._match_audio(fingerprint.audio)
        return []

    def _match_audio(self, audio: AudioPrint) -> list[Match]:
        """Index hits under the audio rule; the score is 1 - 2 x the effective BER.

        A voice-robust (LLR) match has a high raw BER; its effective BER puts it on the
        same scale as a BER match (see :meth:`AudioRule.effective_ber`), so scores rank
        both kinds and every match scores at least ``1 - 2 ber_limit(span)``.
        """
        rule = audio_rule(self.settings)
        hits = self.audio.query(audio.items(), rule)
        matches = [
            Match(
                self.works[hit.work_id],
                round(max(0.0, 1 - 2 * rule.effective_ber(hit.ber, hit.llr, hit.span)), 4),
                MatchDetail(
                    algorithm=audio.algorithm,
                    ber=round(hit.ber, 4),
                    offset_s=round(hit.work_offset * audio.item_s, 2),
                    query_offset_s=round(hit.query_offset * audio.item_s, 2),
                    duration_s=round(hit.span * audio.item_s, 2),
                ),
            )
            for hit in hits
        ]
        return sorted(matches, key=lambda m: (-m.score, m.work.work_id))

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
