"""HLS and DASH manifests read into timed segments, and the choice of what to sample."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tanba.crawlers.manifests import (
    MAX_SEGMENTS,
    Master,
    StreamRefused,
    Track,
    choose_variant,
    parse_dash,
    parse_hls,
    sample,
    spread_order,
)

BASE = "https://cdn.example.ru/films/42/"

MASTER = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="ru",DEFAULT=NO,URI="audio/ru.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="en",DEFAULT=YES,URI="audio/en.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=64000,CODECS="mp4a.40.2"
audio-only.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=2500000,RESOLUTION=1280x720,CODECS="avc1.64001f,mp4a.40.2",AUDIO="aac"
720/index.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=800000,RESOLUTION=640x360,CODECS="avc1.4d401e,mp4a.40.2",AUDIO="aac"
360/index.m3u8
"""


def media_playlist(n: int, duration: float = 6.0, end: bool = True, extra: str = "") -> str:
    lines = ["#EXTM3U", "#EXT-X-TARGETDURATION:6", extra]
    for i in range(n):
        lines += [f"#EXTINF:{duration:.3f},", f"seg{i}.ts"]
    if end:
        lines.append("#EXT-X-ENDLIST")
    return "\n".join(lines) + "\n"


def test_a_master_playlist_gives_its_variants_and_the_default_audio_rendition() -> None:
    master = parse_hls(MASTER, BASE + "master.m3u8")
    assert isinstance(master, Master)
    chosen = choose_variant(master)
    # The audio-only variant is cheaper, but has no picture.
    assert (chosen.url, chosen.bandwidth, chosen.height) == (BASE + "360/index.m3u8", 800000, 360)
    assert chosen.audio_url == BASE + "audio/en.m3u8"
    assert [v.has_video for v in master.variants] == [False, True, True]


def test_variants_without_codecs_may_have_video() -> None:
    master = parse_hls(
        "#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\na.m3u8\n"
        "#EXT-X-STREAM-INF:BANDWIDTH=300000\nb.m3u8\n",
        BASE + "m.m3u8",
    )
    assert isinstance(master, Master) and choose_variant(master).url == BASE + "b.m3u8"


def test_a_media_playlist_gives_timed_segments_init_and_byte_ranges() -> None:
    text = (
        "#EXTM3U\n#EXT-X-TARGETDURATION:4\n"
        '#EXT-X-MAP:URI="film.mp4",BYTERANGE="720@0"\n'
        "#EXTINF:4.0,\n#EXT-X-BYTERANGE:1000@720\nfilm.mp4\n"
        "#EXTINF:3.5,\n#EXT-X-BYTERANGE:2000\nfilm.mp4\n"
        "#EXT-X-ENDLIST\n"
    )
    track = parse_hls(text, BASE + "v.m3u8")
    assert isinstance(track, Track) and not track.live
    assert track.init is not None and (track.init.url, track.init.byterange) == (
        BASE + "film.mp4",
        (0, 720),
    )
    assert [(s.start_s, s.duration_s, s.byterange) for s in track.segments] == [
        (0.0, 4.0, (720, 1000)),
        (4.0, 3.5, (1720, 2000)),  # no offset: right after the previous range
    ]
    assert track.duration_s == 7.5


def test_aes_128_segments_carry_their_key_and_iv() -> None:
    text = media_playlist(3, extra='#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-KEY:METHOD=AES-128,URI="k.bin"')
    text = text.replace(
        "seg2.ts",
        '#EXT-X-KEY:METHOD=AES-128,URI="k2.bin",IV=0x0000000000000000000000000000abcd\nseg2.ts',
    )
    track = parse_hls(text, BASE + "v.m3u8")
    assert isinstance(track, Track)
    assert [(s.key_url, s.iv) for s in track.segments] == [
        (BASE + "k.bin", (7).to_bytes(16, "big")),  # no IV: the media sequence number
        (BASE + "k.bin", (8).to_bytes(16, "big")),
        (BASE + "k2.bin", (0xABCD).to_bytes(16, "big")),
    ]


def test_a_playlist_without_an_end_is_live() -> None:
    track = parse_hls(media_playlist(5, end=False), BASE + "live.m3u8")
    assert isinstance(track, Track) and track.live and len(track.segments) == 5


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("<html>not a playlist</html>", "does not start with #EXTM3U"),
        (media_playlist(3, extra='#EXT-X-KEY:METHOD=SAMPLE-AES,URI="k"'), "SAMPLE-AES"),
        ("#EXTM3U\n#EXT-X-ENDLIST\n", "no segment"),
        (media_playlist(MAX_SEGMENTS + 1, duration=1.0), f"at most {MAX_SEGMENTS}"),
    ],
)
def test_playlists_that_are_not_sampled_say_why(text: str, reason: str) -> None:
    with pytest.raises(StreamRefused, match=reason):
        parse_hls(text, BASE + "x.m3u8")


