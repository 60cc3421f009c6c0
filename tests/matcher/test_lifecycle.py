"""After a notice: a crawl that finds the copy again means it persists; two that miss it, removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.alerts import Alert, MatchDetail, StatusChange, alert_id
from tanba.core.clock import FixedClock
from tanba.core.schemas.crawls import CrawlFinished, TargetReport
from tanba.core.store.embedded import EmbeddedAlertStore
from tanba.matcher.lifecycle import reconcile

PAGE = "http://kino.example.kz/films/1.html"


@pytest.fixture
def store(tmp_path: Path) -> EmbeddedAlertStore:
    return EmbeddedAlertStore(tmp_path / "alerts.sqlite3")


def sighting(crawl_id: str, seen: str) -> Alert:
    media = "http://kino.example.kz/a.jpg"
    return Alert(
        id=alert_id("w", PAGE, media),
        work_id="w",
        owner="o",
        media="image",
        score=1.0,
        match=MatchDetail(algorithm="phash64", distance=0),
        page_url=PAGE,
        media_url=media,
        media_sha256="0" * 64,
        site="kino.example.kz",
        target="kino",
        jurisdiction="KZ",
        first_seen=seen,
        last_seen=seen,
        crawl_id=crawl_id,
    )


def report(crawl_id: str, pages: list[str]) -> CrawlFinished:
    return CrawlFinished(
        crawl_id=crawl_id,
        started_at="",
        finished_at="",
        targets={"kino": TargetReport(pages=len(pages), page_urls=pages)},
    )


def notice_sent(store: EmbeddedAlertStore, alert: Alert) -> None:
    store.upsert([alert])
    for status, at in (
        ("confirmed", "2026-03-01T13:00:00.000Z"),
        ("notice_sent", "2026-03-01T14:00:00.000Z"),
    ):
        store.change_status(alert.id, StatusChange(status=status, actor="agency", at=at))


def test_two_crawls_without_the_copy_mark_it_removed(store: EmbeddedAlertStore) -> None:
    alert = sighting("c1", "2026-03-01T12:00:00.000Z")
    notice_sent(store, alert)
    clock = FixedClock("2026-03-05T00:00:00Z")
    first = reconcile(store, report("c2", [PAGE]), clock)
    assert (first.missed, first.removed) == (1, 0) and store.get(alert.id).status == "notice_sent"
    second = reconcile(store, report("c3", [PAGE]), clock)
    assert second.removed == 1
    stored = store.get(alert.id)
    assert stored.status == "removed" and stored.history[-1].actor == "tanba-crawler"
    assert "c2, c3" in stored.history[-1].comment


def test_a_crawl_that_did_not_fetch_the_page_proves_nothing(store: EmbeddedAlertStore) -> None:
    alert = sighting("c1", "2026-03-01T12:00:00.000Z")
    notice_sent(store, alert)
    for crawl in ("c2", "c3"):
        reconcile(store, report(crawl, ["http://kino.example.kz/other.html"]), FixedClock())
    assert store.get(alert.id).status == "notice_sent"


def test_finding_it_again_after_the_notice_means_it_persists(store: EmbeddedAlertStore) -> None:
    alert = sighting("c1", "2026-03-01T12:00:00.000Z")
    notice_sent(store, alert)
    reconcile(store, report("c2", [PAGE]), FixedClock())  # one miss
    store.upsert([sighting("c3", "2026-03-06T12:00:00.000Z")])  # seen again
    result = reconcile(store, report("c3", [PAGE]), FixedClock())
    stored = store.get(alert.id)
    assert result.persists == 1 and stored.status == "persists" and stored.missed_crawls == []


def test_alerts_without_a_notice_are_not_watched(store: EmbeddedAlertStore) -> None:
    alert = sighting("c1", "2026-03-01T12:00:00.000Z")
    store.upsert([alert])
    for crawl in ("c2", "c3"):
        reconcile(store, report(crawl, [PAGE]), FixedClock())
    assert store.get(alert.id).status == "new"
