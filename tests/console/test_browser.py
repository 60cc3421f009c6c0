"""The console in real headless Chromium (Debian's), driven by Playwright, against uvicorn.

Each test starts the console in-process on 127.0.0.1 (an ephemeral port), logs
in through the login form like a person, and keeps screenshots under
``test-artifacts/console/`` for a human to look at.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops, ImageStat
from playwright.sync_api import Page, expect

from tanba.app.demo import media
from tanba.app.demo.server import SiteServer
from tanba.console.media import cell
from tanba.core.alerts import Alert, MatchDetail, Signal
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import SignIn, shot
from tests.support.alerts import make_alert

PASSWORD = "correct horse battery"


# The registered works of the gallery: work id -> (owner, title).
WORKS = {
    "steppe": ("Owner A", "Steppe at dawn"),
    "theme": ("Owner A", "Main theme"),
    "lake": ("Owner B", "Mountain lake"),
}
# Where their copies were found, each an alert named work_cctld (the ccTLD gives the
# jurisdiction): work, page, score, first seen (hour), page title.
FOUND = (
    ("steppe", "http://kino.example.kz/gallery", 0.93, "2026-02-27T09", "Галерея — фото дня"),
    ("steppe", "http://foto.example.ru/p/1", 0.81, "2026-02-28T09", "Фото"),
    ("theme", "http://music.example.kz/track", 0.88, "2026-03-01T08", "Скачать музыку"),
    ("lake", "http://shop.example.kz/item/7", 0.97, "2026-03-01T10", "<script>alert(1)</script>"),
    ("lake", "http://wall.example.by/x", 0.74, "2026-03-01T11", "Обои"),
)


@pytest.fixture
def gallery(
    app: App, photos: list[Path], tracks: list[Path], tmp_path: Path, make: Callable[..., Alert]
) -> dict[str, Alert]:
    """Real works (two photos, one audio excerpt) and alerts on altered copies of them."""
    clip = tmp_path / "theme.mp3"
    clip.write_bytes(media.audio_excerpt(tracks[0], start_s=0, seconds=40))
    files = {"steppe": photos[0], "theme": clip, "lake": photos[1]}
    register(
        app,
        [
            WorkSpec(path=files[work_id], owner=owner, title=title, work_id=work_id)
            for work_id, (owner, title) in WORKS.items()
        ],
    )
    copies = {
        "steppe": app.blobs.put(media.web_jpeg(photos[0], width=640, quality=70, crop=0.05)),
        "theme": app.blobs.put(
            media.audio_excerpt(tracks[0], start_s=12, seconds=15, bitrate="64k")
        ),
        "lake": app.blobs.put(media.web_jpeg(photos[1], width=500, quality=60)),
    }
    alerts = {}
    for work_id, page, score, seen, page_title in FOUND:
        owner, title = WORKS[work_id]
        cctld = page.split("/")[2].rsplit(".", 1)[1]
        alerts[f"{work_id}_{cctld}"] = make(
            work_id=work_id,
            title=title,
            owner=owner,
            sha=copies[work_id],
            media_kind="audio" if work_id == "theme" else "image",
            page=page,
            jurisdiction=cctld.upper(),
            score=score,
            seen=f"{seen}:00:00.000Z",
            page_title=page_title,
        )
    app.store.upsert(list(alerts.values()))
    return alerts


@pytest.fixture
def make() -> Callable[..., Alert]:
    """A found copy as a crawl records it: server address, page language, crawl id, medium."""

    def build(
        *,
        work_id: str,
        title: str,
        owner: str,
        sha: str,
        page: str,
        jurisdiction: str = "KZ",
        score: float = 0.93,
        seen: str,
        page_title: str,
        media_kind: str = "image",
    ) -> Alert:
        host = page.split("/")[2]
        audio = media_kind == "audio"
        return make_alert(
            work_id=work_id,
            owner=owner,
            page=page,
            media_url=page.rstrip("/") + ("/clip.mp3" if audio else "/photo.jpg"),
            jurisdiction=jurisdiction,
            seen=seen,
            score=score,
            media=media_kind,
            work_title=title,
            match=MatchDetail(
                algorithm="chromaprint-subfp",
                ber=0.12,
                offset_s=12.0,
                duration_s=15.0,
                query_offset_s=0.0,
            )
            if audio
            else MatchDetail(algorithm="phash64", distance=6, variant="full"),
            page_title=page_title,
            media_sha256=sha,
            server_ip="203.0.113.7",
            jurisdiction_confidence=0.67,
            signals=[
                Signal(name="cctld", value=jurisdiction, weight=0.6, detail=host),
                Signal(name="page_language", value=jurisdiction, weight=0.15, detail="ru"),
            ],
            crawl_id="20260301T080000Z",
        )

    return build


@pytest.mark.parametrize(
    ("name", "rows"),
    [("alice", 3), ("bob", 2), ("kz-agency", 3), ("ops", 5), ("admin", 5)],
)
def test_each_role_logs_in_and_sees_only_its_alerts(
    sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path, name: str, rows: int
) -> None:
    page = sign_in(name).page
    expect(page.locator("#alerts tbody tr")).to_have_count(rows)
    # The charts are framed images of this site (the CSP lets only this site frame them).
    for key in ("jurisdiction", "site", "day"):
        expect(page.frame_locator(f"#chart-{key}").locator("svg rect").first).to_be_visible()
    shot(page, artifacts, f"alerts-{name}")
    nav = page.locator("header").inner_text()
    assert ("Crawl targets" in nav) == (name in ("ops", "admin"))
    assert ("Users" in nav) == (name == "admin")


def test_after_a_logout_the_next_user_of_the_browser_sees_only_its_own_charts(
    sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path
) -> None:
    """The issue's case: the administrator's charts stayed in the browser's cache."""

    def bars(page: Page, key: str) -> str:
        frame = page.frame_locator(f"#chart-{key}")
        expect(frame.locator("svg rect").first).to_be_visible()
        return " ".join(frame.locator("svg text").all_text_contents())

    admin = sign_in("admin").page
    assert "RU Russia" in bars(admin, "jurisdiction") and "BY Belarus" in bars(
        admin, "jurisdiction"
    )
    assert "wall.example.by" in bars(admin, "site")
    admin.click("header form[action='/logout'] button")
    expect(admin.locator("form[action='/login']")).to_be_visible()
    agency = sign_in("kz-agency").page  # the same browser, within the charts' 30 s
    expect(agency.locator("#alerts tbody tr")).to_have_count(3)
    mine = bars(agency, "jurisdiction")
    assert "KZ Kazakhstan" in mine and "RU" not in mine and "BY" not in mine
    sites = bars(agency, "site")
    assert "foto.example.ru" not in sites and "wall.example.by" not in sites
    shot(agency, artifacts, "charts-after-logout")


