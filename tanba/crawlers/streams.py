"""Streams (HLS, DASH): sample segments across the stream within a budget, join them into one file.

Contract: :func:`is_manifest` tells a downloaded media response that is an HLS
playlist or a DASH manifest (by Content-Type or first bytes). :func:`sample_stream`
takes that response and a ``fetch`` (the crawler's download through its
downloader middlewares: the network guard, robots.txt, redirects and size caps
apply to every playlist and segment as to any request) and:

1. reads the manifest (:mod:`tanba.crawlers.manifests`); from an HLS
   multivariant playlist it fetches the lowest-bandwidth variant that has video,
   and its audio rendition's playlist when that is separate (a variant that is
   itself multivariant is a loop, refused); a DASH MPD gives its video and audio
   representations at once;
2. picks at most ``TANBA_STREAM_MAX_SEGMENTS`` segments, at most
   ``TANBA_STREAM_MAX_SECONDS`` of the stream, spread evenly over its duration
   (:func:`tanba.crawlers.manifests.sample`), and fetches them with their init
   segments (fMP4) and the audio segments under the same time (HLS AES-128
   segments decrypted with their key, fetched once), while the bytes
   fetched for the stream (playlists included) stay within
   ``TANBA_STREAM_MAX_BYTES``: each request may take at most what is left, and
   the sampling stops where the budget does (the picks are fetched in an order
   that keeps what was fetched spread over the stream);
3. joins the fetched windows into one Matroska file with continuous timestamps
   (:func:`tanba.crawlers.join.join`, in a child process under limits), and
   returns it with every response fetched (for the WARC) and a
   :class:`~tanba.core.schemas.stream.StreamSample` saying which stream time each
   stretch of the file came from.

Manifests are parsed in a thread (a playlist of 100,000 segments takes the ``m3u8``
parser about 6 s, which the crawl's other requests must not wait for). A live
playlist (no ``EXT-X-ENDLIST``, a dynamic MPD) is sampled as it is listed
when fetched: it is never polled, so a playlist that never ends costs one
fetch. :class:`StreamRefused` says why a stream gave no file (the caller lists
it as a failed fetch); a segment that fails is reported to ``failed`` and
skipped.

Why sample: a 2-hour film is gigabytes; a dozen segments spread over it are
enough for the fingerprints to place a copy, at 1-2% of the bytes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from scrapy import Request
from scrapy.exceptions import DownloadCancelledError
from scrapy.http import Response
from twisted.internet.defer import CancelledError

from tanba.core.schemas.stream import DASH, HLS, PROGRESSIVE, StreamPiece, StreamSample
from tanba.core.settings import Settings
from tanba.crawlers.headers import first_header
from tanba.crawlers.join import CONTAINER, JoinFailed, Part, join
from tanba.crawlers.manifests import (
    Master,
    Segment,
    Stream,
    StreamRefused,
    Track,
    choose_variant,
    parse_dash,
    parse_hls,
    sample,
)
from tanba.crawlers.progressive import find_box, moov_offset, with_moov
from tanba.crawlers.scope import KIND_META, MEDIA

HLS_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "audio/mpegurl")
DASH_TYPES = ("application/dash+xml",)
JOINED_CONTENT_TYPE = "video/x-matroska"
# The joined file's child process: its address space at least this, or 4 times the budget.
_MIN_JOIN_MEMORY = 1 << 30

Fetch = Callable[[Request], Awaitable[Response]]
# Told of a request that failed: its exception, or the HTTP status it answered.
Failed = Callable[[Request, Exception | int], None]

__all__ = [
    "SampledStream",
    "StreamRefused",
    "is_manifest",
    "prefix_range",
    "sample_file",
    "sample_stream",
]
# Of the budget, the share a big file's first bytes may take; the rest is for its index.
_PREFIX_SHARE = 7 / 8


@dataclass
class SampledStream:
    """A stream's joined file, every response fetched for it (manifest first), and its sample."""

    data: bytes
    responses: list[Response]
    sample: StreamSample


