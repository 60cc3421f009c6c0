r"""Link and media extraction from one HTML page: a pure function, safe on any input.

Contract: :func:`extract` takes the page's HTML (text or bytes) and its URL and
returns the page's outgoing links, the media it references, its ``<title>`` and
its ``<html lang>``. Media come from:

- ``img``: ``src``, every ``srcset`` candidate, lazy-loading ``data-src``,
  ``data-srcset``, ``data-lazy-src``, ``data-original``;
- ``picture > source[srcset]``;
- ``audio``/``video`` ``src`` and their ``source[src]`` children, hinted as their
  element (``"audio"``, ``"video"``), and ``video[poster]``; a stream's manifest
  (``.m3u8``, ``.mpd``) is media hinted ``"video"`` wherever it is referenced;
- ``a[href]`` to a file with a media extension (such links are media, not pages);
- quoted URLs of video files and manifests in inline ``<script>``s (a player's
  configuration: ``file: "https://…/master.m3u8"``), JSON's ``\/`` included;
- ``meta`` ``og:image``/``og:audio`` (and their ``:url``/``:secure_url`` forms),
  ``twitter:image``;
- CSS ``background``/``background-image: url(...)`` in ``style`` attributes and
  ``<style>`` blocks.

An ``iframe``/``frame``/``embed`` ``src`` or ``object[data]`` naming a media file
is media; otherwise ``iframe[src]`` and ``frame[src]`` are listed as
``frames``: the player pages a page embeds, which the spider fetches as part
of the page (:mod:`tanba.crawlers.spiders.site`), not as pages of their own.

All URLs are absolute (resolved against ``<base href>`` when present), http(s)
only, without fragment, de-duplicated in document order (the first occurrence
decides ``kind_hint`` and ``source``); ``data:``/``javascript:`` URLs are dropped.
:func:`extract` never raises: a document lxml cannot make sense of gives an
empty :class:`Extracted`.

Why one pass over the element tree instead of a list of XPath queries: document
order then falls out naturally, and each element is looked at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urldefrag, urljoin, urlsplit

from lxml.etree import _Element
from parsel import Selector
from w3lib.encoding import html_to_unicode

KindHint = Literal["image", "audio", "video"]

IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "png", "gif", "webp", "bmp", "tif", "tiff", "avif"})
AUDIO_EXTENSIONS = frozenset({"mp3", "ogg", "oga", "opus", "wav", "flac", "m4a", "aac"})
VIDEO_EXTENSIONS = frozenset({"mp4", "m4v", "webm", "mkv", "mov", "avi"})
# Stream manifests: HLS playlists and DASH MPDs (tanba.crawlers.streams samples them).
MANIFEST_EXTENSIONS = frozenset({"m3u8", "mpd"})
_META_MEDIA: dict[str, KindHint] = {
    "og:image": "image",
    "og:image:url": "image",
    "og:image:secure_url": "image",
    "twitter:image": "image",
    "twitter:image:src": "image",
    "og:audio": "audio",
    "og:audio:url": "audio",
    "og:audio:secure_url": "audio",
}
_LAZY_SRC = ("data-src", "data-lazy-src", "data-original")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
# Only background declarations: @font-face and @import also use url(), and are not media.
_CSS_BACKGROUND = re.compile(r"background(?:-image)?\s*:([^;}]*)", re.IGNORECASE)
_CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.IGNORECASE)
# A quoted URL (absolute, or a path) in a script ending in a video or manifest extension,
# with JSON's escaped slashes allowed: how players (Playerjs, video.js, hls.js set-ups)
# are given their file.
_SCRIPT_MEDIA_URL = re.compile(
    r"""(["'])((?:https?:)?(?:\\?/)[^"'\s<>]*?\.(?:m3u8|mpd|mp4|m4v|webm|mkv|mov)(?:\?[^"'\s<>]*)?)\1""",
    re.IGNORECASE,
)
_SCRIPT_MAX_CHARS = 1 << 20  # a page's script beyond a megabyte is a bundle, not a config
# XML 1.0 refuses these code points; lxml raises on them instead of skipping them.
_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


@dataclass(frozen=True)
class MediaRef:
    """A media URL referenced by a page, with how it was referenced."""

    url: str
    kind_hint: KindHint
    source: str  # e.g. "img.src", "img.srcset", "meta.og:image", "style.background"
    # The player page (an iframe's document) the media was found on, "" for the page itself.
    player_url: str = ""


@dataclass
class Extracted:
    """What a page links to and references, in document order."""

    links: list[str] = field(default_factory=list)
    media: list[MediaRef] = field(default_factory=list)
    frames: list[str] = field(default_factory=list)  # iframe/frame src: embedded players
    title: str = ""
    lang: str = ""


def extract(html: str | bytes, base_url: str) -> Extracted:
    """Links, media, title and language of one HTML page; never raises."""
    try:
        return _extract(html, base_url)
    except Exception:  # the contract: garbage in, empty result out
        return Extracted()


def _extract(html: str | bytes, base_url: str) -> Extracted:
    if isinstance(html, bytes):
        _, html = html_to_unicode(None, html)
    html = _XML_INVALID.sub("", html)
    if not html.strip():
        return Extracted()
    selector = Selector(text=html, type="html")
    root = selector.root
    if root is None or not isinstance(getattr(root, "tag", None), str):
        return Extracted()

    base = base_url
    for href in root.xpath("//base/@href")[:1]:
        joined = _absolute(base_url, str(href))
        if joined:
            base = joined

    out = _Collector(base)
    for element in root.iter():
        tag = element.tag
        if isinstance(tag, str):
            out.element(tag.lower(), element)

    title_nodes = root.xpath("//title")
    title = " ".join("".join(title_nodes[0].itertext()).split()) if title_nodes else ""
    lang = root.get("lang") if root.tag == "html" else None
    return Extracted(
        links=out.links,
        media=out.media,
        frames=out.frames,
        title=title,
        lang=(lang or "").strip()[:35],
    )


class _Collector:
    """Accumulates links and media of one document, de-duplicated in order."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.links: list[str] = []
        self.media: list[MediaRef] = []
        self.frames: list[str] = []
        self._links_seen: set[str] = set()
        self._media_seen: set[str] = set()

    def element(self, tag: str, el: _Element) -> None:
        get = el.get
        if tag == "img":
            self.add_media(get("src"), "image", "img.src")
            self.add_srcset(get("srcset"), "image", "img.srcset")
            for attr in _LAZY_SRC:
                self.add_media(get(attr), "image", f"img.{attr}")
            for attr in _LAZY_SRCSET:
                self.add_srcset(get(attr), "image", f"img.{attr}")
        elif tag == "source":
            parent_tag = _container(el)
            if parent_tag == "picture":
                self.add_srcset(get("srcset"), "image", "picture.source.srcset")
            elif parent_tag in ("audio", "video"):
                hint: KindHint = "audio" if parent_tag == "audio" else "video"
                self.add_media(get("src"), hint, f"{parent_tag}.source.src")
                self.add_media(get("data-src"), hint, f"{parent_tag}.source.data-src")
        elif tag in ("audio", "video"):
            hint = "audio" if tag == "audio" else "video"
            self.add_media(get("src"), hint, f"{tag}.src")
            self.add_media(get("data-src"), hint, f"{tag}.data-src")
            if tag == "video":
                self.add_media(get("poster"), "image", "video.poster")
        elif tag in ("iframe", "frame", "embed", "object"):
            src = get("data") if tag == "object" else get("src")
            url = _absolute(self.base, src) if src else None
            kind = media_kind_of(url) if url else None
            if url and kind:  # a frame or plug-in showing a media file itself
                self.add_media(url, kind, f"{tag}.{'data' if tag == 'object' else 'src'}")
            elif url and tag in ("iframe", "frame") and url not in self.frames:
                self.frames.append(url)
        elif tag in ("a", "area"):
            href = get("href")
            url = _absolute(self.base, href) if href else None
            if url:
                kind = media_kind_of(url)
                if kind:
                    self.add_media(url, kind, f"{tag}.href")
                elif url not in self._links_seen:
                    self._links_seen.add(url)
                    self.links.append(url)
        elif tag == "meta":
            key = (get("property") or get("name") or "").strip().lower()
            kind = _META_MEDIA.get(key)
            if kind:
                self.add_media(get("content"), kind, f"meta.{key}")
        elif tag == "style":
            self.add_css(el.text or "", "style")
        elif tag == "script":
            self.add_script(el.text or "")
        style = get("style")
        if style:
            self.add_css(style, "style.attr")

    def add_media(self, value: str | None, kind: KindHint, source: str) -> None:
        url = _absolute(self.base, value) if value else None
        if url and url not in self._media_seen:
            self._media_seen.add(url)
            self.media.append(MediaRef(url=url, kind_hint=kind, source=source))

    def add_script(self, script: str) -> None:
        """Stream and video URLs written in a script (a player's config), as quoted strings."""
        for match in _SCRIPT_MEDIA_URL.finditer(script[:_SCRIPT_MAX_CHARS]):
            value = match.group(2).replace("\\/", "/")
            if media_kind_of(_absolute(self.base, value) or "") == "video":
                self.add_media(value, "video", "script.url")

    def add_srcset(self, value: str | None, kind: KindHint, source: str) -> None:
        for candidate in parse_srcset(value or ""):
            self.add_media(candidate, kind, source)

    def add_css(self, css: str, source: str) -> None:
        for declaration in _CSS_BACKGROUND.finditer(css):
            for match in _CSS_URL.finditer(declaration.group(1)):
                value = next((g for g in match.groups() if g is not None), "")
                self.add_media(value, "image", f"{source}.background")


