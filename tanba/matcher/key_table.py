"""A counting-sort table from small integer keys to rows: built once, looked up, merged without a sort.

Contract: :class:`KeyTable` maps each key in ``[0, size)`` to the rows filed under
it, in the order they were given (``starts[k]:starts[k + 1]`` of ``rows``, as in
a CSR matrix). :meth:`KeyTable.lookup` expands many keys into (row, which key)
pairs; :meth:`KeyTable.merged` joins tables whose rows were renumbered (rows
mapped to -1 are dropped) in one pass, key run by key run, so merging the
segments of a catalogue of 100,000 tracks needs no sort of its hundreds of
millions of rows.

Why hand-written: the audio indexes need a payload per key (a uint32 row) and
merges of immutable memory-mapped segments; faiss and the usual inverted-index
libraries hold neither. The arrays are plain ``.npy`` files, memory-mapped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class KeyTable:
    """``rows`` grouped by key: the rows of key ``k`` are ``rows[starts[k]:starts[k + 1]]``."""

    starts: np.ndarray  # int64, size + 1
    rows: np.ndarray  # uint32

    @classmethod
    def build(cls, keys: np.ndarray, rows: np.ndarray, size: int) -> KeyTable:
        """Rows filed under their keys (stable: a key's rows keep their given order)."""
        order = np.argsort(keys, kind="stable")
        starts = np.zeros(size + 1, np.int64)
        np.cumsum(np.bincount(keys, minlength=size), out=starts[1:])
        return cls(starts, np.ascontiguousarray(rows[order], dtype=np.uint32))

    @property
    def size(self) -> int:
        return len(self.starts) - 1

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row, index into ``keys``) of every row filed under each of ``keys``."""
        lo = self.starts[keys]
        counts = self.starts[keys + 1] - lo
        total = int(counts.sum())
        first = np.cumsum(counts) - counts
        at = np.repeat(lo - first, counts) + np.arange(total)
        return self.rows[at], np.repeat(np.arange(len(keys)), counts)

    def keys_of_rows(self) -> np.ndarray:
        """The key of each entry of ``rows`` (int32)."""
        return np.repeat(np.arange(self.size, dtype=np.int32), np.diff(self.starts))

    @classmethod
    def merged(cls, tables: list[KeyTable], renumber: list[np.ndarray]) -> KeyTable:
        """One table of every table's rows renumbered by ``renumber[i][entry]`` (-1: dropped).

        Within a key, the first table's rows come first, then the second's, each
        in its own order: the result equals :meth:`build` over the concatenation.
        """
        size = tables[0].size
        kept_keys = []
        kept_rows = []
        counts = np.zeros(size, np.int64)
        for table, new in zip(tables, renumber, strict=True):
            keep = new >= 0
            keys = table.keys_of_rows()[keep]
            kept_keys.append(keys)
            kept_rows.append(new[keep])
            counts += np.bincount(keys, minlength=size)
        starts = np.zeros(size + 1, np.int64)
        np.cumsum(counts, out=starts[1:])
        rows = np.empty(int(starts[-1]), np.uint32)
        filled = starts[:-1].copy()  # next free place of each key
        for keys, new in zip(kept_keys, kept_rows, strict=True):
            # keys is sorted (a table's entries are in key order): rank of each entry in its run.
            own = np.zeros(size + 1, np.int64)
            np.cumsum(np.bincount(keys, minlength=size), out=own[1:])
            rank = np.arange(len(keys)) - own[keys]
            rows[filled[keys] + rank] = new
            filled += np.diff(own)
        return cls(starts, rows)

    def save(self, directory: Path, name: str) -> None:
        np.save(directory / f"{name}_starts.npy", self.starts)
        np.save(directory / f"{name}_rows.npy", self.rows)

    @classmethod
    def load(cls, directory: Path, name: str) -> KeyTable:
        return cls(
            np.load(directory / f"{name}_starts.npy", mmap_mode="r"),
            np.load(directory / f"{name}_rows.npy", mmap_mode="r"),
        )
