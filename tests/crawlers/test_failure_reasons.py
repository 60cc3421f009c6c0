"""Every failed fetch of a real crawl is counted under its reason and listed with its URL.

One ``tanba crawl`` in a child process, one target per reason, each seed failing
one way, against real sockets on loopback (nothing mocked): a name under
``.invalid`` (which never resolves, RFC 6761), a port bound but not listening
(refused), HTTPS spoken to a plain HTTP server (TLS), a server that accepts and
never answers (timeout), a page robots.txt forbids, a 404, and a site on a
private address for a target that does not allow them (the network guard).
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tanba.app.cli import main
from tanba.app.demo.server import SiteServer
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.crawl_reports import CrawlReports
from tests.support.crawling import CrawlRun, run_crawl


@pytest.fixture(scope="module")
def failing_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlRun]:
    home = tmp_path_factory.mktemp("failures-home")
    closed = socket.socket()  # bound, never listening: connections are refused
    closed.bind(("127.0.0.1", 0))
    silent = socket.socket()  # listening, never accepting: connections hang until the timeout
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    sites: dict[str, Any] = {
        "kino.example.kz": {
            "/robots.txt": b"User-agent: *\nDisallow: /private/\n",
            "/": b"<html><body><a href='/private/x.html'>x</a>"
            b" <a href='/missing.html'>m</a></body></html>",
        },
        "tls.example.kz": {"/": b"<html></html>"},
        "intra.example.kz": {"/": b"<html>intranet</html>"},
    }
    try:
        with SiteServer(sites) as server:
            port = server.port

            def target(name: str, seed: str, private: bool = True) -> str:
                allow = "    allow_private_addresses: true\n" if private else ""
                return f'  - name: {name}\n    seeds: ["{seed}"]\n{allow}'

            targets = home / "targets.yaml"
            targets.write_text(
                "targets:\n"
                + target("dns", "http://nothing-here.invalid/", private=False)
                + target("refused", f"http://127.0.0.1:{closed.getsockname()[1]}/")
                + target("tls", f"https://tls.example.kz:{port}/")
                + target("timeout", f"http://127.0.0.1:{silent.getsockname()[1]}/")
                + target("kino", f"http://kino.example.kz:{port}/")
                + target("intra", f"http://intra.example.kz:{port}/", private=False),
                encoding="utf-8",
            )
            yield run_crawl(server, targets, home, env={"TANBA_FETCH_TIMEOUT_S": "1"})
    finally:
        closed.close()
        silent.close()


@pytest.mark.parametrize(
    ("target", "reason", "url", "detail"),
    [
        ("dns", "dns", "http://nothing-here.invalid/", "nothing-here.invalid"),
        ("refused", "refused", "http://127.0.0.1:", "refused"),
        ("tls", "tls", "https://tls.example.kz:", "wrong version number"),
        ("timeout", "timeout", "http://127.0.0.1:", "took longer than 1.0 seconds"),
        ("intra", "private_address", "http://intra.example.kz:", "non-public address 127.0.0.1"),
    ],
)
def test_a_seed_that_gives_nothing_says_why(
    failing_crawl: CrawlRun, target: str, reason: str, url: str, detail: str
) -> None:
    counters = failing_crawl.stats["targets"][target]
    assert counters["pages"] == 0
    assert counters["failures"] == {reason: 1}
    (failed,) = counters["failed"]
    assert failed["reason"] == reason and failed["kind"] == "page"
    assert failed["url"].startswith(url) and detail in failed["detail"]
    assert failed["referrer"] == ""  # a seed: no page led to it
    assert failed["at"].endswith("Z")


def test_robots_and_http_errors_are_listed_with_the_page_that_linked_them(
    failing_crawl: CrawlRun,
) -> None:
    kino = failing_crawl.stats["targets"]["kino"]
    assert kino["pages"] == 1
    assert kino["failures"] == {"robots": 1, "http_status": 1}
    by_reason = {f["reason"]: f for f in kino["failed"]}
    home = f"http://kino.example.kz:{failing_crawl.port}/"
    assert by_reason["robots"]["url"] == home + "private/x.html"
    assert by_reason["http_status"]["url"] == home + "missing.html"
    assert by_reason["http_status"]["detail"] == "HTTP 404"
    assert {f["referrer"] for f in kino["failed"]} == {home}
    assert "/private/x.html" not in failing_crawl.requests["kino.example.kz"]


def test_the_totals_add_up_and_no_traceback_reaches_the_terminal(failing_crawl: CrawlRun) -> None:
    total = failing_crawl.stats["total"]
    assert total["failures"] == {
        "dns": 1,
        "refused": 1,
        "tls": 1,
        "timeout": 1,
        "robots": 1,
        "private_address": 1,
        "http_status": 1,
    }
    assert "Traceback" not in failing_crawl.stderr


def test_tanba_targets_show_lists_the_failures_of_the_last_crawl(
    failing_crawl: CrawlRun, capsys: pytest.CaptureFixture[str]
) -> None:
    home = str(failing_crawl.home)
    assert main(["--home", home, "targets", "show", "dns"]) == 0
    out = capsys.readouterr().out
    assert "failed fetches 1: dns 1" in out
    assert "http://nothing-here.invalid/" in out
    assert "the host name does not resolve (DNS)" in out
    assert main(["--home", home, "targets", "list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in ("dns", "refused", "tls", "timeout", "kino", "intra"))


def test_the_report_on_the_bus_carries_the_failures_per_target_id(failing_crawl: CrawlRun) -> None:
    bus = EmbeddedBus(Path(failing_crawl.home) / "bus.sqlite3")
    try:
        crawl = CrawlReports(bus).crawl("tls")
    finally:
        bus.close()
    assert crawl is not None and crawl.crawl_id == failing_crawl.crawl_id
    assert crawl.report.name == "tls" and crawl.report.failures == {"tls": 1}
    assert crawl.report.failed[0].reason_text == "the TLS (HTTPS) handshake failed"