def _container(el: _Element) -> str:
    """The nearest picture/audio/video around a ``<source>``, or "".

    Walks up instead of taking the parent: libxml2's HTML parser does not know that
    ``<source>`` is a void element and nests consecutive ones in each other.
    """
    for ancestor in el.iterancestors():
        tag = ancestor.tag.lower() if isinstance(ancestor.tag, str) else ""
        if tag in ("picture", "audio", "video"):
            return tag
    return ""


def parse_srcset(value: str) -> Iterator[str]:
    """The URLs of a ``srcset`` attribute, following the HTML spec's candidate grammar.

    A URL may itself contain commas (``/w_100,h_100/a.jpg``); only a comma after
    whitespace, or one ending the URL, separates candidates.
    """
    i, n = 0, len(value)
    while i < n:
        while i < n and (value[i].isspace() or value[i] == ","):
            i += 1
        start = i
        while i < n and not value[i].isspace():
            i += 1
        url = value[start:i]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            # Skip the descriptors ("2x", "300w") up to the next comma outside parentheses.
            depth = 0
            while i < n and (value[i] != "," or depth):
                depth += {"(": 1, ")": -1}.get(value[i], 0)
                depth = max(depth, 0)
                i += 1
        if url:
            yield url


def media_kind_of(url: str) -> KindHint | None:
    """The kind hint for a URL whose path ends in a media file extension, else None."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return None
    _, dot, ext = path.rpartition(".")
    if not dot or "/" in ext:
        return None
    ext = ext.lower()
    if ext in IMAGE_EXTENSIONS:
        return "image"
    if ext in AUDIO_EXTENSIONS:
        return "audio"
    if ext in VIDEO_EXTENSIONS or ext in MANIFEST_EXTENSIONS:
        return "video"
    return None


def _absolute(base: str, value: str | None) -> str | None:
    """``value`` resolved against ``base``, without fragment; None unless http(s) with a host."""
    if not value:
        return None
    value = value.strip()
    if not value or value.lower().startswith(("data:", "javascript:", "mailto:", "about:")):
        return None
    try:
        url = urldefrag(urljoin(base, value)).url
        parts = urlsplit(url)
        if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
            return None
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError:
        return None
    return url
