"""Video in a real crawl: files, HLS and DASH streams sampled within budget, players in iframes.

One crawl (``tanba crawl`` in a subprocess, as the other crawler tests) of a
loopback web made with ffmpeg (:mod:`tests.support.streams`):

- ``kino.example.kz/`` (the target) shows an HLS stream (a multivariant playlist:
  an audio-only variant, 160x120 and 320x240 TS variants) and a plain MP4, links
  to a DASH page, and embeds a player from ``player.example.ru`` in an iframe;
- the player page (off the allowed domains) plays fragmented-MP4 HLS from
  ``cdn.example.ru``, links to a catalogue (never to be followed), and embeds a
  second player (``deep.example.ru``, two frames deep: followed) which embeds a
  third (``deeper.example.ru``: past TANBA_CRAWL_FRAME_HOPS=2, not followed);
- ``TANBA_STREAM_MAX_SEGMENTS=4``: each 15-segment stream gives 4 segments.

A second crawl gives the TS stream a byte budget of its playlists and two and a
half segments, and counts what the server sent.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import pytest
from warcio.archiveiterator import ArchiveIterator

from tanba.app.demo.server import SiteServer
from tanba.core.blobs.files import FileBlobStore
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.settings import Settings
from tanba.fingerprint.compute import fingerprint_file
from tests.support.crawling import CrawlRun, image_bytes, run_crawl
from tests.support.streams import SEGMENT_S, SEGMENTS, make_streams

MAX_SEGMENTS = 4


def _html(body: str, title: str = "") -> bytes:
    return f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>".encode()


@dataclass
class VideoWeb:
    run: CrawlRun
    streams: Path


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_streams(tmp_path_factory.mktemp("streams"))


def _sites(streams: Path) -> dict[str, object]:
    return {
        "kino.example.kz": {},
        "media.example.kz": streams,
        "cdn.example.ru": streams,
        "player.example.ru": {},
        "deep.example.ru": {},
        "deeper.example.ru": {},
    }


@pytest.fixture(scope="module")
def web(streams: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VideoWeb]:
    home = tmp_path_factory.mktemp("video-home")
    sites = _sites(streams)
    with SiteServer(sites) as server:  # type: ignore[arg-type]
        media, cdn = server.url("media.example.kz"), server.url("cdn.example.ru")
        player, deep = server.url("player.example.ru"), server.url("deep.example.ru")
        deeper = server.url("deeper.example.ru")
        sites["kino.example.kz"].update(  # type: ignore[attr-defined]
            {
                "/": _html(
                    f'<video controls><source src="{media}hls/master.m3u8"'
                    ' type="application/x-mpegURL"></video>'
                    f'<video src="{media}film.mp4"></video>'
                    '<a href="/dash.html">DASH</a>'
                    f'<iframe src="{player}embed/1" allowfullscreen></iframe>',
                    title="Фильм онлайн",
                ),
                "/dash.html": _html(
                    f'<video><source src="{media}dash/film.mpd"></video>'
                    f'<iframe src="{player}embed/1"></iframe>'  # the same player again
                ),
            }
        )
        sites["player.example.ru"].update(  # type: ignore[attr-defined]
            {
                "/embed/1": _html(
                    f'<video><source src="{cdn}fmp4/index.m3u8"></video>'
                    '<a href="/catalogue.html">more films</a>'
                    f'<iframe src="{deep}e/2"></iframe>',
                    title="Player",
                ),
                "/catalogue.html": _html("catalogue"),
            }
        )
        sites["deep.example.ru"].update(  # type: ignore[attr-defined]
            {
                "/e/2": _html(f'<img src="/poster.jpg"><iframe src="{deeper}e/3"></iframe>'),
                "/poster.jpg": image_bytes("navy", "JPEG"),
            }
        )
        sites["deeper.example.ru"]["/e/3"] = _html('<img src="/x.jpg">')  # type: ignore[index]
        targets = home / "targets.yaml"
        targets.write_text(
            f"""
targets:
  - name: kino
    seeds: ["{server.url("kino.example.kz")}"]
    allowed_domains: ["kino.example.kz"]
    max_depth: 1
    allow_private_addresses: true
