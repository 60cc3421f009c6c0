"""HLS playlists and DASH manifests read into tracks of timed segments, and how to sample them.

Contract (pure functions, no I/O; each raises :class:`StreamRefused` with a reason
an operator can act on):

- :func:`parse_hls` reads an HLS playlist (with the ``m3u8`` package) into a
  :class:`Master` (the variants of a multivariant playlist, and the audio
  renditions they name) or a :class:`Track` (a media playlist: its segments with
  their start and duration, the ``EXT-X-MAP`` init segment, byte ranges);
- :func:`parse_dash` reads a DASH MPD (with the ``mpegdash`` package) into the
  :class:`Stream` of its first period: the lowest-bandwidth video representation
  and the lowest-bandwidth audio one, their segments from ``SegmentTemplate``
  (``$Number$`` or ``$Time$``, with or without a ``SegmentTimeline``) or
  ``SegmentList``;
- :func:`choose_variant` picks the lowest-bandwidth variant that still has video
  (by its ``CODECS`` or ``RESOLUTION``; one that declares neither may have);
- :func:`sample` picks which segments of a track to fetch: at most
  ``max_segments``, adding up to at most ``max_seconds``, and, at the variant's
  declared bandwidth, at most ``max_bytes``, spread evenly over the duration
  (the segment under the middle of each of k equal slices of time), returned in
  the order to fetch them: an order that keeps the picks spread when the byte
  budget runs out early (the first, the last, the middle, then the quarters, ...).

Bounds: a track's segments are computed by index (a template of a 100,000-segment
film is not expanded), at most :data:`MAX_SEGMENTS` per track; an MPD with a
``DOCTYPE`` (entities) is refused before it is parsed; a master playlist that
names itself, or a media playlist where a variant's is expected, is a loop the
caller stops (see :mod:`tanba.crawlers.streams`). HLS segments under an AES-128
``EXT-X-KEY`` carry the key's URL and IV (the caller fetches the key and decrypts:
it is a clear key any player fetches); other methods (``SAMPLE-AES``, DRM) and
DRM-protected DASH (``ContentProtection``) are refused: no key is to be had.

Why the libraries: ``m3u8`` and ``mpegdash`` are maintained parsers of the two
formats' syntax (attribute lists, durations, byte ranges, XML namespaces); the
timing of DASH segments (templates, timelines) is not theirs, so it is here.
"""

from __future__ import annotations

import bisect
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TypeVar
from urllib.parse import urljoin
from xml.dom import minidom
from xml.parsers.expat import ExpatError

import m3u8
from mpegdash.nodes import (
    MPEGDASH,
    AdaptationSet,
    Period,
    Representation,
    SegmentList,
    SegmentTemplate,
)
from mpegdash.utils import parse_child_nodes

_T = TypeVar("_T")
# The most segments one track may list: 24 hours in 1-second segments, about.
MAX_SEGMENTS = 100_000
_VIDEO_CODECS = ("avc", "hvc", "hev", "vp8", "vp9", "vp09", "av01", "mp4v", "dvh", "dvhe")
_TEMPLATE_VAR = re.compile(r"\$(RepresentationID|Number|Time|Bandwidth)(?:%0(\d+)d)?\$")
_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


class StreamRefused(Exception):
    """A manifest that is not sampled; the message says why (it goes into the crawl report)."""


@dataclass(frozen=True)
class Segment:
    """One segment to fetch: its URL, byte range (offset, length) if any, and its time."""

    url: str
    start_s: float
    duration_s: float
    byterange: tuple[int, int] | None = None
    # HLS AES-128: the key's URL and the IV (the playlist's, else the media sequence number).
    key_url: str = ""
    iv: bytes = b""


class Segments(Sequence[Segment]):
    """A track's segments by index, computed on demand (a template is never expanded)."""

    def __len__(self) -> int:
        raise NotImplementedError

    def __getitem__(self, index: int) -> Segment:  # type: ignore[override]
        raise NotImplementedError

    def at(self, t: float) -> int:
        """The index of the segment playing at ``t`` seconds (the last one past the end)."""
        lo, hi = 0, len(self) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self[mid].start_s <= t:
                lo = mid
            else:
                hi = mid - 1
        return lo


