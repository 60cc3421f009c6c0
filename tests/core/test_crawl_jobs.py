"""Crawl jobs: keyed by registrable domain, deterministic ids, and the target back unchanged."""

from __future__ import annotations

import pytest

from tanba.core.crawl_jobs import job_for, job_id, job_record, job_target, site_of, site_of_host
from tanba.core.schemas.base import decode
from tanba.core.schemas.crawl_jobs import CrawlJobRequested
from tanba.core.targets import Target


@pytest.mark.parametrize(
    ("host", "site"),
    [
        ("kino.example.kz", "example.kz"),
        ("tv.example.kz", "example.kz"),
        ("www.bbc.co.uk", "bbc.co.uk"),
        ("фильмы.рф", "xn--h1agd3a1be.xn--p1ai"),
        ("a.github.io", "a.github.io"),  # a private suffix: each user's pages are a site
        ("127.0.0.1", "127.0.0.1"),
        ("localhost", "localhost"),
        ("site-017.kz", "site-017.kz"),
    ],
)
def test_the_site_is_the_registrable_domain(host: str, site: str) -> None:
    assert site_of_host(host) == site


def test_a_job_is_keyed_by_site_with_an_id_from_crawl_and_target() -> None:
    target = Target(
        name="kino",
        seeds=("http://www.kino.example.kz:8081/", "http://img.kino.example.kz/"),
        max_pages=7,
        id="kino-2",
    )
    job = job_for(
        target,
        "20260506T070809Z",
        {"www.kino.example.kz": "127.0.0.1"},
        requested_at="t",
        requested_by="scheduler",
    )
    again = job_for(target, "20260506T070809Z", {}, requested_at="u", requested_by="cli")
    assert job.job_id == again.job_id == job_id("20260506T070809Z", "kino-2")
    assert job.site == site_of(target) == "example.kz"
    record = job_record(job)
    assert record.key == "example.kz"
    decoded = decode(record.value, CrawlJobRequested)
    assert decoded == job
    assert job_target(decoded) == target


def test_a_match_suppressed_twice_in_one_crawl_is_listed_once() -> None:
    from tanba.core.schemas.suppressions import MatchSuppressed, once_per_crawl

    def suppressed(crawl_id: str, at: str) -> MatchSuppressed:
        return MatchSuppressed(
            alert_id="a1", work_id="w", page_url="p", media_url="m", jurisdiction="KZ",
            reason="licensed", detail="", at=at, crawl_id=crawl_id,
        )  # fmt: skip

    first, rerun, next_crawl = (
        suppressed("c1", "t1"),
        suppressed("c1", "t2"),
        suppressed("c2", "t3"),
    )
    old = suppressed("", "t0")  # written before events carried their crawl: kept as they are
    assert once_per_crawl([old, old, first, rerun, next_crawl]) == [old, old, first, next_crawl]
