"""The crawler's item pipelines, in the order each page's item goes through them.

1. :class:`~tanba.crawlers.pipelines.players.PlayerPipeline` fetches the players
   (iframes) the page embeds and adds their media to the page's;
2. :class:`~tanba.crawlers.pipelines.capture.CapturePipeline` writes the page's
   WARC record and its players';
3. :class:`~tanba.crawlers.pipelines.media.MediaPipeline` (Scrapy's MediaPipeline)
   downloads each media URL the page references, once per crawl, and stores
   and captures it (a stream's manifest: sampled segments joined into one file,
   :mod:`tanba.crawlers.streams`);
4. :class:`~tanba.crawlers.pipelines.publish.PublishPipeline` publishes one
   ``MediaDiscovered`` per (page, media URL) pair.

The order is the durability contract: an event is published only once the
page capture, the media capture and the blob it points to are on disk.
:data:`ITEM_PIPELINES` is the Scrapy setting that wires them up.
"""

from __future__ import annotations

PLAYER_PIPELINE = "tanba.crawlers.pipelines.players.PlayerPipeline"
CAPTURE_PIPELINE = "tanba.crawlers.pipelines.capture.CapturePipeline"
MEDIA_PIPELINE = "tanba.crawlers.pipelines.media.MediaPipeline"
PUBLISH_PIPELINE = "tanba.crawlers.pipelines.publish.PublishPipeline"
ITEM_PIPELINES = {
    PLAYER_PIPELINE: 50,
    CAPTURE_PIPELINE: 100,
    MEDIA_PIPELINE: 200,
    PUBLISH_PIPELINE: 300,
}
# Media requests are de-duplicated by canonical URL (tanba.crawlers.urls.canonicalize).
FINGERPRINTER = "tanba.crawlers.pipelines.media.CanonicalFingerprinter"
