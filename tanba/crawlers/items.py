"""What the spider hands to the item pipelines: one item per HTML page.

Contract: :class:`PageItem` carries a parsed page (URL, site, title,
language), the media it references in document order, and its response until
the capture pipeline has written the page's WARC record (then ``response`` is
None and ``capture`` says where the record is), and the referrer policy its
media requests follow (so they send the ``Referer`` a browser would, as
requests the spider yields get from Scrapy's RefererMiddleware). The media pipeline appends one
``(MediaRef, FetchedMedia)`` pair to ``fetched`` per media reference whose
download gave a status-200 file, in the order of ``media`` (and, into a remote
blob store, the bytes of the small ones in ``inline``); the publish pipeline turns
each pair into one event.

:class:`FetchedMedia` is the media pipeline's result for one media URL, shared
by every page that references it. It extends Scrapy's ``FileInfo``: ``url`` is
the URL the file came from (after redirects), ``path`` the blob's path under the blob store, ``checksum``
the SHA-256 of the body (which names the blob; Scrapy's FilesPipeline puts an
MD5 there), ``status`` is ``"downloaded"``. For a stream's manifest, the blob is
the file joined from the sampled segments, ``capture`` spans every exchange of
the stream, and ``stream`` says what was sampled (:mod:`tanba.crawlers.streams`).

A page that embeds players (``<iframe>``) lists their URLs in ``frames``; the
player pipeline (:mod:`tanba.crawlers.pipelines.players`) fetches them and
adds one :class:`PlayerPage` each to ``players``, and their media to ``media``
with ``player_url`` set, so the media of a player are published as found on
the page that embeds it, with the player named beside it.

Why a dataclass: Scrapy's item adapters take dataclasses, and the pipelines
read typed fields instead of dictionary keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scrapy.http import Response
from scrapy.pipelines.media import FileInfo
from scrapy.spidermiddlewares.referer import ReferrerPolicy

from tanba.core.schemas.common import CaptureRef
from tanba.core.schemas.stream import StreamSample
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
    stream: StreamSample | None  # a stream's sampling (the file is joined from segments)


@dataclass
class PlayerPage:
    """A player page embedded in the item's page (an iframe's document, maybe on another host)."""

    url: str  # after redirects
    site: str
    embedded_in: str  # the URL of the page (or player) whose frame it is
    response: Response | None = field(default=None, repr=False)
    capture: CaptureRef | None = None


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
    # The bytes of small fetched files by SHA-256, to travel inline in their events (remote
    # blob stores only: see tanba.core.schemas.media); a file missing here is read from the store.
    inline: dict[str, bytes] = field(default_factory=dict, repr=False)
    frames: tuple[str, ...] = ()  # iframe/frame URLs of the page, for the player pipeline
    players: list[PlayerPage] = field(default_factory=list)

    def player(self, url: str) -> PlayerPage | None:
        """The player page whose URL (after redirects) is ``url``, or None."""
        return next((p for p in self.players if p.url == url), None)
