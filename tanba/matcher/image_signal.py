"""Image matching: pHash candidates from an index, verified by descriptor similarity.

Contract: :class:`ImageSignal` is the image :class:`~tanba.matcher.signal.SignalIndex`.
A registered work is indexed under every hashed window of its print; a query's
windows find candidates within ``image_max_distance`` bits (exact: the index
leaves nothing out), and the cosine similarity of the two windows' descriptors
decides and is the score. A print without descriptors (made before they
existed) falls back to the Hamming radius alone.
"""

from __future__ import annotations

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.image import similarity
from tanba.matcher.index import ImageIndex
from tanba.matcher.segments import SegmentedImageIndex, Tuning
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked


class ImageSignal(SignalIndex):
    """Registered image prints: a Hamming index of their windows and the windows' descriptors."""

    kind = IMAGE

    def __init__(self, settings: Settings, index: ImageIndex | None = None) -> None:
        self.settings = settings
        # The index keeps each window's descriptor beside its hash, for verifying candidates.
        self.index = (
            index
            if index is not None
            else SegmentedImageIndex(tuning=Tuning(probe_bits=settings.image_probe_bits))
        )

    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        image = fingerprint.image
        if image is None:
            return
        rows = image.descriptor_rows() if image.descriptors_b64 else None
        self.index.add(work_id, image.hashes, rows)

    def remove(self, work_id: str) -> None:
        self.index.remove(work_id)

    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        image = fingerprint.image
        if image is None:
            return []
        s = self.settings
        queries = image.descriptor_rows() if image.descriptors_b64 else None
        best: dict[str, tuple[float, int, str]] = {}
        for hit in self.index.candidates(image.hashes, s.image_max_distance):
            reference = hit.reference
            if queries is None or reference is None or not reference.any():
                score = 1 - hit.distance / 64
            else:
                score = float(similarity(reference, queries[hit.query])[0])
                if score < s.image_min_similarity:
                    continue
            if hit.work_id not in best or score > best[hit.work_id][0]:
                best[hit.work_id] = (score, hit.distance, hit.variant)
        algorithm = image.hashes[0].algorithm if image.hashes else ""
        return ranked(
            [
                SignalMatch(
                    work_id,
                    round(max(0.0, score), 4),
                    MatchDetail(algorithm=algorithm, distance=distance, variant=variant),
                )
                for work_id, (score, distance, variant) in best.items()
            ]
        )
