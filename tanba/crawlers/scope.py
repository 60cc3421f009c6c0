"""Crawl scope: pages are fetched only from the target's allowed domains; media from anywhere.

Contract: :class:`ScopeMiddleware` (a Scrapy downloader middleware) raises
:class:`OutOfScope` (an ``IgnoreRequest``) for a page request whose host is
not one of the spider's ``allowed_domains`` or a subdomain of one. Requests
the spider marks as media (``meta["tanba_kind"] == "media"``) pass, since
sites serve images and audio from CDNs on other hosts; so do a page's
players (``"player"``, its iframes, see :mod:`tanba.crawlers.pipelines.players`)
and Scrapy's own robots.txt requests. Redirected requests carry the original's meta, so a page
that redirects off the site is stopped here too.

Why not Scrapy's OffsiteMiddleware (with the ``allow_offsite`` meta for
media): in Scrapy 2.19 it also filters when a request is scheduled, and a
request filtered there reaches neither its callback nor its errback. The
spider counts the pages it has in flight against ``max_pages``, so every
request it makes must come back to it one way or the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import IgnoreRequest

from tanba.crawlers.component import CrawlerComponent
from tanba.crawlers.urls import host_of, in_domains

if TYPE_CHECKING:
    from scrapy.http import Request

KIND_META = "tanba_kind"
PAGE = "page"
MEDIA = "media"
PLAYER = "player"  # a page's iframe: fetched on any host (tanba.crawlers.pipelines.players)


class OutOfScope(IgnoreRequest):
    """A page request left the target's allowed domains (usually through a redirect)."""


class ScopeMiddleware(CrawlerComponent):
    """Downloader middleware: keep page requests within ``spider.allowed_domains``."""

    def process_request(self, request: Request) -> None:
        if request.meta.get(KIND_META) != PAGE:
            return
        domains = tuple(getattr(self.crawler.spider, "allowed_domains", None) or ())
        host = host_of(request.url)
        if domains and not in_domains(host, domains):
            raise OutOfScope(f"{request.url}: {host!r} is not in allowed_domains {list(domains)}")
