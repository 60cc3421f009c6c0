"""The capture pipeline: each page's WARC record, on disk before anything refers to it.

Contract: :meth:`CapturePipeline.process_item` appends the page's request and
response records to the target's WARC file (fsync'd), sets the item's
``capture`` to where the response record is (and each new player page's
``capture`` to its own), and lets go of the response
(an item may wait a while for its media; the page's bytes need not wait with
it). A full disk pauses the crawl until the record is written (see
:mod:`tanba.crawlers.gate`). :meth:`CapturePipeline.close_spider` closes the WARC
file once every item is through and hands it to the captures store (an upload to
object storage, in a thread).

Why first: every event names the capture of its page, so the capture must be
durable before the media pipeline and the publish pipeline run.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from tanba.core.schemas.common import CaptureRef
from tanba.crawlers.context import TargetCrawl
from tanba.crawlers.items import PageItem
from tanba.crawlers.pipelines.base import TargetPipeline

if TYPE_CHECKING:
    from scrapy.http import Response


class CapturePipeline(TargetPipeline):
    """Writes each page's WARC record (see the module doc)."""

    async def process_item(self, item: PageItem) -> PageItem:
        target_crawl = self.target_crawl
        response = item.response
        if response is not None:
            item.capture = await target_crawl.gate.write(
                lambda: target_crawl.warc().write(response)
            )
            item.response = None
        for player in item.players:
            if player.response is not None:
                player.capture = await target_crawl.gate.write(
                    partial(_capture, target_crawl, player.response)
                )
                player.response = None
        return item

    async def close_spider(self) -> None:
        """Close the WARC file, then store it (in a thread: an upload must not stall the crawl)."""
        self.target_crawl.close()
        await maybe_deferred_to_future(deferToThread(self.target_crawl.publish))


def _capture(target_crawl: TargetCrawl, response: Response) -> CaptureRef:
    return target_crawl.warc().write(response)
