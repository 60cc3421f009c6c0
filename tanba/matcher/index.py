"""Fingerprint indexes: the contracts, and the linear-scan implementations they are tested against.

An index answers "which registered works does this fingerprint match, and how
well". The linear scans here are the reference: obviously correct, fast enough
for thousands of works. Faster indexes implement the same ABCs and must return
the same hits (``tests/matcher/test_index_contract.py`` runs the same cases on all).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from tanba.core.signals.image import ImageHash
from tanba.matcher.audio_score import AudioRule, ItemModel, aligned, default_model, moving_counts


@dataclass(frozen=True)
class ImageHit:
    """A registered image hash within ``distance`` bits of a query hash.

    ``variant`` is the registered hash's window; ``query`` is the position of the
    query hash in the list asked about (so its descriptor can be found);
    ``reference`` is the registered window's descriptor (None if the print had none).
    """

    work_id: str
    distance: int
    variant: str
    query: int = 0
    reference: np.ndarray | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class AudioHit:
    """A registered track that an audio query aligns with.

    ``work_offset`` and ``query_offset`` are item positions where the aligned span
    starts in the work and in the query; ``span`` is its length in items; ``llr`` the
    mean log-likelihood ratio per item there (``tanba.matcher.audio_score``; NaN where not
    computed: the LLR test off).
    """

    work_id: str
    ber: float
    work_offset: int
    query_offset: int
    span: int
    llr: float = math.nan


class ImageIndex(ABC):
    """Registered image hashes, searchable by Hamming distance."""

    @abstractmethod
    def add(
        self, work_id: str, hashes: Sequence[ImageHash], descriptors: np.ndarray | None = None
    ) -> None:
        """Index a work's hashes (and their descriptors, one row each), replacing earlier ones."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def candidates(self, hashes: Sequence[ImageHash], max_distance: int) -> list[ImageHit]:
        """Every (work, variant) with a hash within ``max_distance`` of a query hash.

        One hit per pair of a query hash and a registered (work, variant) within
        the distance, sorted by (distance, work_id, variant, query): the matcher
        verifies every pair, as the nearest pair need not be the most similar.
        Exact: nothing within the distance is left out.
        """

    def query(self, hashes: Sequence[ImageHash], max_distance: int) -> list[ImageHit]:
        """Works with a hash within ``max_distance`` of a query hash, best first, one hit per work."""
        best: dict[str, ImageHit] = {}
        for hit in self.candidates(hashes, max_distance):
            best.setdefault(hit.work_id, hit)
        return sorted(best.values(), key=lambda h: (h.distance, h.work_id))


