"""Targets with ``render: true``: players that scripts build are found from the browser's network log.

One crawl of two targets over the same loopback site (``tanba crawl`` in a child
process, Debian's Chromium through Playwright):

- ``/watch.html`` has no media in its HTML: a script fetches ``/api/film.json``,
  then fetches the HLS playlist it names (as hls.js does) and gives the
  ``<video>`` a ``blob:`` URL, so the playlist is only in the network log;
- ``/clip.html`` builds a ``<video src=...mp4>`` element by script, from pieces, so
  the URL is in no quoted string the HTML's extraction would see (the rendered DOM);
- the same script asks ``intranet.example.ru``, served on another loopback address
  that the target's ``allowed_networks`` does not hold: the browser must not reach it;
- the target ``plain`` crawls the same pages without rendering, and finds nothing.
"""

from __future__ import annotations

import pytest

from tanba.app.demo.server import SiteServer
from tests.support.crawling import run_crawl
from tests.support.streams import make_streams

WATCH = """<!doctype html><html><head><title>Смотреть</title></head><body>
<video id="v" controls></video>
<script>
fetch('/api/film.json').then(r => r.json()).then(async config => {
  try { await fetch(config.intranet); } catch (e) {}
  const playlist = await fetch(config.hls).then(r => r.text()).catch(() => '');
  document.getElementById('v').src = URL.createObjectURL(new Blob([playlist]));
});
</script></body></html>"""

CLIP = """<!doctype html><html><body><div id="p"></div>
<script>
const v = document.createElement('video');
v.preload = 'none';
v.src = ['', 'files', 'film.mp4'].join('/');  // no URL in the text for the HTML's scan
document.getElementById('p').appendChild(v);
</script></body></html>"""


@pytest.fixture(scope="module")
def crawl(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    streams = make_streams(tmp_path_factory.mktemp("streams"))
    home = tmp_path_factory.mktemp("render-home")
    intranet_site: dict[str, object] = {"intranet.example.ru": {"/secret": b"secret"}}
    with SiteServer(intranet_site, address="127.0.0.2") as intranet:  # type: ignore[arg-type]
        sites: dict[str, object] = {"kino.example.kz": {}, "media.example.kz": streams}
        with SiteServer(sites) as server:  # type: ignore[arg-type]
            config = (
                f'{{"hls": "{server.url("media.example.kz")}hls/low/index.m3u8",'
                f' "intranet": "{intranet.url("intranet.example.ru")}secret"}}'
            )
            sites["kino.example.kz"].update(  # type: ignore[attr-defined]
                {
                    "/": b'<html><body><a href="/watch.html">w</a> <a href="/clip.html">c</a>'
                    b"</body></html>",
                    "/watch.html": WATCH.encode(),
                    "/clip.html": CLIP.encode(),
                    "/api/film.json": (config.encode(), "application/json"),
                    "/files/film.mp4": (streams / "film.mp4").read_bytes(),
                }
            )
            seed = server.url("kino.example.kz")
            targets = home / "targets.yaml"
            targets.write_text(
                "targets:\n"
                f'  - name: render\n    seeds: ["{seed}"]\n    render: true\n'
                '    allowed_networks: ["127.0.0.1/32"]\n'
                f'  - name: plain\n    seeds: ["{seed}"]\n'
                '    allowed_networks: ["127.0.0.1/32"]\n',
                encoding="utf-8",
            )
            run = run_crawl(
                server,
                targets,
                home,
                env={"TANBA_STREAM_MAX_SEGMENTS": "3", "TANBA_FETCH_TIMEOUT_S": "20"},
                extra_args=intranet.resolve_args(),
                timeout_s=300,
            )
        return run, list(intranet.log)


def _media(run, target: str) -> dict[str, object]:  # type: ignore[no-untyped-def]
    return {
        e.occurrence.media_url.split("/", 3)[3]: e
        for _, e in run.events
        if e.occurrence.target == target
    }


def test_the_playlist_a_script_fetches_is_found_in_the_network_log_and_sampled(crawl) -> None:  # type: ignore[no-untyped-def]
    run, _ = crawl
    media = _media(run, "render")
    event = media["hls/low/index.m3u8"]
    assert event.kind_hint == "video"  # type: ignore[attr-defined]
    o = event.occurrence  # type: ignore[attr-defined]
    assert o.page_url.endswith("/watch.html") and o.stream is not None
    assert len(o.stream.pieces) == 3
    # The crawler fetched the playlist once more for itself; the browser's own fetch was aborted.
    assert run.requests["media.example.kz"].count("/hls/low/index.m3u8") == 1


def test_a_video_element_built_by_a_script_is_found_in_the_rendered_dom(crawl) -> None:  # type: ignore[no-untyped-def]
    run, _ = crawl
    event = _media(run, "render")["files/film.mp4"]
    assert event.occurrence.page_url.endswith("/clip.html")  # type: ignore[attr-defined]
    assert event.kind_hint == "video"  # type: ignore[attr-defined]


def test_without_rendering_the_same_pages_show_no_media(crawl) -> None:  # type: ignore[no-untyped-def]
    run, _ = crawl
    assert _media(run, "plain") == {}
    assert run.stats["targets"]["plain"]["pages"] == 3


def test_the_browser_keeps_to_the_targets_network_policy(crawl) -> None:  # type: ignore[no-untyped-def]
    run, intranet_log = crawl
    assert intranet_log == []  # the script's fetch of the intranet host never left the browser
    # The page itself was fetched once per target by Scrapy: the browser was handed its bytes.
    assert run.requests["kino.example.kz"].count("/watch.html") == 2
