"""A registered image catalogue of a million works: immutable segments on disk, a small delta in memory.

Contract: :class:`SegmentedImageIndex` is an :class:`~tanba.matcher.index.ImageIndex`
(exact radius search: the hits of :class:`~tanba.matcher.index.LinearImageIndex`;
with ``probe_bits`` a subset of them, see :meth:`Segment.search`) that
also keeps each window's descriptor, so the matcher verifies candidates without
a copy of every print. New works go to a delta searched by a linear scan; a
delta of ``freeze_rows`` windows becomes an immutable :class:`Segment`; segments of
similar size are merged (in a background thread when ``background``), like an
LSM tree, so a registration never rebuilds the catalogue on the query path. A
removed or replaced work is marked dead in its segment and dropped at the next
merge. With a ``directory``, every segment is written once, as ``.npy`` files that
are opened memory-mapped, and :meth:`SegmentedImageIndex.save` writes a manifest
(the live segments, their dead works and the caller's replay positions) that
:meth:`SegmentedImageIndex.open` loads in the time it takes to map the files.

Why hand-written: faiss's binary indexes hold no payload (the descriptors, the
owners) and have no delete-and-merge cycle; ``IndexBinaryMultiHash`` keeps a
hash map per table (several times this memory). The search here is multi-index
hashing (Norouzi, Punjani and Fleet, CVPR 2012) with counting-sort tables: the
64 bits are cut into three chunks; each chunk has a table of its rows in chunk
order and the offset where each chunk value starts, so a probe is two array
reads and a contiguous run. At the matcher's radius of 7 bits, probing each
chunk 1 bit deep reads 3 × 22 buckets of 2^21, about 0.003% of the catalogue per
query hash, and found as many of ``bench.quality``'s copies as the exact search
(which reads ten times more); five 13-bit chunks at radius 12, as before, read
5.6% (``bench/catalogue.py`` prints the figures at 1,000,000 works).

Why one module of about 550 lines: a segment's layout, its search, the
delta, merges and snapshots share the arrays' shapes and one lock; apart, each
part would need the others' internals.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

from tanba.core.signals.image import DESCRIPTOR_LENGTH, ImageHash
from tanba.matcher.index import ImageHit, ImageIndex, hamming, hit_order

# Three chunks of 21, 21 and 22 bits, low bits first.
_WIDTHS = (21, 21, 22)
_SHIFTS = (0, 21, 42)
_CHUNKS = len(_WIDTHS)
# Segments smaller than this are scanned whole: a scan of 65,536 hashes costs less
# than building (and keeping) bucket tables of 8 M entries for them.
TABLE_MIN_ROWS = 1 << 16
_BASE = ("hashes", "descriptors", "work", "variant", "work_ids")
_TABLES = ("order", "sorted", "starts0", "starts1", "starts2")
MANIFEST = "manifest.json"


@cache
def _probe_masks(width: int, radius: int) -> np.ndarray:
    """Every ``width``-bit mask with at most ``radius`` bits set."""
    masks = [0]
    for r in range(1, radius + 1):
        masks += [sum(1 << b for b in bits) for bits in combinations(range(width), r)]
    return np.array(masks, dtype=np.int64)


def _chunk(values: np.ndarray, c: int) -> np.ndarray:
    """Chunk ``c`` of each hash, as int64."""
    mask = np.uint64((1 << _WIDTHS[c]) - 1)
    return ((values >> np.uint64(_SHIFTS[c])) & mask).astype(np.int64)


@dataclass(frozen=True)
class Windows:
    """Windows of several works, as parallel arrays: what a segment is built from."""

    work_ids: list[str]
    hashes: np.ndarray  # uint64, one per window
    descriptors: np.ndarray  # int8 (n, 63); all zeros where the print has none
    work: np.ndarray  # int32: the window's work, an index into work_ids
    variant: np.ndarray  # uint16: an index into the variant names
    variants: list[str]


class Segment:
    """An immutable block of windows and its three bucket tables, in memory or memory-mapped.

    Works are numbered in the order of their ids (``work_ids`` sorted, as UTF-8
    bytes) so a work is found by binary search, with no dictionary to keep.
    """

    def __init__(self, arrays: dict[str, np.ndarray], variants: list[str], name: str) -> None:
        self.arrays = arrays
        self.variants = variants
        self.name = name
        self.rows = len(arrays["hashes"])
        self.works = len(arrays["work_ids"])

    @classmethod
    def build(
        cls, windows: Windows, name: str | None = None, tables_from: int = TABLE_MIN_ROWS
    ) -> Segment:
        ids = np.array([w.encode() for w in windows.work_ids], dtype=np.bytes_)
        by_id = np.argsort(ids, kind="stable")
        renumber = np.empty(len(ids), np.int32)
        renumber[by_id] = np.arange(len(ids), dtype=np.int32)
        hashes = np.ascontiguousarray(windows.hashes, dtype=np.uint64)
        n = len(hashes)
        arrays = {
            "hashes": hashes,
            "descriptors": np.ascontiguousarray(windows.descriptors, dtype=np.int8),
            "work": renumber[windows.work] if n else np.zeros(0, np.int32),
            "variant": np.asarray(windows.variant, dtype=np.uint16),
            "work_ids": ids[by_id],
        }
        if n and n >= tables_from:
            order = np.empty((_CHUNKS, n), np.int32)
            for c in range(_CHUNKS):
                chunk = _chunk(hashes, c)
                order[c] = np.argsort(chunk.astype(np.uint32), kind="stable")
                starts = np.zeros((1 << _WIDTHS[c]) + 1, np.int32)
                np.cumsum(np.bincount(chunk, minlength=1 << _WIDTHS[c]), out=starts[1:])
                arrays[f"starts{c}"] = starts
            arrays["order"] = order
            arrays["sorted"] = hashes[order]
        return cls(arrays, list(windows.variants), name or uuid.uuid4().hex)

    def save(self, directory: Path) -> None:
        """Write the segment's arrays under ``directory/name`` (then rename into place: atomic)."""
        final = directory / self.name
        if final.exists():
            return
        partial = directory / f".{self.name}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        for key in self.arrays:
            with open(partial / f"{key}.npy", "wb") as f:
                np.save(f, self.arrays[key])
                f.flush()
                os.fsync(f.fileno())
        (partial / "variants.json").write_text(json.dumps(self.variants))
        partial.rename(final)

    @classmethod
    def load(cls, directory: Path, name: str) -> Segment:
        """Open a saved segment memory-mapped: pages are read when a query touches them."""
        where = directory / name
        keys = _BASE + (_TABLES if (where / "order.npy").is_file() else ())
        # Plain arrays over the mapped files: numpy's memmap subclass costs a wrapper
        # on every indexing, a third of a query's time at a million works (measured).
        arrays = {key: np.asarray(np.load(where / f"{key}.npy", mmap_mode="r")) for key in keys}
        return cls(arrays, json.loads((where / "variants.json").read_text()), name)

    def number_of(self, work_id: str) -> int | None:
        """The work's number in this segment, or None."""
        ids = self.arrays["work_ids"]
        key = np.bytes_(work_id.encode())
        at = int(np.searchsorted(ids, key))
        return at if at < len(ids) and ids[at] == key else None

    def work_id(self, number: int) -> str:
        return bytes(self.arrays["work_ids"][number]).decode()

    def search(
        self, queries: np.ndarray, radius: int, probe: int | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(query position, row, distance) of rows within ``radius`` bits of a query hash.

        ``probe`` None: exact (every such row). Two hashes within ``radius`` bits
        have a chunk within ``radius // 3`` bits (pigeonhole), so probing that far
        finds all. A ``probe`` below that finds every row within ``3 × probe + 2``
        bits and those further whose differences leave one chunk within ``probe``
        bits: a fraction of the probes (at radius 7, probe 1: 22 buckets a chunk
        instead of 232), which the matcher's measured recall allows.
        """
        empty = np.zeros(0, np.int64)
        if not self.rows or not len(queries):
            return empty, empty, empty
        a = self.arrays
        if "order" not in a:
            return self._scan(queries, radius)
        depth = radius // _CHUNKS if probe is None else min(probe, radius // _CHUNKS)
        found_q, found_rows, found_d = [], [], []
        for c in range(_CHUNKS):
            starts = a[f"starts{c}"]
            probes = _chunk(queries, c)[:, None] ^ _probe_masks(_WIDTHS[c], depth)[None, :]
            lo = starts[probes].astype(np.int64)
            counts = (starts[probes + 1] - lo).ravel()
            total = int(counts.sum())
            if not total:
                continue
            # Every probed bucket is a run of the chunk's table, read in order.
            first = lo.ravel() + c * self.rows
            runs = np.repeat(first - (np.cumsum(counts) - counts), counts) + np.arange(total)
            asked = np.repeat(np.repeat(np.arange(len(queries)), probes.shape[1]), counts)
            distance = hamming(a["sorted"].reshape(-1)[runs], queries[asked])
            near = np.flatnonzero(distance <= radius)
            found_q.append(asked[near])
            found_rows.append(a["order"].reshape(-1)[runs[near]].astype(np.int64))
            found_d.append(distance[near].astype(np.int64))
        if not found_q:
            return empty, empty, empty
        asked, rows, distance = map(np.concatenate, (found_q, found_rows, found_d))
        # A row can sit in the probed buckets of several chunks: keep it once per query hash.
        _, once = np.unique(asked * self.rows + rows, return_index=True)
        return asked[once], rows[once], distance[once]

    def _scan(self, queries: np.ndarray, radius: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Every (query, row) within the radius, by comparing each query with every row."""
        distance = hamming(self.arrays["hashes"][None, :], queries[:, None])
        asked, rows = np.nonzero(distance <= radius)
        return asked.astype(np.int64), rows.astype(np.int64), distance[asked, rows].astype(np.int64)


def _windows_of(
    works: Sequence[tuple[str, np.ndarray, np.ndarray, Sequence[str]]],
) -> Windows:
    """Parallel arrays of (work id, hashes, descriptors, variant names) tuples."""
    variants: dict[str, int] = {}
    hashes, descriptors, work, variant = [], [], [], []
    for number, (_, values, rows, names) in enumerate(works):
        hashes.append(values)
        descriptors.append(rows)
        work.append(np.full(len(values), number, np.int32))
        variant.append(np.array([variants.setdefault(n, len(variants)) for n in names], np.uint16))
    if len(variants) > np.iinfo(np.uint16).max:
        raise ValueError("more than 65,535 window names in one segment")
    return Windows(
        [w for w, *_ in works],
        _joined(hashes, np.uint64),
        np.concatenate(descriptors) if descriptors else np.zeros((0, DESCRIPTOR_LENGTH), np.int8),
        _joined(work, np.int32),
        _joined(variant, np.uint16),
        list(variants),
    )


def _joined(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _alive_windows(segments: Sequence[Segment], dead: Sequence[np.ndarray]) -> Windows:
    """The windows of the live works of several segments, as one block."""
    variants: dict[str, int] = {}
    parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("hashes", "descriptors", "work", "variant")
    }
    work_ids: list[str] = []
    for segment, gone in zip(segments, dead, strict=True):
        a = segment.arrays
        alive_works = np.flatnonzero(~gone)
        renumber = np.full(segment.works, -1, np.int64)
        renumber[alive_works] = np.arange(len(alive_works)) + len(work_ids)
        work_ids += [segment.work_id(int(k)) for k in alive_works]
        keep = np.flatnonzero(~gone[a["work"]])
        names = np.array(
            [variants.setdefault(n, len(variants)) for n in segment.variants], np.uint16
        )
        parts["hashes"].append(np.asarray(a["hashes"][keep]))
        parts["descriptors"].append(np.asarray(a["descriptors"][keep]))
        parts["work"].append(renumber[a["work"][keep]].astype(np.int32))
        parts["variant"].append(names[a["variant"][keep]] if len(names) else np.zeros(0, np.uint16))
    return Windows(
        work_ids,
        np.concatenate(parts["hashes"]),
        np.concatenate(parts["descriptors"]),
        np.concatenate(parts["work"]),
        np.concatenate(parts["variant"]),
        list(variants),
    )


@dataclass(frozen=True)
class Tuning:
    """How a :class:`SegmentedImageIndex` searches, freezes and merges."""

    # None: exact radius search; else how deep each chunk is probed (Segment.search).
    probe_bits: int | None = None
    freeze_rows: int = 20_000  # a delta of this many windows becomes a segment
    background: bool = True  # merge in a thread (False: at once, for tests and bulk loads)
    merge_factor: int = 3  # merge the newest segments while within this factor in size
    # A merge builds its segment in memory (about 200 bytes a window at its peak): past
    # this many windows segments stay apart, and a query searches each.
    max_rows: int = 32_000_000
    tables_from: int = TABLE_MIN_ROWS  # smaller segments are scanned whole


DEFAULT_TUNING = Tuning()


class SegmentedImageIndex(ImageIndex):
    """Exact radius search over segments and a delta; see the module docstring for the contract."""

    def __init__(self, directory: Path | None = None, tuning: Tuning = DEFAULT_TUNING) -> None:
        self.directory = directory
        self.tuning = tuning
        self._lock = threading.RLock()
        self._segments: list[Segment] = []
        self._dead: list[np.ndarray] = []
        self._delta: dict[str, tuple[np.ndarray, np.ndarray, list[str]]] = {}
        self._delta_rows = 0
        self._delta_cache: Segment | None = None
        self._merging: threading.Thread | None = None
        self.merge_error: BaseException | None = None

    # -- changes -------------------------------------------------------------

    def add(
        self, work_id: str, hashes: Sequence[ImageHash], descriptors: np.ndarray | None = None
    ) -> None:
        values = np.array([h.as_int() for h in hashes], dtype=np.uint64)
        rows = (
            np.zeros((len(values), DESCRIPTOR_LENGTH), np.int8)
            if descriptors is None
            else np.asarray(descriptors, dtype=np.int8).reshape(len(values), DESCRIPTOR_LENGTH)
        )
        with self._lock:
            self.remove(work_id)
            self._delta[work_id] = (values, rows, [h.variant for h in hashes])
            self._delta_rows += len(values)
            self._delta_cache = None
            if self._delta_rows >= self.tuning.freeze_rows:
                self.freeze()

    def remove(self, work_id: str) -> None:
        with self._lock:
            gone = self._delta.pop(work_id, None)
            if gone is not None:
                self._delta_rows -= len(gone[0])
                self._delta_cache = None
                return
            for segment, dead in zip(self._segments, self._dead, strict=True):
                number = segment.number_of(work_id)
                if number is not None and not dead[number]:
                    dead[number] = True
                    return

    def freeze(self) -> None:
        """Turn the delta into a segment (written to disk with a directory), then maybe merge."""
        with self._lock:
            if not self._delta:
                return
            segment = self._delta_segment()
            self._delta.clear()
            self._delta_rows = 0
            self._delta_cache = None
            assert segment is not None
            self._append(segment)
        self._maybe_merge()

    def add_block(self, windows: Windows) -> None:
        """Add many new works at once as a segment of their own (bulk loads, benchmarks).

        The works must not be in the index yet: a block adds, it does not replace.
        """
        with self._lock:
            self._append(Segment.build(windows, tables_from=self.tuning.tables_from))
        self._maybe_merge()

    def _append(self, segment: Segment) -> None:
        if self.directory is not None:
            try:
                segment.save(self._segment_dir())
                segment = Segment.load(self._segment_dir(), segment.name)
            except OSError:  # a full disk: kept in memory, written by the next save()
                pass
        self._segments.append(segment)
        self._dead.append(np.zeros(segment.works, bool))

    def _maybe_merge(self) -> None:
        """Merge the newest segments whose sizes are alike (size-tiered: log n segments)."""
        with self._lock:
            if self._merging is not None and self._merging.is_alive():
                return
            sizes = [s.rows for s in self._segments]
            k = len(sizes) - 1
            total = sizes[-1] if sizes else 0
            while (
                k > 0
                and sizes[k - 1] <= self.tuning.merge_factor * total
                and total + sizes[k - 1] <= self.tuning.max_rows
            ):
                k -= 1
                total += sizes[k]
            if len(sizes) - k < 2:
                return
            chosen = self._segments[k:]
            dead_then = [d.copy() for d in self._dead[k:]]
            if not self.tuning.background:
                self._merge(chosen, dead_then)
                return
            self._merging = threading.Thread(
                target=self._merge, args=(chosen, dead_then), name="image-merge", daemon=True
            )
            self._merging.start()

    def _merge(self, chosen: list[Segment], dead_then: list[np.ndarray]) -> None:
        try:
            merged = Segment.build(
                _alive_windows(chosen, dead_then), tables_from=self.tuning.tables_from
            )
            if self.directory is not None:
                merged.save(self._segment_dir())
                merged = Segment.load(self._segment_dir(), merged.name)
            with self._lock:
                # Works removed while the merge ran are dead in their old segment now.
                start = next(i for i, s in enumerate(self._segments) if s is chosen[0])
                dead = np.zeros(merged.works, bool)
                for segment, then, now in zip(
                    chosen, dead_then, self._dead[start : start + len(chosen)], strict=True
                ):
                    for k in np.flatnonzero(now & ~then).tolist():
                        number = merged.number_of(segment.work_id(k))
                        assert number is not None
                        dead[number] = True
                self._segments[start : start + len(chosen)] = [merged]
                self._dead[start : start + len(chosen)] = [dead]
        except BaseException as error:  # surfaced by wait(): a failed merge leaves the old segments
            self.merge_error = error
            raise
        self._maybe_merge()

    def wait(self) -> None:
        """Block until no merge runs (tests and benchmarks; the matcher never waits)."""
        while True:
            with self._lock:
                thread = self._merging
            if thread is None or not thread.is_alive():
                break
            thread.join()
        if self.merge_error is not None:
            raise self.merge_error

    # -- search --------------------------------------------------------------

    def _delta_segment(self) -> Segment | None:
        if self._delta_cache is None and self._delta:
            works = [(w, v, d, n) for w, (v, d, n) in self._delta.items()]
            self._delta_cache = Segment.build(
                _windows_of(works), tables_from=self.tuning.tables_from
            )
        return self._delta_cache

    def candidates(self, hashes: Sequence[ImageHash], max_distance: int) -> list[ImageHit]:
        if not hashes:
            return []
        queries = np.array([h.as_int() for h in hashes], dtype=np.uint64)
        with self._lock:
            delta = self._delta_segment()
            parts = list(zip(self._segments, self._dead, strict=True))
            if delta is not None:
                parts.append((delta, np.zeros(delta.works, bool)))
        hits: list[ImageHit] = []
        for segment, dead in parts:
            asked, rows, distance = segment.search(queries, max_distance, self.tuning.probe_bits)
            work = segment.arrays["work"][rows]
            alive = ~dead[work]
            variant = segment.arrays["variant"]
            hits += [
                ImageHit(
                    segment.work_id(w),
                    d,
                    segment.variants[int(variant[row])],
                    q,
                    np.asarray(segment.arrays["descriptors"][row]),
                )
                for q, row, d, w in zip(
                    asked[alive].tolist(),
                    rows[alive].tolist(),
                    distance[alive].tolist(),
                    work[alive].tolist(),
                    strict=True,
                )
            ]
        return sorted(hits, key=hit_order)

    # -- persistence -----------------------------------------------------------

    def _segment_dir(self) -> Path:
        assert self.directory is not None
        return self.directory / "segments"

    def save(self, extra: dict[str, Any]) -> None:
        """Freeze the delta and write the manifest: what :meth:`open` loads, with ``extra``.

        ``extra`` is the caller's (the replay positions the catalogue reflects); the
        manifest is replaced atomically, then segments no longer in it are deleted.
        """
        if self.directory is None:
            raise ValueError("this index has no directory to save to")
        self.freeze()
        with self._lock:
            for segment in self._segments:  # any a full disk kept in memory (OSError if still)
                segment.save(self._segment_dir())
            manifest = {
                "version": 1,
                "segments": [
                    {"name": s.name, "dead": np.flatnonzero(d).tolist()}
                    for s, d in zip(self._segments, self._dead, strict=True)
                ],
                "extra": extra,
            }
            live = {s.name for s in self._segments}
        partial = self.directory / f".{MANIFEST}.partial"
        with open(partial, "w") as f:
            json.dump(manifest, f)
            f.flush()
            os.fsync(f.fileno())
        partial.replace(self.directory / MANIFEST)
        with self._lock:
            if self._merging is not None and self._merging.is_alive():
                return  # its output is not listed yet: collect garbage at a later save
            # Keep what the manifest on disk lists and what is live now (a merge may have
            # finished since the manifest was written).
            keep = live | {s.name for s in self._segments}
            for path in self._segment_dir().iterdir():
                if path.name not in keep:
                    shutil.rmtree(path, ignore_errors=True)

    @classmethod
    def open(
        cls, directory: Path, tuning: Tuning = DEFAULT_TUNING
    ) -> tuple[SegmentedImageIndex, dict[str, Any]]:
        """The index saved in ``directory`` (empty if none was), and the ``extra`` saved with it."""
        index = cls(directory, tuning)
        manifest_path = directory / MANIFEST
        if not manifest_path.is_file():
            (directory / "segments").mkdir(parents=True, exist_ok=True)
            return index, {}
        manifest = json.loads(manifest_path.read_text())
        for entry in manifest["segments"]:
            segment = Segment.load(index._segment_dir(), entry["name"])
            dead = np.zeros(segment.works, bool)
            dead[np.asarray(entry["dead"], dtype=np.int64)] = True
            index._segments.append(segment)
            index._dead.append(dead)
        return index, manifest["extra"]

    # -- figures -------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Segments, windows and live works, for logs and benchmarks."""
        with self._lock:
            return {
                "segments": len(self._segments),
                "rows": sum(s.rows for s in self._segments) + self._delta_rows,
                "works": sum(int((~d).sum()) for d in self._dead) + len(self._delta),
                "delta_rows": self._delta_rows,
            }
