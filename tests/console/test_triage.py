"""The alert list made for triage: status tabs with counts, and bulk status changes (page, API).

Runs on the embedded store and on the real Elasticsearch: the counts and the bulk
change are one store request each, written differently in each store.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import cast

import pytest
from fastapi.testclient import TestClient
from PIL import Image, ImageChops, ImageStat

from tanba.app.demo import media
from tanba.console.alerts import AlertFilters, CountCache
from tanba.console.context import Console
from tanba.console.pictures import BACKGROUND, COLUMNS, LIST_SIDE, Cell, Grants, Sheet
from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.settings import Settings
from tanba.core.store import AlertQuery, AlertStore
from tanba.core.store.base import GroupPage
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import Session
from tests.services import elastic_url  # noqa: F401 - fixture
from tests.support.backends import CONSOLE_STORES, console_settings


@pytest.fixture(params=CONSOLE_STORES)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Settings]:
    """The console's settings, its alerts in SQLite or in a namespace of Elasticsearch."""
    yield from console_settings(request, tmp_path, "tri")


def _tab(html: str, status: str) -> int:
    found = re.search(rf'id="tab-{status}">[^<]*<span class="count">(\d+)</span>', html)
    assert found is not None, html
    return int(found.group(1))


def _status(app: App, alert: Alert) -> tuple[str, list[tuple[str, str]]]:
    stored = app.store.get(alert.id)
    assert stored is not None
    return stored.status, [(h.status, h.actor) for h in stored.history]


