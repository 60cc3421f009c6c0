"""The HTTP API: alerts by role, status changes, works, targets, users, tokens, evidence seam."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tanba.console.context import Console
from tanba.core.alerts import Alert
from tanba.core.wiring import App

Headers = Callable[[str], dict[str, str]]


def ids(response: object) -> set[str]:
    return {a["id"] for a in response.json()["alerts"]}  # type: ignore[attr-defined]


def test_each_role_lists_only_the_alerts_it_may_see(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    every = {a.id for a in seeded.values()}
    assert ids(client.get("/api/alerts", headers=token_for("admin"))) == every
    assert ids(client.get("/api/alerts", headers=token_for("ops"))) == every
    owner_a = {seeded[k].id for k in ("a_kz", "a_ru", "a_kz_audio")}
    assert ids(client.get("/api/alerts", headers=token_for("alice"))) == owner_a
    assert ids(client.get("/api/alerts", headers=token_for("bob"))) == {
        seeded["b_kz"].id,
        seeded["b_by"].id,
    }
    kz = {seeded[k].id for k in ("a_kz", "a_kz_audio", "b_kz")}
    assert ids(client.get("/api/alerts", headers=token_for("kz-agency"))) == kz
    # A filter can narrow a scope, never widen it.
    wide = client.get("/api/alerts?jurisdiction=BY", headers=token_for("kz-agency"))
    assert wide.json()["total"] == 0


def test_filters_sort_and_pages(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    h = token_for("admin")
    assert ids(client.get("/api/alerts?media=audio", headers=h)) == {seeded["a_kz_audio"].id}
    assert ids(client.get("/api/alerts?site=shop.example.by", headers=h)) == {seeded["b_by"].id}
    assert ids(client.get("/api/alerts?work_id=w-b&jurisdiction=kz", headers=h)) == {
        seeded["b_kz"].id
    }
    window = client.get("/api/alerts?since=2026-03-02&until=2026-03-03", headers=h)
    assert ids(window) == {seeded["a_ru"].id, seeded["a_kz_audio"].id}
    recent = client.get("/api/alerts?per_page=2", headers=h).json()
    assert [a["id"] for a in recent["alerts"]] == [seeded["b_by"].id, seeded["b_kz"].id]
    assert (recent["total"], recent["pages"]) == (5, 3)
    last = client.get("/api/alerts?per_page=2&page=3", headers=h).json()
    assert [a["id"] for a in last["alerts"]] == [seeded["a_kz"].id]
    by_score = client.get("/api/alerts?sort=score&per_page=1", headers=h).json()
    assert by_score["alerts"][0]["id"] == seeded["b_kz"].id
    bad = client.get("/api/alerts?since=March", headers=h)
    assert bad.status_code == 422 and "YYYY-MM-DD" in bad.text


def test_cursors_walk_the_list_both_ways_within_the_callers_scope(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    h = token_for("admin")
    newest_first = [seeded[k].id for k in ("b_by", "b_kz", "a_kz_audio", "a_ru", "a_kz")]
    first = client.get("/api/alerts?per_page=2", headers=h).json()
    assert (first["page"], first["prev_cursor"]) == (1, "")
    walked, body = [], first
    while True:
        walked += [a["id"] for a in body["alerts"]]
        if not body["next_cursor"]:
            break
        body = client.get(f"/api/alerts?per_page=2&after={body['next_cursor']}", headers=h).json()
        assert body["page"] is None and body["total"] == 5
    assert walked == newest_first
    last = client.get("/api/alerts?per_page=2&last=true", headers=h).json()
    assert [a["id"] for a in last["alerts"]] == newest_first[3:]
    assert (last["page"], last["pages"], last["next_cursor"]) == (3, 3, "")
    prev = client.get(f"/api/alerts?per_page=2&before={last['prev_cursor']}", headers=h).json()
    assert [a["id"] for a in prev["alerts"]] == newest_first[1:3]
    # Alice follows the administrator's cursor: still only her organisation's alerts.
    theirs = client.get(
        f"/api/alerts?per_page=2&after={first['next_cursor']}", headers=token_for("alice")
    ).json()
    assert {a["owner"] for a in theirs["alerts"]} == {"Owner A"} and theirs["total"] == 3


@pytest.mark.parametrize(
    ("query", "says"),
    [
        ("after=bm90IGEgY3Vyc29y", "start from the first page"),
        ("before=%22%3E%3Cscript%3E", "start from the first page"),
        ("page=201", "follow the list's next/previous links"),
        ("page=2&last=true", "not both"),
        ("after=x&before=y", "only one"),
    ],
)
def test_a_bad_cursor_or_a_page_too_deep_is_a_400_that_says_what_to_do(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers, query: str, says: str
) -> None:
    answer = client.get(f"/api/alerts?{query}", headers=token_for("admin"))
    assert answer.status_code == 400, answer.text
    assert says in answer.json()["detail"]
    page = client.get(f"/alerts?{query}", headers=token_for("admin"))
    assert page.status_code == 400 and "<script>" not in page.text


def test_a_cursor_of_another_sort_is_refused(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    h = token_for("admin")
    cursor = client.get("/api/alerts?per_page=2&sort=score", headers=h).json()["next_cursor"]
    answer = client.get(f"/api/alerts?after={cursor}", headers=h)
    assert answer.status_code == 400 and "keep the sort" in answer.json()["detail"]


def test_the_schema_documents_the_cursor_parameters(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    params = {p["name"]: p for p in schema["paths"]["/api/alerts"]["get"]["parameters"]}
    assert {"after", "before", "last", "page"} <= set(params)
    assert "next_cursor" in params["after"]["description"]
    listed = schema["components"]["schemas"]["AlertList"]["properties"]
    assert "'after'" in listed["next_cursor"]["description"]
    assert "400" in schema["paths"]["/api/alerts"]["get"]["responses"]


def test_counts_follow_the_filters_and_the_scope(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    body = client.get("/api/alerts/counts/jurisdiction", headers=token_for("bob")).json()
    assert body["counts"] == {"BY": 1, "KZ": 1}
    days = client.get("/api/alerts/counts/day?jurisdiction=KZ", headers=token_for("admin")).json()
    assert days["counts"] == {"2026-03-01": 1, "2026-03-03": 1, "2026-03-04": 1}
    assert client.get("/api/alerts/counts/owner", headers=token_for("admin")).status_code == 422
    top = client.get("/api/alerts/counts/site?top=1", headers=token_for("admin")).json()
    assert top == {"key": "site", "counts": {"kino.example.kz": 2}, "other": 3}


def test_status_change_with_comment_and_its_history(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers, app: App
) -> None:
    a = seeded["a_kz"]
    done = client.post(
        f"/api/alerts/{a.id}/status",
        json={"status": "confirmed", "comment": "same photo, cropped"},
        headers=token_for("kz-agency"),
    )
    assert done.status_code == 200, done.text
    assert done.json()["next_statuses"] == ["notice_sent", "dismissed", "licensed"]
    stored = app.store.get(a.id)
    assert stored is not None and stored.status == "confirmed"
    assert [(h.actor, h.comment) for h in stored.history] == [("kz-agency", "same photo, cropped")]
    refused = client.post(
        f"/api/alerts/{a.id}/status", json={"status": "removed"}, headers=token_for("alice")
    )
    assert refused.status_code == 400 and "notice_sent" in refused.json()["detail"]


def test_operator_sees_alerts_but_cannot_change_their_status(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers, app: App
) -> None:
    a = seeded["b_kz"]
    detail = client.get(f"/api/alerts/{a.id}", headers=token_for("ops")).json()
    assert detail["alert"]["id"] == a.id and detail["next_statuses"] == []
    refused = client.post(
        f"/api/alerts/{a.id}/status", json={"status": "confirmed"}, headers=token_for("ops")
    )
    assert refused.status_code == 403
    stored = app.store.get(a.id)
    assert stored is not None and stored.status == "new"


def test_unknown_and_foreign_alerts_are_the_same_not_found(
    client: TestClient, seeded: dict[str, Alert], token_for: Headers
) -> None:
    foreign = client.get(f"/api/alerts/{seeded['b_kz'].id}", headers=token_for("alice"))
    missing = client.get("/api/alerts/" + "f" * 32, headers=token_for("alice"))
    assert foreign.status_code == missing.status_code == 404
    assert seeded["b_kz"].page_url not in foreign.text


def test_requests_without_credentials_are_refused(
    client: TestClient, seeded: dict[str, Alert]
) -> None:
    assert client.get("/api/alerts").status_code == 401
    assert client.get("/api/alerts", headers={"Authorization": "Bearer tnb_x_y"}).status_code == 401
    page = client.get("/alerts", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")


def upload(client: TestClient, photo: Path, headers: dict[str, str], **form: str) -> Any:
    """POST ``photo`` to /api/works with the form fields ``form``; returns the response."""
    with open(photo, "rb") as f:
        return client.post(
            "/api/works", files={"file": (photo.name, f)}, data=form, headers=headers
        )


def test_register_a_work_by_upload_then_edit_its_territories_and_licences(
    client: TestClient,
    token_for: Headers,
    small_photos: list[Path],
    app: App,
    alert_factory: Callable[..., Alert],
) -> None:
    h = token_for("alice")
    made = upload(
        client,
        small_photos[0],
        h,
        title="Sunset",
        work_id="sunset-1",
        territories="KZ, KG",
        owner="Owner B",
        owner_home="kz",
        licensees="partner.example.kz",
    )
    assert made.status_code == 201, made.text
    work = made.json()
    # A rights holder registers as their own organisation, whatever the form says.
    assert (work["owner"], work["territories"], work["media"]) == ("Owner A", ["KZ", "KG"], "image")
    registered = app.works.get("sunset-1")
    assert (registered.owner, registered.owner_home) == ("Owner A", "KZ")
    assert [lic.domain for lic in registered.licences] == ["partner.example.kz"]
    edited = client.patch(
        "/api/works/sunset-1",
        json={
            "territories": ["kz"],
            "licences": [
                {"domain": "Shop.Example.KZ", "territories": ["KZ"], "valid_until": "2026-12-31"}
            ],
        },
        headers=h,
    )
    assert edited.status_code == 200, edited.text
    stored = app.works.get("sunset-1")
    assert stored.territories == ["KZ"]
    assert [(lic.domain, lic.valid_until) for lic in stored.licences] == [
        ("shop.example.kz", "2026-12-31")
    ]
    assert stored.fingerprint == app.works.get("sunset-1").fingerprint
    bad = client.patch("/api/works/sunset-1", json={"territories": ["ZZ"]}, headers=h)
    assert bad.status_code == 400 and "ZZ" in bad.json()["detail"]
    # Other rights holders neither see nor edit it; an agency sees it once it has an alert
    # in the agency's jurisdiction, and cannot edit it.
    assert client.get("/api/works/sunset-1", headers=token_for("bob")).status_code == 404
    assert client.get("/api/works/sunset-1", headers=token_for("kz-agency")).status_code == 404
    app.store.upsert([alert_factory(work_id="sunset-1", owner="Owner A", jurisdiction="KZ")])
    assert client.get("/api/works/sunset-1", headers=token_for("kz-agency")).status_code == 200
    assert (
        client.patch("/api/works/sunset-1", json={}, headers=token_for("kz-agency")).status_code
        == 403
    )
    thumb = client.get("/api/works/sunset-1/thumbnail", headers=h)
    assert thumb.status_code == 200 and thumb.headers["content-type"] == "image/jpeg"
    assert thumb.content[:3] == b"\xff\xd8\xff" and len(thumb.content) < 60_000


def test_an_upload_cannot_take_over_another_owners_work_id(
    client: TestClient, token_for: Headers, small_photos: list[Path], app: App
) -> None:
    assert upload(client, small_photos[1], token_for("bob"), work_id="shared").status_code == 201
    assert upload(client, small_photos[2], token_for("alice"), work_id="shared").status_code == 409
    # Same file without an id gets the content-derived id: also taken, also refused.
    assert upload(client, small_photos[1], token_for("bob")).status_code == 201
    assert upload(client, small_photos[1], token_for("alice")).status_code == 409
    assert {w.owner for w in app.works.all().values()} == {"Owner B"}


def test_works_list_counts_alerts_per_jurisdiction(
    client: TestClient,
    token_for: Headers,
    small_photos: list[Path],
    app: App,
    seeded: dict[str, Alert],
) -> None:
    upload(client, small_photos[0], token_for("alice"), work_id="w-a")
    works = client.get("/api/works", headers=token_for("alice")).json()
    assert [(w["work_id"], w["alerts_by_jurisdiction"]) for w in works["works"]] == [
        ("w-a", {"KZ": 1, "RU": 1})
    ]
    assert works["total"] == 1 and works["next_cursor"] == ""
    assert client.get("/api/works", headers=token_for("bob")).json()["works"] == []
    assert (
        client.post(
            "/api/works", files={"file": ("a.jpg", b"x")}, headers=token_for("ops")
        ).status_code
        == 403
    )


def test_found_copy_is_served_only_as_a_sniffed_safe_type(
    client: TestClient, token_for: Headers, alert_with_blob: Callable[..., Alert]
) -> None:
    hostile = alert_with_blob(b"<html><script>alert(1)</script></html>")
    media = client.get(f"/api/alerts/{hostile.id}/media", headers=token_for("admin"))
    assert media.status_code == 200
    assert media.headers["content-type"] == "application/octet-stream"
    assert media.headers["content-disposition"].startswith("attachment")
    assert media.headers["x-content-type-options"] == "nosniff"


def test_targets_are_for_operators_and_admins(
    client: TestClient, token_for: Headers, console: Console
) -> None:
    spec = {
        "name": "kino",
        "seeds": ["http://kino.example.kz/"],
        "max_pages": 20,
        "schedule_hours": 24,
    }
    assert client.post("/api/targets", json=spec, headers=token_for("alice")).status_code == 403
    assert client.post("/api/targets", json=spec, headers=token_for("kz-agency")).status_code == 403
    made = client.post("/api/targets", json=spec, headers=token_for("ops"))
    assert made.status_code == 201, made.text
    assert made.json()["spec"]["allowed_domains"] == ["kino.example.kz"]
    assert client.post("/api/targets", json=spec, headers=token_for("ops")).status_code == 409
    typo = client.post(
        "/api/targets", json={**spec, "name": "x", "seeds": ["ftp://x"]}, headers=token_for("ops")
    )
    assert typo.status_code == 422 and "seeds" in typo.json()["detail"]
    (problem,) = typo.json()["problems"]
    assert (problem["field"], problem["code"]) == ("seeds", "not_http_url")
    assert "http://" in problem["message"]
    paused = client.post("/api/targets/kino/pause", headers=token_for("admin")).json()
    assert paused["spec"]["paused"] is True
    refused = client.post("/api/targets/kino/crawl", headers=token_for("ops"))
    assert refused.status_code == 400 and "paused" in refused.json()["detail"]
    edited = client.put(
        "/api/targets/kino", json={**spec, "max_depth": 1, "delay_s": 2.5}, headers=token_for("ops")
    ).json()
    assert (edited["spec"]["max_depth"], edited["spec"]["delay_s"], edited["spec"]["paused"]) == (
        1,
        2.5,
        False,
    )
    assert console.targets.registry.require("kino").spec["max_depth"] == 1
    stats = client.get("/api/targets/kino/stats", headers=token_for("ops")).json()
    assert (stats["pages"], stats["matches"], stats["yield_per_k"]) == (0, 0, 0.0)


def test_users_are_managed_by_admins_only(
    client: TestClient, token_for: Headers, console: Console
) -> None:
    new = {
        "username": "kg-agency",
        "password": "long enough pw",
        "role": "agency",
        "jurisdiction": "KG",
    }
    assert client.post("/api/users", json=new, headers=token_for("ops")).status_code == 403
    made = client.post("/api/users", json=new, headers=token_for("admin"))
    assert made.status_code == 201 and made.json()["jurisdiction"] == "KG"
    assert "password" not in made.text
    assert (
        client.post(
            "/api/users",
            json={**new, "username": "x2", "jurisdiction": ""},
            headers=token_for("admin"),
        ).status_code
        == 400
    )
    headers = token_for("kg-agency")
    assert client.get("/api/me", headers=headers).json()["role"] == "agency"
    off = client.patch("/api/users/kg-agency", json={"disabled": True}, headers=token_for("admin"))
    assert off.status_code == 200
    assert client.get("/api/me", headers=headers).status_code == 401
    self_off = client.patch("/api/users/admin", json={"disabled": True}, headers=token_for("admin"))
    assert self_off.status_code == 403


def test_api_tokens_are_shown_once_and_can_be_revoked(
    web: object, login: Callable[..., object]
) -> None:
    s = login("alice")
    made = s.client.post(
        "/api/me/tokens", json={"label": "nightly"}, headers={"X-CSRF-Token": s.csrf}
    )
    assert made.status_code == 201
    raw = made.json()["token"]
    bare = TestClient(web)
    auth = {"Authorization": f"Bearer {raw}"}
    assert bare.get("/api/me", headers=auth).json()["username"] == "alice"
    listed = s.client.get("/api/me/tokens").json()
    assert [t["label"] for t in listed] == ["nightly"] and "token" not in listed[0]
    gone = s.client.delete(f"/api/me/tokens/{made.json()['id']}", headers={"X-CSRF-Token": s.csrf})
    assert gone.status_code == 204
    assert bare.get("/api/me", headers=auth).status_code == 401


def test_evidence_export_answers_501_while_the_evidence_package_is_missing(
    client: TestClient,
    seeded: dict[str, Alert],
    token_for: Headers,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(
        sys.modules, "tanba.evidence.package", None
    )  # import fails as if not installed
    answer = client.post(f"/api/alerts/{seeded['a_kz'].id}/evidence", headers=token_for("alice"))
    assert answer.status_code == 501 and "evidence" in answer.json()["detail"]
    assert (
        client.post(
            f"/api/alerts/{seeded['b_kz'].id}/evidence", headers=token_for("alice")
        ).status_code
        == 404
    )


def test_evidence_export_calls_the_exporter_when_it_is_installed(
    client: TestClient,
    seeded: dict[str, Alert],
    token_for: Headers,
    monkeypatch: pytest.MonkeyPatch,
    app: App,
) -> None:
    calls: list[tuple[object, list[str], Path, object, object]] = []

    def export(
        app_: object, alert_ids: list[str], out: Path, principal: object, options: object
    ) -> list[object]:
        calls.append((app_, alert_ids, out, principal, options))
        out.write_bytes(b"PK package")
        return [types.SimpleNamespace(path=out)]

    class ExportOptions:
        def __init__(self, **kwargs: object) -> None:
            self.kwargs = kwargs

    package = types.ModuleType("tanba.evidence.package")
    package.export = export  # type: ignore[attr-defined]
    package.ExportOptions = ExportOptions  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "evidence", types.ModuleType("evidence"))
    monkeypatch.setitem(sys.modules, "tanba.evidence.package", package)
    answer = client.post(
        f"/api/alerts/{seeded['a_kz'].id}/evidence", headers=token_for("kz-agency")
    )
    assert answer.status_code == 200 and answer.content == b"PK package"
    assert "attachment" in answer.headers["content-disposition"]
    assert calls[0][0] is app and calls[0][1] == [seeded["a_kz"].id]
    assert calls[0][3].name == "kz-agency"  # type: ignore[attr-defined]
    assert calls[0][4].kwargs == {  # type: ignore[attr-defined]
        "lang": "en",
        "recapture": "never",
        "interface": "api",
    }
    assert (
        client.post(
            f"/api/alerts/{seeded['a_kz'].id}/evidence", headers=token_for("ops")
        ).status_code
        == 403
    )
