"""What only the Elasticsearch store does: index layout, moves between indices, concurrency, deep pages."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch

from tanba.core.alerts import Alert, StatusChange
from tanba.core.exceptions import TransientError
from tanba.core.store import AlertQuery
from tanba.core.store.elastic import ElasticAlertStore
from tests.services import new_namespace
from tests.support.alerts import make_alert

pytestmark = pytest.mark.services

# Writes wait for a refresh to be searchable: refresh often so the tests do not wait 1 s each.
FAST = "100ms"


@pytest.fixture
def es(elastic_url: str) -> Iterator[ElasticAlertStore]:
    store = ElasticAlertStore(elastic_url, namespace=new_namespace("st"), refresh_interval=FAST)
    yield store
    store.drop()
    store.close()


@pytest.fixture
def raw(elastic_url: str) -> Iterator[Elasticsearch]:
    client = Elasticsearch(elastic_url)
    yield client
    client.close()


def ids_by_index(raw: Elasticsearch, store: ElasticAlertStore) -> dict[str, list[str]]:
    raw.indices.refresh(index=store.pattern)
    hits = raw.search(index=store.alias, size=100)["hits"]["hits"]
    out: dict[str, list[str]] = {}
    for h in hits:
        out.setdefault(h["_index"], []).append(h["_id"])
    return out


def test_one_index_per_jurisdiction_behind_the_alias_with_explicit_mappings(
    es: ElasticAlertStore, raw: Elasticsearch
) -> None:
    kz = make_alert(page="http://kino.example.kz/1")
    ru = make_alert(page="http://x.example.ru/1", jurisdiction="RU", site="x.example.ru")
    es.upsert([kz, ru])
    assert ids_by_index(raw, es) == {
        es.index_for("KZ"): [kz.id],
        es.index_for("RU"): [ru.id],
    }
    assert es.index_for("KZ").endswith("-tanba-alerts-kz")
    aliases = raw.indices.get_alias(name=es.alias)
    assert set(aliases) == {es.index_for("KZ"), es.index_for("RU")}
    props = raw.indices.get_mapping(index=es.index_for("KZ"))[es.index_for("KZ")]["mappings"]
    assert props["dynamic"] == "false"
    fields = props["properties"]
    assert fields["jurisdiction"]["type"] == "keyword"
    assert fields["last_seen"]["type"] == "date"
    assert fields["score"]["type"] == "float"
    assert fields["match"] == {"type": "object", "enabled": False}
    # The alert id is the document id: writing it again overwrites, never adds.
    es.upsert([kz])
    assert es.search(AlertQuery(work_id=kz.work_id)).total == 2


def test_an_alert_that_changes_jurisdiction_moves_with_its_workflow(
    es: ElasticAlertStore, raw: Elasticsearch
) -> None:
    first = make_alert(seen="2026-03-01T00:00:00.000Z")
    es.upsert([first])
    es.change_status(
        first.id, StatusChange(status="confirmed", actor="kz", at="2026-03-02T00:00:00.000Z")
    )
    moved = first.model_copy(
        update={
            "jurisdiction": "RU",
            "first_seen": "2026-03-05T00:00:00.000Z",
            "last_seen": "2026-03-05T00:00:00.000Z",
        }
    )
    es.upsert([moved])
    assert ids_by_index(raw, es) == {es.index_for("RU"): [first.id]}
    stored = es.get(first.id)
    assert stored is not None
    assert (stored.jurisdiction, stored.status, stored.first_seen) == (
        "RU",
        "confirmed",
        first.first_seen,
    )
    # A status change rewrites it where it now belongs, and nowhere else.
    back = stored.model_copy(update={"jurisdiction": "KZ"})
    es._replace(back)
    assert ids_by_index(raw, es) == {es.index_for("KZ"): [first.id]}


def test_concurrent_writers_merge_instead_of_overwriting(
    elastic_url: str, es: ElasticAlertStore
) -> None:
    # Two matchers (two store clients) write sightings of the same alerts at once; optimistic
    # concurrency makes each read-merge-write see the other's, so the extremes survive.
    other = ElasticAlertStore(
        elastic_url, namespace=es.alias.removesuffix("-tanba-alerts"), refresh_interval=FAST
    )
    pages = [f"http://kino.example.kz/{i}" for i in range(5)]
    days = [f"2026-03-{d:02d}T00:00:00.000Z" for d in range(2, 22)]

    failed: list[BaseException] = []

    def write(store: ElasticAlertStore, mine: list[str]) -> None:
        try:
            for day in mine:
                _upsert_as_a_worker_does(store, [make_alert(page=p, seen=day) for p in pages])
        except BaseException as exc:  # a writer that dies must fail the test, saying why
            failed.append(exc)

    threads = [
        threading.Thread(target=write, args=(es, days[0::2])),
        threading.Thread(target=write, args=(other, days[1::2])),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert failed == []
    for p in pages:
        stored = es.get(make_alert(page=p).id)
        assert stored is not None
        assert (stored.first_seen, stored.last_seen) == (days[0], days[-1])


def test_a_batch_of_sightings_is_one_search_and_one_bulk(
    es: ElasticAlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The matcher's write: per batch, one read of the stored copies and one write; an
    # mget besides the search would be a third request per batch for Elasticsearch.
    es.upsert([make_alert(page="http://kino.example.kz/0")])  # the template is installed
    calls: list[str] = []

    def counted(name: str) -> Callable[..., object]:
        real = getattr(es._es, name)

        def call(**kwargs: object) -> object:
            calls.append(name)
            return real(**kwargs)

        return call

    for name in ("search", "mget", "bulk"):
        monkeypatch.setattr(es._es, name, counted(name))
    seen = "2026-03-09T00:00:00.000Z"
    es.upsert([make_alert(page=f"http://kino.example.kz/{i}", seen=seen) for i in range(3)])
    assert calls == ["search", "bulk"]
    stored = es.get(make_alert(page="http://kino.example.kz/0").id)
    assert stored is not None
    assert stored.last_seen == seen  # the copy the search found was merged, not overwritten


def test_a_write_the_search_missed_is_read_realtime_and_merged(
    es: ElasticAlertStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Another writer's sighting, acknowledged but not yet refreshed when the first read
    # (a search) ran: the store's create then conflicts, and the retry must read it
    # realtime and merge, keeping the earlier first sighting.
    early = make_alert(seen="2026-03-01T00:00:00.000Z")
    es.upsert([early])
    searches: list[list[str]] = []

    def not_refreshed(ids: list[str]) -> dict[str, object]:
        searches.append(ids)
        return {}  # the copy is in no search's view, only a realtime read's

    monkeypatch.setattr(es, "_search_copies", not_refreshed)
    later = make_alert(seen="2026-03-04T00:00:00.000Z")
    es.upsert([later])
    monkeypatch.undo()
    stored = es.get(early.id)
    assert stored is not None
    assert (stored.first_seen, stored.last_seen) == (early.first_seen, later.last_seen)
    assert len(searches) == 2  # the first read, then the retry's (realtime mget besides)


def _upsert_as_a_worker_does(store: ElasticAlertStore, alerts: list[Alert]) -> None:
    """Upsert, retrying a TransientError as the worker runtime does (up to 50 tries, 0.1 s apart).

    On the shared cluster a new index's shard can still be recovering when the first
    writes arrive; the store says so with a TransientError, which means: try again.
    """
    for attempt in range(50):
        try:
            store.upsert(alerts)
            return
        except TransientError:
            if attempt == 49:
                raise
            time.sleep(0.1)


@pytest.fixture
def small_window(elastic_url: str) -> Iterator[tuple[ElasticAlertStore, list[Alert]]]:
    """A store whose result window is 5, holding 12 alerts seen on 12 days."""
    store = ElasticAlertStore(
        elastic_url, namespace=new_namespace("st"), max_result_window=5, refresh_interval=FAST
    )
    alerts = [
        make_alert(page=f"http://kino.example.kz/{i}", seen=f"2026-03-{i + 1:02d}T00:00:00.000Z")
        for i in range(12)
    ]
    try:
        store.upsert(alerts)
        yield store, alerts
    finally:
        store.drop()
        store.close()


def test_pages_beyond_the_result_window_walk_with_search_after(
    small_window: tuple[ElasticAlertStore, list[Alert]],
) -> None:
    store, alerts = small_window
    newest_first = [a.page_url for a in sorted(alerts, key=lambda a: a.last_seen, reverse=True)]
    for offset, limit in ((0, 5), (3, 4), (6, 3), (10, 5), (12, 5)):
        page = store.search(AlertQuery(offset=offset, limit=limit))
        assert page.total == 12
        assert [a.page_url for a in page.alerts] == newest_first[offset : offset + limit]


def test_counts_by_status_work_and_target(es: ElasticAlertStore) -> None:
    es.upsert(
        [
            make_alert(work_id="w1", page="http://a.kz/1"),
            make_alert(work_id="w1", page="http://a.kz/2"),
            make_alert(work_id="w2", page="http://a.kz/3"),
        ]
    )
    es.change_status(
        make_alert(work_id="w2", page="http://a.kz/3").id,
        StatusChange(status="dismissed", actor="x", at="2026-03-02T00:00:00.000Z"),
    )
    assert es.count_by("status", AlertQuery()) == {"dismissed": 1, "new": 2}
    assert es.count_by("work_id", AlertQuery()) == {"w1": 2, "w2": 1}
    assert es.count_by("target", AlertQuery(jurisdiction="RU")) == {}


def test_an_unreachable_cluster_is_a_transient_error() -> None:
    store = ElasticAlertStore("http://127.0.0.1:1", namespace=f"st{uuid.uuid4().hex[:8]}")
    with pytest.raises(TransientError, match="unreachable"):
        store.upsert([make_alert()])
    with pytest.raises(TransientError):
        store.search(AlertQuery())
    store.close()


def test_a_page_by_cursor_past_the_result_window_is_one_search_plus_one_probe(
    small_window: tuple[ElasticAlertStore, list[Alert]], monkeypatch: pytest.MonkeyPatch
) -> None:
    store, alerts = small_window
    newest_first = [a.id for a in sorted(alerts, key=lambda a: a.last_seen, reverse=True)]
    last = store.search(AlertQuery(limit=3, last=True))
    before = store.search(AlertQuery(limit=3, before=last.prev_cursor))
    searches: list[dict[str, object]] = []
    real = store._es.search

    def counted(**kwargs: object) -> object:
        searches.append(kwargs)
        return real(**kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store._es, "search", counted)
    deep = store.search(AlertQuery(limit=3, after=before.next_cursor))
    assert [a.id for a in deep.alerts] == newest_first[9:]
    assert len(searches) == 2  # the page, and a one-row probe for the previous page
    assert all("from_" not in s and s["size"] in (4, 1) for s in searches)
    assert searches[0]["search_after"] is not None