class ListedSegments(Segments):
    """Segments listed one by one (an HLS media playlist, a DASH SegmentList)."""

    def __init__(self, segments: list[Segment]) -> None:
        self._segments = segments

    def __len__(self) -> int:
        return len(self._segments)

    def __getitem__(self, index: int) -> Segment:  # type: ignore[override]
        return self._segments[index]


@dataclass(frozen=True)
class _Run:
    """A SegmentTimeline ``S``: ``count`` segments of ``d`` ticks from ``t``, numbers from ``number``."""

    t: int
    d: int
    count: int
    number: int
    first: int  # index of its first segment in the track


class TemplateSegments(Segments):
    """Segments of a DASH SegmentTemplate: by ``$Number$`` at a fixed duration, or a timeline."""

    def __init__(
        self,
        base: str,
        media: str,
        representation: Representation,
        timescale: int,
        start_number: int,
        duration: int | None,
        runs: list[_Run],
        total_s: float,
        offset: int,
    ) -> None:
        self._base, self._media, self._rep = base, media, representation
        self._timescale, self._start_number = timescale, start_number
        self._duration, self._runs, self._offset = duration, runs, offset
        if runs:
            self._count = runs[-1].first + runs[-1].count
        elif duration:
            self._count = max(1, math.ceil(total_s * timescale / duration - 1e-9))
        else:
            raise StreamRefused("a SegmentTemplate with neither a duration nor a SegmentTimeline")
        if self._count > MAX_SEGMENTS:
            raise StreamRefused(
                f"the manifest lists {self._count} segments; at most {MAX_SEGMENTS} are read"
            )
        self._firsts = [run.first for run in runs]

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> Segment:  # type: ignore[override]
        if not 0 <= index < self._count:
            raise IndexError(index)
        if self._runs:
            run = self._runs[bisect.bisect_right(self._firsts, index) - 1]
            k = index - run.first
            ticks, d, number = run.t + k * run.d, run.d, run.number + k
        else:
            assert self._duration is not None
            ticks, d, number = index * self._duration, self._duration, self._start_number + index
        url = urljoin(self._base, _fill(self._media, self._rep, number, ticks))
        start = (ticks - self._offset) / self._timescale
        return Segment(url, start, d / self._timescale)


@dataclass(frozen=True)
class Track:
    """One track to sample: its segments, init segment, and what its manifest declares."""

    url: str  # the playlist or MPD it came from
    segments: Segments
    init: Segment | None = None
    bandwidth: int = 0
    width: int = 0
    height: int = 0
    codecs: str = ""
    live: bool = False

    @property
    def duration_s(self) -> float:
        if not len(self.segments):
            return 0.0
        last = self.segments[len(self.segments) - 1]
        return last.start_s + last.duration_s - self.segments[0].start_s


@dataclass(frozen=True)
class Variant:
    """One variant of an HLS multivariant playlist."""

    url: str
    bandwidth: int
    width: int = 0
    height: int = 0
    codecs: str = ""
    audio_url: str = ""  # the playlist of its audio rendition, when separate

    @property
    def has_video(self) -> bool:
        if self.codecs:
            return any(c.strip().lower().startswith(_VIDEO_CODECS) for c in self.codecs.split(","))
        return True  # neither codecs nor resolution said otherwise: it may have video


@dataclass(frozen=True)
class Master:
    """An HLS multivariant playlist: the variants to choose from."""

    url: str
    variants: tuple[Variant, ...]


@dataclass(frozen=True)
class Stream:
    """What to sample: the main track (video, or video and audio muxed) and a separate audio one."""

    main: Track
    audio: Track | None = None
    extra: dict[str, str] = field(default_factory=dict)