""",
            encoding="utf-8",
        )
        run = run_crawl(
            server,
            targets,
            home,
            env={"TANBA_STREAM_MAX_SEGMENTS": str(MAX_SEGMENTS), "TANBA_FETCH_TIMEOUT_S": "20"},
            timeout_s=300,
        )
    yield VideoWeb(run, streams)


def _event(run: CrawlRun, media_url_end: str) -> MediaDiscovered:
    found = [e for _, e in run.events if e.occurrence.media_url.endswith(media_url_end)]
    assert len(found) == 1, [e.occurrence.media_url for _, e in run.events]
    return found[0]


def _blob(run: CrawlRun, event: MediaDiscovered) -> Path:
    return FileBlobStore(run.home / "blobs").path(event.occurrence.sha256)


def _decoded(path: Path) -> tuple[float, int, int, int, int]:
    """(duration s, video frames, audio frames, width, height) of a file, every frame decoded."""
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video else None
        audio = container.streams.audio[0] if container.streams.audio else None
        counts = {"video": 0, "audio": 0}
        for frame in container.decode(*[s for s in (video, audio) if s is not None]):
            counts["video" if isinstance(frame, av.VideoFrame) else "audio"] += 1
        duration = (container.duration or 0) / 1_000_000
        return (
            duration,
            counts["video"],
            counts["audio"],
            video.codec_context.width if video else 0,
            video.codec_context.height if video else 0,
        )


def _warc_uris(run: CrawlRun, event: MediaDiscovered) -> list[str]:
    """Target URIs of the response records in the event's media capture span, in order."""
    ref = event.occurrence.media_capture
    assert ref is not None
    with open(run.home / "captures" / ref.warc, "rb") as f:
        f.seek(ref.offset)
        chunk = f.read(ref.length)
    return [
        str(r.rec_headers.get_header("WARC-Target-URI"))
        for r in ArchiveIterator(io.BytesIO(chunk))
        if r.rec_type == "response"
    ]


def _requested(run: CrawlRun, host: str, prefix: str) -> list[str]:
    return [p for p in run.requests.get(host, []) if p.startswith(prefix)]


def test_a_video_file_is_hinted_video(web: VideoWeb) -> None:
    event = _event(web.run, "/film.mp4")
    assert event.kind_hint == "video" and event.occurrence.stream is None
    assert _blob(web.run, event).read_bytes() == (web.streams / "film.mp4").read_bytes()


def test_hls_samples_the_cheapest_variant_with_video_spread_over_the_film(web: VideoWeb) -> None:
    event = _event(web.run, "/hls/master.m3u8")
    stream = event.occurrence.stream
    assert event.kind_hint == "video" and stream is not None
    assert stream.protocol == "hls" and stream.variant_url.endswith("/hls/low/index.m3u8")
    assert (stream.width, stream.height, stream.bandwidth) == (160, 120, 300000)
    assert stream.segments_listed == SEGMENTS and stream.stream_duration_s == pytest.approx(60)
    # Four segments, the one under the middle of each quarter of the film.
    starts = [p.stream_start_s for p in stream.pieces]
    assert starts == [4.0, 20.0, 36.0, 52.0]  # under 7.5, 22.5, 37.5 and 52.5 s
    assert [p.urls for p in stream.pieces] == [
        [run_url(web.run, "media.example.kz", f"/hls/low/seg{int(s) // SEGMENT_S:02d}.ts")]
        for s in starts
    ]
    # The server saw the master, the low variant and its four segments; nothing else of HLS.
    requested = _requested(web.run, "media.example.kz", "/hls/")
    assert sorted(requested) == sorted(
        ["/hls/master.m3u8", "/hls/low/index.m3u8"]
        + [f"/hls/low/seg{int(s) // SEGMENT_S:02d}.ts" for s in starts]
    )