def mpd(body: str, duration: str = "PT1M0S", kind: str = "static") -> str:
    return (
        '<?xml version="1.0"?>\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" '
        f'type="{kind}" mediaPresentationDuration="{duration}"><Period>{body}</Period></MPD>'
    )


VIDEO_SET = """<AdaptationSet contentType="video" mimeType="video/mp4">
<SegmentTemplate timescale="1000" duration="4000" startNumber="1"
 initialization="$RepresentationID$/init.mp4" media="$RepresentationID$/$Number%03d$.m4s"/>
<Representation id="hi" bandwidth="3000000" width="1280" height="720" codecs="avc1.64001f"/>
<Representation id="lo" bandwidth="400000" width="426" height="240" codecs="avc1.4d4015"/>
</AdaptationSet>"""
AUDIO_SET = """<AdaptationSet contentType="audio" mimeType="audio/mp4" codecs="mp4a.40.2">
<Representation id="a" bandwidth="64000">
<SegmentTemplate timescale="48000" initialization="a/init.mp4" media="a/$Time$.m4s">
<SegmentTimeline><S t="0" d="192512" r="2"/><S d="190464" r="-1"/></SegmentTimeline>
</SegmentTemplate></Representation></AdaptationSet>"""


def test_dash_takes_the_cheapest_video_and_audio_with_templates_and_timelines() -> None:
    stream = parse_dash(mpd(VIDEO_SET + AUDIO_SET), BASE + "film.mpd")
    video, audio = stream.main, stream.audio
    assert (video.bandwidth, video.height, video.codecs) == (400000, 240, "avc1.4d4015")
    assert video.init is not None and video.init.url == BASE + "lo/init.mp4"
    assert len(video.segments) == 15 and video.duration_s == 60.0
    assert (video.segments[2].url, video.segments[2].start_s) == (BASE + "lo/003.m4s", 8.0)
    assert audio is not None and audio.init is not None and audio.init.url == BASE + "a/init.mp4"
    # Three of 192512 ticks, then "r=-1": repeated to the end of the period (60 s).
    assert audio.segments[3].url == BASE + f"a/{3 * 192512}.m4s"
    assert audio.segments[3].start_s == pytest.approx(3 * 192512 / 48000)
    assert audio.duration_s == pytest.approx(60.0, abs=4.0)


def test_dash_segment_lists_with_byte_ranges() -> None:
    body = """<AdaptationSet mimeType="video/mp4"><Representation id="v" bandwidth="1">
    <BaseURL>media/</BaseURL>
    <SegmentList timescale="10" duration="40"><Initialization sourceURL="f.mp4" range="0-99"/>
    <SegmentURL media="f.mp4" mediaRange="100-199"/><SegmentURL media="f.mp4" mediaRange="200-349"/>
    </SegmentList></Representation></AdaptationSet>"""
    track = parse_dash(mpd(body), BASE + "film.mpd").main
    assert track.init is not None and track.init.byterange == (0, 100)
    assert [(s.url, s.start_s, s.byterange) for s in track.segments] == [
        (BASE + "media/f.mp4", 0.0, (100, 100)),
        (BASE + "media/f.mp4", 4.0, (200, 150)),
    ]


def test_a_template_of_a_hundred_thousand_segments_is_not_expanded() -> None:
    body = VIDEO_SET.replace('duration="4000"', 'duration="1000"')
    track = parse_dash(mpd(body, duration="PT27H46M40S"), BASE + "film.mpd").main
    assert len(track.segments) == MAX_SEGMENTS  # 100,000 one-second segments
    picks = sample(track, max_segments=12, max_seconds=120, max_bytes=1 << 30)
    assert len(picks) == 12 and max(picks) > 95_000
    with pytest.raises(StreamRefused, match="segments"):
        parse_dash(mpd(body, duration="PT28H"), BASE + "film.mpd")


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('<?xml version="1.0"?><!DOCTYPE MPD [<!ENTITY a "aaaa">]><MPD>&a;</MPD>', "DOCTYPE"),
        (mpd('<AdaptationSet mimeType="video/mp4"><ContentProtection/>'
             '<Representation id="v" bandwidth="1"/></AdaptationSet>'), "DRM"),
        (mpd('<AdaptationSet mimeType="video/mp4"><Representation id="v" bandwidth="1">'
             "<BaseURL>film.mp4</BaseURL><SegmentBase indexRange=\"0-9\"/>"
             "</Representation></AdaptationSet>"), "SegmentBase"),
        ("<MPD><Period><AdaptationSet", "does not parse"),
        (mpd(""), "no video or audio"),
        (mpd(VIDEO_SET, kind="dynamic"), "live DASH"),
    ],
)  # fmt: skip
def test_manifests_that_are_not_sampled_say_why(text: str, reason: str) -> None:
    with pytest.raises(StreamRefused, match=reason):
        parse_dash(text, BASE + "film.mpd")


