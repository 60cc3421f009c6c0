"""The alert store contract, run on every implementation."""

from __future__ import annotations

import uuid

import pytest

from tanba.alerts import Alert, MatchDetail, StatusChange, alert_id
from tanba.exceptions import InputError
from tanba.store import AlertQuery, AlertStore


def make_alert(
    *,
    work_id: str = "w1",
    page: str = "http://kino.example.kz/1",
    jurisdiction: str = "KZ",
    owner: str = "Owner A",
    seen: str = "2026-03-01T12:00:00.000Z",
    score: float = 0.9,
    site: str = "kino.example.kz",
) -> Alert:
    media_url = page + "/a.jpg"
    return Alert(
        id=alert_id(work_id, page, media_url),
        work_id=work_id,
        owner=owner,
        media="image",
        score=score,
        match=MatchDetail(algorithm="phash64", distance=4),
        page_url=page,
        media_url=media_url,
        media_sha256="0" * 64,
        site=site,
        jurisdiction=jurisdiction,
        first_seen=seen,
        last_seen=seen,
    )


@pytest.fixture
def run_id() -> str:
    # Stores like Elasticsearch persist across tests: keep each test's alerts apart.
    return uuid.uuid4().hex[:8]


def test_upsert_then_get_returns_the_alert(store: AlertStore, run_id: str) -> None:
    alert = make_alert(work_id=f"w-{run_id}")
    store.upsert([alert])
    assert store.get(alert.id) == alert
    assert store.get("no-such-alert") is None


def test_upsert_again_keeps_first_seen_and_status_and_refreshes_last_seen(
    store: AlertStore, run_id: str
) -> None:
    first = make_alert(work_id=f"w-{run_id}", seen="2026-03-01T12:00:00.000Z")
    store.upsert([first])
    store.change_status(
        first.id, StatusChange(status="confirmed", actor="agency-kz", at="2026-03-02T00:00:00.000Z")
    )
    again = make_alert(work_id=f"w-{run_id}", seen="2026-03-05T12:00:00.000Z", score=0.95)
    store.upsert([again])
    stored = store.get(first.id)
    assert stored is not None
    assert (stored.first_seen, stored.last_seen) == (first.first_seen, again.last_seen)
    assert stored.status == "confirmed" and [h.status for h in stored.history] == ["confirmed"]
    assert stored.score == 0.95
    assert store.search(AlertQuery(work_id=f"w-{run_id}")).total == 1


def test_replaying_an_older_sighting_does_not_move_last_seen_back(
    store: AlertStore, run_id: str
) -> None:
    new = make_alert(work_id=f"w-{run_id}", seen="2026-03-05T00:00:00.000Z")
    old = make_alert(work_id=f"w-{run_id}", seen="2026-03-01T00:00:00.000Z")
    store.upsert([new])
    store.upsert([old])
    stored = store.get(new.id)
    assert stored is not None
    assert (stored.first_seen, stored.last_seen) == (old.first_seen, new.last_seen)


def test_search_filters_sorts_and_pages(store: AlertStore, run_id: str) -> None:
    w = f"w-{run_id}"
    alerts = [
        make_alert(
            work_id=w,
            page=f"http://kino.example.kz/{i}",
            seen=f"2026-03-0{i + 1}T00:00:00.000Z",
            score=0.5 + i / 10,
        )
        for i in range(4)
    ] + [
        make_alert(work_id=w, page="http://x.example.ru/1", jurisdiction="RU", site="x.example.ru")
    ]
    store.upsert(alerts)
    kz = store.search(AlertQuery(work_id=w, jurisdiction="KZ", limit=2))
    assert kz.total == 4
    assert [a.page_url for a in kz.alerts] == [
        "http://kino.example.kz/3",
        "http://kino.example.kz/2",
    ]
    page2 = store.search(AlertQuery(work_id=w, jurisdiction="KZ", limit=2, offset=2))
    assert [a.page_url for a in page2.alerts] == [
        "http://kino.example.kz/1",
        "http://kino.example.kz/0",
    ]
    by_score = store.search(AlertQuery(work_id=w, sort="score", descending=False, limit=1))
    assert by_score.alerts[0].score == 0.5
    assert store.search(AlertQuery(work_id=w, site="x.example.ru")).total == 1
    assert (
        store.search(
            AlertQuery(work_id=w, since="2026-03-03T00:00:00.000Z", jurisdiction="KZ")
        ).total
        == 2
    )


def test_access_filters_restrict_owners_and_jurisdictions(store: AlertStore, run_id: str) -> None:
    w = f"w-{run_id}"
    store.upsert(
        [
            make_alert(work_id=w, owner="A", page="http://a.kz/1"),
            make_alert(work_id=w, owner="B", page="http://b.ru/1", jurisdiction="RU"),
        ]
    )
    assert {a.owner for a in store.search(AlertQuery(work_id=w, owners=("A",))).alerts} == {"A"}
    assert {
        a.jurisdiction for a in store.search(AlertQuery(work_id=w, jurisdictions=("RU",))).alerts
    } == {"RU"}


def test_count_by_jurisdiction_site_and_day(store: AlertStore, run_id: str) -> None:
    w = f"w-{run_id}"
    store.upsert(
        [
            make_alert(work_id=w, page="http://kino.example.kz/1", seen="2026-03-01T10:00:00.000Z"),
            make_alert(work_id=w, page="http://kino.example.kz/2", seen="2026-03-02T10:00:00.000Z"),
            make_alert(
                work_id=w,
                page="http://x.example.ru/1",
                jurisdiction="RU",
                site="x.example.ru",
                seen="2026-03-02T11:00:00.000Z",
            ),
        ]
    )
    q = AlertQuery(work_id=w)
    assert store.count_by("jurisdiction", q) == {"KZ": 2, "RU": 1}
    assert store.count_by("site", q) == {"kino.example.kz": 2, "x.example.ru": 1}
    assert store.count_by("day", q) == {"2026-03-01": 1, "2026-03-02": 2}


def test_status_changes_follow_the_lifecycle_and_keep_history(
    store: AlertStore, run_id: str
) -> None:
    alert = make_alert(work_id=f"w-{run_id}")
    store.upsert([alert])
    with pytest.raises(InputError, match="can move to"):
        store.change_status(
            alert.id, StatusChange(status="removed", actor="x", at="2026-03-02T00:00:00.000Z")
        )
    store.change_status(
        alert.id, StatusChange(status="confirmed", actor="kz", at="2026-03-02T00:00:00.000Z")
    )
    done = store.change_status(
        alert.id,
        StatusChange(
            status="notice_sent", actor="kz", at="2026-03-03T00:00:00.000Z", comment="sent"
        ),
    )
    assert done.status == "notice_sent"
    assert [(h.status, h.actor) for h in done.history] == [
        ("confirmed", "kz"),
        ("notice_sent", "kz"),
    ]
    with pytest.raises(InputError, match="no alert"):
        store.change_status(
            "missing", StatusChange(status="confirmed", actor="x", at="2026-03-02T00:00:00.000Z")
        )
