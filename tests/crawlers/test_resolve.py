"""tanba.crawlers.resolve: the --resolve syntax, the resolver, and a real crawl through it."""

from __future__ import annotations

import pytest

from tanba.core.exceptions import InputError
from tanba.core.resolve import parse_resolve
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


def test_a_real_crawl_reaches_the_loopback_server_with_the_site_host_header(
    crawl_run: CrawlRun,
) -> None:
    port = crawl_run.port
    assert crawl_run.host_headers["kino.example.kz"] == {f"kino.example.kz:{port}"}
    assert crawl_run.host_headers["cdn.example.ru"] == {f"cdn.example.ru:{port}"}
    assert "/" in crawl_run.requests["kino.example.kz"]
