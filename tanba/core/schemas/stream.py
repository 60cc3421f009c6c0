"""What the crawler took from a stream (HLS, DASH): the manifest and the sampled segments.

A stream is not downloaded whole: the crawler samples segments spread over its
duration within a byte and time budget (:mod:`tanba.crawlers.streams`) and joins
them into one playable file, the blob a ``MediaDiscovered`` points at. The
:class:`StreamSample` on the occurrence says which stream time each stretch of
that file came from, so a match's offset in the file (``offset_s`` of the
sampled file) maps back to the stream's own time: a file time ``t`` with
``piece.file_start_s <= t < piece.file_start_s + piece.duration_s`` is stream time
``piece.stream_start_s + (t - piece.file_start_s)``.

Why its own module: these models ride on :class:`~tanba.core.schemas.common.MediaOccurrence`
(the ``tanba.media`` topic, then alerts and evidence); they are optional there,
so events written before streams were sampled still read (no version bump,
see :mod:`tanba.core.schemas.base`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from tanba.core.schemas.base import Model

StreamProtocol = Literal["hls", "dash", "progressive"]
HLS: StreamProtocol = "hls"
DASH: StreamProtocol = "dash"
# One video file too big to fetch whole: its first bytes (tanba.crawlers.progressive).
PROGRESSIVE: StreamProtocol = "progressive"


class StreamPiece(Model):
    """One stretch of the sampled file: a segment (per track) taken from the stream."""

    stream_start_s: float  # where it starts in the stream (the manifest's timeline)
    file_start_s: float  # where it starts in the sampled file
    duration_s: float
    urls: list[str]  # the segment of each track (video first), as fetched
    bytes: int  # the bytes fetched for it (all tracks)


class StreamSample(Model):
    """Which stream was sampled, how, and where each part of the sampled file comes from."""

    protocol: StreamProtocol
    manifest_url: str  # the manifest the page references (a master playlist, an MPD; the file)
    variant_url: str = ""  # HLS: the media playlist sampled; DASH: "" (one MPD)
    bandwidth: int = 0  # the variant's declared bits per second (0: not declared)
    width: int = 0
    height: int = 0
    codecs: str = ""
    stream_duration_s: float = 0.0  # the stream's length as its manifest declares it
    live: bool = False  # the playlist had no end (HLS without ENDLIST, DASH dynamic)
    segments_listed: int = 0  # segments of the sampled track in the manifest
    bytes_fetched: int = 0  # every byte fetched for this stream, manifests included
    container: str = ""  # the sampled file's format ("matroska")
    pieces: list[StreamPiece] = Field(default_factory=list)

    def piece_at(self, file_s: float) -> StreamPiece | None:
        """The piece of the sampled file playing at ``file_s`` seconds (None past the pieces)."""
        for piece in self.pieces:
            if piece.file_start_s <= file_s < piece.file_start_s + piece.duration_s:
                return piece
        return None

    def stream_time(self, file_s: float) -> float | None:
        """Where ``file_s`` seconds into the sampled file are in the stream (None: nowhere).

        A span of the file that crosses from one piece into the next is not one span
        of the stream: matchers take offsets per piece.
        """
        piece = self.piece_at(file_s)
        if piece is None:
            return None
        return piece.stream_start_s + (file_s - piece.file_start_s)