def test_agency_filters_opens_an_alert_and_confirms_it(
    sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path, app: App
) -> None:
    page = sign_in("kz-agency").page
    page.select_option("select[name=media]", "image")
    page.select_option("select[name=sort]", "score")
    page.click("form.filters button")
    expect(page.locator("#alerts tbody tr")).to_have_count(2)
    first = page.locator("#alerts tbody tr").first
    expect(first).to_contain_text("97%")  # highest score first
    page.fill("input[name=site]", "kino.example.kz")
    page.click("form.filters button")
    expect(page.locator("#alerts tbody tr")).to_have_count(1)
    shot(page, artifacts, "alerts-filtered")
    page.locator("#alerts tbody tr a").first.click()
    expect(page.locator("h1")).to_contain_text("Steppe at dawn")
    # Reference and found copy side by side, both as real images the browser decoded.
    images = page.locator(".side img")
    expect(images).to_have_count(2)
    page.wait_for_load_state("load")  # the load event waits for the images
    for i in range(2):
        assert images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
    shot(page, artifacts, "alert-detail-before")
    page.fill("textarea[name=comment]", "Same photo, cropped by 5%")
    page.click("button[value=confirmed]")
    expect(page.locator("#history")).to_contain_text("Same photo, cropped by 5%")
    expect(page.locator("h1 .badge")).to_have_text("confirmed")
    shot(page, artifacts, "alert-detail-confirmed")
    stored = app.store.get(gallery["steppe_kz"].id)
    assert stored is not None and stored.status == "confirmed"
    assert stored.history[-1].actor == "kz-agency"


