"""The works list from the works catalogue: console page, API and `tanba works list`, with filters,
cursor pages and each role's scope."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient

from tanba.core.alerts import Alert
from tanba.core.wiring import App
from tests.console.conftest import Session
from tests.support.works import work

Headers = Callable[[str], dict[str, str]]


def _lines(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines()]


def _register(app: App) -> None:
    app.works.register(
        [
            work("a-sun", owner="Owner A", title="Sunset over the steppe", filename="IMG_1.jpg"),
            work("a-song", owner="Owner A", title="Night song", media="audio"),
            work("a-wind", owner="Owner A", title="Steppe wind"),
            work("b-city", owner="Owner B", title="City lights"),
        ]
    )


def test_the_api_lists_filters_and_pages_each_callers_works(
    web: Any, app: App, token_for: Headers, seeded: dict[str, Alert]
) -> None:
    _register(app)
    client = TestClient(web)
    admin = token_for("admin")
    every = client.get("/api/works", headers=admin).json()
    assert every["total"] == 4 and every["next_cursor"] == ""
    assert [w["work_id"] for w in every["works"]] == ["a-song", "a-wind", "a-sun", "b-city"]
    assert every["works"][0]["media"] == "audio" and every["works"][1]["width"] == 640
    first = client.get("/api/works?per_page=3", headers=admin).json()
    rest = client.get(f"/api/works?per_page=3&after={first['next_cursor']}", headers=admin).json()
    assert [w["work_id"] for w in first["works"] + rest["works"]] == [
        "a-song",
        "a-wind",
        "a-sun",
        "b-city",
    ]
    found = client.get("/api/works?q=steppe&media=image", headers=admin).json()
    assert [w["work_id"] for w in found["works"]] == ["a-wind", "a-sun"]
    # Scopes: a rights holder its organisation's works whatever the filter asks,
    # an agency the works with an alert in its jurisdiction (none of these).
    bob = client.get("/api/works?owner=Owner+A", headers=token_for("bob")).json()
    assert bob["works"] == [] and bob["total"] == 0
    alice = client.get("/api/works", headers=token_for("alice")).json()
    assert {w["owner"] for w in alice["works"]} == {"Owner A"} and alice["total"] == 3
    assert client.get("/api/works", headers=token_for("kz-agency")).json()["total"] == 0
    bad = client.get("/api/works?after=nonsense", headers=admin)
    assert bad.status_code == 400 and "next link" in bad.text


def test_the_works_page_searches_and_links_its_next_page(
    app: App, login: Callable[[str], Session]
) -> None:
    _register(app)
    admin = login("admin")
    page = admin.client.get("/works?per_page=2").text
    assert "(4)" in page and "Night song" in page and "City lights" not in page
    following = re.search(r'rel="next" href="/works\?([^"]+)"', page)
    assert following is not None
    second = admin.client.get("/works?" + following.group(1).replace("&amp;", "&")).text
    assert "Sunset over the steppe" in second and "Night song" not in second
    searched = admin.client.get("/works?q=city").text
    assert "City lights" in searched and "Night song" not in searched and "(1)" in searched
    assert "No works match these filters." in admin.client.get("/works?q=nothing").text