def test_tabs_count_each_status_of_what_the_caller_sees_whatever_the_status_filter(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    admin = login("admin")
    admin.post(
        f"/alerts/{seeded['b_by'].id}/status",
        data={"status": "dismissed", "csrf_token": admin.csrf},
    )
    page = admin.client.get("/alerts?status=dismissed").text
    assert (_tab(page, "all"), _tab(page, "new"), _tab(page, "dismissed")) == (5, 4, 1)
    assert _tab(page, "removed") == 0
    assert 'class="current" id="tab-dismissed"' in page
    agency = login("kz-agency").client.get("/alerts").text
    assert (_tab(agency, "all"), _tab(agency, "new"), _tab(agency, "dismissed")) == (3, 3, 0)


def test_ticked_rows_are_confirmed_with_history_and_rows_outside_the_jurisdiction_are_not(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    page = agency.client.get("/alerts").text
    assert 'name="ids" value="' + seeded["a_kz"].id in page and 'id="bulk-all"' in page
    picked = [seeded["a_kz"].id, seeded["b_kz"].id, seeded["a_ru"].id]  # a_ru is in RU
    done = agency.client.post(
        "/alerts/status?site=kino.example.kz",
        data={"status": "confirmed", "ids": picked, "csrf_token": agency.csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/alerts?site=kino.example.kz&changed=2&refused=0"
    for key in ("a_kz", "b_kz"):
        assert _status(app, seeded[key]) == ("confirmed", [("confirmed", "kz-agency")])
    assert _status(app, seeded["a_ru"]) == ("new", [])
    shown = agency.client.get(done.headers["location"]).text
    assert 'id="bulk-done"' in shown and "2 alerts changed." in shown


def test_all_matching_the_filter_changes_every_such_alert_and_skips_those_that_cannot_move(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    alice = login("alice")  # Owner A: a_kz, a_ru, a_kz_audio
    alice.post(
        f"/alerts/{seeded['a_kz'].id}/status",
        data={"status": "dismissed", "csrf_token": alice.csrf},
    )
    done = alice.client.post(
        "/alerts/status",
        data={"status": "confirmed", "all": "true", "csrf_token": alice.csrf},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/alerts?changed=2&refused=1"
    assert _status(app, seeded["a_ru"]) == ("confirmed", [("confirmed", "alice")])
    assert _status(app, seeded["a_kz"])[0] == "dismissed"
    assert _status(app, seeded["b_kz"]) == ("new", [])  # Owner B's
    nothing = alice.client.post(
        "/alerts/status", data={"status": "confirmed", "csrf_token": alice.csrf}
    )
    assert nothing.status_code == 400 and "Tick some alerts" in nothing.text


def test_a_refused_bulk_action_is_the_list_again_with_the_reason_in_the_users_language(
    app: App,
    seeded: dict[str, Alert],
    login: Callable[[str], Session],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not an error page in English: the list, its filter, what was ticked and typed, and
    why beside the form; nothing changed."""
    agency = login("kz-agency")
    agency.client.put(
        "/api/me/language", json={"language": "ru"}, headers={"X-CSRF-Token": agency.csrf}
    )
    nothing = agency.client.post(
        "/alerts/status?site=kino.example.kz",
        data={"status": "confirmed", "comment": "проверено вручную", "csrf_token": agency.csrf},
    )
    assert nothing.status_code == 400
    assert 'id="alerts"' in nothing.text and 'id="bulk-error"' in nothing.text
    assert "Отметьте оповещения" in nothing.text and "select some" not in nothing.text
    assert 'value="проверено вручную"' in nothing.text
    assert 'name="site" value="kino.example.kz"' in nothing.text  # the filter kept
    monkeypatch.setattr("tanba.console.alerts.MAX_BULK", 1)
    picked = [seeded["a_kz"].id, seeded["b_kz"].id]
    too_many = agency.client.post(
        "/alerts/status", data={"status": "confirmed", "ids": picked, "csrf_token": agency.csrf}
    )
    assert too_many.status_code == 400 and "не более 1 оповещений" in too_many.text
    for alert_id in picked:  # still ticked
        assert re.search(rf'value="{alert_id}" form="bulk"[^>]*checked', too_many.text)
    everything = agency.client.post(
        "/alerts/status", data={"status": "confirmed", "all": "true", "csrf_token": agency.csrf}
    )
    assert everything.status_code == 400 and "Ничего не изменено" in everything.text
    assert re.search(r'id="bulk-all"\s*checked', everything.text)
    export = agency.client.post(
        "/alerts/evidence",
        data={"ids": [picked[0]], "mark_notice_sent": "true", "csrf_token": agency.csrf},
    )
    assert export.status_code == 409 and "нельзя отметить" in export.text
    assert "«новое»" in export.text  # the status named in the user's words
    assert re.search(r'id="bulk-mark-notice-sent"\s*checked', export.text)
    for key in ("a_kz", "b_kz"):
        assert _status(app, seeded[key]) == ("new", [])
    # The API still answers in English, for scripts.
    api = agency.client.post(
        "/api/alerts/status",
        json={"status": "confirmed", "ids": picked},
        headers={"X-CSRF-Token": agency.csrf},
    )
    assert api.status_code == 400 and "select at most 1 alerts" in api.json()["detail"]


def test_the_api_changes_by_ids_or_by_filter_within_the_callers_scope(
    app: App,
    seeded: dict[str, Alert],
    token_for: Callable[[str], dict[str, str]],
    login: Callable[[str], Session],
) -> None:
    client = login("admin").client
    agency = token_for("kz-agency")
    by_ids = client.post(
        "/api/alerts/status",
        json={"status": "dismissed", "ids": [seeded["a_ru"].id, seeded["b_by"].id]},
        headers=agency,
    )
    assert by_ids.status_code == 200, by_ids.text
    assert by_ids.json() == {"changed": 0, "ids": [], "refused": {}}
    assert _status(app, seeded["a_ru"]) == ("new", [])
    by_filter = client.post(
        "/api/alerts/status",
        json={"status": "confirmed", "comment": "checked", "filter": {"media": "image"}},
        headers=agency,
    )
    assert by_filter.status_code == 200, by_filter.text
    assert sorted(by_filter.json()["ids"]) == sorted((seeded["a_kz"].id, seeded["b_kz"].id))
    stored = app.store.get(seeded["b_kz"].id)
    assert stored is not None and stored.history[-1].comment == "checked"
    assert _status(app, seeded["a_kz_audio"]) == ("new", [])
    refused = client.post(
        "/api/alerts/status",
        json={"status": "confirmed", "ids": [seeded["a_kz_audio"].id]},
        headers=token_for("ops"),
    )
    assert refused.status_code == 403
    assert _status(app, seeded["a_kz_audio"]) == ("new", [])
    unknown = client.post(
        "/api/alerts/status", json={"status": "gone", "ids": [seeded["a_kz"].id]}, headers=agency
    )
    assert unknown.status_code == 400 and "unknown status" in unknown.json()["detail"]
    both = client.post(
        "/api/alerts/status",
        json={"status": "dismissed", "ids": [seeded["a_kz_audio"].id], "filter": {}},
        headers=agency,
    )
    assert both.status_code == 400 and "not both" in both.json()["detail"]
    assert _status(app, seeded["a_kz_audio"]) == ("new", [])


def test_tab_counts_are_kept_a_few_seconds_per_scope_and_filter_and_dropped_by_a_change() -> None:
    """Paging a filtered list counts its tabs once, not on every page; a status change made
    here is counted at once, and a count made before a change is not kept after it."""
    now = [0.0]
    counted: list[AlertQuery] = []
    forget_during: list[CountCache] = []

    class Store:
        def count_by_status(self, query: AlertQuery) -> dict[str, int]:
            counted.append(query)
            for cache in forget_during:
                cache.forget()  # a change lands while this count runs
            return {"new": len(counted)}

        def groups(self, key: str, query: AlertQuery) -> GroupPage:
            counted.append(query)
            return GroupPage([], len(counted), True)

    cache = CountCache(cast(AlertStore, Store()), now=lambda: now[0], tabs_ttl_s=10.0)
    kz = Principal(name="kz", role="agency", jurisdictions=("KZ",))
    ru = Principal(name="ru", role="agency", jurisdictions=("RU",))
    site = AlertFilters(site="kino.example.kz")
    assert cache.tabs(kz, site) == {"new": 1}
    assert cache.tabs(kz, AlertFilters(site="kino.example.kz", page=2)) == {"new": 1}
    assert len(counted) == 1  # the second page of the same filter: not counted again
    assert cache.tabs(ru, site) == {"new": 2}  # another scope: its own count
    assert counted[1].jurisdictions == ("RU",)
    now[0] = 9.9
    assert cache.tabs(kz, site) == {"new": 1}
    now[0] = 10.0
    assert cache.tabs(kz, site) == {"new": 3}  # too old: counted again
    cache.forget()
    assert cache.tabs(kz, site) == {"new": 4}
    forget_during.append(cache)
    assert cache.tabs(kz, AlertFilters()) == {"new": 5}
    forget_during.clear()
    assert cache.tabs(kz, AlertFilters()) == {"new": 6}  # the count overtaken was not kept
    by_site = AlertFilters(group="site")
    assert cache.groups(kz, by_site).total == 7
    assert cache.groups(kz, by_site).total == 7  # kept, as the tabs are
    assert cache.groups(kz, AlertFilters(group="work")).total == 8  # another grouping
    assert cache.groups(kz, AlertFilters(group="site", page=2)).total == 9  # another page
    cache.forget()
    assert cache.groups(kz, by_site).total == 10


def test_the_tabs_count_a_bulk_change_at_once(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    before = agency.client.get("/alerts").text
    assert _tab(before, "confirmed") == 0
    agency.client.post(
        "/alerts/status",
        data={"status": "confirmed", "all": "true", "csrf_token": agency.csrf},
    )
    after = agency.client.get("/alerts").text
    assert _tab(after, "confirmed") == _tab(before, "new") > 0 and _tab(after, "new") == 0


def test_the_tabs_and_bulk_actions_speak_the_users_language(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    for language, words in (("ru", ("Все", "Подтвердить")), ("kk", ("Барлығы", "ескерту"))):
        agency.client.put(
            "/api/me/language", json={"language": language}, headers={"X-CSRF-Token": agency.csrf}
        )
        page = agency.client.get("/alerts").text
        assert all(w in page for w in words), (language, words)
    assert 'id="bulk-all"' not in login("ops").client.get("/alerts").text


# --- grouping, sorting and the pictures of each row ---------------------------------------


def _groups(html: str) -> list[tuple[str, int]]:
    """(link query, count) of each row of the grouped list."""
    table = html.split('id="groups"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(
        r'<a href="/alerts\?([^"]*)">.*?</a>.*?<td class="num">(\d+)</td>', table, re.S
    )
    return [(query.replace("&amp;", "&"), int(n)) for query, n in rows]


def test_the_list_groups_by_site_and_by_work_with_counts_that_open_the_filtered_list(
    app: App, seeded: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    admin = login("admin").client
    by_site = admin.get("/alerts?group=site").text
    assert _groups(by_site) == [
        ("site=kino.example.kz", 2),
        ("site=films.example.ru", 1),
        ("site=music.example.kz", 1),
        ("site=shop.example.by", 1),
    ]
    opened = admin.get("/api/alerts?site=kino.example.kz").json()
    assert sorted(a["id"] for a in opened["alerts"]) == sorted(
        (seeded["a_kz"].id, seeded["b_kz"].id)
    )
    # The other filters stay on the groups and on the rows' links; the tabs count alerts.
    kz_new = admin.get("/alerts?group=site&jurisdiction=KZ&status=new").text
    assert _groups(kz_new) == [
        ("jurisdiction=KZ&site=kino.example.kz&status=new", 2),
        ("jurisdiction=KZ&site=music.example.kz&status=new", 1),
    ]
    assert _tab(kz_new, "new") == 3
    by_work = admin.get("/alerts?group=work").text
    assert _groups(by_work) == [("work_id=w-a", 2), ("work_id=w-b", 2), ("work_id=w-a2", 1)]
    # Scoped like the list: an agency groups its jurisdiction's alerts only.
    agency = login("kz-agency").client.get("/alerts?group=site").text
    assert _groups(agency) == [("site=kino.example.kz", 2), ("site=music.example.kz", 1)]
    assert login("kz-agency").client.get("/alerts?group=site&after=abc").status_code == 400
    api = admin.get("/api/alerts/groups/work?per_page=2&page=2").json()
    assert (api["total"], api["exact"], api["page"]) == (3, True, 2)
    assert [(g["value"], g["count"]) for g in api["groups"]] == [("w-a2", 1)]
    assert api["groups"][0]["last_seen"] == seeded["a_kz_audio"].last_seen


def test_groups_page_by_number_and_escape_what_sites_are_called(
    app: App, alert_factory: Callable[..., Alert], login: Callable[[str], Session]
) -> None:
    hostile = '<img src=x onerror="alert(1)">.example.kz'
    app.store.upsert(
        [
            alert_factory(page=f"http://s{i}.example.kz/1", site=f"s{i:02d}.example.kz")
            for i in range(3)
        ]
        + [alert_factory(page="http://h.example.kz/1", site=hostile)]
    )
    admin = login("admin").client
    first = admin.get("/alerts?group=site&per_page=2").text
    assert len(_groups(first)) == 2 and 'id="pager-next"' in first
    assert "page 1 of 2" in first
    second = admin.get("/alerts?group=site&per_page=2&page=2").text
    assert len(_groups(second)) == 2 and 'id="pager-next"' not in second
    shown = first + second
    assert hostile not in shown and "&lt;img src=x onerror=" in shown


def test_the_list_sorts_by_last_seen_first_seen_and_score(
    app: App,
    seeded: dict[str, Alert],
    alert_factory: Callable[..., Alert],
    login: Callable[[str], Session],
) -> None:
    # a_kz, first seen on 1 March, is seen again on 9 March: the latest seen, the earliest found.
    again = seeded["a_kz"]
    app.store.upsert(
        [alert_factory(work_id=again.work_id, page=again.page_url, seen="2026-03-09T10:00:00.000Z")]
    )
    client = login("admin").client

    def order(sort: str) -> list[str]:
        ids = {a.id: key for key, a in seeded.items()}
        return [ids[a["id"]] for a in client.get(f"/api/alerts?sort={sort}").json()["alerts"]]

    assert order("recent") == ["a_kz", "b_by", "b_kz", "a_kz_audio", "a_ru"]
    assert order("first_seen") == ["b_by", "b_kz", "a_kz_audio", "a_ru", "a_kz"]
    assert order("score") == ["b_kz", "a_kz", "a_kz_audio", "a_ru", "b_by"]
    page = client.get("/alerts?sort=first_seen").text
    assert '<option value="first_seen" selected>' in page
    assert page.index(seeded["b_by"].id) < page.index(seeded["a_kz"].id)
    assert client.get("/api/alerts?sort=oldest").status_code == 422


@pytest.fixture
def pictured(
    app: App, people: dict[str, str], small_photos: list[Path], alert_factory: Callable[..., Alert]
) -> dict[str, Alert]:
    """Owner A's registered photo "steppe" with a found copy stored; a recording; a copy not kept."""
    register(
        app, [WorkSpec(path=small_photos[0], owner="Owner A", title="Steppe", work_id="steppe")]
    )
    copy = app.blobs.put(media.web_jpeg(small_photos[0], width=500))
    alerts = {
        "photo": alert_factory(work_id="steppe", media_sha256=copy),
        "recording": alert_factory(work_id="song", page="http://kino.example.kz/2", media="audio"),
        "gone": alert_factory(work_id="steppe", page="http://kino.example.kz/3"),
    }
    app.store.upsert(list(alerts.values()))
    return alerts


def _row(html: str, alert: Alert) -> str:
    """The list's row of ``alert``."""
    row = html.split(f'value="{alert.id}"', 1)[1].split("</tr>", 1)[0]
    return row


def _cells(row: str) -> list[tuple[int, int]]:
    """The (x, y) of each of a row's pictures on the page's sheet, in pixels of the sheet."""
    found = re.findall(
        r'<span class="thumb sheet"[^>]*style="background-position:-(\d+)px -(\d+)px"', row
    )
    return [(2 * int(x), 2 * int(y)) for x, y in found]  # cells shown at half their size


def _sheet_url(html: str) -> str:
    found = re.search(r'\.thumb\.sheet\{background-image:url\("([^"]+)"\)', html)
    assert found is not None, "the page has no sheet of pictures"
    return found.group(1)


def _sheet(client: TestClient, html: str) -> Image.Image:
    got = client.get(_sheet_url(html))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg", got.text
    with Image.open(io.BytesIO(got.content)) as im:
        return im.convert("RGB")


def _blank(sheet: Image.Image, cell: tuple[int, int]) -> bool:
    """Whether a cell holds no picture: all of it the background colour (JPEG's noise aside;
    its colours bleed a pixel or two over from the next cell)."""
    x, y = cell
    inner = sheet.crop((x + 4, y + 4, x + LIST_SIDE - 4, y + LIST_SIDE - 4))
    low, high = zip(*inner.getextrema(), strict=True)
    return min(low) >= BACKGROUND[0] - 8 and max(high) <= 255


def _like(sheet: Image.Image, cell: tuple[int, int], path: Path) -> bool:
    """Whether a cell shows the picture at ``path`` (its thumbnail, centred), within JPEG's loss."""
    with Image.open(path) as im:
        im = im.convert("RGB")
        im.thumbnail((LIST_SIDE, LIST_SIDE))
        left = cell[0] + (LIST_SIDE - im.width) // 2
        top = cell[1] + (LIST_SIDE - im.height) // 2
        shown = sheet.crop((left, top, left + im.width, top + im.height))
        # About 10 for the same photo (re-encoded twice), 60 to 170 for others.
        return sum(ImageStat.Stat(ImageChops.difference(shown, im)).mean) / 3 < 30


def test_each_row_shows_the_copy_and_the_reference_side_by_side_or_says_why_not(
    app: App,
    pictured: dict[str, Alert],
    small_photos: list[Path],
    login: Callable[[str], Session],
) -> None:
    alice = login("alice")
    page = alice.client.get("/alerts").text
    photo = pictured["photo"]
    copy_cell, reference_cell = _cells(_row(page, photo))
    assert 'aria-label="Found copy"' in _row(page, photo)
    # One picture for the page, named by its content and kept by the browser a year.
    url = _sheet_url(page)
    assert re.fullmatch(r"/api/sheets/[0-9a-f]{32}\?v=[0-9a-f]{32}", url), url
    got = alice.client.get(url)
    assert got.headers["cache-control"] == "private, max-age=31536000, immutable"
    sheet = _sheet(alice.client, page)
    assert COLUMNS == 1 and sheet.size == (LIST_SIDE, 2 * LIST_SIDE)  # two cells, stacked
    reference = app.works.entry("steppe")
    assert reference is not None
    # Each cell is its picture: the copy (a web JPEG of the photo) and the registered photo.
    copy_file = app.blobs.file(photo.media_sha256)
    assert copy_file is not None
    assert _like(sheet, copy_cell, copy_file) and _like(sheet, reference_cell, small_photos[0])
    assert not _like(sheet, copy_cell, small_photos[1])  # and the comparison can fail
    assert not _blank(sheet, copy_cell) and not _blank(sheet, reference_cell)
    # Cells made once, kept by the file's digest and size.
    kept = app.settings.home / "console" / "thumbnails" / photo.media_sha256[:2]
    assert (kept / f"{photo.media_sha256}-cell128.jpg").is_file()
    recording = _row(page, pictured["recording"])
    assert _cells(recording) == [] and recording.count('title="a recording: no picture"') == 2
    gone = _row(page, pictured["gone"])
    assert 'title="the file is not stored here"' in gone and _cells(gone) == [reference_cell]
    # The same file found on another page is the same cell: on the sheet once.
    again = pictured["photo"].model_copy(
        update={"id": "again", "page_url": "http://kino.example.kz/4"}
    )
    app.store.upsert([again])
    twice = alice.client.get("/alerts").text
    assert _cells(_row(twice, again))[0] == _cells(_row(twice, pictured["photo"]))[0]
    assert set(_cells(twice)) == {copy_cell, reference_cell}  # still two pictures
    # Nobody else's pictures: another caller's sheet, or a key never shown, is not found.
    assert login("bob").client.get(url).status_code == 404
    assert alice.client.get("/api/sheets/" + "0" * 32).status_code == 404


def test_an_agency_sees_the_copy_but_not_a_withheld_reference(
    app: App, pictured: dict[str, Alert], small_photos: list[Path], login: Callable[[str], Session]
) -> None:
    agency = login("kz-agency")
    before = agency.client.get("/alerts").text
    copy_cell, reference_cell = _cells(_row(before, pictured["photo"]))
    assert _like(_sheet(agency.client, before), reference_cell, small_photos[0])
    app.organisations.set("Owner A", withhold_references=True, actor="alice")
    # At once: the sheet the page linked a moment ago leaves the reference blank, unkept.
    late = agency.client.get(_sheet_url(before))
    assert late.status_code == 200 and late.headers["cache-control"] == "no-store"
    sheet = _sheet(agency.client, before)
    assert _blank(sheet, reference_cell) and not _blank(sheet, copy_cell)
    page = agency.client.get("/alerts").text
    row = _row(page, pictured["photo"])
    assert _cells(row) == [(0, 0)] and "withholds its reference files" in row
    assert _sheet_url(page) != _sheet_url(before)
    now = _sheet(agency.client, page)  # the copy alone
    assert now.size == (LIST_SIDE, LIST_SIDE) and not _blank(now, (0, 0))


def test_the_sheet_the_list_showed_is_granted_to_that_caller_for_a_minute(
    app: App, console: Console, pictured: dict[str, Alert], login: Callable[[str], Session]
) -> None:
    clock = [0.0]
    console.grants = Grants(now=lambda: clock[0])
    alice = login("alice")
    page = alice.client.get("/alerts").text
    key = _sheet_url(page).split("/")[-1].split("?")[0]
    principal = Principal(name="alice", role="rights_holder", owners=("Owner A",))
    granted = console.grants.get(principal, key)
    reference = app.works.entry("steppe")
    assert granted is not None and reference is not None
    assert set(granted.cells) == {
        Cell("alert", pictured["photo"].media_sha256, ""),
        Cell("work", reference.sha256, "Owner A"),
    }
    # Within the minute the sheet needs no store: even with the alert gone, it is drawn.
    app.store.upsert([pictured["photo"].model_copy(update={"owner": "Owner C"})])
    assert alice.client.get(_sheet_url(page)).status_code == 200
    clock[0] = 60.0  # a minute later the sheet is gone: the list must be shown again
    assert console.grants.get(principal, key) is None
    gone = alice.client.get(_sheet_url(page))
    assert gone.status_code == 404 and "reload the list" in gone.json()["detail"]
    assert _cells(_row(alice.client.get("/alerts").text, pictured["gone"])) == [(0, 0)]


def test_grants_are_bounded_and_keyed_by_the_whole_principal() -> None:
    grants = Grants(size=2, now=lambda: 0.0)
    agency = Principal(name="kz", role="agency", jurisdictions=("KZ",))
    sheets = [Sheet((Cell("alert", str(i) * 64, "o"),)) for i in range(3)]
    grants.grant(agency, sheets[0])
    assert grants.get(agency, sheets[0].key) == sheets[0]
    assert grants.get(replace(agency, jurisdictions=("RU",)), sheets[0].key) is None
    assert len({s.key for s in sheets}) == 3  # a key names its cells
    grants.grant(agency, sheets[1])
    grants.grant(agency, sheets[2])
    assert grants.get(agency, sheets[0].key) is None  # the oldest dropped
    assert grants.get(agency, sheets[2].key) == sheets[2]


def test_a_copy_that_is_no_image_gets_no_thumbnail_and_is_not_decoded(
    app: App, alert_with_blob: Callable[..., Alert], login: Callable[[str], Session]
) -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'
    alert = alert_with_blob(svg)
    answer = login("admin").client.get(f"/api/alerts/{alert.id}/thumbnail?size=list")
    assert answer.status_code == 400 and "not an image" in answer.text
    assert not (app.settings.home / "console" / "thumbnails" / alert.media_sha256[:2]).exists()
    # A bitmap, as crawls keep them too, has one.
    bitmap = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(bitmap, "BMP")
    shown = alert_with_blob(bitmap.getvalue())
    answer = login("admin").client.get(f"/api/alerts/{shown.id}/thumbnail?size=list")
    assert answer.status_code == 200 and answer.content.startswith(b"\xff\xd8\xff")
    # On the list's sheet, the one is left blank and the other drawn.
    admin = login("admin").client
    page = admin.get("/alerts").text
    sheet = _sheet(admin, page)
    [svg_cell], [bitmap_cell] = _cells(_row(page, alert)), _cells(_row(page, shown))
    assert _blank(sheet, svg_cell) and not _blank(sheet, bitmap_cell)
