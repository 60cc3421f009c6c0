"""Security: no route leaks or changes another organisation's alert; CSRF; crawled text stays text.

The walk is generic: it reads /openapi.json, fills every path, query and body
parameter of every operation with the victim's identifiers (alert id, work id,
owner, ...), sends it as a rights holder of another organisation (with a valid
CSRF token, so CSRF is not what stops it), and checks that no answer contains
the victim's data and that the victim's alert and work are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tanba.alerts import Alert
from tanba.app import App

SECRET_TITLE = "Owner B secret page"


def _value(name: str, schema: dict[str, Any], victim: dict[str, str]) -> Any:
    """A value for a parameter: the victim's identifier when the name suggests one."""
    by_name = {
        "alert_id": victim["alert_id"],
        "work_id": victim["work_id"],
        "owner": victim["owner"],
        "org": victim["owner"],
        "site": victim["site"],
        "jurisdiction": "KZ",
        "status": "confirmed",
        "key": "site",
        "name": "kino",
        "username": "bob",
        "token_id": "x",
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
        return "2026-01-01" if name == "since" else "2026-12-31"
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
        return [victim["work_id"]] if name in ("alert_ids", "work_ids") else ["KZ"]
    return "x"


def _body(
    spec: dict[str, Any], op: dict[str, Any], victim: dict[str, str], photo: bytes
) -> dict[str, Any]:
    content = op.get("requestBody", {}).get("content", {})
    if not content:
        return {}
    kind, media = next(iter(content.items()))
    schema = media["schema"]
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


def test_a_rights_holder_cannot_read_or_change_another_organisations_alert_anywhere(
    web: Any,
    app: App,
    seeded: dict[str, Alert],
    login: Callable[[str], Any],
    photos: list[Path],
) -> None:
    victim_alert = seeded["b_kz"]
    # Bob's work must exist in the registry too, so work routes have something to protect.
    bob = login("bob")
    with open(photos[3], "rb") as f:
        made = bob.client.post(
            "/api/works",
            files={"file": ("b.jpg", f)},
            data={"work_id": "w-b", "title": "Bob's work"},
            headers={"X-CSRF-Token": bob.csrf},
        )
    assert made.status_code == 201, made.text
    work_before = app.works.get("w-b")
    alert_before = app.store.get(victim_alert.id)
    victim = {
        "alert_id": victim_alert.id,
        "work_id": "w-b",
        "owner": "Owner B",
        "site": victim_alert.site,
    }
    leaks = [
        victim_alert.id,
        victim_alert.page_url,
        SECRET_TITLE,
        "Owner B",
        "Bob&#39;s work",
        "Bob's work",
    ]
    photo = photos[4].read_bytes()

    spec = TestClient(web).get("/openapi.json").json()
    documented = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    routed = {
        (r.path, m) for r in web.routes if isinstance(r, APIRoute) for m in r.methods if m != "HEAD"
    }
    assert routed <= documented, f"routes missing from the OpenAPI schema: {routed - documented}"

    alice = login("alice")
    walked = 0
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if path in ("/logout",):
                continue  # would end the session the walk runs in
            url = path
            query: dict[str, Any] = {}
            for p in op.get("parameters", []):
                value = _value(p["name"], p.get("schema", {}), victim)
                if p["in"] == "path":
                    url = url.replace("{" + p["name"] + "}", str(value))
                elif p["in"] == "query":
                    query[p["name"]] = value
            kwargs = _body(spec, op, victim, photo)
            response = alice.client.request(
                method.upper(),
                url,
                params=query,
                headers={"X-CSRF-Token": alice.csrf},
                follow_redirects=False,
                **kwargs,
            )
            walked += 1
            # The caller's own URL may be echoed (the language form returns to it): not a leak.
            body = response.content.decode("utf-8", "replace").replace(url, "")
            for secret in leaks:
                assert secret not in body, f"{method.upper()} {url} leaked {secret!r}: {body[:300]}"
            assert response.status_code < 500, f"{method.upper()} {url}: {response.status_code}"
    assert walked >= 45
    assert app.store.get(victim_alert.id) == alert_before
    assert app.works.get("w-b") == work_before
    # The walk did run with working credentials: Alice's own data is visible to her.
    own = alice.client.get("/api/alerts").json()
    assert own["total"] == 3


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
