"""Scrapy's downloader, with each slot's concurrency counted when a request is taken off its queue.

Contract: :class:`Downloader` is Scrapy's (setting ``DOWNLOADER``), except that a request
counts against its slot's ``CONCURRENT_REQUESTS_PER_DOMAIN`` from the moment the slot's
queue hands it out, not from when its download task first runs.

Why: with the asyncio reactor, Scrapy 2.19 starts each download as a task
(``loop.create_task``) and only that task adds the request to ``slot.transferring``; a
second pass over the slot's queue before the task has run (the slot's delay elapsed
while the process was descheduled, or another request finished meanwhile) sees a free
place that is already taken and starts one request too many. Two crawler processes on
200 loopback sites saw 3 requests in flight to a site limited to 2 (1 to 3 sites of 200
in about one run of two, on two busy cores). Claiming the place at ``popleft`` closes
that window; the task's own ``add`` is then a no-op and its ``remove`` frees the place as
before.
"""

from __future__ import annotations

from collections import deque
from typing import Any

from scrapy.core.downloader import Downloader as ScrapyDownloader
from scrapy.core.downloader import Slot


class ClaimingQueue(deque[Any]):
    """A slot's queue of ``(request, deferred)`` that marks a request transferring when taken."""

    def __init__(self, slot: Slot) -> None:
        super().__init__()
        self._slot = slot

    def popleft(self) -> Any:
        item = super().popleft()
        self._slot.transferring.add(item[0])
        return item


class Downloader(ScrapyDownloader):
    """Scrapy's downloader whose slots use :class:`ClaimingQueue` (see the module doc)."""

    def _get_slot(self, request: Any, spider: Any = None) -> tuple[str, Slot]:
        key, slot = super()._get_slot(request)  # spider: deprecated by Scrapy, never passed on
        if not isinstance(slot.queue, ClaimingQueue):
            waiting = list(slot.queue)
            slot.queue = ClaimingQueue(slot)
            slot.queue.extend(waiting)
        return key, slot