def parse_hls(text: str, url: str) -> Master | Track:
    """The variants of a multivariant playlist, or the segments of a media playlist."""
    if not text.lstrip("\ufeff").lstrip().startswith("#EXTM3U"):
        raise StreamRefused("not an HLS playlist: it does not start with #EXTM3U")
    listed = text.count("#EXTINF")
    if listed > MAX_SEGMENTS:  # refused before the parser spends seconds on it
        raise StreamRefused(
            f"the playlist lists {listed} segments; at most {MAX_SEGMENTS} are read"
        )
    try:
        playlist = m3u8.loads(text, uri=url)
    except Exception as exc:  # the parser's errors are its own types and ValueErrors
        raise StreamRefused(f"the HLS playlist does not parse: {exc}") from None
    if playlist.is_variant:
        audio = {
            m.group_id: m.absolute_uri
            for m in playlist.media
            if (m.type or "").upper() == "AUDIO" and m.uri and (m.default or "").upper() == "YES"
        }
        for m in playlist.media:
            if (m.type or "").upper() == "AUDIO" and m.uri:
                audio.setdefault(m.group_id, m.absolute_uri)
        variants = []
        for p in playlist.playlists:
            info = p.stream_info
            width, height = info.resolution or (0, 0)
            variants.append(
                Variant(
                    url=p.absolute_uri,
                    bandwidth=int(info.bandwidth or info.average_bandwidth or 0),
                    width=int(width),
                    height=int(height),
                    codecs=info.codecs or "",
                    audio_url=audio.get(info.audio or "", "") if info.audio else "",
                )
            )
        if not variants:
            raise StreamRefused("the multivariant HLS playlist names no variant")
        return Master(url, tuple(variants))
    for key in playlist.keys:
        method = (key.method or "NONE").upper() if key is not None else "NONE"
        if method not in ("NONE", "AES-128"):
            raise StreamRefused(
                f"the HLS stream is encrypted with {key.method} (DRM or sample encryption); "  # type: ignore[union-attr]
                "its segments are not sampled"
            )
    if len(playlist.segments) > MAX_SEGMENTS:
        raise StreamRefused(
            f"the playlist lists {len(playlist.segments)} segments; at most {MAX_SEGMENTS} are read"
        )
    segments: list[Segment] = []
    start = 0.0
    init: Segment | None = None
    next_offset = 0
    for seg in playlist.segments:
        if init is None and seg.init_section is not None:
            init = Segment(
                seg.init_section.absolute_uri, 0.0, 0.0, _byterange(seg.init_section.byterange, 0)
            )
        duration = float(seg.duration or 0.0)
        byterange = _byterange(seg.byterange, next_offset)
        if byterange is not None:
            next_offset = byterange[0] + byterange[1]
        key_url, iv = _key(seg.key, int(playlist.media_sequence or 0) + len(segments))
        segments.append(Segment(seg.absolute_uri, start, duration, byterange, key_url, iv))
        start += duration
    if not segments:
        raise StreamRefused("the HLS playlist lists no segment")
    return Track(
        url=url, segments=ListedSegments(segments), init=init, live=not playlist.is_endlist
    )


def _key(key: m3u8.Key | None, sequence: int) -> tuple[str, bytes]:
    """The AES-128 key URL and IV of a segment ("", b"" when it is not encrypted)."""
    if key is None or (key.method or "NONE").upper() != "AES-128":
        return "", b""
    if not key.uri:
        raise StreamRefused("an AES-128 key of the HLS playlist has no URI")
    if key.iv:
        try:
            iv = bytes.fromhex(key.iv[2:] if key.iv.lower().startswith("0x") else key.iv)
        except ValueError:
            raise StreamRefused(f"the HLS key's IV {key.iv!r} is not hexadecimal") from None
        iv = iv.rjust(16, b"\0")[-16:]
    else:
        iv = sequence.to_bytes(16, "big")
    return key.absolute_uri, iv


def _byterange(value: str | None, next_offset: int) -> tuple[int, int] | None:
    """(offset, length) of an ``EXT-X-BYTERANGE`` value ``length[@offset]``."""
    if not value:
        return None
    length, _, offset = str(value).partition("@")
    return (int(offset) if offset else next_offset, int(length))


def choose_variant(master: Master) -> Variant:
    """The lowest-bandwidth variant that still has video (else the lowest of all)."""
    with_video = [v for v in master.variants if v.has_video]
    return min(with_video or master.variants, key=lambda v: (v.bandwidth, v.height))


