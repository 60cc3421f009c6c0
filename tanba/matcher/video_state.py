"""The video part of a matcher's saved state: the registered films' frames and their soundtracks.

Contract: :class:`SavedVideos` opens (or creates) ``directory`` with three indexes
a :class:`~tanba.matcher.video_signal.VideoSignal` is built on (:meth:`indexes`):
the films' frames in a :class:`~tanba.matcher.video_catalogue.MappedVideoIndex`
(``frames/``) and their soundtracks in a
:class:`~tanba.matcher.audio_segments.SegmentedAudioIndex` and a
:class:`~tanba.matcher.audio_segments.SegmentedLandmarkIndex`
(``soundtracks/chromaprint``, ``soundtracks/landmarks``), the same segments as the
audio catalogue's, kept apart so a film's soundtrack is matched under the video
rule (picture, sound or both) and a song is never reported as a film.
:meth:`SavedVideos.save` writes all three, every file fsynced, and then, the first
time, the :data:`MARK` that says the directory holds every film the works
positions saved after it claim. :attr:`SavedVideos.saved` is False for a state
saved before videos had a part of their own: the matcher then indexes the films
its shelf kept whole, once (:mod:`tanba.matcher.worker`).

Why the soundtracks are saved and not rebuilt: they are the only evidence of a copy
whose picture was replaced (or a film's sound ripped to an audio file), and a
2-hour film's soundtrack is about 60,000 Chromaprint items, its landmarks more:
mapped segments cost a restart nothing, rebuilt ones a pass over every film.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from tanba.matcher.audio_segments import (
    DEFAULT_AUDIO_TUNING,
    AudioTuning,
    SegmentedAudioIndex,
    SegmentedLandmarkIndex,
)
from tanba.matcher.video_catalogue import MappedVideoIndex, fsync_file

# Written once every part was saved: the directory is a complete video catalogue.
MARK = "saved.json"


class SavedVideos:
    """The films' frames and soundtracks in one directory of a matcher's state."""

    def __init__(self, directory: Path, audio_tuning: AudioTuning = DEFAULT_AUDIO_TUNING) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.saved = (directory / MARK).is_file()
        self.frames = MappedVideoIndex(directory / "frames")
        # Merged at once, not in a thread: every segment file is then on disk (and fsynced,
        # see save) before the manifest that names it. Films come by the dozen.
        tuning = replace(audio_tuning, background=False)
        self.sound = SegmentedAudioIndex(directory / "soundtracks" / "chromaprint", tuning)
        self.landmarks = SegmentedLandmarkIndex(directory / "soundtracks" / "landmarks", tuning)

    def indexes(self) -> tuple[MappedVideoIndex, SegmentedAudioIndex, SegmentedLandmarkIndex]:
        """The frame, soundtrack and landmark indexes, for the matcher's video signal."""
        return self.frames, self.sound, self.landmarks

    def save(self) -> None:
        """Write every part durably, then (the first time) the mark that says it is complete.

        A matcher state calls this before it writes the works positions: a crash in
        between leaves the films ahead of the positions, and the replay of the events
        after them replaces or removes the same films again.
        """
        self.frames.save()
        for store in (self.sound.store, self.landmarks.store):
            store.freeze()  # the segments, written (merges too: not in the background) ...
            if store.directory is not None:
                _fsync_tree(store.directory)  # ... and on disk before the manifest names them
            store.save()
        if not self.saved:
            partial = self.directory / f".{MARK}.partial"
            partial.write_text('{"parts": ["frames", "soundtracks"]}\n', encoding="utf-8")
            fsync_file(partial)
            partial.replace(self.directory / MARK)
            fsync_file(self.directory)
            self.saved = True

    def close(self) -> None:
        self.sound.store.wait()
        self.landmarks.store.wait()


def _fsync_tree(directory: Path) -> None:
    """Flush every file and directory under ``directory`` (a few segments: films' soundtracks)."""
    for root, _dirs, files in os.walk(directory):
        for name in files:
            fsync_file(Path(root) / name)
        fsync_file(Path(root))
