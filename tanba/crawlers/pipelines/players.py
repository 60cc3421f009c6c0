"""The player pipeline: the players a page embeds (``<iframe>``), fetched as part of the page.

Contract: :meth:`PlayerPipeline.process_item` fetches each URL of the item's
``frames`` (:func:`tanba.crawlers.extract.extract` lists ``iframe``/``frame``
``src``) and, for each HTML answer, adds a
:class:`~tanba.crawlers.items.PlayerPage` to ``players`` and the player's media
to the item's ``media`` with ``player_url`` set. The media of a player are
then downloaded, captured and published like the page's own, as found on the
page that embeds the player (``page_url``), with the player beside it
(``player_url``, ``player_site``, ``player_capture`` on the event).

The allowed-hosts policy for players (``TANBA_CRAWL_FRAME_HOPS``, default 2):

- a frame is followed on any host, also off the target's ``allowed_domains``
  (pirate sites embed players from "balancer" and CDN hosts), but only for the
  player page and its media: a player's links are never followed, and a frame
  inside a player is followed only while fewer than ``frame_hops`` frames lead
  to it from the page (0 turns players off);
- each player page counts as a page against ``max_pages`` (a page whose budget
  is spent embeds no more players), and each player URL is fetched once per
  crawl (a second page embedding it gets its media again, without a fetch);
- the network guard and robots.txt apply to the player's host as to any
  request (the fetch goes through the downloader middlewares); a player that
  fails is a failed fetch of kind ``page``, listed with the page as referrer.

Why a pipeline and not spider requests: the media of a player must be
published with the page that embeds it and its capture. Fetched inside the
page's item, before the capture pipeline, the player's record and the page's
are written together and nothing waits on another item.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from scrapy import Request
from scrapy.http import HtmlResponse
from twisted.python.failure import Failure

from tanba.core.clock import iso
from tanba.core.schemas.crawls import FetchFailure
from tanba.crawlers.extract import MediaRef, extract
from tanba.crawlers.failures import count_failure
from tanba.crawlers.items import PageItem, PlayerPage
from tanba.crawlers.pipelines.base import TargetPipeline
from tanba.crawlers.render import merge
from tanba.crawlers.scope import KIND_META, PLAYER
from tanba.crawlers.urls import canonicalize, host_of

if TYPE_CHECKING:
    from scrapy.http import Response


# A player page, its media and the frames it embeds.
_Found = tuple[PlayerPage, tuple[MediaRef, ...], tuple[str, ...]]


class PlayerPipeline(TargetPipeline):
    """Fetches the players each page embeds (see the module doc)."""

    def open_spider(self) -> None:
        # Player pages fetched in this crawl, by canonical URL: their page and media.
        # The fetch of each player, shared: a page embedding a player that another page's
        # item is still fetching waits for that fetch instead of getting nothing.
        self._seen: dict[str, asyncio.Future[_Found | None]] = {}

    async def process_item(self, item: PageItem) -> PageItem:
        hops = self.target_crawl.settings.crawl_frame_hops
        if hops <= 0 or not item.frames:
            return item
        known = {ref.url for ref in item.media}
        media = list(item.media)
        frames = [(url, item.url, 1) for url in item.frames]
        while frames:
            url, parent, hop = frames.pop(0)
            found = await self._player(url, parent)
            if found is None:
                continue
            player, refs, nested = found
            if any(p.url == player.url for p in item.players):
                continue
            item.players.append(player)
            for ref in refs:
                if ref.url not in known:
                    known.add(ref.url)
                    media.append(ref)
            if hop < hops:
                frames.extend((nested_url, player.url, hop + 1) for nested_url in nested)
        item.media = tuple(media)
        return item

    async def _player(self, url: str, parent: str) -> _Found | None:
        """The player page at ``url``, its media and its frames (None when it gives none).

        Fetched once per crawl; another page embedding it gets the same player object
        (its record written once: the capture pipeline lets go of its response).
        """
        key = canonicalize(url)
        if key in self._seen:
            return await asyncio.shield(self._seen[key])
        done: asyncio.Future[_Found | None] = asyncio.get_running_loop().create_future()
        self._seen[key] = done
        try:
            found = await self._fetch(url, parent)
        except BaseException:
            done.set_result(None)
            raise
        done.set_result(found)
        return found

    async def _fetch(self, url: str, parent: str) -> _Found | None:
        target_crawl = self.target_crawl
        tally = target_crawl.tally
        if tally.pages >= target_crawl.target.max_pages:
            return None
        request = Request(
            url,
            headers={"Referer": parent},
            meta={KIND_META: PLAYER, "download_maxsize": target_crawl.settings.page_max_bytes},
        )
        try:
            response: Response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            count_failure(
                tally,
                Failure(exc),
                self.crawler.stats,
                request,
                kind="page",
                at=iso(target_crawl.clock.now()),
            )
            return None
        if response.status != 200:
            tally.http_errors += 1
            tally.fail(
                FetchFailure(
                    url=url,
                    reason="http_status",
                    detail=f"HTTP {response.status}",
                    kind="page",
                    referrer=parent,
                    at=iso(target_crawl.clock.now()),
                )
            )
            return None
        if not isinstance(response, HtmlResponse):
            return None
        tally.pages += 1
        tally.players += 1
        found = merge(extract(response.body, response.url), response)
        tally.media_found += len(found.media)
        player = PlayerPage(response.url, host_of(response.url), parent, response)
        refs = tuple(
            MediaRef(ref.url, ref.kind_hint, f"iframe.{ref.source}", player_url=response.url)
            for ref in found.media
        )
        return player, refs, tuple(found.frames)
