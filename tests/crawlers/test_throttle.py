"""tanba.crawlers.throttle: Retry-After parsing, delayed retries, the host held back, and the bounds."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from scrapy.http import Request, Response
from scrapy.settings import Settings as ScrapySettings

from tanba.crawlers.stats import TargetStats
from tanba.crawlers.throttle import DEFAULT_WAIT_S, RetryAfterMiddleware, retry_after_s

NOW = 1_770_000_000.0  # a wall-clock time in 2026


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def middleware(**settings: object) -> tuple[RetryAfterMiddleware, Clock, TargetStats]:
    tally = TargetStats()
    crawler = SimpleNamespace(
        settings=ScrapySettings(settings), spider=SimpleNamespace(tally=tally)
    )
    clock = Clock()
    mw = RetryAfterMiddleware(crawler, wall=lambda: NOW, monotonic=clock)  # type: ignore[arg-type]
    return mw, clock, tally


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("120", 120.0),
        (b" 7 ", 7.0),
        ("Mon, 02 Feb 2026 02:40:10 GMT", 10.0),  # NOW + 10 s as an HTTP date
        ("Mon, 02 Feb 2026 02:39:00 GMT", 0.0),  # in the past: no wait
        ("soon", None),
        ("-5", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | bytes | None, seconds: float | None) -> None:
    assert retry_after_s(value, NOW) == seconds


def test_a_429_is_retried_after_the_wait_and_holds_the_host_back() -> None:
    mw, clock, tally = middleware()
    request = Request("http://busy.example.kz/p1.html", meta={"tanba_kind": "page"})
    out = mw.process_response(
        request, Response(request.url, status=429, headers={"Retry-After": "30"})
    )
    assert isinstance(out, Request) and out.url == request.url and out.dont_filter
    assert out.meta["tanba_kind"] == "page" and tally.throttled == 1
    other = Request("http://busy.example.kz/p2.html")
    assert mw.wait_for(other) == 30.0  # every request to the host waits
    assert mw.wait_for(Request("http://calm.example.kz/")) == 0.0
    clock.t += 31
    assert mw.wait_for(other) == 0.0


def test_retries_are_bounded_and_long_waits_are_not_waited_out() -> None:
    mw, _, tally = middleware(TANBA_RETRY_AFTER_TIMES=2, TANBA_RETRY_AFTER_MAX_S=60)
    request = Request("http://busy.example.kz/")
    refused = Response(request.url, status=429, headers={"Retry-After": "1"})
    first = mw.process_response(request, refused)
    assert isinstance(first, Request)
    second = mw.process_response(first, refused)
    assert isinstance(second, Request)
    assert mw.process_response(second, refused) is refused  # a third 429: given up
    assert tally.throttled == 2

    mw, _, tally = middleware(TANBA_RETRY_AFTER_MAX_S=60)
    banned = Response(request.url, status=429, headers={"Retry-After": "86400"})
    assert mw.process_response(request, banned) is banned
    assert mw.wait_for(request) == 60.0 and tally.throttled == 0


def test_other_responses_pass_and_503_needs_retry_after() -> None:
    mw, _, _ = middleware()
    request = Request("http://a.example.kz/")
    for response in (
        Response(request.url, status=200),
        Response(request.url, status=503),  # Scrapy's RetryMiddleware handles these
        Response(request.url, status=404, headers={"Retry-After": "5"}),
    ):
        assert mw.process_response(request, response) is response
    unavailable = Response(request.url, status=503, headers={"Retry-After": "5"})
    assert isinstance(mw.process_response(request, unavailable), Request)
    no_header = Response(request.url, status=429)
    mw2, _, _ = middleware()
    assert isinstance(mw2.process_response(request, no_header), Request)
    assert mw2.wait_for(request) == DEFAULT_WAIT_S
