"""Frame indexes of registered videos: which registered frames are near a copy's frames.

Contract: a :class:`VideoIndex` holds each registered work's frames (times in
seconds and PDQ hashes as :func:`tanba.core.signals.video.words`).
:meth:`VideoIndex.pairs` returns, per work, the (copy frame, work frame)
pairs within ``max_distance`` bits that the index finds; :meth:`VideoIndex.frames`
gives a work's frames back for the alignment
(:mod:`tanba.matcher.video_signal`), which checks every frame of the copy
against the work at the voted offset whatever pairs proposed it.

Two implementations, one contract (``tests/matcher/test_video_index.py`` runs
the same cases on both):

- :class:`LinearVideoIndex`, the reference: every copy frame against every
  registered frame (exact, for tests and as the benchmark's baseline);
- :class:`ChunkVideoIndex`, multi-index hashing: each 256-bit hash is filed
  under its 16 chunks of 16 bits, a copy frame looks up its own 16 chunks and
  only frames sharing one are compared. Two hashes within 15 bits always share a
  chunk (pigeonhole); farther pairs are found when some chunk came through
  untouched, which over the dozens of frames of a clip is what the vote needs
  (``bench/video.py`` measures recall beside the linear index). A chunk value
  filed under more than ``max_postings`` frames (a static title card, a black
  frame that passed the quality bar) proposes nothing: the stop list of text
  retrieval.

Why hand-written: the lookup is :class:`~tanba.matcher.key_table.KeyTable`,
the counting-sort table the audio indexes already use; faiss's binary indexes
answer nearest neighbours of one frame, not every near pair of a clip with
the payload (work, time) the vote needs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from tanba.core.signals.video import CHUNK_BITS, CHUNKS, chunks, distances, pair_distances
from tanba.matcher.key_table import KeyTable

# Copy frames compared with the whole linear index at a time (bounds its memory).
_LINEAR_BATCH = 64


@dataclass(frozen=True)
class FramePairs:
    """Near pairs between a copy and one work: copy frame index, work frame index, distance."""

    query: np.ndarray  # int64
    frame: np.ndarray  # int64, index into the work's frames
    distance: np.ndarray  # int32


@dataclass(frozen=True)
class WorkFrames:
    """A registered work's frames: times (float64 seconds) and hashes (uint64 words, n x 4)."""

    times: np.ndarray
    words: np.ndarray


class VideoIndex(ABC):
    """Registered videos' frames, looked up by near frame hashes."""

    @abstractmethod
    def add(self, work_id: str, times: np.ndarray, words: np.ndarray) -> None:
        """Index a work's frames (replacing any earlier ones of that work)."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def pairs(self, words: np.ndarray, max_distance: int) -> dict[str, FramePairs]:
        """The near pairs of the copy's frames (``words``) this index finds, per work."""

    @abstractmethod
    def frames(self, work_id: str) -> WorkFrames | None:
        """The work's frames, or None for a work not indexed."""


class LinearVideoIndex(VideoIndex):
    """The reference: every copy frame against every registered frame."""

    def __init__(self) -> None:
        self._works: dict[str, WorkFrames] = {}

    def add(self, work_id: str, times: np.ndarray, words: np.ndarray) -> None:
        self._works[work_id] = WorkFrames(np.asarray(times, np.float64), np.asarray(words))

    def remove(self, work_id: str) -> None:
        self._works.pop(work_id, None)

    def frames(self, work_id: str) -> WorkFrames | None:
        return self._works.get(work_id)

    def pairs(self, words: np.ndarray, max_distance: int) -> dict[str, FramePairs]:
        found = {}
        for work_id, work in self._works.items():
            qs, fs, ds = [], [], []
            for lo in range(0, len(words), _LINEAR_BATCH):
                d = distances(words[lo : lo + _LINEAR_BATCH], work.words)
                q, f = np.nonzero(d <= max_distance)
                qs.append(q + lo)
                fs.append(f)
                ds.append(d[q, f])
            if qs and sum(len(q) for q in qs):
                found[work_id] = FramePairs(
                    np.concatenate(qs).astype(np.int64),
                    np.concatenate(fs).astype(np.int64),
                    np.concatenate(ds).astype(np.int32),
                )
        return found


class ChunkVideoIndex(VideoIndex):
    """Multi-index hashing: frames filed under their 16-bit chunks (see the module doc)."""

    def __init__(self, max_postings: int = 4096) -> None:
        self.max_postings = max_postings
        self._works: dict[str, WorkFrames] = {}
        # Built on the first query after a change: all frames end to end.
        self._table: KeyTable | None = None
        self._ids: list[str] = []
        self._base = np.zeros(1, np.int64)  # first global row of each work, and the total
        self._words = np.zeros((0, 4), np.uint64)

    def add(self, work_id: str, times: np.ndarray, words: np.ndarray) -> None:
        self._works[work_id] = WorkFrames(np.asarray(times, np.float64), np.asarray(words))
        self._table = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._table = None

    def frames(self, work_id: str) -> WorkFrames | None:
        return self._works.get(work_id)

    def pairs(self, words: np.ndarray, max_distance: int) -> dict[str, FramePairs]:
        table = self._built()
        if not len(words) or not len(self._ids):
            return {}
        keys = chunks(np.ascontiguousarray(words).view(np.uint8))  # n x CHUNKS
        rows, which = table.lookup(keys.ravel())
        if not len(rows):
            return {}
        query = which // CHUNKS
        # A frame sharing several chunks with a copy frame is one pair.
        pair = np.unique(query.astype(np.int64) * len(self._words) + rows.astype(np.int64))
        query, rows = pair // len(self._words), pair % len(self._words)
        d = pair_distances(words[query], self._words[rows])
        near = d <= max_distance
        query, rows, d = query[near], rows[near], d[near]
        work = np.searchsorted(self._base, rows, "right") - 1
        found = {}
        for w in np.unique(work).tolist():
            mine = work == w
            found[self._ids[w]] = FramePairs(
                query[mine], rows[mine] - self._base[w], d[mine].astype(np.int32)
            )
        return found

    def _built(self) -> KeyTable:
        if self._table is not None:
            return self._table
        self._ids = list(self._works)
        counts = [len(self._works[w].times) for w in self._ids]
        self._base = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        self._words = (
            np.concatenate([self._works[w].words for w in self._ids])
            if self._ids
            else np.zeros((0, 4), np.uint64)
        )
        keys = chunks(self._words.view(np.uint8)).ravel()
        rows = np.repeat(np.arange(len(self._words), dtype=np.uint32), CHUNKS)
        # The stop list: chunk values shared by too many frames propose nothing.
        _values, inverse, counts_per_key = np.unique(keys, return_inverse=True, return_counts=True)
        keep = counts_per_key[inverse] <= self.max_postings
        self._table = KeyTable.build(keys[keep], rows[keep], CHUNKS << CHUNK_BITS)
        return self._table
