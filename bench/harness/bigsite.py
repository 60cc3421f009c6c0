"""A generated web of hundreds of media, from real photos, with the exact alerts it must raise.

Eight sites, one per CIS ccTLD, two per Kafka partition (media are keyed by
site), so two fingerprint workers both get work. Each site has ``pages`` pages
of ``per_page`` images; every image is a distinct variant (resized, slightly
cropped, recompressed, one pixel marked so each file's bytes differ and no
cache helps) of one of eight photos from Debian's ``ukui-wallpapers``. Four of
the photos are registered works, so every variant of them on a page is one
expected alert; variants of the four others must raise none.

Used by the distributed end-to-end and fault tests and by
``bench/pipeline_throughput.py``; :func:`many_sites` gives hundreds of sites (each its
own registrable domain, so crawl jobs spread over the partitions) for the crawl-job tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from tanba.app.demo import media
from tanba.app.demo.site import Expected
from tanba.fingerprint.registration import write_manifest

# (host, jurisdiction its ccTLD gives); the order puts two hosts on each of 4 partitions.
SITES: tuple[tuple[str, str], ...] = (
    ("muzyka.example.ru", "RU"),
    ("tv.example.kz", "KZ"),
    ("kino.example.kz", "KZ"),
    ("blog.example.md", "MD"),
    ("media.example.uz", "UZ"),
    ("foto.example.am", "AM"),
    ("news.example.by", "BY"),
    ("portal.example.kg", "KG"),
)
# Indices into media.photos(): the first four are registered, the others are not.
PHOTOS = (0, 1, 2, 3, 4, 5, 7, 9)
REGISTERED = 4
_BASE_WIDTH = 480
_WIDTHS = (256, 288, 320, 352)
_QUALITIES = (70, 78, 86, 92)
_CROPS = (0.0, 0.01, 0.02)


@dataclass
class BigSite:
    """The generated web: content per host, the works manifest rows, and the expected alerts."""

    sites: dict[str, dict[str, tuple[bytes, str]]]
    works: list[dict[str, str]]
    expected: list[Expected]
    media_count: int
    hosts: tuple[tuple[str, str], ...] = SITES

    def write_manifest(self, path: Path) -> Path:
        return write_manifest(self.works, path)

    def write_targets(
        self, path: Path, port: int, first: int = 0, count: int | None = None
    ) -> Path:
        """A targets file of the sites ``first`` to ``first + count`` (default: all), ``site-I``."""
        lines = ["targets:"]
        chosen = list(enumerate(self.hosts))[first : None if count is None else first + count]
        for i, (host, _) in chosen:
            lines.append(
                f"  - name: site-{i}\n"
                f'    seeds: ["http://{host}:{port}/"]\n'
                f'    allowed_domains: ["{host}"]\n'
                f"    max_depth: 2\n"
                f"    max_pages: {len(self.sites[host]) + 5}\n"
                f"    allow_private_addresses: true  # the generated web is on loopback\n"
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines), encoding="utf-8")
        return path

    def alert_keys(self, port: int) -> set[tuple[str, str, str, str]]:
        """:meth:`Expected.key` of every expected alert."""
        return {e.key(port) for e in self.expected}


def many_sites(count: int) -> tuple[tuple[str, str], ...]:
    """``count`` hosts ``site-NNN.<ccTLD>``, each its own site (registrable domain)."""
    tlds = [(host.rsplit(".", 1)[1], jurisdiction) for host, jurisdiction in SITES]
    return tuple(
        (f"site-{i:03d}.{tlds[i % len(tlds)][0]}", tlds[i % len(tlds)][1]) for i in range(count)
    )


def build(
    pages: int = 16, per_page: int = 4, hosts: tuple[tuple[str, str], ...] = SITES
) -> BigSite:
    """``len(hosts) * pages * per_page`` media (512 by default); deterministic."""
    photos = media.photos()
    chosen = [photos[i] for i in PHOTOS]
    bases = [_downscaled(p) for p in chosen]
    works = [
        {
            "path": str(chosen[i]),
            "work_id": f"big-{i}",
            "owner": "Steppe Images",
            "title": chosen[i].stem,
            "territories": "",
            "licensees": "",
        }
        for i in range(REGISTERED)
    ]
    sites: dict[str, dict[str, tuple[bytes, str]]] = {}
    expected: list[Expected] = []
    serial = 0
    for s, (host, jurisdiction) in enumerate(hosts):
        links = " ".join(f'<a href="/p/{j}.html">{j}</a>' for j in range(pages))
        content: dict[str, tuple[bytes, str]] = {"/": (_page(host, links), "text/html")}
        for j in range(pages):
            imgs = []
            for k in range(per_page):
                photo = (s + j * per_page + k) % len(bases)
                path = f"/img/{j}-{k}.jpg"
                content[path] = (_variant(bases[photo], serial), "image/jpeg")
                imgs.append(f'<img src="{path}">')
                if photo < REGISTERED:
                    expected.append(
                        Expected(f"big-{photo}", host, f"/p/{j}.html", path, jurisdiction)
                    )
                serial += 1
            content[f"/p/{j}.html"] = (_page(f"{host} {j}", "".join(imgs)), "text/html")
        sites[host] = content
    return BigSite(sites=sites, works=works, expected=expected, media_count=serial, hosts=hosts)


def _downscaled(path: Path) -> Image.Image:
    with Image.open(path) as im:
        image = im.convert("RGB")
    height = round(_BASE_WIDTH * image.height / image.width)
    return image.resize((_BASE_WIDTH, height), Image.Resampling.LANCZOS)


def _variant(base: Image.Image, serial: int) -> bytes:
    """A distinct web copy: cropped a little, resized, one corner pixel marked, recompressed."""
    crop = _CROPS[serial % len(_CROPS)]
    w, h = base.size
    image = base.crop((int(w * crop), int(h * crop), int(w * (1 - crop)), int(h * (1 - crop))))
    width = _WIDTHS[(serial // 3) % len(_WIDTHS)]
    image = image.resize(
        (width, round(width * image.height / image.width)), Image.Resampling.BILINEAR
    )
    image.putpixel((0, 0), (serial % 256, (serial // 256) % 256, 7))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=_QUALITIES[(serial // 12) % len(_QUALITIES)])
    return out.getvalue()


def _page(title: str, body: str) -> bytes:
    return (
        f'<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>'
        f"<body><h1>{title}</h1>{body}</body></html>"
    ).encode()
