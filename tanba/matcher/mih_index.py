"""Multi-index hashing: exact Hamming-radius search over 64-bit hashes without a full scan.

The 64 bits are cut into five chunks of 12-13 bits, each with its own bucket
table. If two hashes differ in at most R bits, at least one chunk differs in at
most R // 5 bits (pigeonhole), so probing every value within R // 5 bits of each
query chunk finds every hash within R, and the full 64-bit distance then
keeps exactly those (Norouzi, Punjani and Fleet, "Fast search in Hamming
space with multi-index hashing", CVPR 2012). A bucket table per chunk is a
counting sort of the chunk values (CSR offsets): a probe is two array reads,
no hashing, no search.

At one million random hashes and R = 12 a query probes 5 × 92 buckets of
about 120 hashes each, some 56,000 popcounts instead of a million; the
benchmark (``bench/speed.py``) prints the figures against a faiss flat scan.
The tables are rebuilt lazily after a change, as registrations are rare next
to queries.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from itertools import combinations

import numpy as np

from tanba.core.signals.image import ImageHash
from tanba.matcher.index import ImageHit, ImageIndex, hamming, hits_per_variant

# Chunk widths in bits, low bits first. Five chunks of 12-13 bits: at radius 12 a
# query probes 5 × 92 buckets of about 120 hashes each at a million hashes, long
# contiguous runs; four 16-bit chunks would probe 4 × 697 buckets of 15, and the
# scattered memory reads made that slower (measured by bench/speed.py).
_WIDTHS = (13, 13, 13, 13, 12)
_SHIFTS = tuple(sum(_WIDTHS[:i]) for i in range(len(_WIDTHS)))
_CHUNKS = len(_WIDTHS)


@cache
def _probe_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), r)]
    return np.array(masks, dtype=np.int64)


class _Owners:
    """(work_id, variant) of each indexed hash, stored as two int arrays and two name lists."""

    def __init__(self, blocks: dict[str, tuple[np.ndarray, list[str]]]) -> None:
        self.works = list(blocks)
        variants: dict[str, int] = {}
        work_of, variant_of = [], []
        for w, (values, names) in enumerate(blocks.values()):
            work_of.append(np.full(len(values), w, np.int32))
            variant_of.append(
                np.array([variants.setdefault(n, len(variants)) for n in names], np.int32)
            )
        self.variants = list(variants)
        self.work_of = np.concatenate(work_of) if work_of else np.zeros(0, np.int32)
        self.variant_of = np.concatenate(variant_of) if variant_of else np.zeros(0, np.int32)

    def __getitem__(self, i: int) -> tuple[str, str]:
        return self.works[self.work_of[i]], self.variants[self.variant_of[i]]

    def __len__(self) -> int:
        return len(self.work_of)


class _Tables:
    """The hashes, their owners and one CSR bucket table per chunk (counting sorts).

    The tables keep the hashes themselves in bucket order, beside their positions:
    a probed bucket is then one contiguous run of memory, read in order, where
    looking each candidate up by position would miss the cache once per candidate
    (that was most of a query's time at a million hashes).
    """

    def __init__(self, values: np.ndarray, owners: _Owners) -> None:
        self.values = values
        self.owners = owners
        n = len(values)
        # All chunks' tables end to end: chunk c's bucket b starts at starts[c][b] in
        # one array, so a query gathers the runs of every chunk in one operation.
        orders, starts = [], []
        for c in range(_CHUNKS):
            chunk = self.chunk(values, c)
            bounds = np.zeros((1 << _WIDTHS[c]) + 1, np.int64)
            np.cumsum(np.bincount(chunk, minlength=1 << _WIDTHS[c]), out=bounds[1:])
            starts.append(bounds + c * n)
            orders.append(np.argsort(chunk, kind="stable").astype(np.int32))
        self.starts = starts
        self.order = np.concatenate(orders) if orders else np.zeros(0, np.int32)
        self.sorted = values[self.order] if n else np.zeros(0, np.uint64)

    @staticmethod
    def chunk(values: np.ndarray, c: int) -> np.ndarray:
        mask = np.uint64((1 << _WIDTHS[c]) - 1)
        return ((values >> np.uint64(_SHIFTS[c])) & mask).astype(np.int64)

    def near(self, value: int, radius: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions of the hashes within ``radius`` of ``value``, and their distances."""
        query = np.array([value], dtype=np.uint64)
        lo, hi = [], []
        for c in range(_CHUNKS):
            probes = int(self.chunk(query, c)[0]) ^ _probe_masks(_WIDTHS[c], radius // _CHUNKS)
            lo.append(self.starts[c][probes])
            hi.append(self.starts[c][probes + 1])
        first, counts = np.concatenate(lo), np.concatenate(hi) - np.concatenate(lo)
        total = int(counts.sum())
        if not total:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        runs = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
        d = hamming(self.sorted[runs], value)
        keep = np.flatnonzero(d <= radius)
        found, unique = np.unique(self.order[runs[keep]], return_index=True)
        return found, d[keep][unique]


class MultiIndexImageIndex(ImageIndex):
    """Exact radius search by multi-index hashing; same hits as :class:`LinearImageIndex`."""

    def __init__(self) -> None:
        # Per work: hash values and variant names, kept as arrays so a million fit.
        self._works: dict[str, tuple[np.ndarray, list[str]]] = {}
        self._tables: _Tables | None = None

    def add(self, work_id: str, hashes: Sequence[ImageHash]) -> None:
        self._works.pop(work_id, None)
        values = np.array([h.as_int() for h in hashes], dtype=np.uint64)
        self._works[work_id] = (values, [h.variant for h in hashes])
        self._tables = None

    def add_many(self, work_ids: Sequence[str], values: np.ndarray, variants: list[str]) -> None:
        """Load many works at once (the benchmark's millions): ``values[i]`` are work i's hashes."""
        for work_id, row in zip(work_ids, np.asarray(values, dtype=np.uint64), strict=True):
            self._works[work_id] = (row, variants)
        self._tables = None

    def remove(self, work_id: str) -> None:
        if self._works.pop(work_id, None) is not None:
            self._tables = None

    def _build(self) -> _Tables:
        if self._tables is None:
            blocks = [v for v, _ in self._works.values()]
            values = np.concatenate(blocks) if blocks else np.zeros(0, np.uint64)
            self._tables = _Tables(values, _Owners(self._works))
        return self._tables

    def memory_bytes(self) -> int:
        """Bytes of the search structures: hashes, bucket tables and owner arrays."""
        t = self._build()
        arrays = [t.values, t.order, t.sorted, *t.starts, t.owners.work_of, t.owners.variant_of]
        return sum(a.nbytes for a in arrays)

    def candidates(self, hashes: Sequence[ImageHash], max_distance: int) -> list[ImageHit]:
        tables = self._build()
        if not len(tables.values) or not hashes:
            return []
        queries, registered, distances = [], [], []
        for q, h in enumerate(hashes):
            positions, d = tables.near(h.as_int(), max_distance)
            queries.append(np.full(len(positions), q))
            registered.append(positions)
            distances.append(d)
        return hits_per_variant(
            np.concatenate(queries),
            np.concatenate(registered),
            np.concatenate(distances),
            tables.owners,
        )