def test_the_sampled_file_plays_and_its_pieces_follow_each_other(web: VideoWeb) -> None:
    event = _event(web.run, "/hls/master.m3u8")
    stream = event.occurrence.stream
    assert stream is not None and stream.container == "matroska"
    duration, video_frames, audio_frames, width, height = _decoded(_blob(web.run, event))
    assert (width, height) == (160, 120)
    # 4 pieces of 4 s at 10 frames a second, with their sound; timestamps continuous.
    assert video_frames == MAX_SEGMENTS * SEGMENT_S * 10
    assert audio_frames > 0
    assert duration == pytest.approx(MAX_SEGMENTS * SEGMENT_S, abs=0.2)
    ends = [p.file_start_s + p.duration_s for p in stream.pieces]
    assert [p.file_start_s for p in stream.pieces[1:]] == pytest.approx(ends[:-1], abs=0.01)
    assert stream.pieces[0].file_start_s == 0.0


def test_the_sampled_file_is_fingerprinted_with_its_soundtrack(
    web: VideoWeb, tmp_path: Path
) -> None:
    """The fingerprint stage takes the sampled file: its soundtrack's print, 16 s long.

    Without visual prints the file is an "audio" print; with them (the video branch)
    a "video" print that carries the soundtrack's print beside the picture's.
    """
    event = _event(web.run, "/hls/master.m3u8")
    print_ = fingerprint_file(
        _blob(web.run, event), event.occurrence.sha256, Settings(home=tmp_path)
    )
    assert print_.media in ("audio", "video") and print_.audio is not None
    assert print_.audio.duration_s == pytest.approx(MAX_SEGMENTS * SEGMENT_S, abs=0.5)
    if print_.media == "video":
        assert getattr(print_, "video", None) is not None


def test_the_warc_holds_the_manifests_and_every_segment_fetched(web: VideoWeb) -> None:
    event = _event(web.run, "/hls/master.m3u8")
    uris = _warc_uris(web.run, event)
    paths = ["/" + u.split("/", 3)[3] for u in uris]
    assert paths[0] == "/hls/master.m3u8"
    assert sorted(paths) == sorted(_requested(web.run, "media.example.kz", "/hls/"))


def test_dash_joins_video_and_audio_representations(web: VideoWeb) -> None:
    event = _event(web.run, "/dash/film.mpd")
    stream = event.occurrence.stream
    assert stream is not None and stream.protocol == "dash"
    assert [len(p.urls) >= 2 for p in stream.pieces] == [True] * MAX_SEGMENTS
    _, video_frames, audio_frames, _, _ = _decoded(_blob(web.run, event))
    assert video_frames == MAX_SEGMENTS * SEGMENT_S * 10 and audio_frames > 0
    paths = ["/" + u.split("/", 3)[3] for u in _warc_uris(web.run, event)]
    assert paths[0] == "/dash/film.mpd"
    assert {"/dash/init-stream0.m4s", "/dash/init-stream1.m4s"} <= set(paths)
    assert sorted(paths) == sorted(_requested(web.run, "media.example.kz", "/dash/"))


def test_a_player_on_another_host_is_followed_for_its_media_with_both_pages_kept(
    web: VideoWeb,
) -> None:
    run = web.run
    events = [e for _, e in run.events if e.occurrence.media_url.endswith("/fmp4/index.m3u8")]
    # One event per page embedding the player; the player and its stream fetched once.
    assert sorted(e.occurrence.page_url for e in events) == [
        run_url(run, "kino.example.kz", "/"),
        run_url(run, "kino.example.kz", "/dash.html"),
    ]
    assert len({e.occurrence.player_capture for e in events}) == 1
    assert len({e.occurrence.media_capture for e in events}) == 1
    event = next(e for e in events if e.occurrence.page_url.endswith(f":{run.port}/"))
    o = event.occurrence
    assert o.page_url == run_url(run, "kino.example.kz", "/") and o.site == "kino.example.kz"
    assert o.player_url == run_url(run, "player.example.ru", "/embed/1")
    assert o.player_site == "player.example.ru"
    assert o.page_capture is not None and o.player_capture is not None
    assert o.player_capture != o.page_capture
    # fMP4: the init segment once, then the four segments; the file plays.
    requested = _requested(run, "cdn.example.ru", "/fmp4/")
    assert requested.count("/fmp4/init.mp4") == 1
    assert len([p for p in requested if p.endswith(".m4s")]) == MAX_SEGMENTS
    _, video_frames, _, _, _ = _decoded(_blob(run, event))
    assert video_frames == MAX_SEGMENTS * SEGMENT_S * 10
    assert run.requests["cdn.example.ru"].count("/fmp4/index.m3u8") == 1


