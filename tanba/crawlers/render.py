"""Rendering in headless Chromium, for targets whose players are built by scripts.

Contract: :class:`RenderMiddleware` (a Scrapy downloader middleware, installed
only for targets with ``render: true``) takes each HTML page and player that
Scrapy fetched with status 200 and renders it in Debian's Chromium through
Playwright (:mod:`tanba.core.browser`): the browser is handed the very bytes
Scrapy fetched for the document (so the WARC keeps what the server sent, and
the page is not fetched twice), loads what the page asks for, runs its scripts
until the network is idle (at most ``TANBA_FETCH_TIMEOUT_S``), and the response
gets a :class:`Rendered` in ``response.meta[RENDERED]``:

- ``media``: the media the browser asked for, from its network log: requests
  of the ``media`` type (a ``<video>`` or ``<audio>`` loading), URLs with a media
  or manifest extension (a player fetching an HLS playlist by XHR), and answers
  whose Content-Type is a video, audio or manifest type. Media requests are
  aborted once noted (the crawler fetches them itself, through its own guard and
  budget: a player's segments are never downloaded twice);
- ``dom``: the document as the scripts left it, which the spider and the
  player pipeline read for links, frames and media as they read the HTML
  (:func:`merge`).

Every request of the browser goes through the same policy as the crawler's:
http(s), data and blob only, and a host whose addresses are public, or in the
target's ``allowed_networks`` (any address when ``allow_private_addresses``),
the ``--resolve`` map honoured (:func:`tanba.crawlers.netguard.address_allowed`);
anything else is aborted. robots.txt is not asked for the scripts and styles a
page loads (a browser does not), only for the pages and media the crawler
fetches. The browser announces the crawler's ``TANBA_USER_AGENT``. One browser per target's crawl, started at the first page and closed
when the spider closes; each page gets a fresh context (no cookies carried).

Why our own middleware and not ``scrapy-playwright``: scrapy-playwright
replaces the download handler, so the browser would fetch the document: the
WARC would hold the rendered DOM instead of the server's bytes, the address
guard's check of the answering address and robots.txt would not see that fetch,
and its requests leave no hook for the target's network policy per request.
Here Scrapy fetches and captures as for any page, and the browser only adds
what scripts build. ``scrapy-playwright`` would also add a dependency for the
forty lines this module spends on the browser.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.http import HtmlResponse

from tanba.core.browser import CHROMIUM, CHROMIUM_ARGS, resolver_rules
from tanba.crawlers.component import CrawlerComponent
from tanba.crawlers.extract import (
    Extracted,
    KindHint,
    MediaRef,
    extract,
    media_kind_of,
)
from tanba.crawlers.netguard import address_allowed
from tanba.crawlers.resolve import RESOLVE_SETTING, never_resolves
from tanba.crawlers.scope import KIND_META, PAGE, PLAYER

if TYPE_CHECKING:
    from playwright.async_api import Browser, Playwright, Route
    from playwright.async_api import Response as BrowserResponse
    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.http import Response

RENDERED = "tanba_rendered"
# Chromium refuses a public page's requests to private and loopback addresses (Private
# Network Access), and a document handed over by the route counts as public. For a target
# allowed such addresses (an intranet site, the tests' loopback) the browser is told not to:
# the route's policy below is the one that holds, as for the crawler's own requests.
PRIVATE_NETWORK_FLAG = (
    "--disable-features=BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights,"
    "PrivateNetworkAccessRespectPreflightResults,LocalNetworkAccessChecks"
)
NETWORK_SOURCE = "browser.network"
_MANIFEST_TYPES = ("application/vnd.apple.mpegurl", "application/x-mpegurl", "application/dash+xml")

log = logging.getLogger(__name__)


@dataclass
class Rendered:
    """What the browser saw of one page: the media it asked for, and the DOM scripts built."""

    media: list[MediaRef] = field(default_factory=list)
    dom: str = ""
    blocked: list[str] = field(default_factory=list)  # requests refused by the network policy


def merge(found: Extracted, response: Response) -> Extracted:
    """``found`` (the HTML's links, frames and media) with what rendering added, in order."""
    rendered = response.meta.get(RENDERED)
    if not isinstance(rendered, Rendered):
        return found
    dom = extract(rendered.dom, response.url) if rendered.dom else Extracted()
    media = list(found.media)
    seen = {m.url for m in media}
    for ref in [*dom.media, *rendered.media]:
        if ref.url not in seen:
            seen.add(ref.url)
            media.append(ref if ref.source == NETWORK_SOURCE else _from_dom(ref))
    return Extracted(
        links=list(dict.fromkeys([*found.links, *dom.links])),
        media=media,
        frames=list(dict.fromkeys([*found.frames, *dom.frames])),
        title=found.title or dom.title,
        lang=found.lang or dom.lang,
    )


def _from_dom(ref: MediaRef) -> MediaRef:
    return MediaRef(ref.url, ref.kind_hint, f"dom.{ref.source}", ref.player_url)


class RenderMiddleware(CrawlerComponent):
    """Downloader middleware: render pages and players in Chromium (see the module doc)."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.resolve_map: dict[str, str] = dict(crawler.settings.getdict(RESOLVE_SETTING))
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._starting = asyncio.Lock()
        crawler.signals.connect(self._close, signal=signals.spider_closed)

    async def process_response(self, request: Request, response: Response) -> Response:
        if (
            request.meta.get(KIND_META) not in (PAGE, PLAYER)
            or response.status != 200
            or not isinstance(response, HtmlResponse)
        ):
            return response
        settings = self.crawler.spider.target_crawl.settings  # type: ignore[union-attr]
        try:
            rendered = await self.render(
                response, timeout_s=settings.fetch_timeout_s, user_agent=settings.user_agent
            )
        except Exception as exc:
            log.warning("%s: not rendered: %s", response.url, exc)
            return response
        request.meta[RENDERED] = rendered
        return response

    async def render(
        self, response: HtmlResponse, timeout_s: float, user_agent: str | None = None
    ) -> Rendered:
        """Render ``response`` (its own bytes for the document) and note what it asks for."""
        browser = await self._started()
        rendered = Rendered()
        noted: set[str] = set()

        def note(url: str, kind: KindHint) -> None:
            if url not in noted and urlsplit(url).scheme in ("http", "https"):
                noted.add(url)
                rendered.media.append(MediaRef(url, kind, NETWORK_SOURCE))

        async def route(route: Route) -> None:
            req = route.request
            url = req.url
            if url == response.url and req.is_navigation_request() and not noted_document:
                noted_document.append(url)
                await route.fulfill(
                    status=200,
                    headers={"Content-Type": "text/html; charset=" + response.encoding},
                    body=response.body,
                )
                return
            if req.is_navigation_request() and req.frame.parent_frame is not None:
                # A frame's document: the player pipeline fetches and renders players itself
                # (tanba.crawlers.pipelines.players), so their media are kept with the player.
                await route.abort("aborted")
                return
            why = await self._refusal(url)
            if why:
                rendered.blocked.append(url)
                await route.abort("addressunreachable")
                return
            kind = media_kind_of(url)
            if req.resource_type == "media" or (kind is not None and kind != "image"):
                note(url, kind or "video")
                await route.abort("aborted")
                return
            await route.continue_()

        def answered(answer: BrowserResponse) -> None:
            content_type = (answer.headers.get("content-type") or "").split(";")[0].lower()
            if content_type in _MANIFEST_TYPES or content_type.startswith("video/"):
                note(answer.url, "video")
            elif content_type.startswith("audio/"):
                note(answer.url, "audio")

        noted_document: list[str] = []
        context = await browser.new_context(
            ignore_https_errors=True, service_workers="block", user_agent=user_agent
        )
        try:
            page = await context.new_page()
            await page.route("**/*", route)
            page.on("response", answered)
            await page.goto(response.url, wait_until="load", timeout=timeout_s * 1000)
            try:
                await page.wait_for_load_state("networkidle", timeout=timeout_s * 1000)
            except Exception as exc:
                log.info("%s: network not idle after %.0f s: %s", response.url, timeout_s, exc)
            rendered.dom = await page.content()
        finally:
            await context.close()
        return rendered

    async def _started(self) -> Browser:
        async with self._starting:
            if self._browser is None:
                from playwright.async_api import async_playwright

                if not CHROMIUM.exists():
                    raise RuntimeError(
                        f"Chromium is not installed at {CHROMIUM} (apt-get install chromium); "
                        "targets with render: true need it"
                    )
                args = [*CHROMIUM_ARGS, *resolver_rules(self.resolve_map)]
                target = getattr(self.crawler.spider, "target", None)
                if getattr(target, "allow_private_addresses", False) or getattr(
                    target, "allowed_networks", ()
                ):
                    args.append(PRIVATE_NETWORK_FLAG)
                self._playwright = await async_playwright().start()
                self._browser = await self._playwright.chromium.launch(
                    executable_path=str(CHROMIUM), args=args
                )
            return self._browser

    async def _refusal(self, url: str) -> str:
        """Why the browser may not fetch ``url`` ("" when it may), by the target's policy."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "" if parts.scheme in ("data", "blob") else f"scheme {parts.scheme!r}"
        target = getattr(self.crawler.spider, "target", None)
        if getattr(target, "allow_private_addresses", False):
            return ""
        host = (parts.hostname or "").rstrip(".").lower()
        networks = getattr(target, "allowed_networks", ()) or ()
        addresses = await _addresses(host, parts.port, self.resolve_map)
        if not addresses:
            return f"{host} does not resolve"
        bad = [a for a in addresses if not address_allowed(a, networks)]
        return f"{host} resolves to non-public address {bad[0]}" if bad else ""

    async def _close(self, spider: Any = None) -> None:
        if self._browser is not None:
            await self._browser.close()
            self._browser = None
        if self._playwright is not None:
            await self._playwright.stop()
            self._playwright = None


async def _addresses(host: str, port: int | None, resolve: Mapping[str, str]) -> list[str]:
    mapped = resolve.get(host)
    if mapped:
        return [mapped]
    if never_resolves(host):
        return []
    try:
        infos = await asyncio.to_thread(
            socket.getaddrinfo, host, port or 443, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return []
    return list(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))
