"""tanba.crawlers.settings and tanba.crawlers.runner helpers: Tanba settings mapped to Scrapy's."""

from __future__ import annotations

from pathlib import Path

from tanba.core.blobs import FileBlobStore
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.clock import FixedClock
from tanba.core.schemas.crawls import (
    MAX_FAILURES_LISTED,
    MAX_FAILURES_PER_REPORT,
    MIN_FAILURES_LISTED,
    FetchFailure,
)
from tanba.core.settings import Settings
from tanba.core.targets import Target
from tanba.crawlers.runner import CrawlStats, TargetStats, crawl, new_crawl_id
from tanba.crawlers.settings import process_settings, scrapy_settings

TARGET = Target(name="kino", seeds=("http://kino.example.kz/",))


def test_target_settings_follow_tanba_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        crawl_delay_s=0.75,
        crawl_concurrency_per_domain=2,
        fetch_timeout_s=12.0,
        page_max_bytes=1000,
        media_max_bytes=9000,
        user_agent="TestBot/1",
    )
    s = scrapy_settings(settings, TARGET)
    assert s["DOWNLOAD_DELAY"] == 0.75
    assert s["DOWNLOAD_DELAY_JITTER"] > 0  # randomized politeness
    assert s["CONCURRENT_REQUESTS_PER_DOMAIN"] == 2
    assert s["DOWNLOAD_TIMEOUT"] == 12.0
    assert s["DOWNLOAD_MAXSIZE"] == 9000
    assert s["USER_AGENT"] == "TestBot/1"
    assert s["ROBOTSTXT_OBEY"] is True
    assert s["DOWNLOADER_MIDDLEWARES"]["tanba.crawlers.netguard.PrivateAddressMiddleware"] < 100


def test_target_delay_overrides_the_default(tmp_path: Path) -> None:
    target = Target(name="slow", seeds=("http://a.kz/",), delay_s=3.0)
    assert scrapy_settings(Settings(home=tmp_path), target)["DOWNLOAD_DELAY"] == 3.0


def test_process_settings_carry_the_resolve_map_and_stay_quiet(tmp_path: Path) -> None:
    s = process_settings(Settings(home=tmp_path), {"kino.example.kz": "127.0.0.1"})
    assert s["TANBA_RESOLVE"] == {"kino.example.kz": "127.0.0.1"}
    assert s["TWISTED_DNS_RESOLVER"] == "tanba.crawlers.resolve.MappedResolver"
    assert s["LOG_LEVEL"] == "WARNING" and s["LOG_INSTALL_ROOT_HANDLER"] is False
    assert s["TELNETCONSOLE_ENABLED"] is False


def test_crawl_id_from_the_clock() -> None:
    assert new_crawl_id(FixedClock("2026-03-04T05:06:07.890Z")) == "20260304T050607Z"


def test_crawl_stats_total() -> None:
    stats = CrawlStats("c", {"a": TargetStats(pages=2, errors=1), "b": TargetStats(pages=3)})
    assert stats.total() == TargetStats(pages=5, errors=1)
    assert CrawlStats("c").total() == TargetStats()


def test_crawl_with_only_paused_targets_does_not_start_scrapy(tmp_path: Path) -> None:
    # Safe in-process: with nothing to crawl, no reactor is started.
    paused = Target(name="p", seeds=("http://a.kz/",), paused=True)
    bus = EmbeddedBus(tmp_path / "bus.sqlite3")
    seen: list[CrawlStats] = []
    stats = crawl(
        [paused],
        settings=Settings(home=tmp_path),
        bus=bus,
        blobs=FileBlobStore(tmp_path / "blobs"),
        clock=FixedClock("2026-05-06T07:08:09Z"),
        progress=seen.append,
    )
    bus.close()
    assert stats == CrawlStats("20260506T070809Z", {})
    assert seen == [stats]


def test_a_crawl_of_many_targets_lists_fewer_failures_each_so_its_report_stays_one_message() -> (
    None
):
    def failing(n: int) -> TargetStats:
        tally = TargetStats()
        for i in range(n):
            tally.fail(FetchFailure(url=f"http://a.invalid/{i}", reason="dns"))
        return tally

    few = CrawlStats("c", {"a": failing(150), "b": failing(3)})
    assert [len(r.failed) for r in few.reports().values()] == [MAX_FAILURES_LISTED, 3]
    assert few.reports()["a"].failures == {"dns": 150}  # every one counted
    # A thousand targets: a share of 2 each, so each lists the floor (and failed more often).
    many = CrawlStats("c", {f"t{i}": failing(MIN_FAILURES_LISTED + 5) for i in range(1000)})
    reports = many.reports()
    assert {len(r.failed) for r in reports.values()} == {MIN_FAILURES_LISTED} == {10}
    assert {r.failures["dns"] for r in reports.values()} == {MIN_FAILURES_LISTED + 5}
    forty = CrawlStats("c", {f"t{i}": failing(100) for i in range(40)})
    assert sum(len(r.failed) for r in forty.reports().values()) == MAX_FAILURES_PER_REPORT
    long = TargetStats()
    long.fail(FetchFailure(url="http://a.invalid/" + "x" * 5000, reason="dns", referrer="r"))
    assert len(long.failed[0].url) == 1000 and long.failed[0].url.endswith("…")
    assert long.failed[0].referrer == "r"
