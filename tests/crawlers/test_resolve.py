"""tanba.crawlers.resolve: the --resolve syntax, the resolver, and a real crawl through it."""

from __future__ import annotations

import socket

import pytest
from scrapy.resolver import CachingThreadedResolver
from twisted.internet.error import DNSLookupError
from twisted.python.failure import Failure

from tanba.core.exceptions import InputError
from tanba.core.resolve import parse_resolve
from tanba.crawlers import netguard
from tanba.crawlers.resolve import MappedResolver
from tests.support.crawling import CrawlRun


def test_parse_resolve() -> None:
    assert parse_resolve(
        ["Kino.Example.KZ:8081:127.0.0.1", "cdn.example.ru:443:[::1]", "x.kz:80:10.0.0.1"]
    ) == {"kino.example.kz": "127.0.0.1", "cdn.example.ru": "::1", "x.kz": "10.0.0.1"}
    assert parse_resolve([]) == {}
    assert parse_resolve(None) == {}


@pytest.mark.parametrize(
    "entry",
    ["kino.example.kz", "kino.example.kz:127.0.0.1", ":80:127.0.0.1", "h:port:127.0.0.1",
     "h:0:127.0.0.1", "h:70000:127.0.0.1", "h:80:", "h:80:localhost", "h:80:999.1.1.1"],
)  # fmt: skip
def test_bad_entries_say_the_expected_syntax(entry: str) -> None:
    with pytest.raises(InputError, match="HOST:PORT:ADDRESS"):
        parse_resolve([entry])


def test_resolver_answers_mapped_names_from_the_map() -> None:
    resolver = MappedResolver(None, 0, 5.0, {"Kino.Example.KZ": "127.0.0.1"})  # type: ignore[arg-type]
    results: list[str] = []
    resolver.getHostByName("kino.example.kz").addCallback(results.append)
    resolver.getHostByName("KINO.example.kz.").addCallback(results.append)
    assert results == ["127.0.0.1", "127.0.0.1"]


def test_names_under_invalid_fail_as_dns_errors_without_asking_a_resolver(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """RFC 6761: no query leaves the machine for them, so a test's DNS failure stays local."""

    def asked(*args: object, **kwargs: object) -> None:
        raise AssertionError("the system resolver was asked")

    monkeypatch.setattr(socket, "getaddrinfo", asked)
    monkeypatch.setattr(CachingThreadedResolver, "getHostByName", asked)
    resolver = MappedResolver(None, 0, 5.0, {"mapped.invalid": "127.0.0.1"})  # type: ignore[arg-type]
    errors: list[Failure] = []
    for name in ("xn--h1agd3a1be.invalid", "Nothing-Here.INVALID.", "invalid"):
        resolver.getHostByName(name).addErrback(errors.append)
    assert [e.check(DNSLookupError) for e in errors] == [DNSLookupError] * 3
    mapped: list[str] = []
    resolver.getHostByName("mapped.invalid").addCallback(mapped.append)  # the map comes first
    assert mapped == ["127.0.0.1"]
    assert netguard.resolve("xn--h1agd3a1be.invalid", 80) == []


def test_a_real_crawl_reaches_the_loopback_server_with_the_site_host_header(
    crawl_run: CrawlRun,
) -> None:
    port = crawl_run.port
    assert crawl_run.host_headers["kino.example.kz"] == {f"kino.example.kz:{port}"}
    assert crawl_run.host_headers["cdn.example.ru"] == {f"cdn.example.ru:{port}"}
    assert "/" in crawl_run.requests["kino.example.kz"]
