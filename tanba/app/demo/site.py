"""The demo web: four small sites on loopback with copies of registered works, and what to expect.

``build()`` returns the sites' content, the works manifest and, for a given
port, the targets file, the ``--resolve`` lines and the exact set of alerts a
correct pipeline raises. The end-to-end tests assert that set; the demo prints it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tanba.app.demo import media
from tanba.fingerprint.registration import write_manifest

HTML = "text/html; charset=utf-8"
JPEG = "image/jpeg"
MP3 = "audio/mpeg"
MP4 = "video/mp4"
Content = dict[str, tuple[bytes, str]]

KINO = "kino.example.kz"  # Kazakh ccTLD
MUZYKA = "muzyka.example.ru"  # Russian ccTLD
NEWS = "news.example.com"  # .com, the target says BY
PARTNER = "partner.example.com"  # a licensee of work A


@dataclass(frozen=True)
class Expected:
    """An alert the demo must raise."""

    work_id: str
    host: str
    page: str
    media: str
    jurisdiction: str

    def key(self, port: int) -> tuple[str, str, str, str]:
        """(work_id, page_url, media_url, jurisdiction) of the alert, the site served on ``port``."""
        base = f"http://{self.host}:{port}"
        return (self.work_id, base + self.page, base + self.media, self.jurisdiction)


@dataclass
class DemoSite:
    """Everything the demo and the end-to-end tests need."""

    sites: dict[str, Content]
    works: list[dict[str, str]]  # manifest rows
    expected: list[Expected]
    licensed: list[Expected]  # matches that must be suppressed as licensed
    broken: list[str] = field(default_factory=list)  # media URLs (paths) that must be quarantined
    disallowed: list[str] = field(default_factory=list)  # paths robots.txt forbids

    def write_manifest(self, path: Path) -> Path:
        return write_manifest(self.works, path)

    def write_targets(self, path: Path, port: int) -> Path:
        lines = ["targets:"]
        for name, host, extra in (
            ("kino", KINO, ""),
            ("muzyka", MUZYKA, ""),
            ("news", NEWS, "    jurisdiction: BY\n"),
            ("partner", PARTNER, ""),
        ):
            lines.append(
                f"  - name: {name}\n"
                f'    seeds: ["http://{host}:{port}/"]\n'
                f'    allowed_domains: ["{host}"]\n'
                f"    max_depth: 3\n"
                f"    max_pages: 50\n"
                f"    allow_private_addresses: true  # the demo web is on loopback\n" + extra
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def resolve(self, port: int) -> list[str]:
        return [f"{host}:{port}:127.0.0.1" for host in self.sites]

    def alert_keys(self, port: int) -> set[tuple[str, str, str, str]]:
        """:meth:`Expected.key` of every expected alert."""
        return {e.key(port) for e in self.expected}


def _page(title: str, body: str, lang: str = "ru") -> bytes:
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()


def build() -> DemoSite:
    """Make the demo web from real media installed by Debian packages."""
    photos = media.photos()
    tracks = media.music()
    a, b, c, d, unrelated = photos[0], photos[1], photos[2], photos[3], photos[4]
    track, other_track = tracks[0], tracks[1]
    film = next(f for f in media.films() if f.name == "win005.mkv")  # 17.5 s, with sound
    owner = "Qazaq Pictures"
    works = [
        _row(a, "photo-a", owner, "Steppe poster", "KZ;RU;BY", PARTNER),
        _row(b, "photo-b", owner, "Calla", "", ""),
        _row(c, "photo-c", "Moscow Arts", "City", "", ""),
        _row(d, "photo-d", "Moscow Arts", "Desert", "", ""),
        _row(track, "track-t", "Bubble Records", "Main theme", "", ""),
        _row(film, "film-f", owner, "Blupi's victory", "", ""),
    ]
    kino: Content = {
        "/robots.txt": (b"User-agent: *\nDisallow: /private/\n", "text/plain"),
        "/": (
            _page(
                "Кино",
                '<a href="/films/1.html">1</a> <a href="/films/2.html">2</a>'
                ' <a href="/films/3.html">3</a>'
                ' <a href="/music.html">music</a> <a href="/private/secret.html">secret</a>'
                ' <a href="/broken.html">broken</a>',
                lang="kk",
            ),
            HTML,
        ),
        "/films/1.html": (
            _page(
                "Фильм 1", '<img src="/img/a-small.jpg" alt="poster"><img src="/img/street.jpg">'
            ),
            HTML,
        ),
        "/films/2.html": (
            _page(
                "Фильм 2",
                '<picture><source srcset="/img/b-crop.jpg 1x"><img src="/img/none.gif"></picture>',
            ),
            HTML,
        ),
        "/films/3.html": (
            _page(
                "Фильм 3",
                '<video controls width="240"><source src="/video/blupi.mp4" type="video/mp4">'
                "</video>",
            ),
            HTML,
        ),
        "/music.html": (
            _page(
                "Музыка",
                '<audio controls src="/audio/clip.mp3"></audio> <a href="/audio/other.mp3">other</a>',
            ),
            HTML,
        ),
        "/private/secret.html": (_page("secret", '<img src="/private/a.jpg">'), HTML),
        "/private/a.jpg": (media.web_jpeg(a), JPEG),
        "/broken.html": (
            _page(
                "broken",
                '<img src="/img/corrupt.jpg"><img src="/img/empty.jpg"><img src="/img/page.jpg">'
                ' <a href="/audio/truncated.mp3">cut</a>',
            ),
            HTML,
        ),
        "/img/a-small.jpg": (media.web_jpeg(a, width=640, quality=75), JPEG),
        "/img/b-crop.jpg": (media.web_jpeg(b, crop=0.03), JPEG),
        "/img/street.jpg": (media.web_jpeg(unrelated), JPEG),
        "/audio/clip.mp3": (media.audio_excerpt(track, start_s=60, seconds=20), MP3),
        "/audio/other.mp3": (media.audio_excerpt(other_track, start_s=30, seconds=20), MP3),
        # 10 s of the film from its 5th second, smaller and re-encoded: found by picture and sound.
        "/video/blupi.mp4": (media.video_excerpt(film, start_s=5, seconds=10), MP4),
    }
    good = media.web_jpeg(d)
    full_mp3 = media.audio_mp3(other_track, bitrate="96k")
    kino["/img/corrupt.jpg"] = (good[:600] + bytes(range(256)) * 8, JPEG)
    kino["/img/empty.jpg"] = (b"", JPEG)
    kino["/img/page.jpg"] = (_page("Not found", "<p>gone</p>"), JPEG)
    kino["/audio/truncated.mp3"] = (full_mp3[: len(full_mp3) // 3], MP3)
    muzyka: Content = {
        "/": (
            '<!doctype html><html><head><meta property="og:image" content="/share/a.jpg">'
            "<title>Музыка</title></head><body>"
            "<div style=\"background-image: url('/bg/city.jpg')\">hero</div></body></html>".encode(),
            HTML,
        ),
        "/share/a.jpg": (media.web_jpeg(a, quality=30), JPEG),
        "/bg/city.jpg": (media.web_jpeg(c, width=1024), JPEG),
    }
    news: Content = {
        "/": (_page("News", '<a href="/story.html">story</a>', lang="be"), HTML),
        "/story.html": (
            _page("Story", '<img data-src="/media/b.jpg" class="lazy">', lang="be"),
            HTML,
        ),
        "/media/b.jpg": (media.web_jpeg(b, width=800), JPEG),
    }
    partner: Content = {
        "/": (_page("Partner", '<img src="/licensed/a.jpg">'), HTML),
        "/licensed/a.jpg": (media.web_jpeg(a, width=900), JPEG),
    }
    return DemoSite(
        sites={KINO: kino, MUZYKA: muzyka, NEWS: news, PARTNER: partner},
        works=works,
        expected=[
            Expected("photo-a", KINO, "/films/1.html", "/img/a-small.jpg", "KZ"),
            Expected("photo-b", KINO, "/films/2.html", "/img/b-crop.jpg", "KZ"),
            Expected("track-t", KINO, "/music.html", "/audio/clip.mp3", "KZ"),
            Expected("film-f", KINO, "/films/3.html", "/video/blupi.mp4", "KZ"),
            Expected("photo-a", MUZYKA, "/", "/share/a.jpg", "RU"),
            Expected("photo-c", MUZYKA, "/", "/bg/city.jpg", "RU"),
            Expected("photo-b", NEWS, "/story.html", "/media/b.jpg", "BY"),
        ],
        licensed=[Expected("photo-a", PARTNER, "/", "/licensed/a.jpg", "XX")],
        broken=["/img/corrupt.jpg", "/img/empty.jpg", "/img/page.jpg", "/audio/truncated.mp3"],
        disallowed=["/private/secret.html", "/private/a.jpg"],
    )


def _row(
    path: Path, work_id: str, owner: str, title: str, territories: str, licensees: str
) -> dict[str, str]:
    return {
        "path": str(path),
        "work_id": work_id,
        "owner": owner,
        "title": title,
        "territories": territories,
        "licensees": licensees,
    }
