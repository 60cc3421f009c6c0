"""What the spider hands to the item pipelines: one item per HTML page.

Contract: :class:`PageItem` carries a parsed page (URL, site, title,
language), the media it references in document order, and its response until
the capture pipeline has written the page's WARC record (then ``response`` is
None and ``capture`` says where the record is), and the referrer policy its
media requests follow (so they send the ``Referer`` a browser would, as
requests the spider yields get from Scrapy's RefererMiddleware). The media pipeline appends one
``(MediaRef, FetchedMedia)`` pair to ``fetched`` per media reference whose
download gave a status-200 file, in the order of ``media``; the publish
pipeline turns each pair into one event.

:class:`FetchedMedia` is the media pipeline's result for one media URL, shared
by every page that references it. It extends Scrapy's ``FileInfo``: ``url`` is
the URL the file came from (after redirects), ``path`` the blob's path under the blob store, ``checksum``
the SHA-256 of the body (which names the blob; Scrapy's FilesPipeline puts an
MD5 there), ``status`` is ``"downloaded"``.

Why a dataclass: Scrapy's item adapters take dataclasses, and the pipelines
read typed fields instead of dictionary keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response
from scrapy.pipelines.media import FileInfo
from scrapy.spidermiddlewares.referer import ReferrerPolicy

from tanba.core.schemas.common import CaptureRef
from tanba.crawlers.extract import MediaRef


class FetchedMedia(FileInfo):
    """One media URL downloaded with status 200, stored and captured (see the module doc)."""

    size: int
    content_type: str
    http_status: int
    headers: dict[str, str]
    server_ip: str
    fetched_at: str
    capture: CaptureRef


@dataclass
class PageItem:
    """One HTML page on its way through the pipelines (see the module doc)."""

    url: str
    site: str
    title: str
    lang: str
    media: tuple[MediaRef, ...]
    response: Response | None = field(default=None, repr=False)
    # The page's referrer policy (Scrapy's RefererMiddleware's choice), for its media requests.
    referrer_policy: ReferrerPolicy | None = field(default=None, repr=False)
    capture: CaptureRef | None = None
    fetched: list[tuple[MediaRef, FetchedMedia]] = field(default_factory=list)
