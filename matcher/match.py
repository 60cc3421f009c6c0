"""Match fingerprints against the registered works, whatever index sits behind.

Shared by the matcher stage and ``tanba match``, so a file checked by hand is
judged exactly as a crawled one.
"""

from __future__ import annotations

from dataclasses import dataclass

from matcher.audio_index import InvertedAudioIndex
from matcher.index import AudioIndex, ImageIndex, LinearImageIndex
from tanba.alerts import MatchDetail
from tanba.schemas.common import Fingerprint
from tanba.schemas.works import Work
from tanba.settings import Settings


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
        self.images = image_index or LinearImageIndex()
        self.audio = audio_index or InvertedAudioIndex()

    def add(self, work: Work) -> None:
        """Index a work (again, if it changed)."""
        self.remove(work.work_id)
        self.works[work.work_id] = work
        fp = work.fingerprint
        if fp.image is not None:
            self.images.add(work.work_id, fp.image.hashes)
        if fp.audio is not None:
            self.audio.add(work.work_id, fp.audio.items())

    def remove(self, work_id: str) -> None:
        if self.works.pop(work_id, None) is not None:
            self.images.remove(work_id)
            self.audio.remove(work_id)

    def match(self, fingerprint: Fingerprint) -> list[Match]:
        """Every work the fingerprint matches, best first."""
        s = self.settings
        if fingerprint.image is not None:
            return [
                Match(
                    self.works[hit.work_id],
                    round(1 - hit.distance / 64, 4),
                    MatchDetail(
                        algorithm=fingerprint.image.hashes[0].algorithm,
                        distance=hit.distance,
                        variant=hit.variant,
                    ),
                )
                for hit in self.images.query(fingerprint.image.hashes, s.image_max_distance)
            ]
        if fingerprint.audio is not None:
            item_s = fingerprint.audio.item_s
            return [
                Match(
                    self.works[hit.work_id],
                    round(max(0.0, 1 - 2 * hit.ber), 4),
                    MatchDetail(
                        algorithm=fingerprint.audio.algorithm,
                        ber=round(hit.ber, 4),
                        offset_s=round(hit.work_offset * item_s, 2),
                        query_offset_s=round(hit.query_offset * item_s, 2),
                        duration_s=round(hit.span * item_s, 2),
                    ),
                )
                for hit in self.audio.query(
                    fingerprint.audio.items(), s.audio_max_ber, s.audio_min_items
                )
            ]
        return []
