"""Hostile sites against the real crawler (``tanba crawl`` over loopback servers).

One crawl, one target per misbehaviour, so each case is read from its own counters:

- ``ssrf``: a site on 127.0.0.2 that may be fetched (``allowed_networks``)
  whose links and redirects lead to an intranet server on 127.0.0.1 and to the
  cloud metadata address, by redirect, by ``localhost`` (a real DNS answer), by
  decimal and IPv4-mapped spellings of 127.0.0.1: the intranet server must see
  no request at all;
- ``stream``: an endless body served as ``audio/mpeg`` (cut at the size cap);
- ``drip``: an image trickling one byte a second (cut at the request timeout);
- ``hops``: a 20-hop redirect chain and a redirect loop (cut at 5 redirects);
- ``trap``: an endless calendar, session ids, shuffled query strings, ``../``
  spellings, a relative-link loop and an overlong URL, beside five real pages
  that must all be crawled;
- ``busy``: a page answered 429 with ``Retry-After: 1`` the first time;
- ``polite``: slow pages, at most 2 requests at once (the per-domain limit);
- ``spaced``: pages with a 0.4 s per-domain delay.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.reliability.hostile_web import (
    Crawl,
    HostileServer,
    drip,
    dynamic,
    endless,
    redirect,
    run_crawl,
    sequence,
    static,
    too_many,
)

FETCH_TIMEOUT_S = 3
MEDIA_MAX_BYTES = 1 << 20
CALENDAR_BUDGET = 10


@dataclass(frozen=True)
class Seen:
    """What the servers saw of the crawl: requests by host and path, and when."""

    intranet_hits: int
    port: int
    hops_paths: list[str]
    trap_paths: list[str]
    busy_hits: list[tuple[float, float]]  # (start, end) of each request of busy's /p1.html
    polite_peak: int
    spaced_starts: list[float]


Hostile = tuple[Crawl, Seen]


def html(body: str) -> bytes:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>".encode()


def calendar(path: str) -> bytes:
    month = int(parse_qs(urlsplit(path).query).get("month", ["0"])[0])
    return html(f'<a href="/calendar?month={month + 1}">next</a> <a href="/">home</a>')


def loop_page(path: str) -> bytes:
    return html('<a href="a/">deeper</a>')  # /a/ -> /a/a/ -> /a/a/a/ ... for ever


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hostile]:
    home = tmp_path_factory.mktemp("hostile-home")
    intranet = HostileServer(
        {
            ("intra.example.kz", "/*"): static(html("intranet secrets")),
            ("localhost", "/*"): static(b"secret", "image/jpeg"),
        },
        address="127.0.0.1",
    )
    with intranet:
        p_in = intranet.port
        ssrf_page = html(
            '<img src="/to-intra.jpg"> <img src="/to-metadata.jpg">'
            f' <img src="http://localhost:{p_in}/secret.jpg">'
            f' <img src="http://2130706433:{p_in}/decimal.jpg">'
            f' <img src="http://[::ffff:127.0.0.1]:{p_in}/mapped.jpg">'
            f' <img src="http://intra.example.kz:{p_in}/direct.jpg">'
            ' <a href="/go.html">go</a> <img src="/ok.jpg">'
        )
        routes = {
            # ssrf: a site the target may fetch, on 127.0.0.2
            ("www.ssrf.example.kz", "/"): static(ssrf_page),
            ("www.ssrf.example.kz", "/to-intra.jpg"): redirect(
                f"http://intra.example.kz:{p_in}/secret.jpg"
            ),
            ("www.ssrf.example.kz", "/to-metadata.jpg"): redirect(
                "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
            ),
            ("www.ssrf.example.kz", "/go.html"): redirect(f"http://intra.example.kz:{p_in}/"),
            ("www.ssrf.example.kz", "/ok.jpg"): static(b"\xff\xd8\xff\xe0 fine", "image/jpeg"),
        }
        site = HostileServer(routes, address="127.0.0.2")
        with site:
            port = site.port
            site.routes.update(
                {
                    # stream and drip
                    ("stream.example.kz", "/"): static(
                        html('<audio src="/live.mp3"></audio> <a href="/after.html">after</a>')
                    ),
                    ("stream.example.kz", "/live.mp3"): endless("audio/mpeg"),
                    ("stream.example.kz", "/after.html"): static(html("still crawling")),
                    ("drip.example.kz", "/"): static(html('<img src="/drip.jpg">')),
                    ("drip.example.kz", "/drip.jpg"): drip(b"\xff\xd8\xff" + b"x" * 200, 1.0),
                    # hops
                    ("hops.example.kz", "/"): static(
                        html('<img src="/chain/0"> <a href="/loop/a">loop</a>')
                    ),
                    **{
                        ("hops.example.kz", f"/chain/{i}"): redirect(f"/chain/{i + 1}")
                        for i in range(20)
                    },
                    ("hops.example.kz", "/chain/20"): static(b"\xff\xd8\xff end", "image/jpeg"),
                    ("hops.example.kz", "/loop/a"): redirect("/loop/b"),
                    ("hops.example.kz", "/loop/b"): redirect("/loop/a"),
                    # trap
                    ("trap.example.kz", "/"): static(
                        html(
                            '<a href="/calendar?month=0">calendar</a>'
                            + "".join(f'<a href="/s.html?sid={i}x">s</a>' for i in range(30))
                            + '<a href="/q.html?a=1&b=2">q</a> <a href="/q.html?b=2&a=1">q</a>'
                            + '<a href="/x/../real1.html">r</a> <a href="/./real1.html">r</a>'
                            + '<a href="/a/">loop</a>'
                            + f'<a href="/{"long" * 800}">long</a>'
                            + "".join(f'<a href="/real{i}.html">{i}</a>' for i in range(1, 6))
                        )
                    ),
                    ("trap.example.kz", "/calendar"): dynamic(calendar),
                    ("trap.example.kz", "/s.html"): static(html("session page")),
                    ("trap.example.kz", "/q.html"): static(html("query page")),
                    ("trap.example.kz", "/a/*"): dynamic(loop_page),
                    **{
                        ("trap.example.kz", f"/real{i}.html"): static(html(f"real {i}"))
                        for i in range(1, 6)
                    },
                    # busy
                    ("busy.example.kz", "/"): static(html('<a href="/p1.html">p1</a>')),
                    ("busy.example.kz", "/p1.html"): sequence(
                        too_many(retry_after="1"), static(html("served after the wait"))
                    ),
                    # polite and spaced
                    ("polite.example.kz", "/"): static(
                        html("".join(f'<a href="/p{i}.html">{i}</a>' for i in range(8)))
                    ),
                    **{
                        ("polite.example.kz", f"/p{i}.html"): static(html("slow"), delay_s=0.3)
                        for i in range(8)
                    },
                    ("spaced.example.kz", "/"): static(
                        html("".join(f'<a href="/p{i}.html">{i}</a>' for i in range(4)))
                    ),
                    **{("spaced.example.kz", f"/p{i}.html"): static(html("x")) for i in range(4)},
                }
            )

            def target(name: str, host: str, extra: str = "") -> str:
                return (
                    f"  - name: {name}\n"
                    f'    seeds: ["http://{host}:{port}/"]\n'
                    '    allowed_networks: ["127.0.0.2/32"]\n' + extra
                )

            targets = "targets:\n" + "".join(
                [
                    target(
                        "ssrf",
                        "www.ssrf.example.kz",
                        '    allowed_domains: ["example.kz"]\n',
                    ),
                    target("stream", "stream.example.kz"),
                    target("drip", "drip.example.kz"),
                    target("hops", "hops.example.kz"),
                    target(
                        "trap",
                        "trap.example.kz",
                        f"    max_depth: 1000\n    max_pages: 200\n"
                        f"    max_pages_per_pattern: {CALENDAR_BUDGET}\n",
                    ),
                    target("busy", "busy.example.kz"),
                    target("polite", "polite.example.kz"),
                    target("spaced", "spaced.example.kz", "    delay_s: 0.4\n"),
                ]
            )
            resolve = [*site.resolve_args(), "--resolve", f"intra.example.kz:{p_in}:127.0.0.1"]
            crawl = run_crawl(
                targets,
                home,
                resolve,
                env={
                    "TANBA_FETCH_TIMEOUT_S": str(FETCH_TIMEOUT_S),
                    "TANBA_MEDIA_MAX_BYTES": str(MEDIA_MAX_BYTES),
                    "TANBA_CRAWL_CONCURRENCY_PER_DOMAIN": "2",
                },
            )
            seen = Seen(
                intranet_hits=intranet.total_hits(),
                port=port,
                hops_paths=site.paths("hops.example.kz"),
                trap_paths=site.paths("trap.example.kz"),
                busy_hits=site.hits("busy.example.kz", "/p1.html"),
                polite_peak=site.max_concurrency("polite.example.kz"),
                spaced_starts=sorted(
                    t[0] for i in range(4) for t in site.hits("spaced.example.kz", f"/p{i}.html")
                ),
            )
    yield crawl, seen


def published(crawl: Crawl, target: str) -> list[str]:
    return [e.occurrence.media_url for _, e in crawl.events if e.occurrence.target == target]


def test_no_request_reaches_private_addresses_after_redirects_or_dns(hostile: Hostile) -> None:
    crawl, seen = hostile
    assert seen.intranet_hits == 0
    ssrf = crawl.targets["ssrf"]
    # to-intra, to-metadata, localhost, decimal, mapped, direct, and the /go.html page redirect
    assert ssrf["blocked_private"] == 7
    assert published(crawl, "ssrf") == [f"http://www.ssrf.example.kz:{seen.port}/ok.jpg"]


def test_an_endless_stream_is_cut_at_the_size_cap_and_the_crawl_goes_on(hostile: Hostile) -> None:
    crawl, _ = hostile
    stream = crawl.targets["stream"]
    assert stream["too_large"] == 1 and stream["pages"] == 2
    assert published(crawl, "stream") == []


def test_a_dripping_response_is_cut_at_the_request_timeout(hostile: Hostile) -> None:
    crawl, _ = hostile
    assert crawl.targets["drip"]["errors"] == 1
    assert published(crawl, "drip") == []


def test_redirect_chains_and_loops_stop_after_five_hops(hostile: Hostile) -> None:
    crawl, seen = hostile
    chain = [p for p in seen.hops_paths if p.startswith("/chain/")]
    assert chain == [f"/chain/{i}" for i in range(6)]  # the request and 5 redirects
    loop = [p for p in seen.hops_paths if p.startswith("/loop/")]
    assert len(loop) == 6
    assert published(crawl, "hops") == []


def test_crawler_traps_stay_within_their_budget_and_real_pages_are_crawled(
    hostile: Hostile,
) -> None:
    crawl, seen = hostile
    paths = seen.trap_paths
    calendar_pages = [p for p in paths if p.startswith("/calendar")]
    assert len(calendar_pages) == CALENDAR_BUDGET
    assert sum(p.startswith("/s.html") for p in paths) == 1  # session ids folded
    assert sum(p.startswith("/q.html") for p in paths) == 1  # query order folded
    assert paths.count("/real1.html") == 1  # ../ and ./ spellings folded
    assert [p for p in paths if p.startswith("/a/")] == ["/a/", "/a/a/", "/a/a/a/"]
    assert not [p for p in paths if p.startswith("/long")]
    assert {f"/real{i}.html" for i in range(1, 6)} <= set(paths)
    assert crawl.targets["trap"]["traps"] >= 2  # the calendar's next month, the 4th /a/


def test_429_is_retried_after_retry_after(hostile: Hostile) -> None:
    crawl, seen = hostile
    assert len(seen.busy_hits) == 2
    (_, refused_at), (retried_at, _) = seen.busy_hits
    assert retried_at - refused_at >= 1.0  # the server asked for one second
    busy = crawl.targets["busy"]
    assert busy["throttled"] == 1 and busy["pages"] == 2 and busy["http_errors"] == 0


def test_per_domain_concurrency_and_delay_are_kept(hostile: Hostile) -> None:
    crawl, seen = hostile
    assert seen.polite_peak == 2  # TANBA_CRAWL_CONCURRENCY_PER_DOMAIN, and it is used
    assert crawl.targets["polite"]["pages"] == 9
    assert len(seen.spaced_starts) == 4
    gaps = [b - a for a, b in itertools.pairwise(seen.spaced_starts)]
    assert min(gaps) >= 0.4 * 0.5  # DOWNLOAD_DELAY with Scrapy's jitter of 0.5..1.5
