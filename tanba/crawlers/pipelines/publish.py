"""The publish pipeline: one ``MediaDiscovered`` per (page, media URL) pair, through the sink.

Contract: for each ``(MediaRef, FetchedMedia)`` pair the media pipeline left on
a page's item, :meth:`PublishPipeline.process_item` counts ``media_published``
and hands one :class:`~tanba.core.schemas.media.MediaDiscovered` to the target's
sink (a :class:`~tanba.crawlers.publish.BatchPublisher`), keyed by the page's host.
The same media on two pages is two events with one blob and one capture. Media
found in a player the page embeds are published as found on the page, with the
player's URL, host and capture beside it; a stream carries what was sampled of it; a
small file crawled into a remote blob store carries its bytes (``item.inline``). A bus
that cannot take the events pauses the crawl: the sink keeps them, and the
pipeline flushes it again with backoff until it can (:mod:`tanba.crawlers.gate`).
:meth:`PublishPipeline.close_spider` flushes what waits; if the bus still
refuses it, it says so and the runner's last flush keeps trying.

Why the last pipeline: an event points at the page capture, the media capture
and the blob, and the pipelines before this one have made all three durable.
"""

from __future__ import annotations

import logging
from functools import partial

from tanba.core.bus import Record
from tanba.core.exceptions import TransientError
from tanba.core.schemas.base import encode
from tanba.core.schemas.common import MediaOccurrence
from tanba.core.schemas.media import MediaDiscovered
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.extract import MediaRef
from tanba.crawlers.items import FetchedMedia, PageItem
from tanba.crawlers.pipelines.base import TargetPipeline
from tanba.crawlers.urls import host_of

log = logging.getLogger(__name__)


class PublishPipeline(TargetPipeline):
    """Publishes one event per (page, media URL) pair (see the module doc)."""

    async def process_item(self, item: PageItem) -> PageItem:
        target_crawl = self.target_crawl
        sink = target_crawl.sink
        for ref, media in item.fetched:
            record = Record(key=item.site, value=encode(discovered(target_crawl, item, ref, media)))
            target_crawl.tally.media_published += 1
            # A sink that raises has kept the record: what to retry is the flush, not the add.
            await target_crawl.gate.write(partial(sink.add, record), retry=sink.flush)
        return item

    def close_spider(self) -> None:
        target_crawl = self.target_crawl
        try:
            target_crawl.sink.flush()
        except TransientError as exc:  # the runner's last flush keeps retrying
            log.warning("%s: events not published yet: %s", target_crawl.target.name, exc)


def discovered(
    target_crawl: TargetCrawl, page: PageItem, ref: MediaRef, media: FetchedMedia
) -> MediaDiscovered:
    """The event for media ``ref`` (stored as ``media``) found on ``page`` (or a player of it)."""
    player = page.player(ref.player_url) if ref.player_url else None
    occurrence = MediaOccurrence(
        target=target_crawl.target.key,
        site=page.site,
        page_url=page.url,
        media_url=ref.url,
        page_title=page.title,
        page_lang=page.lang,
        sha256=media["checksum"] or "",
        size=media["size"],
        content_type=media["content_type"],
        http_status=media["http_status"],
        headers=media["headers"],
        server_ip=media["server_ip"],
        fetched_at=media["fetched_at"],
        jurisdiction_override=target_crawl.target.jurisdiction,
        crawl_id=target_crawl.crawl_id,
        page_capture=page.capture,
        media_capture=media["capture"],
        player_url=ref.player_url,
        player_site=host_of(ref.player_url) if ref.player_url else "",
        player_capture=player.capture if player is not None else None,
        stream=media["stream"],
    )
    # Small files travel inline when the blobs are remote (see tanba.core.schemas.media).
    body = page.inline.get(occurrence.sha256)
    return MediaDiscovered(occurrence=occurrence, kind_hint=ref.kind_hint, body=body)