def parse_dash(text: str, url: str) -> Stream:
    """The first period's lowest-bandwidth video (else any) representation, and audio."""
    head = text[:4096]
    if "<!DOCTYPE" in head.upper() or "<!ENTITY" in text.upper():
        raise StreamRefused("the DASH manifest declares a DOCTYPE or entities; refused")
    try:
        mpd: MPEGDASH = parse_child_nodes(minidom.parseString(text), "MPD", MPEGDASH)[0]
    except (ExpatError, IndexError, ValueError, TypeError) as exc:
        raise StreamRefused(f"the DASH manifest does not parse: {exc}") from None
    live = (mpd.type or "static") == "dynamic"
    periods: list[Period] = mpd.periods or []
    if not periods:
        raise StreamRefused("the DASH manifest has no Period")
    period = periods[0]
    total = _seconds(period.duration) or _seconds(mpd.media_presentation_duration)
    base = _base(url, mpd.base_urls)
    base = _base(base, period.base_urls)
    video: tuple[int, AdaptationSet, Representation] | None = None
    audio: tuple[int, AdaptationSet, Representation] | None = None
    for aset in period.adaptation_sets or []:
        if aset.content_protections:
            raise StreamRefused("the DASH stream is DRM-protected (ContentProtection)")
        for rep in aset.representations or []:
            if rep.content_protections:
                raise StreamRefused("the DASH stream is DRM-protected (ContentProtection)")
            kind = _kind(aset, rep)
            candidate = (int(rep.bandwidth or 0), aset, rep)
            if kind == "video" and (video is None or candidate[0] < video[0]):
                video = candidate
            elif kind == "audio" and (audio is None or candidate[0] < audio[0]):
                audio = candidate
    if video is None and audio is None:
        raise StreamRefused("the DASH manifest has no video or audio representation")
    main = video or audio
    assert main is not None
    other = audio if video is not None else None
    return Stream(
        main=_dash_track(url, base, main[1], main[2], total or 0.0, live),
        audio=_dash_track(url, base, other[1], other[2], total or 0.0, live) if other else None,
    )


def _kind(aset: AdaptationSet, rep: Representation) -> str:
    mime = (rep.mime_type or aset.mime_type or "").lower()
    content = (aset.content_type or "").lower()
    codecs = (rep.codecs or aset.codecs or "").lower()
    if mime.startswith("video") or content == "video" or codecs.startswith(_VIDEO_CODECS):
        return "video"
    if (
        mime.startswith("audio")
        or content == "audio"
        or codecs.startswith(("mp4a", "opus", "ac-3", "ec-3"))
    ):
        return "audio"
    return "other"


def _dash_track(
    url: str, base: str, aset: AdaptationSet, rep: Representation, total_s: float, live: bool
) -> Track:
    base = _base(_base(base, aset.base_urls), rep.base_urls)
    template: SegmentTemplate | None = _first(rep.segment_templates) or _first(
        aset.segment_templates
    )
    seg_list: SegmentList | None = _first(rep.segment_lists) or _first(aset.segment_lists)
    init: Segment | None = None
    segments: Segments
    if template is not None and template.media:
        if live and not template.segment_timelines:
            raise StreamRefused(
                "a live DASH stream addressed by segment number: which segments exist depends "
                "on the clock (availabilityStartTime); not sampled"
            )
        timescale = int(template.timescale or 1)
        runs: list[_Run] = []
        start_number = int(template.start_number if template.start_number is not None else 1)
        timeline = _first(template.segment_timelines)
        if timeline is not None:
            t, first, number = 0, 0, start_number
            for s in timeline.Ss or []:
                if s.t is not None:
                    t = int(s.t)
                d = int(s.d or 0)
                if d <= 0:
                    raise StreamRefused("a SegmentTimeline entry has no duration")
                repeat = int(s.r or 0)
                if repeat < 0:  # "until the end of the period"
                    repeat = max(0, math.ceil((total_s * timescale - t) / d) - 1)
                count = repeat + 1
                if first + count > MAX_SEGMENTS:
                    raise StreamRefused(
                        f"the manifest lists more than {MAX_SEGMENTS} segments; refused"
                    )
                runs.append(_Run(t, d, count, number, first))
                t += d * count
                first += count
                number += count
        if template.initialization:
            init = Segment(urljoin(base, _fill(template.initialization, rep, 0, 0)), 0.0, 0.0)
        segments = TemplateSegments(
            base,
            template.media,
            rep,
            timescale,
            start_number,
            int(template.duration) if template.duration else None,
            runs,
            total_s,
            int(template.presentation_time_offset or 0),
        )
    elif seg_list is not None and seg_list.segment_urls:
        timescale = int(seg_list.timescale or 1)
        each = (seg_list.duration or 0) / timescale
        if seg_list.initializations:
            first_init = seg_list.initializations[0]
            init = Segment(
                urljoin(base, first_init.source_url or ""), 0.0, 0.0, _range(first_init.range)
            )
        if len(seg_list.segment_urls) > MAX_SEGMENTS:
            raise StreamRefused(f"the manifest lists more than {MAX_SEGMENTS} segments; refused")
        segments = ListedSegments(
            [
                Segment(urljoin(base, s.media or ""), i * each, each, _range(s.media_range))
                for i, s in enumerate(seg_list.segment_urls)
            ]
        )
    else:
        raise StreamRefused(
            "the DASH representation has no SegmentTemplate or SegmentList "
            "(a single-file SegmentBase is not sampled)"
        )
    if not len(segments):
        raise StreamRefused("the DASH representation lists no segment")
    width, height = int(rep.width or aset.width or 0), int(rep.height or aset.height or 0)
    return Track(
        url=url,
        segments=segments,
        init=init,
        bandwidth=int(rep.bandwidth or 0),
        width=width,
        height=height,
        codecs=rep.codecs or aset.codecs or "",
        live=live,
    )


