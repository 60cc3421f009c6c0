"""Security: no route shows or changes another party's data; CSRF; crawled text stays text.

The walk is generic. It takes every route the application registers (so a new
route is walked without anyone listing it), fills every path, query and body
parameter from the OpenAPI schema with the other party's identifiers (alert
id, work id, organisation, user...), and sends each request as a rights holder
of another organisation and as an agency of another jurisdiction than the
owner's, with a valid CSRF token (so CSRF is not what stops it): API, pages,
media, blobs and charts alike. GET routes are also walked with no query at all,
which is each list's full view for the walker. No answer may carry the other
party's data (ids, titles, pages, sites, hashes, file bytes, counts by their
jurisdiction or day), and nothing of theirs may change. A route that cannot be
walked must be in :data:`PUBLIC` with the reason why anyone may call it; every
other route must refuse a caller without credentials.

Operators and administrators are not walked here: they have no organisation or
jurisdiction and see every alert by design (tanba.core.access); what they may change
is tested with the roles' own tests.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Route

from tanba.app.demo import media
from tanba.console.context import Console
from tanba.core.alerts import Alert
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tests.console.conftest import PASSWORD

# Routes anyone may call without logging in, and why that is safe.
PUBLIC: dict[tuple[str, str], str] = {
    ("/openapi.json", "GET"): "the API's schema: route and field names, no data",
    ("/login", "GET"): "the login form",
    ("/login", "POST"): "logging in: double-submit CSRF token, throttled (tanba.console.throttle)",
    ("/", "GET"): "a redirect to /alerts or /login, nothing else",
}
# Walked last: it ends the walker's session.
LAST = ("/logout", "POST")
# Kinds of route whose data is media or pictures: the walk must include them.
MEDIA_ROUTES = {
    ("/api/works/{work_id}/media", "GET"),
    ("/api/works/{work_id}/thumbnail", "GET"),
    ("/api/alerts/{alert_id}/media", "GET"),
    ("/api/alerts/{alert_id}/thumbnail", "GET"),
    ("/api/sheets/{key}", "GET"),
    ("/alerts/charts/{key}.svg", "GET"),
    ("/api/alerts/counts/{key}", "GET"),
    ("/alerts/{alert_id}", "GET"),
    ("/works/{work_id}", "GET"),
}
# Files (SVG charts are text and checked as text).
BINARY = ("image/jpeg", "image/png", "image/gif", "image/webp", "audio/", "application/")
BINARY_TEXT = ("application/json",)


def _value(name: str, schema: dict[str, Any], victim: dict[str, str]) -> Any:
    """A value for a parameter: the victim's identifier when the name suggests one."""
    by_name = {
        "alert_id": victim["alert_id"],
        "work_id": victim["work_id"],
        "owner": victim["owner"],
        "org": victim["owner"],
        "site": victim["site"],
        "jurisdiction": victim["jurisdiction"],
        "status": "confirmed",
        "key": "site",
        "name": "kino",
        "username": victim["username"],
        "token_id": victim.get("token_id", "x"),
        "title": "taken over",
        "comment": "forged",
        "language": "en",
        "role": "admin",
        "password": "another password",
        "next": "/alerts",
    }
    if name in by_name:
        return by_name[name]
    if name in ("since", "until"):
        return "2025-01-01" if name == "since" else "2026-12-31"
    options = schema.get("enum") or next(
        (s["enum"] for s in schema.get("anyOf", []) if "enum" in s), None
    )
    if options:
        return options[-1]
    kind = schema.get("type")
    if kind == "integer":
        return 1
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    if kind == "array":
        return (
            [victim["work_id"]] if name in ("alert_ids", "work_ids") else [victim["jurisdiction"]]
        )
    return "x"


