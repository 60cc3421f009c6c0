"""A video catalogue on disk: registered films' frames memory-mapped, a small delta in memory.

Contract: :class:`MappedVideoIndex` is a :class:`~tanba.matcher.video_index.VideoIndex`
(the same near pairs as :class:`~tanba.matcher.video_index.ChunkVideoIndex`, whose
multi-index hashing it keeps: 16 chunks of 16 bits, a chunk value filed under more
than ``max_postings`` frames proposes nothing). Works added go to an in-memory
``ChunkVideoIndex`` (the delta); :meth:`MappedVideoIndex.freeze`, run by
:meth:`~MappedVideoIndex.pairs` once the delta holds ``freeze_frames`` frames or
more, writes the whole catalogue (mapped works still alive and the delta) as a new
generation of files and maps it. A removed or replaced mapped work is left out of
answers at once and of the files at the next freeze. :class:`VideoCatalogueWriter`
writes a generation from works streamed one at a time (a catalogue too big to hold
in memory, as ``bench/video.py --catalogue`` builds), and
``MappedVideoIndex(directory)`` opens the newest generation there.

Files of a generation (``directory/gen-N/``): ``words.u64`` (the frames' hashes,
frames x 4 uint64), ``times.f32`` (seconds), ``starts.i64`` (16 x 65,537: where
each chunk value's rows begin in ``rows.u32``, chunk-major), ``rows.u32``
(16 x frames: frame numbers sorted by chunk value, stable) and ``works.json``
(the work ids and the first frame of each). The table is a counting sort per
chunk, so a lookup is two reads and a contiguous run, and the pages a query does
not touch stay on disk: 1,000 two-hour films (14.4 M frames) are about 1.5 GB of
files and a query reads a few MB of them.

Why not :class:`~tanba.matcher.segments.SegmentedImageIndex`'s segments and merges:
films are registered by the dozen, not the million, so one generation rewritten
at a freeze (seconds at 1,000 films) is simpler and enough; the image catalogue's
64-bit hashes and descriptors are another layout.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np

from tanba.core.signals.video import CHUNK_BITS, CHUNKS, chunks, pair_distances
from tanba.matcher.video_index import ChunkVideoIndex, FramePairs, VideoIndex, WorkFrames

_VALUES = 1 << CHUNK_BITS
_FILES = ("words.u64", "times.f32", "starts.i64", "rows.u32", "works.json")


class VideoCatalogueWriter:
    """Writes one generation of a catalogue from works given one at a time.

    ``add`` appends a work's frames to the files; ``close`` builds the chunk table
    from the mapped words (one chunk at a time: about 0.2 GB of memory per 14 M
    frames) and writes the work list last, so a generation without one is unfinished
    and is never opened.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self._words = (directory / "words.u64").open("wb")
        self._times = (directory / "times.f32").open("wb")
        self._ids: list[str] = []
        self._base = [0]

    def add(self, work_id: str, times: np.ndarray, words: np.ndarray) -> None:
        """Append a work's frames (times in seconds, hashes as uint64 words, frames x 4)."""
        words = np.ascontiguousarray(words, dtype="<u8").reshape(-1, 4)
        if len(times) != len(words):
            raise ValueError("a work needs one time per frame hash")
        self._words.write(words.tobytes())
        self._times.write(np.asarray(times, dtype="<f4").tobytes())
        self._ids.append(work_id)
        self._base.append(self._base[-1] + len(words))

    def close(self) -> None:
        """Build the chunk table and write the work list (the generation is then complete)."""
        self._words.close()
        self._times.close()
        frames = self._base[-1]
        words = _mapped(self.directory / "words.u64", "<u8", (frames, 4))
        starts = np.zeros((CHUNKS, _VALUES + 1), np.int64)
        with (self.directory / "rows.u32").open("wb") as rows:
            for chunk in range(CHUNKS):
                values = _chunk_values(words, chunk)
                order = np.argsort(values, kind="stable").astype("<u4")
                rows.write(order.tobytes())
                counts = np.bincount(values, minlength=_VALUES)
                starts[chunk, 1:] = np.cumsum(counts)
                starts[chunk] += chunk * frames
        starts.astype("<i8").tofile(self.directory / "starts.i64")
        # On disk before the work list says the generation is complete: a matcher's saved
        # state (tanba.matcher.state) counts on a generation surviving a power cut.
        for name in ("words.u64", "times.f32", "rows.u32", "starts.i64"):
            fsync_file(self.directory / name)
        partial = self.directory / ".works.json.partial"
        partial.write_text(json.dumps({"ids": self._ids, "base": self._base}), encoding="utf-8")
        fsync_file(partial)
        partial.replace(self.directory / "works.json")
        fsync_file(self.directory)


