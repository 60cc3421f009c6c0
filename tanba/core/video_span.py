"""Instants of a video alert's matched span, in the copy and in the work: what frame pairs show.

Contract: :func:`span_moments` picks ``count`` instants spread over the matched span
(the middle of each of ``count`` equal parts), each with its time in the copy (the
stream's own time for a sampled stream, as the alert gives it) and in the work
(``offset_s + scale * (t - query_offset_s)``: the matcher's alignment, with the PAL
speed-up when it found one); none for an alert that is not a video's or has no span.
:func:`file_time` finds a stream's time in the file the crawler joined from its pieces,
where a decoder must look for the frame.

Why in core: the console's frames view (:mod:`tanba.console.frames`) and the evidence
package's frame pairs (:mod:`tanba.evidence.videoreport`) show the same instants, and
neither may import the other.
"""

from __future__ import annotations

from dataclasses import dataclass

from tanba.core.alerts import Alert
from tanba.core.schemas.stream import StreamSample

# Instants shown over a span.
MOMENTS = 4


@dataclass(frozen=True)
class Moment:
    """One instant of the matched span: where it is in the copy and in the work (seconds)."""

    copy_s: float
    work_s: float


def span_moments(alert: Alert, count: int = MOMENTS) -> list[Moment]:
    """``count`` instants spread over the alert's matched span; none without a span."""
    match = alert.match
    if alert.media != "video" or match.offset_s is None or match.query_offset_s is None:
        return []
    if not match.duration_s:
        return []
    scale = match.scale or 1.0
    moments = []
    for k in range(count):
        copy_s = match.query_offset_s + match.duration_s * (k + 0.5) / count
        work_s = match.offset_s + scale * (copy_s - match.query_offset_s)
        moments.append(Moment(round(copy_s, 2), round(work_s, 2)))
    return moments


def file_time(stream: StreamSample | None, stream_s: float) -> float:
    """Where a time of a sampled stream is in the file the crawler joined (the inverse of
    :func:`tanba.core.alerts.in_stream_time`); a time in no piece is already file time."""
    if stream is None:
        return stream_s
    for piece in stream.pieces:
        if piece.stream_start_s <= stream_s < piece.stream_start_s + piece.duration_s:
            return piece.file_start_s + (stream_s - piece.stream_start_s)
    return stream_s
