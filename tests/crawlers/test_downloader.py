"""The downloader counts a request against its slot as soon as the slot's queue hands it out."""

from __future__ import annotations

from scrapy import Request
from scrapy.core.downloader import Slot

from tanba.crawlers.downloader import ClaimingQueue
from tanba.crawlers.settings import scrapy_settings


def test_a_request_taken_off_the_queue_takes_a_place_at_once() -> None:
    slot = Slot(concurrency=2, delay=0.0, jitter=0.0)
    queue = ClaimingQueue(slot)
    first, second, third = (Request(f"http://a.kz/{i}") for i in range(3))
    for request in (first, second, third):
        queue.append((request, None))
    queue.popleft()
    queue.popleft()
    # Before either download task runs, the slot is already full: a third pass over the
    # queue (Scrapy's while free_transfer_slots() > 0) takes nothing more.
    assert slot.free_transfer_slots() == 0
    slot.transferring.add(first)  # the task's own add: nothing changes
    slot.transferring.remove(first)  # the download ended: one place again
    assert slot.free_transfer_slots() == 1
    assert [r for r, _ in queue] == [third]


def test_every_crawl_uses_it() -> None:
    from tanba.core.settings import Settings
    from tanba.core.targets import Target

    settings = scrapy_settings(Settings(), Target(name="a", seeds=("http://a.kz/",)))
    assert settings["DOWNLOADER"] == "tanba.crawlers.downloader.Downloader"
