"""Jurisdictions end to end: IP country and page language, licences by date, terms per state,
cross-border cases — one real crawl over loopback sites, checked alert by alert."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tanba.app.demo import media
from tanba.app.demo.server import SiteServer
from tests.support.cli import json_lines, ok, tanba

HTML = "text/html; charset=utf-8"


def page(img: str, lang: str) -> tuple[bytes, str]:
    return (f'<html lang="{lang}"><title>t</title><img src="{img}"></html>'.encode(), HTML)


def test_attribution_licences_terms_and_cross_border(tmp_path: Path) -> None:
    home = tmp_path / "home"
    photos = media.photos()
    today = datetime.now(UTC).date()
    yesterday = today - timedelta(days=1)
    died = today.year - 60  # protected for life + 70 (RU), expired for life + 50 (BY)
    ok(tanba(home, "works", "add", str(photos[0]), "--owner", "Moscow Arts", "--work-id", "a",
             "--owner-home", "RU",
             "--licensee", f"expired.example.kz::{yesterday}",
             "--licensee", f"valid.example.kz:{today}:"))  # fmt: skip
    ok(tanba(home, "works", "add", str(photos[1]), "--owner", "Old Master", "--work-id", "b",
             "--author-death-year", str(died)))  # fmt: skip
    copy_a, copy_b = media.web_jpeg(photos[0], width=700), media.web_jpeg(photos[1], width=700)
    sites = {
        "films.com": {"/": page("/a.jpg", "kk"), "/a.jpg": (copy_a, "image/jpeg")},
        "expired.example.kz": {"/": page("/a.jpg", "kk"), "/a.jpg": (copy_a, "image/jpeg")},
        "valid.example.kz": {"/": page("/a.jpg", "kk"), "/a.jpg": (copy_a, "image/jpeg")},
        "old.example.by": {"/": page("/b.jpg", "be"), "/b.jpg": (copy_b, "image/jpeg")},
        "old.example.ru": {"/": page("/b.jpg", "ru"), "/b.jpg": (copy_b, "image/jpeg")},
    }
    table = tmp_path / "ip.csv"
    table.write_text("network,country\n127.0.0.2/32,KZ\n")
    with SiteServer(sites, address="127.0.0.2") as server:
        lines = ["targets:"] + [
            f"  - name: {host.split('.')[0]}-{host.split('.')[-1]}\n"
            f'    seeds: ["http://{host}:{server.port}/"]\n'
            f"    allow_private_addresses: true\n"
            for host in sites
        ]
        targets = tmp_path / "targets.yaml"
        targets.write_text("\n".join(lines))
        ok(
            tanba(
                home, "run", str(targets), *server.resolve_args(), env={"TANBA_GEOIP": str(table)}
            )
        )

    alerts = {r["site"]: r for r in json_lines(ok(tanba(home, "alerts", "list", "--json")))}
    suppressed = {
        r["page_url"].split("//")[1].split(":")[0]: r
        for r in json_lines(ok(tanba(home, "suppressions", "--json")))
    }
    assert sorted(alerts) == ["expired.example.kz", "films.com", "old.example.ru"]
    assert sorted(suppressed) == ["old.example.by", "valid.example.kz"]

    com = alerts["films.com"]
    assert com["jurisdiction"] == "KZ" and com["jurisdiction_confidence"] == 0.405  # 1 - 0.7 x 0.85
    assert {s["name"] for s in com["signals"]} == {"server_ip", "page_language"}
    assert (
        com["cross_border"] is True and com["owner_home"] == "RU"
    )  # a Russian owner, a Kazakh page
    assert alerts["expired.example.kz"]["jurisdiction"] == "KZ"  # licence ended yesterday
    ru = alerts["old.example.ru"]
    assert ru["jurisdiction"] == "RU" and ru["cross_border"] is False
    assert ru["status"] == "new" and ru["history"] == []

    assert suppressed["valid.example.kz"]["reason"] == "licensed"
    assert str(today) in suppressed["valid.example.kz"]["detail"]
    assert suppressed["old.example.by"]["reason"] == "term_expired"
    assert f"31 December {died + 50}" in suppressed["old.example.by"]["detail"]
    json.dumps(com)  # the JSON line is complete and re-serialisable
