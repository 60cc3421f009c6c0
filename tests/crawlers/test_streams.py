"""sample_stream against a fake fetch: loops, endless playlists, failing segments, bad segments.

The real network path (guard, robots.txt, WARC) is in test_video.py; here every
request the sampler makes is recorded, so what it asks for is exact.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import Response

from tanba.core.settings import Settings
from tanba.crawlers.join import JoinFailed, Part, input_format, join
from tanba.crawlers.streams import StreamRefused, is_manifest, sample_stream
from tests.support.streams import SEGMENTS, make_streams

BASE = "http://cdn.example.ru/"


@pytest.fixture(scope="module")
def streams(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_streams(tmp_path_factory.mktemp("streams"))


class FakeWeb:
    """Answers requests from a dict of URL -> body (404 otherwise), and records them."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.asked: list[str] = []
        self.failures: list[tuple[str, object]] = []

    async def fetch(self, request: Request) -> Response:
        self.asked.append(request.url)
        body = self.files.get(request.url)
        return Response(request.url, status=200 if body is not None else 404, body=body or b"",
                        request=request)  # fmt: skip

    def failed(self, request: Request, error: Exception | int) -> None:
        self.failures.append((request.url, error))

    def sample(self, url: str, settings: Settings) -> object:
        first = Response(url, body=self.files[url], request=Request(url))
        return asyncio.run(sample_stream(first, self.fetch, settings, self.failed))


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(home=tmp_path, **values)  # type: ignore[arg-type]


def test_a_variant_that_is_itself_a_master_playlist_is_a_loop(tmp_path: Path) -> None:
    master = b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1\nmaster.m3u8\n"
    web = FakeWeb({BASE + "master.m3u8": master})
    with pytest.raises(StreamRefused, match="loop"):
        web.sample(BASE + "master.m3u8", settings(tmp_path))
    assert web.asked == [BASE + "master.m3u8"]  # fetched once as the variant, then refused


def test_a_live_playlist_is_sampled_as_listed_and_never_polled(
    streams: Path, tmp_path: Path
) -> None:
    low = streams / "hls" / "low"
    text = (low / "index.m3u8").read_text().replace("#EXT-X-ENDLIST\n", "")
    files = {BASE + "live.m3u8": text.encode()}
    files |= {BASE + p.name: p.read_bytes() for p in low.glob("*.ts")}
    web = FakeWeb(files)
    sampled = web.sample(BASE + "live.m3u8", settings(tmp_path, stream_max_segments=3))
    assert sampled.sample.live  # type: ignore[attr-defined]
    assert len(web.asked) == 3 and not any(u.endswith(".m3u8") for u in web.asked)


def test_aes_128_segments_are_decrypted_with_a_key_fetched_once(
    streams: Path, tmp_path: Path
) -> None:
    aes = streams / "aes"
    files = {BASE + p.name: p.read_bytes() for p in aes.iterdir()}
    web = FakeWeb(files)
    sampled = web.sample(BASE + "index.m3u8", settings(tmp_path, stream_max_segments=3))
    assert web.asked.count(BASE + "film.key") == 1
    assert len(sampled.sample.pieces) == 3  # type: ignore[attr-defined]
    assert web.failures == []
    wrong = FakeWeb({**files, BASE + "film.key": bytes(16)})
    # A wrong key fails the padding check (or, by a 1-in-256 chance per segment, gives bytes
    # that then do not join): never a file.
    with pytest.raises(StreamRefused, match=r"no segment|do not join"):
        wrong.sample(BASE + "index.m3u8", settings(tmp_path, stream_max_segments=3))
    assert any("does not decrypt" in str(error) for _, error in wrong.failures)


def test_segments_that_fail_are_reported_and_skipped(streams: Path, tmp_path: Path) -> None:
    low = streams / "hls" / "low"
    files = {BASE + "v.m3u8": (low / "index.m3u8").read_bytes()}
    files |= {BASE + p.name: p.read_bytes() for p in low.glob("*.ts") if p.name != "seg07.ts"}
    web = FakeWeb(files)
    sampled = web.sample(BASE + "v.m3u8", settings(tmp_path, stream_max_segments=3))
    # Picks under 10, 30 and 50 s; the middle one is missing.
    assert web.failures == [(BASE + "seg07.ts", 404)]
    assert [p.urls for p in sampled.sample.pieces] == [  # type: ignore[attr-defined]
        [BASE + "seg02.ts"],
        [BASE + "seg12.ts"],
    ]


def test_a_stream_with_no_segment_to_fetch_says_so(streams: Path, tmp_path: Path) -> None:
    low = streams / "hls" / "low"
    web = FakeWeb({BASE + "v.m3u8": (low / "index.m3u8").read_bytes()})
    with pytest.raises(StreamRefused, match="no segment"):
        web.sample(BASE + "v.m3u8", settings(tmp_path, stream_max_segments=2))
    assert len(web.failures) == 2