def _body(
    spec: dict[str, Any], op: dict[str, Any], victim: dict[str, str], photo: bytes
) -> dict[str, Any]:
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    kind, media_type = next(iter(content.items()))
    schema = media_type["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].split("/")[-1]]
    props = schema.get("properties", {})
    values = {k: _value(k, v, victim) for k, v in props.items()}
    if kind == "application/json":
        if "seeds" in values:
            values["seeds"] = ["http://kino.example.kz/"]
        if "licences" in values:
            values["licences"] = []
        return {"json": values}
    files = {
        k: ("p.jpg", photo, "image/jpeg")
        for k, v in props.items()
        if v.get("format") == "binary" or "contentMediaType" in v
    }
    data = {k: v for k, v in values.items() if k not in files}
    data["work_id"] = victim["work_id"]
    return {"data": data, "files": files} if files else {"data": data}


def app_routes(web: FastAPI) -> set[tuple[str, str]]:
    """(path, method) of every route the application registers; other route kinds fail.

    Read the way FastAPI's own schema generator reads them, through included
    routers (``web.routes`` alone lists an included router as one opaque entry).
    """
    found = set()
    for context in iter_route_contexts(web.routes):
        route = context.original_route
        assert isinstance(route, Route), f"{route!r}: a route kind the walk does not know"
        assert context.path, f"{route!r} has no path"
        found |= {(context.path, m) for m in context.methods or () if m != "HEAD"}
    return found


@dataclass
class Call:
    """One request of the walk and what was sent with it (answers may echo what was sent)."""

    method: str
    path: str
    url: str
    params: dict[str, Any]
    kwargs: dict[str, Any]

    def sent(self) -> list[str]:
        values = [self.url, *map(str, self.params.values())]
        for part in ("data", "json"):
            values += [str(v) for v in self.kwargs.get(part, {}).values()]
        return [v for v in values if len(v) > 2]


def calls(
    spec: dict[str, Any], route: tuple[str, str], victim: dict[str, str], photo: bytes
) -> Iterator[Call]:
    """The requests that walk one route: each value of an enumerated path parameter,
    the victim's values in every query parameter, and for GET also no query at all."""
    path, method = route
    op = spec["paths"].get(path, {}).get(method.lower())
    assert op is not None or route in PUBLIC, f"{method} {path}: not in /openapi.json, not public"
    op = op or {}
    urls = [path]
    query: dict[str, Any] = {}
    for p in op.get("parameters", []):
        schema = p.get("schema", {})
        if p["in"] == "path":
            values = schema.get("enum") or [_value(p["name"], schema, victim)]
            urls = [u.replace("{" + p["name"] + "}", str(v)) for u in urls for v in values]
        elif p["in"] == "query":
            query[p["name"]] = _value(p["name"], schema, victim)
    kwargs = _body(spec, op, victim, photo)
    for url in urls:
        yield Call(method, path, url, query, kwargs)
        if method == "GET" and query:
            yield Call(method, path, url, {}, {})


@dataclass
class World:
    """Moscow Arts (the other party: RU and BY alerts, a work, a policy) and the walkers' own data."""

    victim: dict[str, str]
    alerts: list[Alert]
    secrets: list[str]
    files: list[bytes]
    walkers: dict[str, int] = field(default_factory=dict)  # walker -> alerts it sees


@pytest.fixture
def world(
    app: App,
    console: Console,
    people: dict[str, str],
    login: Callable[[str], Any],
    small_photos: list[Path],
    alert_factory: Callable[..., Alert],
) -> World:
    console.users.add("moscow", PASSWORD, "rights_holder", org="Moscow Arts", language="en")
    # Registered in this thread: the fingerprint sandbox's child lives as long as the thread
    # that started it, and the test client's request threads end after each request.
    register(
        app,
        [
            WorkSpec(
                path=small_photos[2],
                owner="Moscow Arts",
                title="City at night",
                work_id="city-secret",
            )
        ],
    )
    reference = small_photos[2].read_bytes()
    owner = login("moscow")
    withheld = owner.client.put(
        "/api/organisations/Moscow Arts",
        json={"withhold_references": True},
        headers={"X-CSRF-Token": owner.csrf},
    )
    assert withheld.status_code == 200, withheld.text
    token = owner.client.post(
        "/api/me/tokens", json={"label": "moscow-nightly"}, headers={"X-CSRF-Token": owner.csrf}
    ).json()
    copy = media.web_jpeg(small_photos[2], width=700, quality=70)
    found = app.blobs.put(copy)
    their = [
        alert_factory(
            work_id="city-secret",
            owner="Moscow Arts",
            page=f"http://{site}/{n}",
            jurisdiction=code,
            seen="2025-11-17T10:00:00.000Z",
            page_title="Moscow Arts secret page",
            media_sha256=found,
            status="confirmed",
        )
        for site, code, n in (
            ("mosart.example.ru", "RU", "gallery"),
            ("mosart.example.ru", "RU", "shop"),
            ("kartiny.example.by", "BY", "wall"),
        )
    ]
    own_copy = app.blobs.put(media.web_jpeg(small_photos[0], width=600, quality=70))
    ours = alert_factory(work_id="w-a", owner="Owner A", media_sha256=own_copy)
    app.store.upsert([*their, ours])
    work = app.works.get("city-secret")
    victim = {
        "alert_id": their[0].id,
        "work_id": work.work_id,
        "owner": work.owner,
        "site": their[0].site,
        "jurisdiction": "RU",
        "username": "moscow",
        "token_id": token["id"],
    }
    secrets = [
        *(a.id for a in their),
        *(a.page_url for a in their),
        "Moscow Arts",
        "Moscow Arts secret page",
        "City at night",
        "city-secret",
        "moscow-nightly",
        work.sha256,
        found,
        "mosart.example.ru",
        "kartiny.example.by",
        "2025-11-17",
        "RU Russia",  # a bar of the jurisdiction chart
        "BY Belarus",
        '"withhold_references":true',
    ]
    return World(victim, their, secrets, [reference, copy], {"alice": 1, "kz-agency": 1})


def _leaks(world: World, call: Call, response: Any) -> list[str]:
    """What of the other party's data this answer carries (echoes of the request aside)."""
    kind = response.headers.get("content-type", "")
    found = []
    if response.status_code < 300 and kind.startswith(BINARY) and not kind.startswith(BINARY_TEXT):
        found.append(f"a {kind} file")
    found += [f"file bytes of {len(f)}" for f in world.files if f[:2048] in response.content]
    text = response.content.decode("utf-8", "replace") + response.headers.get("location", "")
    if response.status_code >= 300 or kind.startswith("text/html"):
        # Forms echo their filters and errors name what was asked for: not a leak.
        for value in sorted(call.sent(), key=len, reverse=True):
            text = text.replace(value, "")
    return found + [s for s in world.secrets if s in text]


def _snapshot(app: App, console: Console, world: World) -> object:
    return (
        [app.store.get(a.id) for a in world.alerts],
        app.works.get("city-secret"),
        app.organisations.get("Moscow Arts"),
        console.users.get("moscow"),
        console.sessions.tokens("moscow"),
    )


@pytest.mark.parametrize("walker", ["alice", "kz-agency"])
def test_no_route_shows_or_changes_another_partys_data(
    web: FastAPI,
    app: App,
    console: Console,
    world: World,
    login: Callable[[str], Any],
    token_for: Callable[[str], dict[str, str]],
    small_photos: list[Path],
    walker: str,
) -> None:
    before = _snapshot(app, console, world)
    spec = TestClient(web).get("/openapi.json").json()
    routes = app_routes(web)
    photo = small_photos[4].read_bytes()
    session = login(walker)
    own = session.client.get("/api/alerts").json()
    assert own["total"] == world.walkers[walker]  # the walker's credentials work

    walked: set[tuple[str, str]] = set()
    problems: list[str] = []
    for route in sorted(routes, key=lambda r: r == LAST):  # the logout last
        for call in calls(spec, route, world.victim, photo):
            response = session.client.request(
                call.method,
                call.url,
                params=call.params,
                headers={"X-CSRF-Token": session.csrf},
                follow_redirects=False,
                **call.kwargs,
            )
            where = f"{call.method} {call.url} {json.dumps(call.params)[:80]}"
            if response.status_code >= 500:
                problems.append(f"{where}: {response.status_code}")
            problems += [f"{where}: {leak}" for leak in _leaks(world, call, response)]
            # Nothing asked to be cached under a URL of this session (no ?v=): nothing may be.
            if response.headers.get("cache-control") != "no-store":
                problems.append(f"{where}: Cache-Control {response.headers.get('cache-control')}")
        walked.add(route)
    assert not problems, "\n".join(problems)
    assert walked == routes and len(walked) >= 55
    assert walked >= MEDIA_ROUTES
    assert _snapshot(app, console, world) == before
    # The walk ended by logging out; the walker still sees its own data with a token.
    assert session.client.get("/api/alerts").status_code == 401
    mine = TestClient(web).get("/api/alerts", headers=token_for(walker)).json()
    assert mine["total"] == world.walkers[walker]


def test_every_route_but_the_public_ones_refuses_a_caller_without_credentials(
    web: FastAPI, world: World, small_photos: list[Path]
) -> None:
    spec = TestClient(web).get("/openapi.json").json()
    routes = app_routes(web)
    assert set(PUBLIC) <= routes, f"public routes that no longer exist: {set(PUBLIC) - routes}"
    anonymous = TestClient(web, base_url="http://testserver")
    photo = small_photos[4].read_bytes()
    for route in routes:
        for call in calls(spec, route, world.victim, photo):
            response = anonymous.request(
                call.method, call.url, params=call.params, follow_redirects=False, **call.kwargs
            )
            where = f"{call.method} {call.url}"
            assert response.status_code < 500, where
            assert not _leaks(world, call, response), where
            if route in PUBLIC:
                continue
            if call.method == "GET" and not call.path.startswith("/api/"):
                assert response.status_code == 303, where
                assert response.headers["location"].startswith("/login?next="), where
            else:
                assert response.status_code == 401, f"{where}: {response.status_code}"


def test_state_changing_requests_without_the_csrf_token_are_refused(
    web: Any, app: App, seeded: dict[str, Alert], login: Callable[[str], Any]
) -> None:
    s = login("kz-agency")
    a = seeded["a_kz"]
    form = s.client.post(
        f"/alerts/{a.id}/status", data={"status": "confirmed"}, follow_redirects=False
    )
    assert form.status_code == 403
    wrong = s.client.post(
        f"/alerts/{a.id}/status",
        data={"status": "confirmed", "csrf_token": "forged"},
        follow_redirects=False,
    )
    assert wrong.status_code == 403
    api = s.client.post(f"/api/alerts/{a.id}/status", json={"status": "confirmed"})
    assert api.status_code == 403 and "security token" in api.json()["detail"]
    stored = app.store.get(a.id)
    assert stored is not None and stored.status == "new"
    ok = s.client.post(
        f"/alerts/{a.id}/status",
        data={"status": "confirmed", "csrf_token": s.csrf},
        follow_redirects=False,
    )
    assert ok.status_code == 303
    stored = app.store.get(a.id)
    assert stored is not None and stored.status == "confirmed"


def test_login_form_needs_its_own_token(web: Any, people: dict[str, str]) -> None:
    client = TestClient(web)
    forged = client.post("/login", data={"username": "alice", "password": "correct horse battery"})
    assert forged.status_code == 403
    assert "tanba_session" not in client.cookies


def test_csrf_token_of_one_session_does_not_work_for_another(
    web: Any, seeded: dict[str, Alert], login: Callable[[str], Any]
) -> None:
    first, second = login("kz-agency"), login("kz-agency")
    assert first.csrf != second.csrf
    answer = second.client.post(
        f"/alerts/{seeded['a_kz'].id}/status",
        data={"status": "confirmed", "csrf_token": first.csrf},
    )
    assert answer.status_code == 403


def test_a_crawled_title_with_a_script_is_shown_as_text(
    web: Any, app: App, login: Callable[[str], Any], alert_with_blob: Callable[..., Alert]
) -> None:
    evil = alert_with_blob(
        b"\xff\xd8\xff fake jpeg",
        page_title="<script>alert(1)</script>",
        site="<img src=x onerror=alert(2)>.kz",
        media_url="javascript:alert(3)",
    )
    s = login("admin")
    for url in ("/alerts", f"/alerts/{evil.id}"):
        html = s.client.get(url).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x" not in html
    chart = s.client.get("/alerts/charts/site.svg").text
    assert "<img src=x" not in chart and "&lt;img src=x" in chart
    detail = s.client.get(f"/alerts/{evil.id}")
    assert 'href="javascript:' not in detail.text
    assert (
        "script-src" not in detail.headers["content-security-policy"]
    )  # default-src 'none' covers it
    assert "default-src 'none'" in detail.headers["content-security-policy"]