def test_sampling_spreads_the_picks_and_keeps_to_every_budget() -> None:
    track = parse_hls(media_playlist(1200, duration=6.0), BASE + "film.m3u8")  # a 2-hour film
    assert isinstance(track, Track)
    picks = sample(track, max_segments=12, max_seconds=120, max_bytes=1 << 30)
    assert sorted(picks) == [50 + 100 * j for j in range(12)]  # the middle of each 12th
    assert picks[:2] == [50, 1150]  # first and last come first
    # 30 s of the film at most: five 6-second segments.
    assert len(sample(track, max_segments=12, max_seconds=30, max_bytes=1 << 30)) == 5
    # 1 Mbit/s declared: 750 KB a segment, so 3 MB hold four.
    rich = Track(url=track.url, segments=track.segments, bandwidth=1_000_000)
    assert len(sample(rich, max_segments=12, max_seconds=120, max_bytes=3_000_000)) == 4


@pytest.mark.parametrize("n", [1, 2, 3, 4, 7, 12, 33])
def test_spread_order_is_a_permutation_whose_prefixes_are_spread(n: int) -> None:
    order = spread_order(n)
    assert sorted(order) == list(range(n))
    if n >= 3:
        assert order[:2] == [0, n - 1] and abs(order[2] - (n - 1) / 2) <= 0.5


def test_a_stream_sample_maps_file_time_to_stream_time() -> None:
    from tanba.core.schemas.stream import StreamPiece, StreamSample

    sample_ = StreamSample(
        protocol="hls",
        manifest_url=BASE + "m.m3u8",
        pieces=[
            StreamPiece(stream_start_s=300, file_start_s=0, duration_s=6, urls=[], bytes=1),
            StreamPiece(stream_start_s=900, file_start_s=6, duration_s=6, urls=[], bytes=1),
        ],
    )
    assert sample_.stream_time(0) == 300 and sample_.stream_time(5.5) == 305.5
    assert sample_.stream_time(6) == 900 and sample_.stream_time(11.9) == pytest.approx(905.9)
    assert sample_.stream_time(12) is None and sample_.stream_time(-1) is None


def _linear_at(segments: list[tuple[float, float]], t: float) -> int:
    """The reference: the last segment starting at or before ``t`` (0 before the first)."""
    index = 0
    for i, (start, _) in enumerate(segments):
        if start <= t:
            index = i
    return index


@given(
    runs=st.lists(st.tuples(st.integers(1, 9000), st.integers(0, 5)), min_size=1, max_size=12),
    probes=st.lists(st.floats(-5, 400, allow_nan=False), min_size=1, max_size=20),
)
def test_timeline_segments_and_their_lookup_match_a_plain_expansion(
    runs: list[tuple[int, int]], probes: list[float]
) -> None:
    """A SegmentTimeline computed by index equals one expanded entry by entry."""
    timeline = "".join(f'<S d="{d}" r="{r}"/>' for d, r in runs)
    body = (
        '<AdaptationSet mimeType="video/mp4"><Representation id="v" bandwidth="1">'
        '<SegmentTemplate timescale="1000" media="$Time$.m4s" startNumber="5">'
        f"<SegmentTimeline>{timeline}</SegmentTimeline></SegmentTemplate>"
        "</Representation></AdaptationSet>"
    )
    track = parse_dash(mpd(body), BASE + "f.mpd").main
    expected, t = [], 0
    for d, r in runs:
        for _ in range(r + 1):
            expected.append((BASE + f"{t}.m4s", t / 1000, d / 1000))
            t += d
    got = [(s.url, s.start_s, s.duration_s) for s in track.segments]
    assert got == expected
    plain = [(start, duration) for _, start, duration in expected]
    for probe in probes:
        assert track.segments.at(probe) == _linear_at(plain, probe)