def test_a_manifest_over_its_size_cap_is_refused_unread(tmp_path: Path) -> None:
    big = ("#EXTM3U\n" + "#EXTINF:1,\nseg.ts\n" * 1000).encode()
    web = FakeWeb({BASE + "big.m3u8": big})
    with pytest.raises(StreamRefused, match="TANBA_STREAM_MANIFEST_MAX_BYTES"):
        web.sample(BASE + "big.m3u8", settings(tmp_path, stream_manifest_max_bytes=1000))
    assert web.asked == []


def test_a_playlist_of_100000_segments_is_sampled_across_it(streams: Path, tmp_path: Path) -> None:
    # A 2.3 MB media playlist (under the 4 MiB cap) listing 100,000 segments of 4 s (111
    # hours): parsed once, in a thread; 12 of its segments are fetched, spread over it, and
    # nothing else. Every segment is the same real TS file (the join re-times them).
    playlist = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
        + "".join(f"#EXTINF:4,\ns{i:06d}.ts\n" for i in range(100_000))
        + "#EXT-X-ENDLIST\n"
    ).encode()
    assert len(playlist) < Settings(home=tmp_path).stream_manifest_max_bytes
    segment = (streams / "hls" / "low" / "seg00.ts").read_bytes()
    files = {BASE + "v.m3u8": playlist}
    files |= {BASE + f"s{i:06d}.ts": segment for i in range(100_000)}
    web = FakeWeb(files)
    sampled = web.sample(BASE + "v.m3u8", settings(tmp_path))
    assert sampled.sample.segments_listed == 100_000  # type: ignore[attr-defined]
    picked = sorted(int(url[-9:-3]) for url in web.asked)
    assert len(picked) == 12 and picked[0] < 10_000 and picked[-1] > 90_000, picked
    assert len(sampled.data) > 0  # type: ignore[attr-defined]


def test_segments_that_are_not_media_do_not_join(tmp_path: Path) -> None:
    playlist = (
        "#EXTM3U\n" + "".join(f"#EXTINF:4,\ns{i}.ts\n" for i in range(3)) + "#EXT-X-ENDLIST\n"
    )
    files = {BASE + "v.m3u8": playlist.encode()}
    files |= {BASE + f"s{i}.ts": b"#EXTM3U\n#EXTINF:4,\nfile:///etc/passwd\n" for i in range(3)}
    web = FakeWeb(files)
    with pytest.raises(StreamRefused, match="neither MPEG-TS"):
        web.sample(BASE + "v.m3u8", settings(tmp_path))


def test_manifests_are_told_by_type_or_first_bytes() -> None:
    def response(body: bytes, content_type: str = "") -> Response:
        headers = {"Content-Type": content_type} if content_type else {}
        return Response(BASE + "x", body=body, headers=headers)

    assert is_manifest(response(b"\xef\xbb\xbf#EXTM3U\n"))
    assert is_manifest(response(b"whatever", "application/vnd.apple.mpegurl"))
    assert is_manifest(response(b'<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash">'))
    assert not is_manifest(response(b"\x00\x00\x00\x18ftypmp42", "video/mp4"))


def test_joining_a_truncated_segment_fails_with_a_reason_or_plays(streams: Path) -> None:
    """A segment cut in half still joins (what decodes of it), and the result plays."""
    low = streams / "hls" / "low"
    whole = (low / "seg03.ts").read_bytes()
    joined = join(
        [[Part((low / "seg01.ts").read_bytes())], [Part(whole[: len(whole) // 2 // 188 * 188])]],
        timeout_s=60,
        memory_bytes=1 << 30,
    )
    assert joined.video and joined.audio and len(joined.placed) == 2
    assert 0 < joined.placed[1].duration_s < 4.0
    with pytest.raises(JoinFailed, match="do not join"):
        join([[Part(b"\x47" + b"\x00" * 187 + b"\x47" + b"\xff" * 187)]], timeout_s=60,
             memory_bytes=1 << 30)  # fmt: skip


def test_the_input_format_is_named_never_probed() -> None:
    assert input_format(Part(b"\x47" + b"\x00" * 187 + b"\x47")) == "mpegts"
    assert input_format(Part(b"\x00\x00\x00\x18moof", b"\x00\x00\x00\x18ftypiso5")) == "mp4"
    assert input_format(Part(b"\xff\xf1\x50\x80")) == "aac"
    with pytest.raises(JoinFailed):
        input_format(Part(b"ffconcat version 1.0\nfile /etc/passwd\n"))


def test_the_film_has_the_segments_the_tests_count_on(streams: Path) -> None:
    assert len(list((streams / "hls" / "low").glob("*.ts"))) == SEGMENTS


def test_the_join_runs_under_its_memory_limit(streams: Path) -> None:
    """With too little address space the child cannot even load FFmpeg: a reason, no crash."""
    segment = (streams / "hls" / "low" / "seg01.ts").read_bytes()
    with pytest.raises(JoinFailed, match="do not join"):
        join([[Part(segment)]], timeout_s=60, memory_bytes=64 << 20)
    assert join([[Part(segment)]], timeout_s=60, memory_bytes=1 << 30).video
