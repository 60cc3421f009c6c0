"""Which addresses are public (tanba.core.net), and the crawler's middleware that refuses the rest."""

from __future__ import annotations

import asyncio
import ipaddress
from types import SimpleNamespace

import pytest
from scrapy.http import Request, Response
from scrapy.settings import Settings as ScrapySettings
from scrapy.statscollectors import MemoryStatsCollector

from tanba.core.net import is_public_address
from tanba.core.targets import Target
from tanba.crawlers import netguard
from tanba.crawlers.netguard import BlockedAddress, PrivateAddressMiddleware
from tanba.crawlers.resolve import RESOLVE_SETTING
from tanba.crawlers.stats import TargetStats


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "127.8.8.8", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
        "169.254.169.254", "169.254.0.1", "100.64.0.1", "100.127.255.254", "0.0.0.0", "0.1.2.3",
        "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "192.0.0.8",
        "192.0.2.1", "198.18.0.1", "198.51.100.7", "203.0.113.9",
        "::", "::1", "fc00::1", "fd00:ec2::254", "fe80::1", "fec0::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:8.8.8.8", "::127.0.0.1", "2002:7f00:1::", "2002:a00:1::",
        "2001::1", "64:ff9b::a00:1", "2001:db8::1", "[::1]", "not-an-ip", "",
    ],
)  # fmt: skip
def test_non_public_addresses(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize(
    "address",
    ["8.8.8.8", "1.1.1.1", "95.59.1.1", "2a00:1450:4001::1", "2002:808:808::", "[2606:4700::1]"],
)
def test_public_addresses(address: str) -> None:
    assert is_public_address(address)


def test_accepts_address_objects() -> None:
    assert is_public_address(ipaddress.ip_address("8.8.8.8"))
    assert not is_public_address(ipaddress.ip_address("10.0.0.1"))


def _middleware(allow_private: bool, resolve: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    target = Target(
        name="t", seeds=("http://kino.example.kz/",), allow_private_addresses=allow_private
    )
    settings = ScrapySettings({RESOLVE_SETTING: resolve or {}})
    crawler = SimpleNamespace(settings=settings, spider=None)
    crawler.stats = MemoryStatsCollector(crawler)  # type: ignore[arg-type]
    crawler.spider = SimpleNamespace(target=target, tally=TargetStats())
    return PrivateAddressMiddleware(crawler), crawler  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:8080/",
        "http://[::ffff:10.0.0.1]/",
        "http://kino.example.kz:8081/",  # mapped to loopback by --resolve
        "http://Kino.Example.KZ./",
    ],
)
def test_middleware_refuses_private_hosts_and_counts_them(url: str) -> None:
    mw, crawler = _middleware(False, {"kino.example.kz": "127.0.0.1"})
    with pytest.raises(BlockedAddress, match="allow_private_addresses is false"):
        asyncio.run(mw.process_request(Request(url)))
    assert crawler.spider.tally.blocked_private == 1
    assert crawler.stats.get_value("tanba/blocked_private") == 1


def test_middleware_lets_public_addresses_through() -> None:
    mw, _ = _middleware(False, {"cdn.example.ru": "93.184.216.34"})
    assert asyncio.run(mw.process_request(Request("http://8.8.8.8/"))) is None
    assert asyncio.run(mw.process_request(Request("http://cdn.example.ru/a.jpg"))) is None


def test_middleware_allows_everything_when_the_target_allows_private() -> None:
    mw, crawler = _middleware(True, {"kino.example.kz": "127.0.0.1"})
    assert asyncio.run(mw.process_request(Request("http://kino.example.kz/"))) is None
    response = Response("http://kino.example.kz/", ip_address=ipaddress.ip_address("127.0.0.1"))
    assert mw.process_response(Request("http://kino.example.kz/"), response) is response
    assert crawler.spider.tally.blocked_private == 0


def test_middleware_checks_the_address_the_response_came_from() -> None:
    # DNS rebinding: the name looked public when checked, the connection went to loopback.
    mw, crawler = _middleware(False)
    request = Request("http://rebind.example.kz/")
    rebound = Response(request.url, ip_address=ipaddress.ip_address("127.0.0.1"), request=request)
    with pytest.raises(BlockedAddress):
        mw.process_response(request, rebound)
    fine = Response(request.url, ip_address=ipaddress.ip_address("8.8.8.8"), request=request)
    assert mw.process_response(request, fine) is fine
    assert crawler.spider.tally.blocked_private == 1


def test_allowed_networks_let_only_those_private_addresses_through() -> None:
    target = Target(
        name="t", seeds=("http://intra.example.kz/",), allowed_networks=("10.20.0.0/16",)
    )
    settings = ScrapySettings(
        {RESOLVE_SETTING: {"intra.example.kz": "10.20.3.4", "other.example.kz": "10.21.0.1"}}
    )
    crawler = SimpleNamespace(settings=settings, spider=None)
    crawler.stats = MemoryStatsCollector(crawler)  # type: ignore[arg-type]
    crawler.spider = SimpleNamespace(target=target, tally=TargetStats())
    mw = PrivateAddressMiddleware(crawler)  # type: ignore[arg-type]
    assert asyncio.run(mw.process_request(Request("http://intra.example.kz/"))) is None
    assert asyncio.run(mw.process_request(Request("http://8.8.8.8/"))) is None
    for url in ("http://other.example.kz/", "http://169.254.169.254/", "http://127.0.0.1/"):
        with pytest.raises(BlockedAddress):
            asyncio.run(mw.process_request(Request(url)))
    request = Request("http://intra.example.kz/")
    inside = Response(request.url, ip_address=ipaddress.ip_address("10.20.9.9"), request=request)
    assert mw.process_response(request, inside) is inside
    outside = Response(request.url, ip_address=ipaddress.ip_address("10.99.0.1"), request=request)
    with pytest.raises(BlockedAddress):
        mw.process_response(request, outside)
    assert crawler.spider.tally.blocked_private == 4


@pytest.mark.parametrize(
    "url",
    ["http://localhost:8080/", "http://2130706433/", "http://0x7f000001/", "http://127.1/"],
)
def test_names_and_spellings_are_judged_by_what_they_resolve_to(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The real getaddrinfo, called directly (the crawler calls it from Twisted's thread
    # pool, which needs a running reactor): the name or inet_aton spelling is loopback.
    async def lookup(host: str, port: int | None) -> list[str]:
        return netguard.resolve(host, port)

    monkeypatch.setattr(netguard, "_lookup", lookup)
    mw, _ = _middleware(False)
    with pytest.raises(BlockedAddress, match=r"non-public address 127\.0\.0\.1"):
        asyncio.run(mw.process_request(Request(url)))