class _Budget:
    """Bytes left for one stream; each request may take at most what is left."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self.exhausted = False  # a request was cut at what was left

    @property
    def left(self) -> int:
        return 0 if self.exhausted else self.limit - self.used

    def take(self, response: Response) -> None:
        self.used += len(response.body)


def protocol_of(response: Response) -> str | None:
    """ "hls" or "dash" when the response is a manifest, else None."""
    content_type = first_header(response, b"Content-Type").split(";")[0].strip().lower()
    head = response.body[:1024].lstrip(b"\xef\xbb\xbf \t\r\n")
    if content_type in HLS_TYPES or head.startswith(b"#EXTM3U"):
        return HLS
    if content_type in DASH_TYPES or b"<MPD" in head:
        return DASH
    return None


def is_manifest(response: Response) -> bool:
    """True for an HLS playlist or a DASH manifest (by Content-Type or first bytes)."""
    return protocol_of(response) is not None


async def sample_stream(
    first: Response, fetch: Fetch, settings: Settings, failed: Failed
) -> SampledStream:
    """The sampled, joined stream of manifest ``first`` (see the module doc)."""
    protocol = protocol_of(first)
    if protocol is None:
        raise StreamRefused("not an HLS playlist or a DASH manifest")
    budget = _Budget(settings.stream_max_bytes)
    budget.take(first)
    if len(first.body) > settings.stream_manifest_max_bytes:
        raise StreamRefused(
            f"the manifest is {len(first.body)} bytes, more than TANBA_STREAM_MANIFEST_MAX_BYTES "
            f"({settings.stream_manifest_max_bytes})"
        )
    responses = [first]
    variant_url = ""
    if protocol == HLS:
        parsed = await asyncio.to_thread(parse_hls, _text(first), first.url)
        if isinstance(parsed, Master):
            variant = choose_variant(parsed)
            variant_url = variant.url
            main = await _media_playlist(variant.url, first, fetch, settings, budget, responses)
            main = Track(
                url=main.url,
                segments=main.segments,
                init=main.init,
                bandwidth=variant.bandwidth,
                width=variant.width,
                height=variant.height,
                codecs=variant.codecs,
                live=main.live,
            )
            audio = None
            if variant.audio_url and variant.audio_url != variant.url:
                audio = await _media_playlist(
                    variant.audio_url, first, fetch, settings, budget, responses
                )
            stream = Stream(main=main, audio=audio)
        else:
            stream = Stream(main=parsed)
    else:
        stream = await asyncio.to_thread(parse_dash, _text(first), first.url)
    windows, pieces = await _fetch_windows(
        stream, first, fetch, settings, budget, responses, failed
    )
    if not windows:
        raise StreamRefused(
            f"no segment of the stream could be fetched within {settings.stream_max_bytes} bytes "
            "(TANBA_STREAM_MAX_BYTES)"
        )
    try:
        joined = await asyncio.to_thread(
            join,
            windows,
            timeout_s=settings.decode_timeout_s,
            memory_bytes=max(_MIN_JOIN_MEMORY, 4 * settings.stream_max_bytes),
        )
    except JoinFailed as exc:
        raise StreamRefused(str(exc)) from None
    main = stream.main
    return SampledStream(
        data=joined.data,
        responses=responses,
        sample=StreamSample(
            protocol=protocol,  # type: ignore[arg-type]
            manifest_url=first.url,
            variant_url=variant_url,
            bandwidth=main.bandwidth,
            width=main.width,
            height=main.height,
            codecs=main.codecs,
            stream_duration_s=round(main.duration_s, 3),
            live=main.live,
            segments_listed=len(main.segments),
            bytes_fetched=budget.used,
            container=CONTAINER,
            pieces=[
                piece.model_copy(
                    update={
                        "file_start_s": round(placed.file_start_s, 3),
                        "duration_s": round(placed.duration_s, 3),
                    }
                )
                for piece, placed in zip(pieces, joined.placed, strict=False)
            ],
        ),
    )


def prefix_range(settings: Settings) -> str:
    """The ``Range`` header asking a video file for the first bytes the budget allows."""
    return f"bytes=0-{int(settings.stream_max_bytes * _PREFIX_SHARE) - 1}"


async def sample_file(
    first: Response, total: int | None, fetch: Fetch, settings: Settings, failed: Failed
) -> SampledStream:
    """A video file's first bytes (a 206 answer to :func:`prefix_range`) made playable.

    An MP4 whose index is at its end gets the index fetched (a second Range request,
    within what is left of ``TANBA_STREAM_MAX_BYTES``) and moved up
    (:mod:`tanba.crawlers.progressive`); the bytes are remuxed like a stream's
    segments, so the file is one piece from the start of the film.
    """
    budget = _Budget(settings.stream_max_bytes)
    budget.take(first)
    responses = [first]
    data, limit = first.body, len(first.body)  # a packet cut at the end is dropped
    at = moov_offset(first.body)
    if at is not None:
        if total is None or at >= total:
            raise StreamRefused("the file's index (moov) is not after its first bytes")
        if budget.left <= 0:
            raise StreamRefused("no budget left for the file's index (moov)")
        request = _request(first.url, first.url, budget.left, (at, total - at))
        try:
            tail = await fetch(request)
        except Exception as exc:
            if _too_large(exc):
                raise StreamRefused(
                    f"the file's index (moov, from byte {at} of {total}) does not fit in what is "
                    "left of TANBA_STREAM_MAX_BYTES"
                ) from None
            failed(request, exc)
            raise StreamRefused("the file's index (moov) could not be fetched") from None
        budget.take(tail)
        moov = find_box(tail.body, b"moov") if tail.status == 206 else None
        if moov is None:
            raise StreamRefused(f"no moov box at byte {at} of the file (HTTP {tail.status})")
        responses.append(tail)
        data, limit = with_moov(first.body, moov)
    try:
        joined = await asyncio.to_thread(
            join,
            [[Part(body=data, limit=limit)]],
            timeout_s=settings.decode_timeout_s,
            memory_bytes=max(_MIN_JOIN_MEMORY, 4 * settings.stream_max_bytes),
        )
    except JoinFailed as exc:
        raise StreamRefused(
            f"the file's first {len(first.body)} bytes do not play: {exc}"
        ) from None
    placed = joined.placed[0]
    return SampledStream(
        data=joined.data,
        responses=responses,
        sample=StreamSample(
            protocol=PROGRESSIVE,
            manifest_url=first.url,
            stream_duration_s=round(joined.declared_s, 3),
            bytes_fetched=budget.used,
            container=CONTAINER,
            pieces=[
                StreamPiece(
                    stream_start_s=0.0,
                    file_start_s=round(placed.file_start_s, 3),
                    duration_s=round(placed.duration_s, 3),
                    urls=[first.url],
                    bytes=budget.used,
                )
            ],
        ),
    )


async def _media_playlist(
    url: str,
    referrer: Response,
    fetch: Fetch,
    settings: Settings,
    budget: _Budget,
    responses: list[Response],
) -> Track:
    """The media playlist of a variant or rendition (a multivariant one here is a loop)."""
    cap = min(budget.left, settings.stream_manifest_max_bytes)
    if cap <= 0:
        raise StreamRefused("the byte budget (TANBA_STREAM_MAX_BYTES) ran out on the playlists")
    response = await fetch(_request(url, referrer.url, cap))
    budget.take(response)
    if response.status != 200:
        raise StreamRefused(f"the media playlist {url} answered HTTP {response.status}")
    responses.append(response)
    parsed = await asyncio.to_thread(parse_hls, _text(response), response.url)
    if isinstance(parsed, Master):
        raise StreamRefused(
            f"the variant playlist {url} is itself a multivariant playlist (a loop); refused"
        )
    return parsed


async def _fetch_windows(
    stream: Stream,
    manifest: Response,
    fetch: Fetch,
    settings: Settings,
    budget: _Budget,
    responses: list[Response],
    failed: Failed,
) -> tuple[list[list[Part]], list[StreamPiece]]:
    """The sampled windows' bytes per track, in stream order, and their pieces (file times to come)."""
    main, audio = stream.main, stream.audio
    picks = sample(
        main,
        max_segments=settings.stream_max_segments,
        max_seconds=settings.stream_max_seconds,
        max_bytes=settings.stream_max_bytes,
    )
    inits: dict[str, bytes] = {}
    keys: dict[str, bytes] = {}
    fetched: dict[int, tuple[list[Part], StreamPiece]] = {}
    for index in picks:
        segment = main.segments[index]
        tracks: list[tuple[Track, list[Segment]]] = [(main, [segment])]
        if audio is not None:
            tracks.append((audio, _overlapping(audio, segment)))
        parts: list[Part] = []
        urls: list[str] = []
        spent = budget.used
        for track, segments in tracks:
            init = b""
            if track.init is not None:
                if track.init.url not in inits:
                    got = await _get(track.init, manifest, fetch, budget, responses, failed, keys)
                    if got is None:
                        return _in_order(fetched)
                    inits[track.init.url] = got
                init = inits[track.init.url]
            body = b""
            for piece in segments:
                got = await _get(piece, manifest, fetch, budget, responses, failed, keys)
                if got is None:
                    break
                body += got
                urls.append(piece.url)
            if not body:
                break
            parts.append(Part(body=body, init=init))
        if len(parts) != len(tracks):
            if budget.left <= 0:
                break  # the budget ran out: what was fetched so far is the sample
            continue  # this pick failed (counted); the next may not
        fetched[index] = (
            parts,
            StreamPiece(
                stream_start_s=round(segment.start_s - main.segments[0].start_s, 3),
                file_start_s=0.0,
                duration_s=round(segment.duration_s, 3),
                urls=urls,
                bytes=budget.used - spent,
            ),
        )
    return _in_order(fetched)