def test_audio_alert_shows_the_matched_span_and_two_players(
    sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path
) -> None:
    alice = sign_in("alice")
    page = alice.page
    alice.goto(f"/alerts/{gallery['theme_kz'].id}")
    players = page.locator("audio")
    expect(players).to_have_count(2)
    assert "#t=12.0,27.0" in (players.nth(0).get_attribute("src") or "")
    expect(page.locator("#span")).to_contain_text("12.0 s")
    # The browser can load the audio it is given (a real MP3 from the blob store).
    duration = players.nth(1).evaluate(
        "a => new Promise(r => { a.preload = 'metadata'; a.onloadedmetadata = () => r(a.duration);"
        " a.onerror = () => r(-1); a.load(); })"
    )
    assert duration > 10
    shot(page, artifacts, "alert-audio")


def test_a_crawled_script_title_is_text_and_never_runs(
    page: Page, sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    bob = sign_in("bob")
    expect(page.locator("#alerts")).to_contain_text("<script>alert(1)</script>")
    bob.goto(f"/alerts/{gallery['lake_kz'].id}")
    expect(page.locator("#page-title")).to_have_text("<script>alert(1)</script>")
    shot(page, artifacts, "alert-xss-title")
    assert dialogs == []


def test_language_is_per_user_and_switchable(
    sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path
) -> None:
    alice = sign_in("alice")
    page = alice.page
    expect(page.locator("header")).to_contain_text("Alerts")
    page.click("header button[value=ru]")
    expect(page.locator("header")).to_contain_text("Оповещения")
    expect(page.locator("h1")).to_contain_text("Оповещения")
    shot(page, artifacts, "alerts-ru")
    page.click("header button[value=kk]")
    expect(page.locator("header")).to_contain_text("Ескертулер")
    alice.goto("/works")
    shot(page, artifacts, "works-kk")
    # The choice is the user's: a new browser session comes back in Kazakh.
    page.context.clear_cookies()
    sign_in("alice")
    expect(page.locator("header")).to_contain_text("Ескертулер")


def test_operator_adds_a_target_starts_its_crawl_and_sees_its_statistics(
    sign_in: SignIn, artifacts: Path, photos: list[Path], console: Any
) -> None:
    site = {
        "kino.example.kz": {
            "/": b"<html><head><title>Kino</title></head><body><a href='/p2'>next</a>"
            b"<img src='/a.jpg'></body></html>",
            "/p2": b"<html><body><img src='/b.jpg'><a href='/missing'>x</a></body></html>",
            "/a.jpg": media.web_jpeg(photos[0], width=320),
            "/b.jpg": media.web_jpeg(photos[1], width=320),
        }
    }
    with SiteServer(site) as server:
        ops = sign_in("ops")
        page = ops.page
        ops.goto("/targets")
        form = page.locator("#target-form")
        form.locator("input[name=name]").fill("kino")
        form.locator("textarea[name=seeds]").fill(server.url("kino.example.kz", "/"))
        form.locator("input[name=max_pages]").fill("0")
        form.locator("input[name=delay_s]").fill("0")
        form.locator("input[name=allow_private_addresses]").check()
        form.locator("textarea[name=resolve]").fill(f"kino.example.kz:{server.port}:127.0.0.1")
        form.locator("button").click()
        # A mistake: the same form again, everything typed kept, the error beside the field.
        expect(page.locator("#err-max_pages")).to_contain_text("from 1 to 1,000,000")
        expect(form.locator("input[name=name]")).to_have_value("kino")
        expect(form.locator("input[name=max_pages]")).to_have_value("0")
        shot(page, artifacts, "target-form-error")
        form.locator("input[name=max_pages]").fill("10")
        form.locator("button").click()
        expect(page.locator("h1")).to_contain_text("kino")
        page.click("#start-crawl")
        expect(page.locator("#runs")).to_contain_text("running")
        run = console.runs.last("kino")
        finished = console.launcher.wait(run.id, timeout_s=180)
        assert finished is not None and finished.returncode == 0, Path(run.log).read_text()[-2000:]
        page.reload()
        expect(page.locator("#runs")).to_contain_text("done")
        expect(page.locator("#total-pages")).to_have_text("2")  # / and /p2 (the 404 is an error)
        expect(page.locator("#total-media")).to_have_text("2")
        expect(page.locator("#total-errors")).to_have_text("1")
        expect(page.locator("#days tbody tr")).to_have_count(1)
        shot(page, artifacts, "target-stats")
        ops.goto("/targets")
        expect(page.locator("#targets")).to_contain_text("kino")
        shot(page, artifacts, "targets")


def test_pager_walks_by_cursor_and_chart_bars_filter_the_list(
    sign_in: SignIn, app: App, make: Callable[..., Alert], artifacts: Path
) -> None:
    app.store.upsert(
        [
            make(
                work_id="w",
                title="Work",
                owner="Owner A",
                sha="0" * 64,
                page=f"http://s{i % 4}.example.kz/{i}",
                seen=f"2026-03-{1 + i % 5:02d}T09:{i % 60:02d}:00.000Z",
                page_title=f"Page {i}",
            )
            for i in range(120)
        ]
    )
    admin = sign_in("admin")
    page = admin.page
    rows = page.locator("#alerts tbody tr")
    expect(rows).to_have_count(50)
    first_href = rows.first.locator("a").first.get_attribute("href") or ""
    page.click("#pager-next")
    expect(page.locator("#pager-first")).to_be_visible()
    page.click("#pager-last")
    expect(rows).to_have_count(50)
    expect(page.locator("#pager-position")).to_contain_text("page 3 of 3")
    page.click("#pager-prev")
    page.click("#pager-first")
    expect(rows.first.locator("a").first).to_have_attribute("href", first_href)
    shot(page, artifacts, "alerts-pager")
    # A bar of the site chart opens the list of that site (the frame navigates the page).
    page.frame_locator("#chart-site").locator("a.bar").first.click()
    page.wait_for_url("**/alerts?site=s0.example.kz")
    expect(rows).to_have_count(30)
    expect(page.locator("input[name=site]")).to_have_value("s0.example.kz")
    page.frame_locator("#chart-day").locator("a.bar").last.click()
    page.wait_for_url("**since=2026-03-05&until=2026-03-05**")
    expect(rows).to_have_count(6)  # s0's alerts of 5 March
    shot(page, artifacts, "alerts-by-chart")


def test_the_browser_shows_each_rows_copy_and_reference_from_the_pages_one_sheet(
    page: Page, sign_in: SignIn, gallery: dict[str, Alert], artifacts: Path, app: App
) -> None:
    """What the browser draws in a row's two boxes is that row's copy and reference."""
    sheets: list[str] = []
    page.on("request", lambda r: sheets.append(r.url) if "/api/sheets/" in r.url else None)
    admin = sign_in("admin").page
    expect(admin.locator("#alerts tbody tr")).to_have_count(5)
    admin.wait_for_load_state("networkidle")
    assert len(sheets) == 1  # one image for every picture of the page
    shot(admin, artifacts, "alerts-pictures")
    home = app.settings.home / "console" / "thumbnails"

    def drawn(alert: Alert, column: int) -> Image.Image:
        box = admin.locator(f"#alerts tr:has(input[value='{alert.id}']) td.pic").nth(column)
        with Image.open(io.BytesIO(box.locator(".thumb").screenshot())) as shown:
            return shown.convert("RGB").resize((64, 64))

    def expected(sha256: str) -> Image.Image:
        # The cell as kept (a 128-pixel square), at the 64 pixels it is shown at.
        data = cell(app.blobs, sha256, home, app.settings.image_max_pixels)
        with Image.open(io.BytesIO(data)) as im:
            return im.convert("RGB").resize((64, 64))

    def far(a: Image.Image, b: Image.Image) -> float:
        inner = (4, 4, 60, 60)  # the 1-pixel border and the edge rows aside
        diff = ImageChops.difference(a.crop(inner), b.crop(inner))
        return sum(ImageStat.Stat(diff).mean) / 3

    steppe, lake = gallery["steppe_kz"], gallery["lake_kz"]
    steppe_work, lake_work = app.works.entry("steppe"), app.works.entry("lake")
    assert steppe_work is not None and lake_work is not None
    assert far(drawn(steppe, 0), expected(steppe.media_sha256)) < 12
    assert far(drawn(steppe, 1), expected(steppe_work.sha256)) < 12
    assert far(drawn(lake, 0), expected(lake.media_sha256)) < 12
    assert far(drawn(lake, 1), expected(lake_work.sha256)) < 12
    assert far(drawn(steppe, 0), expected(lake.media_sha256)) > 20  # and they can differ
