"""Who sees which works and reference files, organisations' policies, and per-session caching.

The rule itself lives in tanba.core.access; these tests drive it through the
console's routes (API and pages), as the security walk does for every route.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tanba.app.demo import media
from tanba.console.context import Console
from tanba.core.alerts import Alert
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import PASSWORD

Headers = Callable[[str], dict[str, str]]


@pytest.fixture
def gallery(
    app: App,
    console: Console,
    people: dict[str, str],
    small_photos: list[Path],
    alert_factory: Callable[..., Alert],
) -> dict[str, Alert]:
    """Owner A's photo with a KZ alert; Moscow Arts' photo with RU alerts only."""
    console.users.add("moscow", PASSWORD, "rights_holder", org="Moscow Arts", language="en")
    # Registered in this thread: the fingerprint sandbox's child lives as long as the thread
    # that started it, and the test client's request threads end after each request.
    register(
        app,
        [
            WorkSpec(path=small_photos[0], owner="Owner A", title="Title steppe", work_id="steppe"),
            WorkSpec(path=small_photos[2], owner="Moscow Arts", title="Title city", work_id="city"),
        ],
    )
    copies = {
        w: app.blobs.put(media.web_jpeg(small_photos[i], width=500))
        for w, i in (("a", 0), ("c", 2))
    }
    alerts = {
        "steppe_kz": alert_factory(work_id="steppe", owner="Owner A", media_sha256=copies["a"]),
        "city_ru": alert_factory(
            work_id="city",
            owner="Moscow Arts",
            page="http://mosart.example.ru/1",
            jurisdiction="RU",
            media_sha256=copies["c"],
        ),
    }
    app.store.upsert(list(alerts.values()))
    return alerts


def test_an_agency_gets_a_work_and_its_reference_only_with_an_alert_in_its_jurisdiction(
    web: Any, app: App, gallery: dict[str, Alert], token_for: Headers, login: Callable[[str], Any]
) -> None:
    client = TestClient(web)
    kz = token_for("kz-agency")
    # The issue: a KZ agency fetched the reference of a Moscow Arts work with no KZ alert.
    for url in ("/api/works/city", "/api/works/city/media", "/api/works/city/thumbnail"):
        assert client.get(url, headers=kz).status_code == 404, url
    assert [w["work_id"] for w in client.get("/api/works", headers=kz).json()["works"]] == [
        "steppe"
    ]
    agency = login("kz-agency")
    assert agency.client.get("/works/city").status_code == 404
    assert "Title city" not in agency.client.get("/works").text
    mine = client.get("/api/works/steppe/media", headers=kz)
    assert mine.status_code == 200 and mine.content == (
        app.blobs.get(app.works.get("steppe").sha256)
    )
    # A rights holder gets only its organisation's references; operators and admins all.
    assert client.get("/api/works/city/media", headers=token_for("alice")).status_code == 404
    for who in ("moscow", "ops", "admin"):
        assert client.get("/api/works/city/thumbnail", headers=token_for(who)).status_code == 200
    # Once Moscow Arts' work is found in KZ, the KZ agency may see it and its reference.
    app.store.upsert([gallery["city_ru"].model_copy(update={"id": "c-kz", "jurisdiction": "KZ"})])
    assert client.get("/api/works/city/media", headers=kz).status_code == 200
    assert "Title city" in agency.client.get("/works").text


def _policy_form(session: Any, org: str, withhold: bool) -> Any:
    data = {"csrf_token": session.csrf} | ({"withhold_references": "1"} if withhold else {})
    return session.client.post(f"/organisations/{org}", data=data, follow_redirects=False)


def test_an_organisation_withholds_its_references_from_agencies(
    web: Any, app: App, gallery: dict[str, Alert], token_for: Headers, login: Callable[[str], Any]
) -> None:
    alice, agency = login("alice"), login("kz-agency")
    assert 'href="/organisations"' in alice.client.get("/alerts").text
    assert 'href="/organisations"' not in agency.client.get("/alerts").text
    listed = alice.client.get("/organisations").text
    assert "Owner A" in listed and "Moscow Arts" not in listed
    assert _policy_form(alice, "Owner A", True).status_code == 303
    policy = app.organisations.get("Owner A")
    assert policy.withhold_references and policy.changed_by == "alice"

    client, kz = TestClient(web), token_for("kz-agency")
    for kind in ("media", "thumbnail"):
        refused = client.get(f"/api/works/steppe/{kind}", headers=kz)
        assert refused.status_code == 403 and "Owner A" in refused.json()["detail"]
        assert (
            client.get(f"/api/works/steppe/{kind}", headers=token_for("admin")).status_code == 200
        )
    assert client.get("/api/works/steppe", headers=kz).status_code == 200  # the work, not its file
    alert = gallery["steppe_kz"]
    assert client.get(f"/api/alerts/{alert.id}/media", headers=kz).status_code == 200  # the copy
    page = agency.client.get(f"/alerts/{alert.id}").text
    assert 'id="reference-withheld"' in page and "/api/works/steppe/" not in page
    assert "/api/works/steppe/" not in agency.client.get("/works").text
    assert 'id="reference-withheld"' in agency.client.get("/works/steppe").text
    own = alice.client.get(f"/alerts/{alert.id}").text
    assert "reference-withheld" not in own and "/api/works/steppe/thumbnail?d=" in own

    # Only the organisation's rights holders and administrators change it.
    assert _policy_form(agency, "Owner A", False).status_code == 403
    bob = client.put(
        "/api/organisations/Owner A", json={"withhold_references": False}, headers=token_for("bob")
    )
    assert bob.status_code == 404
    ops = client.put(
        "/api/organisations/Owner A", json={"withhold_references": False}, headers=token_for("ops")
    )
    assert ops.status_code == 403
    assert app.organisations.get("Owner A").withhold_references
    listing = client.get("/api/organisations", headers=token_for("admin")).json()
    assert {p["org"] for p in listing} >= {"Owner A", "Owner B", "Moscow Arts"}
    assert client.get("/api/organisations", headers=kz).status_code == 403
    undone = client.put(
        "/api/organisations/Owner A",
        json={"withhold_references": False},
        headers=token_for("admin"),
    )
    assert undone.status_code == 200 and undone.json()["changed_by"] == "admin"
    assert client.get("/api/works/steppe/media", headers=kz).status_code == 200
    bad = client.put("/api/organisations/Owner A", json={}, headers=token_for("alice"))
    assert bad.status_code == 422 and "withhold_references" in bad.json()["detail"]


def _src(page: str, pattern: str) -> str:
    found = re.search(rf'src="({pattern}[^"]*)"', page)
    assert found is not None, pattern
    return html.unescape(found.group(1))


def test_answers_that_depend_on_the_caller_are_cached_only_under_the_sessions_own_urls(
    web: Any, gallery: dict[str, Alert], login: Callable[[str], Any], token_for: Headers
) -> None:
    admin, agency = login("admin"), login("kz-agency")
    chart = _src(admin.client.get("/alerts").text, "/alerts/charts/jurisdiction.svg")
    reference = _src(admin.client.get("/works/city").text, "/api/works/city/thumbnail")
    copy = _src(admin.client.get(f"/alerts/{gallery['city_ru'].id}").text, "/api/alerts/")
    # The alert page's pictures name their file's digest (d=): kept a year.
    for url, age in ((chart, "30"), (reference, "86400"), (copy, "31536000, immutable")):
        kept = admin.client.get(url)
        assert kept.status_code == 200
        assert kept.headers["cache-control"] == f"private, max-age={age}", url
        assert kept.headers["vary"] == "Cookie, Authorization"
        bare = admin.client.get(re.sub(r"[?&]v=[^&]*", "", url))
        assert bare.headers["cache-control"] == "no-store"  # no key: not stored
        scripted = TestClient(web).get(url, headers=token_for("admin"))
        assert scripted.headers["cache-control"] == "no-store"  # API tokens: never
    assert ">RU Russia<" in admin.client.get(chart).text
    # Another session asking for the administrator's URL gets its own answer, not stored.
    theirs = agency.client.get(chart)
    assert theirs.headers["cache-control"] == "no-store" and "RU" not in theirs.text
    assert ">KZ Kazakhstan<" in theirs.text
    assert agency.client.get(reference).status_code == 404
    # Every login gets other URLs, so a browser's cache of the last one is never asked.
    again = _src(login("admin").client.get("/alerts").text, "/alerts/charts/jurisdiction.svg")
    assert again != chart and again.split("?v=")[1][32:] == chart.split("?v=")[1][32:]
