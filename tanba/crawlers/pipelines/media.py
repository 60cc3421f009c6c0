"""The media pipeline: every media URL a page references, downloaded once per crawl.

Contract (Scrapy's :class:`~scrapy.pipelines.media.MediaPipeline`, one per target):

- :meth:`MediaPipeline.get_media_requests` asks for each of the item's media
  references, capped at ``TANBA_MEDIA_MAX_BYTES``, from any host (CDNs), with
  the ``Referer`` the page's referrer policy gives (as a browser, and as the
  spider's own requests). The requests go through the downloader middlewares
  like pages do, so robots.txt, the private-address guard, the 429 throttle
  and redirects apply to them.
- Scrapy's MediaPipeline downloads each request fingerprint once per crawl and
  hands the result to every item that asks for it, also while the download is
  in flight; :class:`CanonicalFingerprinter` makes the fingerprint the
  canonical URL (:func:`tanba.crawlers.urls.canonicalize`), so two spellings of one
  media URL are one download.
- :meth:`MediaPipeline.media_downloaded` stores a status-200 body: its WARC
  record, then its blob (content-addressed SHA-256 in the blob store), then
  counts ``media_downloaded``; a full disk pauses the crawl until both are
  written (:mod:`tanba.crawlers.gate`). A body that is a stream's manifest
  (HLS, DASH) is sampled instead (:mod:`tanba.crawlers.streams`): the blob is
  the file joined from the sampled segments, and the capture one span of the
  WARC holding the manifest, the playlists and every segment fetched (so the
  evidence package replays them); a stream that gives no file is a failed
  fetch of reason ``other`` saying why. A media reference hinted ``video``
  (not a manifest) is asked with a ``Range`` for the first 7/8 of
  ``TANBA_STREAM_MAX_BYTES``: a 206 holding the whole file is stored as a
  file; one holding the first bytes of a bigger file is made playable
  (:func:`tanba.crawlers.streams.sample_file`) and stored like a stream's
  sample (``protocol`` ``progressive``); a server that ignores ``Range``
  answers 200 and is capped at ``TANBA_MEDIA_MAX_BYTES`` as before. Any other status counts as ``http_errors``
  and is not published; :meth:`MediaPipeline.media_failed` counts a failed
  download as the spider counts a failed page (:mod:`tanba.crawlers.failures`). A
  failure is final for the crawl: later pages referencing the URL get it too.
- :meth:`MediaPipeline.item_completed` adds one ``(MediaRef, FetchedMedia)``
  pair to the item for each of its references that gave a stored file, and, when
  the blobs are remote, the bytes of those of at most
  :data:`~tanba.core.schemas.media.INLINE_MAX_BYTES` to ``item.inline``, so that
  their events carry them and the fingerprint worker needs no GET (the pipeline
  keeps the last ``INLINE_KEEP_BYTES`` of such bodies between the download and the
  item: one evicted meanwhile is simply not inline).
- While the crawl is paused no new media download starts
  (:meth:`MediaPipeline.media_to_download` waits), so a full disk does not
  fill memory with downloads it cannot store.

Media come before more pages: the pipeline hands its requests to the
downloader directly, so they never wait in the scheduler behind the pages
queued there (the spider used to give them a higher priority for the same).

Why MediaPipeline and not FilesPipeline: FilesPipeline stores files by a hash
of the URL in a store of its own, checks them with MD5, and skips URLs it
stored recently; Tanba's files are named by the SHA-256 of their content in the
blob store, and every crawl fetches every URL again (the page may have changed
the file behind it). What FilesPipeline adds to MediaPipeline is exactly that.

Why a log filter: MediaPipeline logs every failed download with a traceback at
ERROR; a crawl of a site with broken images would print one per image. This
pipeline counts each failure, and logs the unexpected ones as one warning line
(:mod:`tanba.crawlers.failures`), so the filter drops MediaPipeline's record for
exactly the failures raised here (:class:`NotPublished`).
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from typing import TYPE_CHECKING, Any, NoReturn, Self, cast

from scrapy import Request
from scrapy.pipelines.media import FileInfo, FileInfoOrError
from scrapy.pipelines.media import MediaPipeline as ScrapyMediaPipeline
from scrapy.utils.defer import deferred_from_coro
from twisted.python.failure import Failure

from tanba.core.blobs import blob_key
from tanba.core.clock import iso
from tanba.core.schemas.common import CaptureRef
from tanba.core.schemas.crawls import FetchFailure
from tanba.core.schemas.media import INLINE_MAX_BYTES
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.failures import count_failure, referrer_of
from tanba.crawlers.headers import first_header, header_text
from tanba.crawlers.items import FetchedMedia, PageItem
from tanba.crawlers.progressive import content_range
from tanba.crawlers.scope import KIND_META, MEDIA
from tanba.crawlers.streams import (
    JOINED_CONTENT_TYPE,
    SampledStream,
    StreamRefused,
    is_manifest,
    prefix_range,
    sample_file,
    sample_stream,
)
from tanba.crawlers.urls import canonicalize

if TYPE_CHECKING:
    from scrapy import Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.defer import Deferred

_SCRAPY_MEDIA_LOGGER = "scrapy.pipelines.media"
# Bodies kept for their items' events (per target crawl): a page's media complete together,
# so a few megabytes cover every page in flight.
INLINE_KEEP_BYTES = 16 << 20


class InlineBodies:
    """The most recent small bodies by SHA-256, at most ``limit`` bytes in all (oldest out first)."""

    def __init__(self, limit: int = INLINE_KEEP_BYTES) -> None:
        self.limit = limit
        self._bodies: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0

    def add(self, sha256: str, body: bytes) -> None:
        if sha256 in self._bodies or len(body) > self.limit:
            return
        self._bodies[sha256] = body
        self._size += len(body)
        while self._size > self.limit:
            _, old = self._bodies.popitem(last=False)
            self._size -= len(old)

    def get(self, sha256: str) -> bytes | None:
        return self._bodies.get(sha256)


class NotPublished(Exception):
    """A media download that gave no file to publish (already counted in the tally)."""


class _CountedFailures(logging.Filter):
    """Drops MediaPipeline's traceback for a failure this pipeline raised (see the module doc)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], NotPublished))


