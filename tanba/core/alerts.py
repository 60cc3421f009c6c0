"""The alert: a registered work found on a page, attributed to a jurisdiction.

An alert's id is derived from (work, page, media URL), so finding the same copy
again, or replaying a message, updates the same alert instead of adding one.
Its status moves through a small lifecycle, kept as an append-only history.
"""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import Field

from tanba.core.schemas.base import Model
from tanba.core.schemas.common import CaptureRef, MediaKind
from tanba.core.schemas.matches import MatchDetail
from tanba.core.schemas.stream import StreamSample

Status = Literal["new", "confirmed", "dismissed", "licensed", "notice_sent", "removed", "persists"]
STATUSES: tuple[Status, ...] = (
    "new",
    "confirmed",
    "dismissed",
    "licensed",
    "notice_sent",
    "removed",
    "persists",
)
# Which status may follow which; anything else is refused with the allowed list.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("confirmed", "dismissed", "licensed"),
    "confirmed": ("notice_sent", "dismissed", "licensed"),
    "dismissed": ("new",),
    "licensed": ("new",),
    "notice_sent": ("removed", "persists"),
    "persists": ("notice_sent", "removed"),
    "removed": ("persists",),
}


def alert_id(work_id: str, page_url: str, media_url: str) -> str:
    """The deterministic id of the alert for this work at this media URL on this page."""
    raw = "\x1f".join((work_id, page_url, media_url)).encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class Signal(Model):
    """One piece of evidence for the jurisdiction, with how much it counted."""

    name: str  # "target_override", "cctld", "server_ip", "page_language"
    value: str  # what it pointed at: a jurisdiction code
    weight: float
    detail: str = ""


class StatusChange(Model):
    """One step of an alert's history: who set which status when, and why."""

    status: Status
    actor: str
    at: str
    comment: str = ""


def in_stream_time(detail: MatchDetail, stream: StreamSample | None) -> MatchDetail:
    """The match with its copy-side times moved from the sampled file to the stream's own.

    A stream's copy is the file the crawler joined from sampled segments
    (:mod:`tanba.core.schemas.stream`); what a rights holder checks by hand is the
    stream, so ``query_offset_s`` (and each position's) says where in the stream the
    passage starts. A span the matcher aligned across a join of two pieces is cut to
    the piece holding most of it, its start in the work moved alike: the two pieces
    are far apart in the stream, and only one of them lines up with the work there
    (an excerpt 0.04 s into one piece and 4 s into the next is the next one's). A
    span in no piece is left in file time; without a stream, the detail as it is.
    """
    if stream is None or not stream.pieces:
        return detail

    def moved(
        file_s: float | None, work_s: float | None, length: float | None
    ) -> tuple[float | None, float | None, float | None]:
        if file_s is None:
            return file_s, work_s, length
        end = file_s + (length or 0.0)
        best, overlap = None, -1.0
        for piece in stream.pieces:
            start, stop = piece.file_start_s, piece.file_start_s + piece.duration_s
            shared = min(end, stop) - max(file_s, start)
            if (start <= file_s < stop or shared > 0) and shared > overlap:
                best, overlap = piece, shared
        if best is None:
            return file_s, work_s, length
        start = max(file_s, best.file_start_s)
        cut = start - file_s
        at = best.stream_start_s + (start - best.file_start_s)
        return (
            round(at, 3),
            None if work_s is None else round(work_s + cut, 3),
            None
            if length is None
            else round(max(0.0, min(end, best.file_start_s + best.duration_s) - start), 3),
        )

    positions = []
    for span in detail.positions:
        q, w, d = moved(span.query_offset_s, span.offset_s, span.duration_s)
        positions.append(
            span.model_copy(update={"query_offset_s": q, "offset_s": w, "duration_s": d})
        )
    q, w, d = moved(detail.query_offset_s, detail.offset_s, detail.duration_s)
    return detail.model_copy(
        update={"query_offset_s": q, "offset_s": w, "duration_s": d, "positions": positions}
    )


class Alert(Model):
    """A copy of a registered work, where it was found, and what is being done about it."""

    id: str
    work_id: str
    owner: str
    work_title: str = ""
    media: MediaKind
    score: float  # 0..1, 1 = identical
    match: MatchDetail
    page_url: str
    page_title: str = ""
    media_url: str
    media_sha256: str
    site: str
    target: str = ""  # the id of the crawl target that found it
    server_ip: str = ""
    jurisdiction: str
    jurisdiction_confidence: float = 1.0
    signals: list[Signal] = Field(default_factory=list)
    cross_border: bool = False
    owner_home: str = ""
    first_seen: str
    last_seen: str
    status: Status = "new"
    history: list[StatusChange] = Field(default_factory=list)
    crawl_id: str = ""  # the latest crawl that saw the copy
    missed_crawls: list[str] = Field(
        default_factory=list
    )  # later crawls that fetched the page without it
    page_capture: CaptureRef | None = None
    media_capture: CaptureRef | None = None
    # Found in a player the page embeds (an iframe, maybe on another host): the player's
    # page, host and WARC record; empty for media on the page itself.
    player_url: str = ""
    player_site: str = ""
    player_capture: CaptureRef | None = None
    # A stream (HLS, DASH): which segments the matched file was joined from, so an offset
    # in it maps back to the stream's time (tanba.core.schemas.stream).
    stream: StreamSample | None = None

    @property
    def offset_s(self) -> float | None:
        return self.match.offset_s


def merge_seen(existing: Alert, incoming: Alert) -> Alert:
    """The alert after seeing ``incoming`` again: first sighting and workflow kept, rest refreshed.

    Stores call this on upsert so the rule is the same in every store.
    """
    newer = incoming.last_seen >= existing.last_seen
    latest = incoming if newer else existing
    return incoming.model_copy(
        update={
            "first_seen": min(existing.first_seen, incoming.first_seen),
            "last_seen": latest.last_seen,
            "crawl_id": latest.crawl_id,
            "status": existing.status,
            "history": existing.history,
            # A fresh sighting clears the misses; replaying an old one must not.
            "missed_crawls": [] if newer else existing.missed_crawls,
        }
    )
