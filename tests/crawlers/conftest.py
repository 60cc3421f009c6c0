"""Fixtures of the crawler tests: one real crawl, run once per session in a subprocess.

The crawl runs ``tanba crawl`` against a :class:`SiteServer` that serves
four made-up hosts on one loopback port, reached through ``--resolve``:

- ``kino.example.kz`` (target ``kino``, private addresses allowed, max_depth 2):
  robots.txt forbids ``/private/``; pages link to a forbidden page, a chain
  ``/deep1 → /deep2 → /deep3``, and media: a photo on the CDN shown on two
  pages, a local PNG, an oversized PNG, a 404 image and a CDN image forbidden
  by the CDN's robots.txt;
- ``cdn.example.ru``: the CDN (media only, its own robots.txt);
- ``many.example.kz`` (target ``many``, max_pages 3): an index of nine pages;
- ``elsewhere.example.kz``: where ``kino``'s ``/away.html`` redirects; off-site,
  so never requested;
- ``intra.example.kz`` (target ``intra``): private addresses NOT allowed, so
  nothing may be fetched from it;
- a paused target ``sleeping`` that must not be crawled.

Why one shared crawl: starting Scrapy costs seconds, and a Twisted reactor runs
once per process; every integration assertion reads the same result.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from PIL import Image

from tanba.app.demo.server import Reply, SiteServer
from tests.support.crawling import CrawlRun, image_bytes, run_crawl

MEDIA_MAX_BYTES = 20_000


def _big_png() -> bytes:
    """A real PNG larger than MEDIA_MAX_BYTES (noise does not compress)."""
    noise = Image.frombytes("RGB", (120, 120), os.urandom(120 * 120 * 3))
    out = io.BytesIO()
    noise.save(out, "PNG")
    assert len(out.getvalue()) > MEDIA_MAX_BYTES
    return out.getvalue()


def _html(body: str, title: str = "", lang: str = "") -> bytes:
    lang_attr = f' lang="{lang}"' if lang else ""
    head = f"<head><title>{title}</title></head>"
    return f"<!doctype html><html{lang_attr}>{head}<body>{body}</body></html>".encode()


@pytest.fixture(scope="session")
def crawl_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrawlRun]:
    home = tmp_path_factory.mktemp("crawl-home")
    files = {
        "photo.jpg": image_bytes("red", "JPEG"),
        "local.png": image_bytes("blue", "PNG"),
        "big.png": _big_png(),
        "blocked.jpg": image_bytes("green", "JPEG"),
    }
    sites: dict[str, Any] = {
        "kino.example.kz": {},
        "cdn.example.ru": {},
        "many.example.kz": {},
        "intra.example.kz": {},
        "elsewhere.example.kz": {"/": _html("off-site")},
    }
    with SiteServer(sites) as server:
        cdn = f"http://cdn.example.ru:{server.port}"
        sites["kino.example.kz"].update(
            {
                "/robots.txt": b"User-agent: *\nDisallow: /private/\n",
                "/": _html(
                    '<a href="/a.html">a</a> <a href="/private/secret.html">secret</a>'
                    ' <a href="/deep1.html">deep</a> <a href="/away.html">away</a>'
                    f' <img src="{cdn}/img/photo.jpg"> <img src="/img/big.png">'
                    f' <a href="/img/missing.jpg">missing</a> <img src="{cdn}/blocked/x.jpg">',
                    title="Кино онлайн",
                    lang="ru",
                ),
                "/a.html": _html(
                    f'<img src="{cdn}/img/photo.jpg">'
                    '<picture><source srcset="/img/local.png 1x"></picture>',
                    title="A",
                ),
                "/deep1.html": _html('<a href="/deep2.html">2</a>'),
                "/deep2.html": _html('<a href="/deep3.html">3</a>'),
                "/deep3.html": _html('<a href="/deep4.html">4</a>'),
                "/private/secret.html": _html("secret"),
                "/away.html": Reply(
                    status=302, headers={"Location": server.url("elsewhere.example.kz")}
                ),
                "/img/local.png": files["local.png"],
                "/img/big.png": files["big.png"],
            }
        )
        sites["cdn.example.ru"].update(
            {
                "/robots.txt": b"User-agent: *\nDisallow: /blocked/\n",
                "/img/photo.jpg": files["photo.jpg"],
                "/blocked/x.jpg": files["blocked.jpg"],
            }
        )
        sites["many.example.kz"].update(
            {"/": _html(" ".join(f'<a href="/p{i}.html">{i}</a>' for i in range(1, 10)))}
            | {f"/p{i}.html": _html(f"page {i}") for i in range(1, 10)}
        )
        sites["intra.example.kz"]["/"] = _html("intranet")

        targets = home / "targets.yaml"
        targets.write_text(
            f"""
targets:
  - name: kino
    seeds: ["{server.url("kino.example.kz")}"]
    max_depth: 2
    max_pages: 50
    jurisdiction: kz
    allow_private_addresses: true
  - name: many
    seeds: ["{server.url("many.example.kz")}"]
    max_pages: 3
    allow_private_addresses: true
  - name: intra
    seeds: ["{server.url("intra.example.kz")}"]
  - name: sleeping
    seeds: ["{server.url("kino.example.kz")}"]
    paused: true
    allow_private_addresses: true
""",
            encoding="utf-8",
        )
        run = run_crawl(
            server,
            targets,
            home,
            env={"TANBA_MEDIA_MAX_BYTES": str(MEDIA_MAX_BYTES), "TANBA_FETCH_TIMEOUT_S": "10"},
            extra_args=["--progress"],
        )
    run.files = files
    yield run