class CanonicalFingerprinter:
    """Request fingerprints by canonical URL (Scrapy's REQUEST_FINGERPRINTER_CLASS)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls()

    def fingerprint(self, request: Request) -> bytes:
        key = f"{request.method} {canonicalize(request.url)}".encode()
        return hashlib.sha1(key, usedforsecurity=False).digest()


class MediaPipeline(ScrapyMediaPipeline):
    """Downloads, stores and captures each media URL once per crawl (see the module doc)."""

    LOG_FAILED_RESULTS = False  # counted here instead (see media_failed)

    def __init__(self, download_func: None = None, *, crawler: Crawler) -> None:
        super().__init__(download_func, crawler=crawler)
        self.inline = InlineBodies()
        media_logger = logging.getLogger(_SCRAPY_MEDIA_LOGGER)
        if not any(isinstance(f, _CountedFailures) for f in media_logger.filters):
            media_logger.addFilter(_CountedFailures())

    def open_spider(self, spider: Spider | None = None) -> None:
        super().open_spider()
        self.target_crawl = TargetCrawl.of(self.crawler)

    def get_media_requests(self, item: Any, info: ScrapyMediaPipeline.SpiderInfo) -> list[Request]:
        page = cast(PageItem, item)
        settings = self.target_crawl.settings
        policy = page.referrer_policy
        requests = []
        for ref in page.media:
            headers = _referer(policy.referrer(page.url, ref.url) if policy else None) or {}
            if ref.kind_hint == "video" and not _is_manifest_url(ref.url):
                # A film may be gigabytes: its first bytes are what the budget allows.
                headers["Range"] = prefix_range(settings)
            requests.append(
                Request(
                    ref.url,
                    headers=headers or None,
                    meta={
                        KIND_META: MEDIA,
                        "download_maxsize": settings.media_max_bytes,
                        "allow_offsite": True,  # in case Scrapy's OffsiteMiddleware is re-enabled
                    },
                )
            )
        return requests

    def media_to_download(
        self, request: Request, info: ScrapyMediaPipeline.SpiderInfo, *, item: Any = None
    ) -> Deferred[FileInfo | None] | None:
        """Download it (None), once the crawl is not paused."""
        if not self.target_crawl.gate.paused:
            return None
        return deferred_from_coro(self._download_once_resumed())

    async def _download_once_resumed(self) -> FileInfo | None:
        await self.target_crawl.gate.opened()
        return None

    async def media_downloaded(
        self,
        response: Response,
        request: Request,
        info: ScrapyMediaPipeline.SpiderInfo,
        *,
        item: Any = None,
    ) -> FetchedMedia:
        status = response.status
        if status == 206:
            found = content_range(first_header(response, b"Content-Range"))
            if found is None or found[0] != 0:
                status = 0  # not the first bytes asked for: not published
            elif found[2] is None or found[1] + 1 < found[2]:
                # The first bytes of a bigger video file (its Range request).
                return await self._stream(response, request, found[2])
        if status not in (200, 206):
            tally = self.target_crawl.tally
            tally.http_errors += 1
            tally.fail(
                FetchFailure(
                    url=request.url,
                    reason="http_status",
                    detail=f"HTTP {response.status}",
                    kind="media",
                    referrer=referrer_of(request),
                    at=iso(self.target_crawl.clock.now()),
                )
            )
            raise NotPublished(f"{request.url}: HTTP status {response.status}")
        if is_manifest(response):
            return await self._stream(response, request)
        blobs, gate = self.target_crawl.blobs, self.target_crawl.gate
        sha256 = (
            # An upload over the network must not stall every other request of the crawl.
            await gate.write_in_thread(lambda: blobs.put(response.body)) if blobs.remote else None
        )
        return await gate.write(lambda: self._store(response, sha256))

    async def _stream(
        self, response: Response, request: Request, total: int | None = -1
    ) -> FetchedMedia:
        """A stream's manifest (``total`` -1), or the first bytes of a video file of
        ``total`` bytes (None: unknown): sampled, joined and stored
        (:mod:`tanba.crawlers.streams`)."""
        target_crawl = self.target_crawl
        fetch = self.crawler.engine.download_async
        try:
            if total == -1:
                sampled = await sample_stream(
                    response, fetch, target_crawl.settings, self._segment_failed
                )
            else:
                sampled = await sample_file(
                    response, total, fetch, target_crawl.settings, self._segment_failed
                )
        except StreamRefused as exc:
            target_crawl.tally.errors += 1
            target_crawl.tally.fail(
                FetchFailure(
                    url=request.url,
                    reason="other",
                    detail=f"stream not sampled: {exc}"[:300],
                    kind="media",
                    referrer=referrer_of(request),
                    at=iso(target_crawl.clock.now()),
                )
            )
            raise NotPublished(f"{request.url}: stream not sampled: {exc}") from None
        blobs, gate = target_crawl.blobs, target_crawl.gate
        sha256 = (
            await gate.write_in_thread(lambda: blobs.put(sampled.data)) if blobs.remote else None
        )
        return await gate.write(lambda: self._store_stream(response, sampled, sha256))

    def _segment_failed(self, request: Request, error: Exception | int) -> None:
        """A playlist or segment of a stream that gave nothing: counted as a failed media fetch."""
        target_crawl = self.target_crawl
        at = iso(target_crawl.clock.now())
        if isinstance(error, int):
            target_crawl.tally.http_errors += 1
            target_crawl.tally.fail(
                FetchFailure(
                    url=request.url,
                    reason="http_status",
                    detail=f"HTTP {error}",
                    kind="media",
                    referrer=referrer_of(request),
                    at=at,
                )
            )
            return
        count_failure(
            target_crawl.tally, Failure(error), self.crawler.stats, request, kind="media", at=at
        )

    def _store_stream(
        self, manifest: Response, sampled: SampledStream, sha256: str | None = None
    ) -> FetchedMedia:
        """Capture every exchange of a stream (one span, manifest first) and store its file
        (``sha256``: already stored under it, by a remote store in a thread)."""
        warc = self.target_crawl.warc()
        refs = [warc.write(r) for r in sampled.responses]
        first, last = refs[0], refs[-1]
        span = CaptureRef(
            warc=first.warc, offset=first.offset, length=last.offset + last.length - first.offset
        )
        stored = self._stored(manifest, sampled.data, JOINED_CONTENT_TYPE, span, sha256, sampled)
        self.target_crawl.tally.streams += 1  # once stored: a full disk's retry counts once
        return stored

    def _store(self, response: Response, sha256: str | None = None) -> FetchedMedia:
        """Capture and store one media response; both writes come before anything is counted.

        ``sha256``: the body is already stored under it (by a remote store, in a thread).
        """
        capture = self.target_crawl.warc().write(response)
        content_type = first_header(response, b"Content-Type")
        return self._stored(response, response.body, content_type, capture, sha256)

    def _stored(
        self,
        response: Response,
        data: bytes,
        content_type: str,
        capture: CaptureRef,
        sha256: str | None,
        sampled: SampledStream | None = None,
    ) -> FetchedMedia:
        """``data`` stored (unless already under ``sha256``) and counted: what Scrapy's
        pipeline records for the media ``response`` (a stream's: its manifest's)."""
        target_crawl = self.target_crawl
        if sha256 is None:
            sha256 = target_crawl.blobs.put(data)
        if target_crawl.blobs.remote and len(data) <= INLINE_MAX_BYTES:
            self.inline.add(sha256, data)
        target_crawl.tally.media_downloaded += 1
        return FetchedMedia(
            url=response.url,
            path=self._blob_path(sha256),
            checksum=sha256,
            status="downloaded",
            size=len(data),
            content_type=content_type,
            http_status=response.status,
            headers={header_text(k): header_text(v[0]) for k, v in response.headers.items() if v},
            server_ip=str(response.ip_address) if response.ip_address is not None else "",
            fetched_at=iso(target_crawl.clock.now()),
            capture=capture,
            stream=None if sampled is None else sampled.sample,
        )

    def media_failed(
        self, failure: Failure, request: Request, info: ScrapyMediaPipeline.SpiderInfo
    ) -> NoReturn:
        if failure.check(NotPublished):  # from media_downloaded: counted there
            failure.raiseException()
        count_failure(
            self.target_crawl.tally,
            failure,
            self.crawler.stats,
            request,
            kind="media",
            at=iso(self.target_crawl.clock.now()),
        )
        raise NotPublished(f"{request.url}: {failure.getErrorMessage()}") from failure.value

    def item_completed(
        self, results: list[FileInfoOrError], item: Any, info: ScrapyMediaPipeline.SpiderInfo
    ) -> PageItem:
        page = cast(PageItem, item)
        for ref, (ok, result) in zip(page.media, results, strict=True):
            if ok:
                fetched = cast(FetchedMedia, result)
                page.fetched.append((ref, fetched))
                body = self.inline.get(fetched["checksum"] or "")
                if body is not None:
                    page.inline[fetched["checksum"] or ""] = body
        return page

    def file_path(
        self,
        request: Request,
        response: Response | None = None,
        info: ScrapyMediaPipeline.SpiderInfo | None = None,
        *,
        item: Any = None,
    ) -> str:
        """The blob's path under the blob store: named by its content, so only with a response."""
        if response is None:
            raise ValueError(f"{request.url}: a blob is named by its content; pass the response")
        return self._blob_path(hashlib.sha256(response.body).hexdigest())

    def _blob_path(self, sha256: str) -> str:
        return blob_key(sha256)


def _is_manifest_url(url: str) -> bool:
    return url.split("?", 1)[0].lower().endswith((".m3u8", ".mpd"))


def _referer(value: str | None) -> dict[str, str] | None:
    return {"Referer": value} if value else None