class MappedVideoIndex(VideoIndex):
    """Registered videos' frames in memory-mapped files (see the module doc)."""

    def __init__(
        self, directory: Path, *, max_postings: int = 4096, freeze_frames: int = 1 << 20
    ) -> None:
        self.directory = directory
        self.max_postings = max_postings
        self.freeze_frames = freeze_frames
        self._delta = ChunkVideoIndex(max_postings)
        self._delta_frames: dict[str, int] = {}
        self._dead: set[str] = set()
        self._open(_newest(directory))

    # -- the VideoIndex contract -----------------------------------------------------------

    def add(self, work_id: str, times: np.ndarray, words: np.ndarray) -> None:
        self.remove(work_id)
        self._delta.add(work_id, times, words)
        self._delta_frames[work_id] = len(times)

    def remove(self, work_id: str) -> None:
        if work_id in self._index:
            self._dead.add(work_id)
        if self._delta_frames.pop(work_id, None) is not None:
            self._delta.remove(work_id)

    def frames(self, work_id: str) -> WorkFrames | None:
        if work_id in self._delta_frames:
            return self._delta.frames(work_id)
        w = self._index.get(work_id)
        if w is None or work_id in self._dead:
            return None
        lo, hi = int(self._base[w]), int(self._base[w + 1])
        return WorkFrames(self._times[lo:hi].astype(np.float64), self._words[lo:hi])

    def pairs(self, words: np.ndarray, max_distance: int) -> dict[str, FramePairs]:
        if self._delta_frames and sum(self._delta_frames.values()) >= self.freeze_frames:
            self.freeze()
        found = self._delta.pairs(words, max_distance) if self._delta_frames else {}
        if not len(words) or not self._ids:
            return found
        query, rows = self._lookup(words)
        # Distances first, duplicates (a pair sharing several chunks) after: of the candidates
        # only a few are near, and deduplicating those is cheap.
        d = pair_distances(words[query], self._words[rows])
        near = d <= max_distance
        pair, first = np.unique(query[near] * len(self._words) + rows[near], return_index=True)
        query, rows, d = pair // len(self._words), pair % len(self._words), d[near][first]
        work = np.searchsorted(self._base, rows, "right") - 1
        for w in np.unique(work).tolist():
            work_id = self._ids[w]
            if work_id in self._dead or work_id in self._delta_frames:
                continue
            mine = work == w
            found[work_id] = FramePairs(
                query[mine], rows[mine] - self._base[w], d[mine].astype(np.int32)
            )
        return found

    def work_ids(self) -> list[str]:
        """The works indexed, mapped and in the delta (for a benchmark's or a report's listing)."""
        mapped = [w for w in self._ids if w not in self._dead and w not in self._delta_frames]
        return mapped + list(self._delta_frames)

    # -- the files ---------------------------------------------------------------------------

    @property
    def changed(self) -> bool:
        """Whether works were added or removed since the generation on disk was written."""
        return bool(self._delta_frames or self._dead)

    def save(self) -> None:
        """Write a new generation if works were added or removed since the last one: after
        it the files hold every work this index holds (fsynced). Nothing changed, nothing
        written."""
        if self.changed:
            self.freeze()

    def freeze(self) -> None:
        """Write the live mapped works and the delta as the next generation, and map it."""
        current = _newest(self.directory)
        number = 0 if current is None else int(current.name.split("-")[1]) + 1
        target = self.directory / f"gen-{number}"
        if target.exists():
            shutil.rmtree(target)
        writer = VideoCatalogueWriter(target)
        for work_id in self._ids:
            if work_id not in self._dead and work_id not in self._delta_frames:
                frames = self.frames(work_id)
                assert frames is not None
                writer.add(work_id, frames.times, frames.words)
        for work_id in self._delta_frames:
            frames = self._delta.frames(work_id)
            assert frames is not None
            writer.add(work_id, frames.times, frames.words)
        writer.close()
        self._open(target)
        self._delta = ChunkVideoIndex(self.max_postings)
        self._delta_frames = {}
        self._dead = set()
        # Older generations (the one mapped until now, one a crash left behind): mapped pages
        # stay readable after an unlink on POSIX.
        for old in self.directory.glob("gen-*"):
            if old != target:
                shutil.rmtree(old, ignore_errors=True)

    def _open(self, generation: Path | None) -> None:
        if generation is None:
            self._ids, self._index = [], {}
            self._base = np.zeros(1, np.int64)
            self._words = np.zeros((0, 4), np.uint64)
            self._times = np.zeros(0, np.float32)
            return
        works = json.loads((generation / "works.json").read_text(encoding="utf-8"))
        self._ids = list(works["ids"])
        self._index = {work_id: i for i, work_id in enumerate(self._ids)}
        self._base = np.asarray(works["base"], np.int64)
        frames = int(self._base[-1])
        self._words = _mapped(generation / "words.u64", "<u8", (frames, 4))
        self._times = _mapped(generation / "times.f32", "<f4", (frames,))
        self._starts = _mapped(generation / "starts.i64", "<i8", (CHUNKS, _VALUES + 1))
        self._rows = _mapped(generation / "rows.u32", "<u4", (CHUNKS * frames,))

    def _lookup(self, words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(copy frame, mapped frame) pairs sharing a chunk value that is not stop-listed (a pair
        sharing several comes as many times)."""
        keys = chunks(np.ascontiguousarray(words).view(np.uint8))  # n x CHUNKS
        chunk = np.broadcast_to(np.arange(CHUNKS), keys.shape).ravel()
        value = (keys & (_VALUES - 1)).ravel()
        lo = self._starts[chunk, value]
        counts = self._starts[chunk, value + 1] - lo
        counts[counts > self.max_postings] = 0
        total = int(counts.sum())
        first = np.cumsum(counts) - counts
        at = np.repeat(lo - first, counts) + np.arange(total)
        rows = self._rows[at].astype(np.int64)
        return np.repeat(np.arange(len(value)) // CHUNKS, counts), rows


def _chunk_values(words: np.ndarray, chunk: int) -> np.ndarray:
    """Chunk ``chunk`` of every hash as uint16, as :func:`~tanba.core.signals.video.chunks` cuts
    it (two bytes of the hash, big-endian)."""
    raw = words.view(np.uint8).reshape(-1, 32)
    return (raw[:, 2 * chunk].astype(np.uint16) << 8) | raw[:, 2 * chunk + 1]


def _mapped(path: Path, dtype: str, shape: tuple[int, ...]) -> np.ndarray:
    """The file mapped read-only, as a plain array (``np.memmap``'s indexing costs more)."""
    if not np.prod(shape):
        return np.zeros(shape, dtype)
    return np.memmap(path, dtype=dtype, mode="r", shape=shape).view(np.ndarray)


def fsync_file(path: Path) -> None:
    """Flush a file (or a directory's entries) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _newest(directory: Path) -> Path | None:
    """The newest complete generation (its works.json written last), or None."""
    if not directory.is_dir():
        return None
    done = [
        g
        for g in directory.glob("gen-*")
        if g.name.split("-")[1].isdigit() and all((g / f).exists() for f in _FILES)
    ]
    return max(done, key=lambda g: int(g.name.split("-")[1]), default=None)