class AudioIndex(ABC):
    """Registered Chromaprint item sequences, searchable by aligned bit error rate."""

    @abstractmethod
    def add(self, work_id: str, items: np.ndarray) -> None:
        """Index a work's items, replacing any earlier ones of that work."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def items(self, work_id: str) -> np.ndarray | None:
        """A registered work's items (None if unknown): for verifying other evidence on them."""

    def query(self, items: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        """Works with an alignment that :class:`AudioRule` accepts, best first (by BER).

        ``rule``: BER at most ``max_ber`` (lower on spans shorter than
        ``full_span_items``, when given), or a mean LLR per item of at least
        ``min_llr`` (raised on short spans, none below ``llr_min_items``; None: no
        LLR test). Per work, the
        alignment reported is the lowest-BER one the BER test accepts, else the
        highest-LLR one the LLR test accepts.

        The linear reference tries every alignment. A fast index tries those its key
        votes point to: it finds what the reference finds where the copy's items come
        through partly whole (coding, noise, gain), and never accepts what the
        reference refuses (``tests/matcher/test_index_contract.py``). A voice at the
        music's loudness leaves few keys whole; such copies are the landmark path's.
        """
        return self._query(np.asarray(items, dtype=np.uint32), rule)

    @abstractmethod
    def _query(self, query: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        """:meth:`query` on the items as uint32."""


def hamming(a: np.ndarray, b: int | np.ndarray) -> np.ndarray:
    """Bitwise Hamming distances between uint64 hashes (vectorised popcount)."""
    return np.bitwise_count(np.bitwise_xor(a, np.uint64(b) if isinstance(b, int) else b))


class LinearImageIndex(ImageIndex):
    """Every query compares with every registered hash: O(n), exact, the reference."""

    def __init__(self) -> None:
        self._works: dict[str, list[ImageHash]] = {}
        self._descriptors: dict[str, np.ndarray] = {}
        self._matrix: tuple[np.ndarray, list[tuple[str, str]]] | None = None

    def add(
        self, work_id: str, hashes: Sequence[ImageHash], descriptors: np.ndarray | None = None
    ) -> None:
        self.remove(work_id)
        self._works[work_id] = list(hashes)
        if descriptors is not None:
            self._descriptors[work_id] = np.asarray(descriptors, np.int8).reshape(len(hashes), -1)
        self._matrix = None

    def remove(self, work_id: str) -> None:
        self._descriptors.pop(work_id, None)
        if self._works.pop(work_id, None) is not None:
            self._matrix = None

    def _arrays(self) -> tuple[np.ndarray, list[tuple[str, str]]]:
        if self._matrix is None:
            owners = [(w, h.variant) for w, hs in self._works.items() for h in hs]
            values = [h.as_int() for hs in self._works.values() for h in hs]
            self._matrix = (np.array(values, dtype=np.uint64), owners)
        return self._matrix

    def candidates(self, hashes: Sequence[ImageHash], max_distance: int) -> list[ImageHit]:
        values, owners = self._arrays()
        if not len(values) or not hashes:
            return []
        queries, registered, distances = [], [], []
        for q, h in enumerate(hashes):
            d = hamming(values, h.as_int())
            near = np.flatnonzero(d <= max_distance)
            queries.append(np.full(len(near), q))
            registered.append(near)
            distances.append(d[near])
        hits = hit_pairs(
            np.concatenate(queries), np.concatenate(registered), np.concatenate(distances), owners
        )
        return [replace(h, reference=self._reference(h)) for h in hits]

    def _reference(self, hit: ImageHit) -> np.ndarray | None:
        rows = self._descriptors.get(hit.work_id)
        if rows is None:
            return None
        variants = [h.variant for h in self._works[hit.work_id]]
        return rows[variants.index(hit.variant)]


class Owners(Protocol):
    """(work_id, variant) of the registered hash at a position: a list, or arrays behind one."""

    def __getitem__(self, position: int, /) -> tuple[str, str]: ...


def hit_pairs(
    query: np.ndarray, registered: np.ndarray, distance: np.ndarray, owners: Owners
) -> list[ImageHit]:
    """The hits of parallel arrays of (query pos, registered pos, distance), in the
    order :meth:`ImageIndex.candidates` promises."""
    hits = [
        ImageHit(owners[i][0], int(d), owners[i][1], int(q))
        for i, d, q in zip(registered.tolist(), distance.tolist(), query.tolist(), strict=True)
    ]
    return sorted(hits, key=hit_order)


def hit_order(hit: ImageHit) -> tuple[int, str, str, int]:
    return (hit.distance, hit.work_id, hit.variant, hit.query)


class LinearAudioIndex(AudioIndex):
    """Slides the query over every registered track at every offset: exact, the reference."""

    def __init__(self, model: ItemModel | None = None) -> None:
        self._works: dict[str, np.ndarray] = {}
        self._model = model or default_model()

    def add(self, work_id: str, items: np.ndarray) -> None:
        self._works[work_id] = np.asarray(items, dtype=np.uint32)

    def remove(self, work_id: str) -> None:
        self._works.pop(work_id, None)

    def items(self, work_id: str) -> np.ndarray | None:
        return self._works.get(work_id)

    def _query(self, query: np.ndarray, rule: AudioRule) -> list[AudioHit]:
        moving = moving_counts(query)
        hits = []
        for work_id, ref in self._works.items():
            hit = best_alignment(work_id, ref, query, rule.min_items)
            if hit is None:
                continue
            n = int(moving[hit.query_offset + hit.span] - moving[hit.query_offset])
            if rule.accepts(hit.ber, -math.inf, hit.span, n):
                shift = hit.work_offset - hit.query_offset
                model = (
                    None if rule.min_llr is None else self._model
                )  # NaN LLR when the test is off
                hits.append(replace(hit, llr=aligned(ref, query, shift, model).llr))
            elif rule.min_llr is not None and hit.span >= rule.llr_min_items:
                hit = best_llr_alignment(work_id, ref, query, self._model)
                n = int(moving[hit.query_offset + hit.span] - moving[hit.query_offset])
                if rule.accepts(hit.ber, hit.llr, hit.span, n):
                    hits.append(hit)
        return sorted(hits, key=lambda h: (h.ber, h.work_id))


def _containment(ref: np.ndarray, query: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """(the shorter sequence, windows of the longer one as long as it, whether the query is shorter)."""
    if len(query) <= len(ref):
        return query, sliding_window_view(ref, len(query)), True
    return ref, sliding_window_view(query, len(ref)), False


def best_alignment(
    work_id: str, ref: np.ndarray, query: np.ndarray, min_items: int
) -> AudioHit | None:
    """The offset where the shorter sequence sits best inside the longer one, by BER."""
    short, windows, query_is_short = _containment(ref, query)
    if len(short) < min_items:
        return None
    errors = np.bitwise_count(np.bitwise_xor(windows, short)).sum(axis=1, dtype=np.int64)
    at = int(np.argmin(errors))
    ber = float(errors[at]) / (32 * len(short))
    work_offset, query_offset = (at, 0) if query_is_short else (0, at)
    return AudioHit(work_id, ber, work_offset, query_offset, len(short))


def best_llr_alignment(
    work_id: str, ref: np.ndarray, query: np.ndarray, model: ItemModel
) -> AudioHit:
    """The offset where the shorter sequence sits best inside the longer one, by mean LLR."""
    short, windows, query_is_short = _containment(ref, query)
    llr = model.item_llr(windows, short).sum(axis=1, dtype=np.float64) / len(short)
    at = int(np.argmax(llr))
    work_offset, query_offset = (at, 0) if query_is_short else (0, at)
    errors = int(np.bitwise_count(np.bitwise_xor(windows[at], short)).sum())
    return AudioHit(
        work_id, errors / (32 * len(short)), work_offset, query_offset, len(short), float(llr[at])
    )
