"""Image matching: pHash candidates from an index, verified by descriptors, then by details.

Contract: :class:`ImageSignal` is the image :class:`~tanba.matcher.signal.SignalIndex`.
A registered work is indexed under every hashed window of its print; a query's
windows find candidates within ``image_max_distance`` bits. A work matches when
one of its window pairs passes three tests, in order of cost:

1. the cosine similarity of the two windows' descriptors is at least
   ``image_min_similarity`` (it is the match score);
2. the copy's window is not a look-alike of many pictures: a window whose
   descriptor comes within ``image_lookalike_similarity`` of more than
   ``image_max_lookalikes`` distinct registered pictures is too plain to tell them
   apart (a dot, a frame, a blank button; the stop list of text retrieval, learnt
   from the catalogue itself, so it grows with it). Works that are one picture (a
   wallpaper at three sizes) count once. The count is of the works this matcher
   holds: with shards, of the shard's;
3. the finer coefficients agree: the copy's window details against the work's
   window cut from its thumbnail (:mod:`tanba.core.signals.image_detail`) at least
   ``image_min_detail``.

Prints made before the detail check (no details or no thumbnail) skip test 3; a
print without descriptors falls back to the Hamming radius alone. Why three
tests: on ``bench/real_catalogue.py`` (55,676 real works, 15,878 unrelated
queries) the descriptor alone let 21,263 false pairs through.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

import numpy as np

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import IMAGE, Fingerprint
from tanba.core.settings import Settings
from tanba.core.signals.image import similarity
from tanba.core.signals.image_detail import detail_similarity, print_details, print_thumbnail
from tanba.matcher.index import ImageHit, ImageIndex
from tanba.matcher.segments import SegmentedImageIndex, Tuning
from tanba.matcher.signal import SignalIndex, SignalMatch, ranked

# Window pairs of one work given the detail check, best descriptor score first: a copy's
# true pair is almost always among its best few, and each check cuts 225 alignments.
DETAIL_TRIES = 4

# A registered work's thumbnail and picture size (width, height), by work id.
# Descriptor similarity at which two registered windows are one picture (see _pictures).
SAME_PICTURE = 0.98

Thumbnails = Callable[[str], tuple[np.ndarray, int, int] | None]


class ImageSignal(SignalIndex):
    """Registered image prints: a Hamming index of their windows, descriptors and thumbnails."""

    kind = IMAGE

    def __init__(
        self,
        settings: Settings,
        index: ImageIndex | None = None,
        thumbnails: Thumbnails | None = None,
    ) -> None:
        """``thumbnails``: where a registered work's thumbnail is read (the matcher's works
        store keeps it with the work); None: this index keeps them itself."""
        self.settings = settings
        # The index keeps each window's descriptor beside its hash, for verifying candidates.
        self.index = (
            index
            if index is not None
            else SegmentedImageIndex(tuning=Tuning(probe_bits=settings.image_probe_bits))
        )
        # Thumbnails kept here when no store is given (tests, benchmarks, `tanba match`).
        self._own: dict[str, tuple[np.ndarray, int, int]] | None = None
        if thumbnails is None:
            self._own = {}
            thumbnails = self._own.get
        self.thumbnail: Thumbnails = thumbnails
        """The work's thumbnail and picture size, if its print has one."""

    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        image = fingerprint.image
        if image is None:
            return
        rows = image.descriptor_rows() if image.descriptors_b64 else None
        self.index.add(work_id, image.hashes, rows)
        if self._own is not None:
            self._own.pop(work_id, None)
            thumbnail = print_thumbnail(image)
            if thumbnail is not None:
                self._own[work_id] = (thumbnail, image.width, image.height)

    def remove(self, work_id: str) -> None:
        self.index.remove(work_id)
        if self._own is not None:
            self._own.pop(work_id, None)

    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        image = fingerprint.image
        if image is None:
            return []
        s = self.settings
        queries = image.descriptor_rows() if image.descriptors_b64 else None
        scored = [
            (self._score(hit, queries), hit)
            for hit in self.index.candidates(image.hashes, s.image_max_distance)
        ]
        plain = self._plain_windows(scored)
        pairs: dict[str, list[tuple[float, ImageHit]]] = defaultdict(list)
        for score, hit in scored:
            if score >= s.image_min_similarity and hit.query not in plain:
                pairs[hit.work_id].append((score, hit))
        details = print_details(image)
        matches = []
        algorithm = image.hashes[0].algorithm if image.hashes else ""
        for work_id, candidates in pairs.items():
            candidates.sort(key=lambda pair: -pair[0])
            verified = self._verify(work_id, candidates, details)
            if verified is None:
                continue
            score, hit, agreement = verified
            matches.append(
                SignalMatch(
                    work_id,
                    round(max(0.0, score), 4),
                    MatchDetail(
                        algorithm=algorithm,
                        distance=hit.distance,
                        variant=hit.variant,
                        detail=None if agreement is None else round(agreement, 4),
                    ),
                )
            )
        return ranked(matches)

    @staticmethod
    def _score(hit: ImageHit, queries: np.ndarray | None) -> float:
        reference = hit.reference
        if queries is None or reference is None or not reference.any():
            return 1 - hit.distance / 64
        return float(similarity(reference, queries[hit.query])[0])

    def _plain_windows(self, scored: list[tuple[float, ImageHit]]) -> set[int]:
        """The copy's windows that look like more distinct registered pictures than allowed.

        Look-alike works whose windows are one picture (their descriptors within
        :data:`SAME_PICTURE` of each other: a wallpaper registered at three sizes, an
        icon at 16, 32 and 48 px) count once: a catalogue may hold a picture several
        times, and its copies must still match.
        """
        limit = self.settings.image_max_lookalikes
        if not limit:
            return set()
        lookalikes: dict[int, dict[str, np.ndarray]] = defaultdict(dict)
        for score, hit in scored:
            if score >= self.settings.image_lookalike_similarity and hit.reference is not None:
                lookalikes[hit.query].setdefault(hit.work_id, hit.reference)
        return {
            query
            for query, works in lookalikes.items()
            if len(works) > limit and _pictures(list(works.values()), limit) > limit
        }

    def _verify(
        self,
        work_id: str,
        candidates: list[tuple[float, ImageHit]],
        details: np.ndarray | None,
    ) -> tuple[float, ImageHit, float | None] | None:
        """The best pair whose details agree (score, pair, detail similarity); with no
        details on either side, the best pair unchecked; None when every tried pair disagrees."""
        thumbnail = self.thumbnail(work_id) if details is not None else None
        if thumbnail is None or details is None:
            score, hit = candidates[0]
            return score, hit, None
        pixels, width, height = thumbnail
        for score, hit in candidates[:DETAIL_TRIES]:
            agreement = detail_similarity(details[hit.query], pixels, width, height, hit.variant)
            if agreement is None:
                return score, hit, None  # a window the detail check cannot cut: unchecked
            if agreement >= self.settings.image_min_detail:
                return score, hit, agreement
        return None


def _pictures(windows: list[np.ndarray], enough: int) -> int:
    """How many distinct pictures the windows show (greedy: a window within SAME_PICTURE of
    an earlier picture's first window is that picture); counting stops past ``enough``."""
    firsts: list[np.ndarray] = []
    for window in windows:
        if not firsts or similarity(np.array(firsts), window).max() < SAME_PICTURE:
            firsts.append(window)
            if len(firsts) > enough:
                break
    return len(firsts)