def _first(values: list[_T] | None) -> _T | None:
    return values[0] if values else None


def _base(url: str, base_urls: list[object] | None) -> str:
    first = _first(base_urls)
    value = getattr(first, "base_url_value", None) if first is not None else None
    return urljoin(url, value.strip()) if value else url


def _range(value: str | None) -> tuple[int, int] | None:
    """(offset, length) of a DASH byte range ``first-last``."""
    if not value or "-" not in value:
        return None
    first, _, last = value.partition("-")
    return (int(first), int(last) - int(first) + 1)


def _fill(template: str, rep: Representation, number: int, time: int) -> str:
    """A SegmentTemplate URL with its ``$...$`` identifiers filled in."""

    def one(match: re.Match[str]) -> str:
        name, width = match.group(1), match.group(2)
        value: object = {
            "RepresentationID": rep.id or "",
            "Number": number,
            "Time": time,
            "Bandwidth": rep.bandwidth or 0,
        }[name]
        return f"{value:0{int(width)}d}" if width and isinstance(value, int) else str(value)

    return _TEMPLATE_VAR.sub(one, template).replace("$$", "$")


def _seconds(value: str | None) -> float | None:
    """Seconds of an ISO 8601 duration as MPDs write them (``PT1H2M3.5S``)."""
    if not value:
        return None
    match = _ISO_DURATION.match(value.strip())
    if match is None:
        return None
    parts = {k: float(v) if v else 0.0 for k, v in match.groupdict().items()}
    return parts["d"] * 86400 + parts["h"] * 3600 + parts["m"] * 60 + parts["s"]


def sample(track: Track, *, max_segments: int, max_seconds: float, max_bytes: int) -> list[int]:
    """Indices of the segments to fetch, spread over the track, in the order to fetch them."""
    segments = track.segments
    n = len(segments)
    if n == 0 or max_segments <= 0:
        return []
    typical = max(track.duration_s / n, 1e-3)
    k = min(n, max_segments, max(1, int(max_seconds / typical)))
    if track.bandwidth > 0:
        per_segment = track.bandwidth / 8 * typical
        k = min(k, max(1, int(max_bytes / per_segment)))
    first = segments[0].start_s
    picks = list(
        dict.fromkeys(segments.at(first + (j + 0.5) * track.duration_s / k) for j in range(k))
    )
    return [picks[i] for i in spread_order(len(picks))]


def spread_order(n: int) -> list[int]:
    """0..n-1 in an order whose every prefix is spread out: ends, middle, quarters, ..."""
    if n <= 2:
        return list(range(n))
    order = [0, n - 1]
    seen = set(order)
    step = float(n - 1)
    while len(order) < n:
        step /= 2
        position = step
        while position < n - 1:
            index = round(position)
            if index not in seen:
                seen.add(index)
                order.append(index)
            position += 2 * step
        if step < 0.5:
            order += [i for i in range(n) if i not in seen]
            break
    return order
