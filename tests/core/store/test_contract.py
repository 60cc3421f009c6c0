"""The alert store contract, run on every implementation."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from tanba.core.alerts import STATUSES, Alert, StatusChange
from tanba.core.exceptions import InputError
from tanba.core.store import AlertQuery, AlertStore
from tanba.core.store.base import GroupPage, SortKey, TopCounts
from tanba.core.store.exceptions import BadCursor
from tests.support.alerts import make_alert


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


def _tied_alerts(w: str) -> list[Alert]:
    """23 alerts of work ``w`` in KZ whose scores and days repeat (ties), and 4 in RU."""
    kz = [
        make_alert(
            work_id=w,
            page=f"http://kino.example.kz/{i}",
            seen=f"2026-03-0{1 + i % 4}T10:00:00.000Z",
            score=(0.6, 0.75, 0.9)[i % 3],
        )
        for i in range(23)
    ]
    ru = [
        make_alert(
            work_id=w,
            page=f"http://x.example.ru/{i}",
            jurisdiction="RU",
            site="x.example.ru",
            seen="2026-03-02T10:00:00.000Z",
        )
        for i in range(4)
    ]
    return kz + ru


def _walk(store: AlertStore, query: AlertQuery) -> list[list[str]]:
    """Every page of ``query`` following next_cursor from the first page."""
    pages = []
    page = store.search(query)
    assert page.prev_cursor == ""
    while True:
        pages.append([a.id for a in page.alerts])
        if not page.next_cursor:
            return pages
        page = store.search(replace(query, after=page.next_cursor))
        assert page.prev_cursor != ""
        assert len(pages) < 50, "the cursor walk does not end"


@pytest.mark.parametrize("sort", ["last_seen", "first_seen", "score"])
@pytest.mark.parametrize("descending", [True, False])
def test_cursor_pages_walk_every_alert_once_in_order_with_ties(
    store: AlertStore, run_id: str, sort: SortKey, descending: bool
) -> None:
    w = f"w-{run_id}"
    alerts = _tied_alerts(w)
    store.upsert(alerts)
    kz = [a for a in alerts if a.jurisdiction == "KZ"]
    expected = [
        a.id for a in sorted(kz, key=lambda a: (getattr(a, sort), a.id), reverse=descending)
    ]
    query = AlertQuery(work_id=w, jurisdiction="KZ", sort=sort, descending=descending, limit=5)
    pages = _walk(store, query)
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert [i for p in pages for i in p] == expected
    # Backwards from the last page (the last five), following prev_cursor: each page
    # ends where the later one starts, and the walk ends on the whole first page.
    page = store.search(replace(query, last=True))
    assert page.next_cursor == "" and page.total == 23
    back = [[a.id for a in page.alerts]]
    while page.prev_cursor:
        page = store.search(replace(query, before=page.prev_cursor))
        assert page.next_cursor != "" and page.total == 23
        back.append([a.id for a in page.alerts])
        assert len(back) < 50, "the backward walk does not end"
    end = len(expected)
    for ids in back[:-1]:
        assert ids == expected[end - 5 : end]
        end -= 5
    assert back[-1] == expected[:5] and end <= 5


def test_a_previous_page_that_reaches_the_start_is_the_whole_first_page(
    store: AlertStore, run_id: str
) -> None:
    w = f"w-{run_id}"
    store.upsert(_tied_alerts(w))
    query = AlertQuery(work_id=w, limit=5)
    first = store.search(query)
    second = store.search(replace(query, offset=2))  # pages by offset also give cursors
    assert [a.id for a in second.alerts][:3] == [a.id for a in first.alerts][2:]
    back = store.search(replace(query, before=second.prev_cursor))
    assert [a.id for a in back.alerts] == [a.id for a in first.alerts]
    assert back.prev_cursor == "" and back.total == 27
    onward = store.search(replace(query, after=second.next_cursor))
    assert [a.id for a in onward.alerts] == [
        a.id for a in store.search(replace(query, offset=7)).alerts
    ]


def test_cursors_respect_the_access_scope(store: AlertStore, run_id: str) -> None:
    w = f"w-{run_id}"
    store.upsert(_tied_alerts(w))
    everyone = store.search(AlertQuery(work_id=w, limit=3))
    # A cursor taken from a wider list does not widen a scoped one.
    scoped = store.search(AlertQuery(work_id=w, jurisdictions=("RU",), after=everyone.next_cursor))
    assert {a.jurisdiction for a in scoped.alerts} <= {"RU"}
    assert scoped.total == 4


@pytest.mark.parametrize(
    "cursor",
    ["not base64 at all!", "bm90IGpzb24", "WzEsImxhc3Rfc2VlbiJd", "", "x" * 5000],
)
def test_a_damaged_cursor_is_refused_with_what_to_do(
    store: AlertStore, run_id: str, cursor: str
) -> None:
    w = f"w-{run_id}"
    store.upsert(_tied_alerts(w))
    if not cursor:  # a cursor of another sort order, made by the store itself
        cursor = store.search(AlertQuery(work_id=w, limit=2, sort="score")).next_cursor
    with pytest.raises(BadCursor, match="first page"):
        store.search(AlertQuery(work_id=w, after=cursor))
    with pytest.raises(BadCursor, match="first page"):
        store.search(AlertQuery(work_id=w, before=cursor))


def test_an_offset_and_a_cursor_together_are_refused(store: AlertStore, run_id: str) -> None:
    w = f"w-{run_id}"
    store.upsert(_tied_alerts(w))
    cursor = store.search(AlertQuery(work_id=w, limit=2)).next_cursor
    with pytest.raises(InputError, match="not both"):
        store.search(AlertQuery(work_id=w, after=cursor, offset=2))
    with pytest.raises(InputError, match="only one"):
        store.search(AlertQuery(work_id=w, after=cursor, last=True))


def test_top_counts_keep_the_largest_values_and_count_the_rest(
    store: AlertStore, run_id: str
) -> None:
    w = f"w-{run_id}"
    alerts = [
        make_alert(work_id=w, page=f"http://{site}/{i}", site=site)
        for site, n in (("a.example.kz", 5), ("b.example.kz", 3), ("c.example.kz", 2))
        for i in range(n)
    ] + [
        make_alert(work_id=w, page="http://d.example.ru/1", site="d.example.ru", jurisdiction="RU")
    ]
    store.upsert(alerts)
    top = store.top_counts("site", AlertQuery(work_id=w), 2)
    assert top.counts == {"a.example.kz": 5, "b.example.kz": 3}
    assert list(top.counts) == ["a.example.kz", "b.example.kz"]
    assert top.other == 3
    assert store.top_counts("site", AlertQuery(work_id=w, jurisdiction="RU"), 2) == TopCounts(
        {"d.example.ru": 1}, 0
    )


def test_groups_by_site_and_work_count_page_and_know_their_latest_sighting(
    store: AlertStore, run_id: str
) -> None:
    """Most alerts first, ties by key; offset pages; the filter applies; total counts groups."""
    w, v = f"w-{run_id}", f"v-{run_id}"
    alerts = [
        make_alert(
            work_id=w if i % 2 else v,
            page=f"http://{site}/{i}",
            site=site,
            jurisdiction=code,
            seen=f"2026-03-{i + 1:02d}T08:00:00.000Z",
        )
        for site, n, code in (
            ("b.example.kz", 3, "KZ"),
            ("a.example.kz", 3, "KZ"),
            ("c.example.ru", 4, "RU"),
            ("d.example.kz", 1, "KZ"),
        )
        for i in range(n)
    ]
    store.upsert(alerts)
    mine = AlertQuery(owner="Owner A", ids=tuple(a.id for a in alerts), limit=3)
    page = store.groups("site", mine)
    assert [(g.key, g.count) for g in page.groups] == [
        ("c.example.ru", 4),
        ("a.example.kz", 3),
        ("b.example.kz", 3),
    ]
    assert page.total == 4 and page.exact
    assert page.groups[0].last_seen == "2026-03-04T08:00:00.000Z"
    rest = store.groups("site", replace(mine, offset=3))
    assert [(g.key, g.count) for g in rest.groups] == [("d.example.kz", 1)] and rest.total == 4
    kz = store.groups("site", replace(mine, jurisdiction="KZ", limit=50))
    assert [g.key for g in kz.groups] == ["a.example.kz", "b.example.kz", "d.example.kz"]
    by_work = store.groups("work_id", replace(mine, limit=50))
    assert [(g.key, g.count) for g in by_work.groups] == [(v, 7), (w, 4)]
    assert store.groups("site", AlertQuery(work_id=f"none-{run_id}")) == GroupPage([], 0)


def test_count_by_status_counts_every_status_whatever_the_status_filter(
    store: AlertStore, run_id: str
) -> None:
    w = f"w-{run_id}"
    alerts = [make_alert(work_id=w, page=f"http://kino.example.kz/{i}") for i in range(4)]
    store.upsert([*alerts, make_alert(work_id=f"other-{run_id}")])
    store.change_status(
        alerts[0].id, StatusChange(status="dismissed", actor="x", at="2026-03-02T00:00:00.000Z")
    )
    counts = store.count_by_status(AlertQuery(work_id=w, status="new"))
    assert list(counts) == list(STATUSES)
    assert counts == {s: {"new": 3, "dismissed": 1}.get(s, 0) for s in STATUSES}


def _kz_and_one_ru(store: AlertStore, work_id: str, count: int) -> tuple[list[Alert], Alert]:
    """``count`` alerts of the work on a KZ site and one on a RU site, stored."""
    kz = [make_alert(work_id=work_id, page=f"http://kino.example.kz/{i}") for i in range(count)]
    ru = make_alert(
        work_id=work_id, page="http://x.example.ru/1", jurisdiction="RU", site="x.example.ru"
    )
    store.upsert([*kz, ru])
    return kz, ru


@pytest.mark.parametrize("page", [1000, 4], ids=["one-page", "pages-in-flight"])
def test_change_many_moves_the_matching_alerts_records_history_and_skips_the_rest(
    store: AlertStore, run_id: str, page: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Elasticsearch reads and writes a page of documents a request, several in flight at
    # once; with pages of 4, 29 changes are 8 requests, and all must be seen when it returns.
    monkeypatch.setattr("tanba.core.store.elastic._BULK_PAGE", page)
    w = f"w-{run_id}"
    kz, ru = _kz_and_one_ru(store, w, 30)
    store.change_status(
        kz[0].id, StatusChange(status="dismissed", actor="x", at="2026-03-02T00:00:00.000Z")
    )
    change = StatusChange(status="confirmed", actor="kz-agency", at="2026-03-03T00:00:00.000Z")

    done = store.change_many(AlertQuery(work_id=w, jurisdictions=("KZ",)), change)

    assert sorted(done.changed) == sorted(a.id for a in kz[1:])
    assert done.refused == {"dismissed": 1}
    for a in kz[1:]:
        stored = store.get(a.id)
        assert stored is not None and stored.status == "confirmed"
        assert [(h.status, h.actor) for h in stored.history] == [("confirmed", "kz-agency")]
    untouched = store.get(ru.id)
    assert untouched is not None and untouched.status == "new" and untouched.history == []
    assert store.count_by_status(AlertQuery(work_id=w))["confirmed"] == 29


def test_change_many_by_ids_changes_only_those_within_the_query(
    store: AlertStore, run_id: str
) -> None:
    w = f"w-{run_id}"
    alerts, ru = _kz_and_one_ru(store, w, 5)
    change = StatusChange(status="dismissed", actor="kz", at="2026-03-03T00:00:00.000Z")
    picked = (alerts[1].id, alerts[3].id, ru.id, "no-such-alert")

    done = store.change_many(AlertQuery(ids=picked, jurisdictions=("KZ",)), change)

    assert sorted(done.changed) == sorted((alerts[1].id, alerts[3].id))
    assert store.search(AlertQuery(work_id=w, ids=picked)).total == 3
    statuses = {a.id: a.status for a in store.search(AlertQuery(work_id=w)).alerts}
    assert [statuses[a.id] for a in alerts] == ["new", "dismissed", "new", "dismissed", "new"]
    assert statuses[ru.id] == "new"
