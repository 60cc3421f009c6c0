"""tanba.crawlers.extract: every media source kind, srcset, URL resolution, and garbage input."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tanba.crawlers.extract import Extracted, MediaRef, extract, media_kind_of, parse_srcset

BASE = "http://kino.example.kz/films/page.html"


def media(html: str, base: str = BASE) -> list[tuple[str, str, str]]:
    return [(m.url, m.kind_hint, m.source) for m in extract(html, base).media]


def urls(html: str, base: str = BASE) -> list[str]:
    return [m.url for m in extract(html, base).media]


def test_img_src_is_absolute() -> None:
    assert media('<img src="a.jpg">') == [
        ("http://kino.example.kz/films/a.jpg", "image", "img.src")
    ]


def test_img_srcset_gives_every_candidate() -> None:
    html = '<img srcset="small.jpg 480w, /big.jpg 1080w,  https://cdn.example.ru/x.jpg 2x">'
    assert urls(html) == [
        "http://kino.example.kz/films/small.jpg",
        "http://kino.example.kz/big.jpg",
        "https://cdn.example.ru/x.jpg",
    ]


def test_srcset_urls_may_contain_commas() -> None:
    assert list(parse_srcset("/w_100,h_100/a.jpg 1x, /b.jpg 2x")) == [
        "/w_100,h_100/a.jpg",
        "/b.jpg",
    ]
    assert list(parse_srcset("a.jpg,b.jpg")) == ["a.jpg,b.jpg"]  # spec: no space, one URL
    assert list(parse_srcset("a.jpg, b.jpg")) == ["a.jpg", "b.jpg"]
    assert list(parse_srcset("")) == []


@pytest.mark.parametrize("attr", ["data-src", "data-lazy-src", "data-original"])
def test_lazy_img_src(attr: str) -> None:
    assert media(f'<img src="placeholder.gif" {attr}="real.jpg">')[1] == (
        "http://kino.example.kz/films/real.jpg",
        "image",
        f"img.{attr}",
    )


def test_lazy_srcset() -> None:
    assert urls('<img data-srcset="a.jpg 1x, b.jpg 2x">') == [
        "http://kino.example.kz/films/a.jpg",
        "http://kino.example.kz/films/b.jpg",
    ]


def test_picture_source_srcset() -> None:
    html = '<picture><source srcset="a.avif" type="image/avif"><img src="a.jpg"></picture>'
    assert media(html) == [
        ("http://kino.example.kz/films/a.avif", "image", "picture.source.srcset"),
        ("http://kino.example.kz/films/a.jpg", "image", "img.src"),
    ]


def test_audio_and_video_with_sources() -> None:
    html = (
        '<audio src="song.mp3"></audio>'
        '<audio><source src="track.ogg"><source src="track.m4a"></audio>'
        '<video src="clip.mp4" poster="poster.jpg"><source src="clip.webm"></video>'
    )
    assert media(html) == [
        ("http://kino.example.kz/films/song.mp3", "audio", "audio.src"),
        ("http://kino.example.kz/films/track.ogg", "audio", "audio.source.src"),
        ("http://kino.example.kz/films/track.m4a", "audio", "audio.source.src"),
        ("http://kino.example.kz/films/clip.mp4", "video", "video.src"),
        ("http://kino.example.kz/films/poster.jpg", "image", "video.poster"),
        ("http://kino.example.kz/films/clip.webm", "video", "video.source.src"),
    ]


def test_stream_manifests_are_video_wherever_referenced() -> None:
    html = (
        '<video><source src="/hls/film.m3u8" type="application/x-mpegURL"></video>'
        '<a href="/dash/film.mpd">dash</a>'
        '<video><source src="/play?id=7"></video>'  # no extension: the element decides
    )
    assert media(html) == [
        ("http://kino.example.kz/hls/film.m3u8", "video", "video.source.src"),
        ("http://kino.example.kz/dash/film.mpd", "video", "a.href"),
        ("http://kino.example.kz/play?id=7", "video", "video.source.src"),
    ]


def test_iframes_are_frames_not_links_or_media() -> None:
    found = extract(
        '<iframe src="https://player.example.ru/embed/42"></iframe>'
        '<iframe src="/local-player.html"></iframe><iframe src="javascript:void(0)"></iframe>'
        '<iframe src="https://player.example.ru/embed/42#t=5"></iframe><frame src="f.html">',
        BASE,
    )
    assert found.frames == [
        "https://player.example.ru/embed/42",
        "http://kino.example.kz/local-player.html",
        "http://kino.example.kz/films/f.html",
    ]
    assert found.links == [] and found.media == []


def test_frames_and_plugins_showing_a_media_file_are_media() -> None:
    html = (
        '<iframe src="/v/film.mp4"></iframe><embed src="clip.webm">'
        '<object data="https://cdn.example.ru/s.m3u8"></object><embed src="game.swf">'
    )
    assert media(html) == [
        ("http://kino.example.kz/v/film.mp4", "video", "iframe.src"),
        ("http://kino.example.kz/films/clip.webm", "video", "embed.src"),
        ("https://cdn.example.ru/s.m3u8", "video", "object.data"),
    ]
    assert extract(html, BASE).frames == []


@pytest.mark.parametrize(
    ("href", "kind"),
    [
        ("p.JPG", "image"),
        ("p.jpeg?w=1", "image"),
        ("p.png", "image"),
        ("p.gif", "image"),
        ("p.webp", "image"),
        ("p.bmp", "image"),
        ("p.tiff", "image"),
        ("p.avif", "image"),
        ("s.mp3", "audio"),
        ("s.oga", "audio"),
        ("s.opus", "audio"),
        ("s.wav", "audio"),
        ("s.flac", "audio"),
        ("s.aac", "audio"),
        ("v.mp4", "video"),
        ("v.webm", "video"),
        ("v.mkv", "video"),
        ("v.m3u8", "video"),
        ("v.mpd", "video"),
    ],
)
def test_links_to_media_files_are_media_not_pages(href: str, kind: str) -> None:
    found = extract(f'<a href="{href}">x</a><a href="next.html">n</a>', BASE)
    assert [(m.kind_hint, m.source) for m in found.media] == [(kind, "a.href")]
    assert found.links == ["http://kino.example.kz/films/next.html"]


def test_media_kind_of_ignores_query_and_directories() -> None:
    assert media_kind_of("http://x/a.mp3?download=1") == "audio"
    assert media_kind_of("http://x/photos.jpg/index.html") is None
    assert media_kind_of("http://x/readme") is None


def test_meta_tags() -> None:
    html = (
        '<head><meta property="og:image" content="/og.jpg">'
        '<meta property="og:audio" content="https://cdn.example.ru/a.mp3">'
        '<meta name="twitter:image" content="tw.png">'
        '<meta name="description" content="not media.jpg"></head>'
    )
    assert media(html) == [
        ("http://kino.example.kz/og.jpg", "image", "meta.og:image"),
        ("https://cdn.example.ru/a.mp3", "audio", "meta.og:audio"),
        ("http://kino.example.kz/films/tw.png", "image", "meta.twitter:image"),
    ]


def test_css_backgrounds_in_style_attributes_and_blocks() -> None:
    html = (
        "<style>.hero { background-image: url('/hero.jpg') } "
        '@font-face { src: url(font.woff2) } .b{background:#000 url("b.png") no-repeat}</style>'
        "<div style=\"background-image: url(c.webp)\"></div><div style='color: red'></div>"
    )
    assert media(html) == [
        ("http://kino.example.kz/hero.jpg", "image", "style.background"),
        ("http://kino.example.kz/films/b.png", "image", "style.background"),
        ("http://kino.example.kz/films/c.webp", "image", "style.attr.background"),
    ]


def test_base_href_fragments_duplicates_and_bad_schemes() -> None:
    html = (
        '<base href="https://static.example.kz/v2/">'
        '<img src="a.jpg#top"><img src="a.jpg"><img srcset="a.jpg 2x">'
        '<img src="data:image/png;base64,AAAA"><img src="javascript:alert(1)">'
        '<img src="ftp://x/y.jpg"><img src="http://[bad/x.jpg"><img src="">'
        '<a href="mailto:a@b.kz">m</a><a href="#section">s</a>'
    )
    found = extract(html, BASE)
    assert [m.url for m in found.media] == ["https://static.example.kz/v2/a.jpg"]
    assert found.links == ["https://static.example.kz/v2/"]  # "#section" resolves against <base>


def test_links_are_absolute_deduplicated_in_document_order() -> None:
    html = '<a href="/b">b</a><a href="a?x=1#f">a</a><a href="/b">again</a><area href="c.html">'
    assert extract(html, BASE).links == [
        "http://kino.example.kz/b",
        "http://kino.example.kz/films/a?x=1",
        "http://kino.example.kz/films/c.html",
    ]


def test_title_and_lang() -> None:
    found = extract("<html lang=' kk '><head><title>\n Кино \n онлайн </title></head></html>", BASE)
    assert (found.title, found.lang) == ("Кино онлайн", "kk")
    assert (extract("<p>no head</p>", BASE).title, extract("<p>x</p>", BASE).lang) == ("", "")


def test_bytes_input_uses_the_declared_encoding() -> None:
    html = '<meta charset="windows-1251"><title>Фильм</title>'.encode("cp1251")
    assert extract(html, BASE).title == "Фильм"


def test_media_ref_is_a_value() -> None:
    assert MediaRef("http://x/a.jpg", "image", "img.src") == MediaRef(
        "http://x/a.jpg", "image", "img.src"
    )


@pytest.mark.parametrize(
    "garbage",
    [b"", b"\x00\x00", b"\xff\xfe\x00<", "<" * 10_000, "<![CDATA[", "\x0c", "\ud800"],
)
def test_garbage_alone_gives_nothing(garbage: str | bytes) -> None:
    assert extract(garbage, BASE) == Extracted()


@pytest.mark.parametrize(
    "garbage",
    [b"\x00\x00", "\ud800", "<" * 10_000, "\x0c", "\ufeff", b"\xef\xbb\xbf", b"\x00\x0b\x1f"],
)
def test_markup_after_garbage_is_still_read(garbage: str | bytes) -> None:
    markup = '<title>T</title><img src="a.jpg"><a href="/x">x</a>'
    html = garbage + (markup.encode() if isinstance(garbage, bytes) else markup)
    found = extract(html, BASE)
    assert [m.url for m in found.media] == ["http://kino.example.kz/films/a.jpg"]
    assert found.links == ["http://kino.example.kz/x"]


_TAGS = st.sampled_from(
    ["<img ", "<a ", "<source ", "<picture>", "<video ", "<meta ", "<style>", "</style>", "<base ",
     "src=", "srcset=", "href=", "style=", "content=", "property=og:image ", '"', "'", ">", "url(",
     ")", ",", " 2x", "http://", "//", "[", "]", ":", "#", "?", "\x00", "é", "\ufeff", "&#0;"]
)  # fmt: skip


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    html=st.one_of(
        st.binary(max_size=400),
        st.text(max_size=400),
        st.lists(st.one_of(_TAGS, st.text(max_size=5)), max_size=60).map("".join),
    ),
    base=st.one_of(st.just(BASE), st.text(max_size=30)),
)
def test_fuzz_never_raises_and_only_yields_absolute_http_urls(html: str | bytes, base: str) -> None:
    # extract() answers any failure with an empty result, so the image the page starts with
    # must come out whatever follows it: a crash on every input would otherwise pass unseen.
    sentinel = '<img src="/fuzz-sentinel.jpg">'
    page = sentinel.encode() + html if isinstance(html, bytes) else sentinel + html
    found = extract(page, base)
    for url in found.links + [m.url for m in found.media]:
        assert url.startswith(("http://", "https://")), url
        assert "#" not in url
    assert len({m.url for m in found.media}) == len(found.media)
    if base == BASE:  # a random base is no URL to resolve against
        assert "http://kino.example.kz/fuzz-sentinel.jpg" in [m.url for m in found.media]


def test_player_configs_in_scripts_give_their_video_urls() -> None:
    html = (
        '<script>var p = new Playerjs({id: "p", file: "https://cdn.example.ru/f/master.m3u8?t=1"});'
        '\nvar c = {"sources": [{"src": "https:\\/\\/cdn.example.ru\\/v\\/film.mp4"}],'
        ' "poster": "/p.jpg", "app": "/static/app.js", "other": "//cdn.example.ru/d/film.mpd"};'
        "\nvar note = 'film.mp4 is great';</script>"
        '<video data-src="/lazy.webm"><source data-src="/lazy.mp4"></video>'
    )
    assert media(html) == [
        ("https://cdn.example.ru/f/master.m3u8?t=1", "video", "script.url"),
        ("https://cdn.example.ru/v/film.mp4", "video", "script.url"),
        ("http://cdn.example.ru/d/film.mpd", "video", "script.url"),
        ("http://kino.example.kz/lazy.webm", "video", "video.data-src"),
        ("http://kino.example.kz/lazy.mp4", "video", "video.source.data-src"),
    ]
