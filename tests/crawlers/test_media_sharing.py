"""One media URL on three pages, in a real crawl: one download, three events, also while in flight.

The server orders things by construction, not by timing:

- the CDN holds the photo back until ``/img/local.png`` is asked for. The
  crawler asks for that only once the item of ``/a.html`` (which shows the
  photo, then local.png) is in the media pipeline, so the photo's download,
  started for ``/``, is still in flight when ``/a.html`` asks for it;
- ``/late.html`` is held back until the photo has been sent, so its item
  comes (all but surely) after the download; either way it must give an event.

Each hold gives up after ``HOLD_S`` (so a broken crawler fails the test
instead of hanging it), and the test checks that every hold ended by its event.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.reliability.hostile_web import HostileServer, Route, run_crawl, static
from tests.support.crawling import image_bytes

HOLD_S = 60.0
PHOTO = image_bytes("red", "JPEG")
LOCAL = image_bytes("blue", "PNG")


def html(body: str) -> bytes:
    return f"<!doctype html><html><head><title>t</title></head><body>{body}</body></html>".encode()


def after(event: threading.Event, route: Route, held: list[bool]) -> Route:
    """``route``, once ``event`` is set (or after HOLD_S); ``held`` gets whether it was set."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        held.append(event.wait(HOLD_S))
        route.respond(h)

    return Route(respond)


def then(route: Route, event: threading.Event, *, when: str = "asked") -> Route:
    """``route``, setting ``event`` when the request arrives ("asked") or has its answer."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        if when == "asked":
            event.set()
        route.respond(h)
        h.wfile.flush()
        event.set()  # "answered" (already set for "asked")

    return Route(respond)


def test_media_in_flight_and_already_fetched_give_one_event_per_page(tmp_path: Path) -> None:
    local_asked, photo_sent = threading.Event(), threading.Event()
    held: list[bool] = []
    server = HostileServer({})
    photo = f"http://cdn.example.ru:{server.port}/p.jpg"  # the port is known before serving
    server.routes = {
        ("kino.example.kz", "/"): static(html(f'<img src="{photo}"> <a href="/a.html">a</a>')),
        ("kino.example.kz", "/a.html"): static(
            html(f'<img src="{photo}"> <img src="/local.png"> <a href="/late.html">l</a>')
        ),
        ("kino.example.kz", "/local.png"): then(static(LOCAL, "image/png"), local_asked),
        ("kino.example.kz", "/late.html"): after(
            photo_sent, static(html(f'<img src="{photo}">')), held
        ),
        ("cdn.example.ru", "/p.jpg"): then(
            after(local_asked, static(PHOTO, "image/jpeg"), held), photo_sent, when="answered"
        ),
    }
    with server:
        crawl = run_crawl(
            "targets:\n  - name: kino\n"
            f'    seeds: ["{server.url("kino.example.kz")}"]\n'
            "    allow_private_addresses: true\n",
            tmp_path / "home",
            server.resolve_args(),
            env={"TANBA_CRAWL_CONCURRENCY_PER_DOMAIN": "4"},
        )
    # Each media URL was asked for once, and both holds ended by their events, not a timeout:
    # the photo was in flight when /a.html asked for it, and sent before /late.html was.
    assert len(server.hits("cdn.example.ru", "/p.jpg")) == 1
    assert len(server.hits("kino.example.kz", "/local.png")) == 1
    assert held == [True, True]
    photo_events = [e for _, e in crawl.events if e.occurrence.media_url == photo]
    assert sorted(e.occurrence.page_url.rsplit("/", 1)[1] for e in photo_events) == [
        "",
        "a.html",
        "late.html",
    ]
    assert len({(e.occurrence.sha256, e.occurrence.media_capture) for e in photo_events}) == 1
    assert crawl.targets["kino"]["media_downloaded"] == 2  # the photo and local.png, once each
    assert crawl.targets["kino"]["media_published"] == len(crawl.events) == 4