def _in_order(
    fetched: dict[int, tuple[list[Part], StreamPiece]],
) -> tuple[list[list[Part]], list[StreamPiece]]:
    ordered = [fetched[i] for i in sorted(fetched)]
    return [parts for parts, _ in ordered], [piece for _, piece in ordered]


def _overlapping(track: Track, segment: Segment) -> list[Segment]:
    """The segments of ``track`` playing during ``segment`` (of another track)."""
    segments = track.segments
    first = segments.at(segment.start_s)
    last = segments.at(segment.start_s + max(segment.duration_s - 1e-3, 0.0))
    return [segments[i] for i in range(first, last + 1)]


async def _get(
    segment: Segment,
    manifest: Response,
    fetch: Fetch,
    budget: _Budget,
    responses: list[Response],
    failed: Failed,
    keys: dict[str, bytes],
) -> bytes | None:
    """One segment's bytes (in clear) within the budget; None when it failed (reported) or
    did not fit. AES-128 keys are fetched once each and kept in ``keys``."""
    if budget.left <= 0:
        return None
    request = _request(segment.url, manifest.url, budget.left, segment.byterange)
    try:
        response = await fetch(request)
    except Exception as exc:
        if _too_large(exc):
            # Cut at what was left of the budget: the sample ends here, nothing failed.
            budget.exhausted = True
        else:
            failed(request, exc)
        return None
    budget.take(response)
    if response.status not in (200, 206):
        failed(request, response.status)
        return None
    responses.append(response)
    if not segment.key_url:
        return response.body
    key = keys.get(segment.key_url)
    if key is None:
        key = await _get(
            Segment(segment.key_url, 0.0, 0.0), manifest, fetch, budget, responses, failed, keys
        )
        if key is None:
            return None
        keys[segment.key_url] = key
    try:
        return decrypt(response.body, key, segment.iv)
    except ValueError as exc:
        failed(request, StreamRefused(f"the segment does not decrypt with its AES-128 key: {exc}"))
        return None


def decrypt(body: bytes, key: bytes, iv: bytes) -> bytes:
    """An HLS AES-128 segment in clear: AES-CBC with the playlist's key and IV, PKCS#7 unpadded."""
    if len(key) != 16:
        raise ValueError(f"the key is {len(key)} bytes, not 16")
    decryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).decryptor()
    unpadder = padding.PKCS7(128).unpadder()
    clear = decryptor.update(body) + decryptor.finalize()
    return unpadder.update(clear) + unpadder.finalize()


def _too_large(exc: Exception) -> bool:
    return isinstance(exc, DownloadCancelledError | CancelledError)


def _request(
    url: str, referrer: str, max_bytes: int, byterange: tuple[int, int] | None = None
) -> Request:
    headers = {"Referer": referrer}
    if byterange is not None:
        offset, length = byterange
        headers["Range"] = f"bytes={offset}-{offset + length - 1}"
    return Request(
        url,
        headers=headers,
        meta={KIND_META: MEDIA, "download_maxsize": max_bytes, "allow_offsite": True},
        dont_filter=True,
    )


def _text(response: Response) -> str:
    return response.body.decode("utf-8", errors="replace")
