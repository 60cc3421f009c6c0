"""A counting-sort table from small integer keys to rows: built once, looked up, merged without a sort.

Contract: :class:`KeyTable` maps each key in ``[0, size)`` to the rows filed under
it, in the order they were given (a CSR matrix over the keys that have rows). :meth:`KeyTable.lookup` expands many keys into (row, which key)
pairs; :meth:`KeyTable.merged` joins tables whose rows were renumbered (rows
mapped to -1 are dropped) in one pass, key run by key run, so merging the
segments of a catalogue of 100,000 tracks needs no sort of its hundreds of
millions of rows.

Why hand-written: the audio indexes need a payload per key (a uint32 row) and
merges of immutable memory-mapped segments; faiss and the usual inverted-index
libraries hold neither. The arrays are plain ``.npy`` files, memory-mapped.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

# Entries a merge renumbers and places at a time.
CHUNK = 1 << 24


@dataclass(frozen=True)
class KeyTable:
    """``rows`` grouped by key: the rows of ``keys[i]`` are ``rows[starts[i]:starts[i + 1]]``.

    Only the keys that have rows are kept (sorted, each run non-empty), so a table of
    one track costs its rows, not offsets for all ``size`` keys (32 MB for the 2^22
    landmark keys: the in-memory indexes keep a table per recent track).
    """

    keys: np.ndarray  # int32, sorted, the keys with rows
    starts: np.ndarray  # int64, len(keys) + 1
    rows: np.ndarray  # uint32
    size: int  # keys are in [0, size)

    @classmethod
    def build(cls, keys: np.ndarray, rows: np.ndarray, size: int) -> KeyTable:
        """Rows filed under their keys (stable: a key's rows keep their given order)."""
        order = np.argsort(keys, kind="stable")
        ordered = np.asarray(keys)[order]
        firsts = np.flatnonzero(np.diff(ordered)) + 1  # where each key's run begins, but the first
        firsts = np.concatenate([[0], firsts]).astype(np.int64) if len(ordered) else firsts
        return cls(
            ordered[firsts].astype(np.int32),
            np.append(firsts, len(ordered)),
            np.ascontiguousarray(np.asarray(rows)[order], dtype=np.uint32),
            size,
        )

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, index into ``keys``) of every row filed under each of ``keys``."""
        if not len(self.keys):
            return np.zeros(0, np.uint32), np.zeros(0, np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        lo = self.starts[at]
        counts = np.where(self.keys[at] == keys, self.starts[at + 1] - lo, 0)
        total = int(counts.sum())
        first = np.cumsum(counts) - counts
        found = np.repeat(lo - first, counts) + np.arange(total)
        return self.rows[found], np.repeat(np.arange(len(keys)), counts)

    def keys_between(self, lo: int, hi: int) -> np.ndarray:
        """The key of each entry ``lo:hi`` of ``rows`` (int32)."""
        first = int(np.searchsorted(self.starts, lo, "right")) - 1
        last = int(np.searchsorted(self.starts, hi, "left"))
        edges = np.clip(self.starts[first : last + 1], lo, hi)
        return np.repeat(np.asarray(self.keys[first:last], np.int32), np.diff(edges))

    @classmethod
    def merged(
        cls,
        tables: list[KeyTable],
        renumber: Callable[[int, np.ndarray], np.ndarray],
        chunk: int = CHUNK,
    ) -> KeyTable:
        """One table of every table's rows renumbered by ``renumber(table, rows)`` (-1: dropped).

        Within a key, the first table's rows come first, then the second's, each in
        its own order: the result equals :meth:`build` over the concatenation. Two
        passes over ``chunk`` entries at a time (count, then place), so a merge needs
        the result and a few arrays of a chunk: merging segments of 268 M rows in a
        matcher that serves queries must not double its memory.
        """
        size = tables[0].size

        def chunks() -> Iterator[tuple[np.ndarray, np.ndarray]]:
            for number, table in enumerate(tables):
                for lo in range(0, len(table.rows), chunk):
                    hi = min(len(table.rows), lo + chunk)
                    new = renumber(number, np.asarray(table.rows[lo:hi]))
                    keep = new >= 0
                    yield table.keys_between(lo, hi)[keep], new[keep]

        counts = np.zeros(size, np.int64)
        for keys, _ in chunks():
            counts += np.bincount(keys, minlength=size)
        dense = np.zeros(size + 1, np.int64)
        np.cumsum(counts, out=dense[1:])
        rows = np.empty(int(dense[-1]), np.uint32)
        filled = dense[:-1].copy()  # next free place of each key
        for keys, new in chunks():
            # A chunk's keys are sorted (a table's entries are in key order): an entry's
            # rank among its key's entries in the chunk is its distance from the first.
            rank = np.arange(len(keys)) - np.searchsorted(keys, keys, "left")
            rows[filled[keys] + rank] = new
            filled += np.bincount(keys, minlength=size)
        used = np.flatnonzero(counts)
        return cls(used.astype(np.int32), np.append(dense[used], len(rows)), rows, size)

    def save(self, directory: Path, name: str) -> None:
        np.save(directory / f"{name}_keys.npy", self.keys)
        np.save(directory / f"{name}_starts.npy", self.starts)
        np.save(directory / f"{name}_rows.npy", self.rows)

    @classmethod
    def load(cls, directory: Path, name: str, size: int) -> KeyTable:
        return cls(
            np.load(directory / f"{name}_keys.npy", mmap_mode="r"),
            np.load(directory / f"{name}_starts.npy", mmap_mode="r"),
            np.load(directory / f"{name}_rows.npy", mmap_mode="r"),
            size,
        )


def joined(
    bases: list[np.ndarray], ids: list[list[str]], alive: list[np.ndarray]
) -> tuple[list[str], np.ndarray, Callable[[int, np.ndarray], np.ndarray]]:
    """Segments' live tracks end to end: their ids, their new bases, and the row renumbering.

    ``bases[i]`` are segment i's track starts (one more than its tracks); the
    renumbering maps rows of segment i to rows of the joined segment, -1 for the rows
    of dead tracks. Shared by the Chromaprint and the landmark segments' merges.
    """
    kept_ids: list[str] = []
    spans, moved = [], []
    next_base = 0
    for base, names, live in zip(bases, ids, alive, strict=True):
        span = np.diff(base)
        new_base = np.full(len(span), -1, np.int64)
        new_base[live] = next_base + np.concatenate([[0], np.cumsum(span[live])[:-1]])
        next_base += int(span[live].sum())
        kept_ids += [w for w, keep in zip(names, live, strict=True) if keep]
        spans.append(span[live])
        moved.append(new_base)
    new_bases = np.zeros(len(kept_ids) + 1, np.int64)
    np.cumsum(np.concatenate(spans), out=new_bases[1:])

    def renumber(segment: int, rows: np.ndarray) -> np.ndarray:
        owner = np.searchsorted(bases[segment], rows, "right") - 1
        target = moved[segment][owner]
        return np.where(target >= 0, rows.astype(np.int64) - bases[segment][owner] + target, -1)

    return kept_ids, new_bases, renumber