def test_players_are_followed_two_frames_deep_and_never_for_their_links(web: VideoWeb) -> None:
    run = web.run
    assert run.requests.get("player.example.ru") == ["/robots.txt", "/embed/1"]
    assert "/e/2" in run.requests.get("deep.example.ru", [])
    assert "deeper.example.ru" not in run.requests  # a third frame: past the two hops
    posters = [
        e.occurrence for _, e in run.events if e.occurrence.media_url.endswith("/poster.jpg")
    ]
    assert {p.page_url for p in posters} == {
        run_url(run, "kino.example.kz", "/"),
        run_url(run, "kino.example.kz", "/dash.html"),
    }
    assert {p.player_url for p in posters} == {run_url(run, "deep.example.ru", "/e/2")}


def test_the_crawl_counts_streams_and_players(web: VideoWeb) -> None:
    total = web.run.stats["total"]
    assert total["streams"] == 3 and total["players"] == 2
    assert total["pages"] == 4  # two pages of the site and two players
    assert total["failures"] == {}


def run_url(run: CrawlRun, host: str, path: str) -> str:
    return f"http://{host}:{run.port}{path}"


def test_the_byte_budget_holds_for_a_stream(streams: Path, tmp_path: Path) -> None:
    """A media playlist declares no bandwidth: 12 picks, and the bytes decide where it stops."""
    low = streams / "hls" / "low"
    playlist = len((low / "index.m3u8").read_bytes())
    sizes = {p.name: len(p.read_bytes()) for p in low.glob("*.ts")}
    # The playlist, the first and the last segment, and half of the third pick (seg08).
    budget = playlist + sizes["seg00.ts"] + sizes["seg14.ts"] + sizes["seg08.ts"] // 2
    sites = {"kino.example.kz": {}, "media.example.kz": streams}
    with SiteServer(sites) as server:  # type: ignore[arg-type]
        sites["kino.example.kz"]["/"] = _html(  # type: ignore[index]
            f'<video><source src="{server.url("media.example.kz")}hls/low/index.m3u8"></video>'
        )
        run = _crawl_kino(
            server,
            tmp_path,
            env={"TANBA_STREAM_MAX_SEGMENTS": "12", "TANBA_STREAM_MAX_BYTES": str(budget)},
            timeout_s=300,
        )
    event = _event(run, "/hls/low/index.m3u8")
    stream = event.occurrence.stream
    assert stream is not None
    # The first and the last of the 12 picks came first, so the two that fit span the film.
    assert [p.stream_start_s for p in stream.pieces] == [0.0, 56.0]
    assert stream.bytes_fetched == playlist + sizes["seg00.ts"] + sizes["seg14.ts"] <= budget
    # The third pick was asked for at most what was left, and cut there; no fourth was asked.
    sent = [p for p in run.requests["media.example.kz"] if p.startswith("/hls/low/seg")]
    assert sent == ["/hls/low/seg00.ts", "/hls/low/seg14.ts", "/hls/low/seg08.ts"]
    assert sum(_response_sizes(run, event)) == stream.bytes_fetched
    assert run.stats["total"]["failures"] == {}  # a budget reached is not a failure


def _crawl_kino(
    server: SiteServer,
    tmp_path: Path,
    network: str = "allow_private_addresses: true",
    **options: Any,
) -> CrawlRun:
    """``tanba crawl`` of one target seeded at kino.example.kz's front page, in a new home
    under ``tmp_path``; ``network`` is the target's network line, ``options`` go to
    :func:`run_crawl`."""
    targets = tmp_path / "targets.yaml"
    targets.write_text(
        f'targets:\n  - name: kino\n    seeds: ["{server.url("kino.example.kz")}"]\n'
        f"    {network}\n",
        encoding="utf-8",
    )
    (tmp_path / "home").mkdir()
    return run_crawl(server, targets, tmp_path / "home", **options)


def _response_sizes(run: CrawlRun, event: MediaDiscovered) -> list[int]:
    """Payload sizes of the response records in the event's media capture span."""
    ref = event.occurrence.media_capture
    assert ref is not None
    with open(run.home / "captures" / ref.warc, "rb") as f:
        f.seek(ref.offset)
        chunk = f.read(ref.length)
    return [
        len(r.content_stream().read())
        for r in ArchiveIterator(io.BytesIO(chunk))
        if r.rec_type == "response"
    ]


def test_a_playlist_pointing_at_a_private_address_is_refused_by_the_guard(
    streams: Path, tmp_path: Path
) -> None:
    """The site may be reached (its network is allowed); the playlist's segment host may not."""
    sites: dict[str, object] = {"kino.example.kz": {}, "media.example.kz": {}}
    with SiteServer(sites) as server:  # type: ignore[arg-type]
        intranet = f"http://intranet.example.ru:{server.port}"
        playlist = (
            "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
            + "".join(f"#EXTINF:4,\n{intranet}/hls/low/seg{i:02d}.ts\n" for i in range(SEGMENTS))
            + "#EXT-X-ENDLIST\n"
        )
        sites["media.example.kz"]["/film.m3u8"] = playlist.encode()  # type: ignore[index]
        sites["kino.example.kz"]["/"] = _html(  # type: ignore[index]
            f'<video><source src="{server.url("media.example.kz")}film.m3u8"></video>'
        )
        run = _crawl_kino(
            server,
            tmp_path,
            'allowed_networks: ["127.0.0.1/32"]',
            env={"TANBA_STREAM_MAX_SEGMENTS": "3"},
            extra_args=["--resolve", f"intranet.example.ru:{server.port}:127.0.0.2"],
        )
    assert run.events == []
    failed = run.stats["targets"]["kino"]["failed"]
    refused = [f for f in failed if f["reason"] == "private_address"]
    assert {f["url"].rsplit("/", 1)[1] for f in refused} >= {"seg02.ts", "seg07.ts", "seg12.ts"}
    (stream,) = [f for f in failed if f["url"].endswith("/film.m3u8")]
    assert stream["reason"] == "other" and "no segment" in stream["detail"]
    assert "intranet.example.ru" not in run.requests


def test_a_video_file_over_the_budget_gives_its_first_minutes(
    streams: Path, tmp_path: Path
) -> None:
    """Its first bytes by a Range request; an index at the end fetched too, and moved up."""
    size = (streams / "film.mp4").stat().st_size
    budget = size // 2  # the first 7/8 of that: well under half the film
    sites: dict[str, object] = {"kino.example.kz": {}, "media.example.kz": streams}
    with SiteServer(sites) as server:  # type: ignore[arg-type]
        media = server.url("media.example.kz")
        sites["kino.example.kz"]["/"] = _html(  # type: ignore[index]
            f'<video src="{media}film.mp4"></video><video src="{media}film-fast.mp4"></video>'
        )
        run = _crawl_kino(server, tmp_path, env={"TANBA_STREAM_MAX_BYTES": str(budget)})
    for name, requests in (("film.mp4", 2), ("film-fast.mp4", 1)):
        event = _event(run, "/" + name)
        stream = event.occurrence.stream
        assert stream is not None and stream.protocol == "progressive", name
        assert stream.bytes_fetched <= budget and stream.stream_duration_s == pytest.approx(60)
        (piece,) = stream.pieces
        assert piece.stream_start_s == 0 and 5 < piece.duration_s < 30
        duration, video_frames, audio_frames, _, _ = _decoded(_blob(run, event))
        assert duration == pytest.approx(piece.duration_s, abs=0.2)
        assert video_frames >= 10 * (piece.duration_s - 1) and audio_frames > 0
        assert run.requests["media.example.kz"].count("/" + name) == requests, name
        assert len(_response_sizes(run, event)) == requests
    assert run.stats["total"]["failures"] == {}
