"""The works catalogue contract (tanba.core.works_catalog), run on SQLite and on Elasticsearch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest

from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.registry import CATCH_UP_EVERY_S, WorkRegistry
from tanba.core.schemas.base import encode
from tanba.core.schemas.works import Licence, Work, WorkRegistered, WorkRemoved
from tanba.core.store.exceptions import BadCursor
from tanba.core.works_catalog import WorkCatalog, WorkQuery
from tanba.core.works_catalog.base import Change, WorkEntry, change_of
from tanba.core.works_catalog.elastic import ElasticWorkCatalog
from tanba.core.works_catalog.embedded import EmbeddedWorkCatalog
from tests.services import elastic_url, namespace  # noqa: F401 - fixtures
from tests.support.works import work


@pytest.fixture(params=["embedded", pytest.param("elastic", marks=pytest.mark.services)])
def catalog(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[WorkCatalog]:
    if request.param == "embedded":
        with closing(EmbeddedWorkCatalog(tmp_path / "works.sqlite3")) as embedded:
            yield embedded
        return
    url = request.getfixturevalue("elastic_url")
    served = ElasticWorkCatalog(url, namespace=request.getfixturevalue("namespace"))
    try:
        yield served
    finally:
        served.drop()
        served.close()


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[EmbeddedBus]:
    with closing(EmbeddedBus(tmp_path / "bus.sqlite3")) as instance:
        yield instance


def put(catalog: WorkCatalog, *works: Work, version: int = 1) -> None:
    catalog.apply([Change(w.work_id, version, WorkEntry.of(w)) for w in works], {})


def ids(catalog: WorkCatalog, query: WorkQuery) -> list[str]:
    return [w.work_id for w in catalog.search(query).works]


def test_an_entry_is_the_work_without_its_print(catalog: WorkCatalog) -> None:
    w = work("w1", title="Steppe at dawn", filename="steppe.jpg")
    put(catalog, w)
    entry = catalog.get("w1")
    assert entry is not None
    assert (entry.owner, entry.title, entry.filename, entry.territories) == (
        "Owner A",
        "Steppe at dawn",
        "steppe.jpg",
        ["KZ"],
    )
    assert entry.licences == [Licence(domain="shop.example.kz")]
    assert (entry.width, entry.height, entry.windows) == (640, 480, 0)
    assert "fingerprint" not in entry.model_dump()
    assert catalog.get("nothing") is None


def test_a_later_event_wins_whatever_order_they_are_written_in(catalog: WorkCatalog) -> None:
    catalog.apply([Change("w1", 5, WorkEntry.of(work("w1", title="New")))], {0: 5})
    catalog.apply([Change("w1", 3, WorkEntry.of(work("w1", title="Old")))], {0: 3})
    entry = catalog.get("w1")
    assert entry is not None and entry.title == "New"
    catalog.apply([Change("w1", 7, None)], {0: 7})
    catalog.apply([Change("w1", 6, WorkEntry.of(work("w1", title="Older")))], {0: 6})
    assert catalog.get("w1") is None
    assert catalog.search(WorkQuery()).total == 0
    assert catalog.positions() == {0: 7}  # positions never move back


def test_lists_sort_by_owner_then_title_ignoring_case_then_id(catalog: WorkCatalog) -> None:
    put(
        catalog,
        work("b", owner="Owner B", title="apple"),
        work("z", owner="Owner A", title="banana"),
        work("y", owner="Owner A", title="Apple"),
        work("x", owner="Owner A", title="apple"),
    )
    assert ids(catalog, WorkQuery()) == ["x", "y", "z", "b"]


def test_filters_by_owner_media_words_and_scopes(catalog: WorkCatalog) -> None:
    put(
        catalog,
        work("a1", owner="A", title="Sunset over the Steppe", filename="IMG_0042.jpg"),
        work("a2", owner="A", title="Night song", media="audio", filename="song.mp3"),
        work("b1", owner="B", title="Steppe wind", filename="wind.png"),
    )
    assert ids(catalog, WorkQuery(owner="A")) == ["a2", "a1"]
    assert ids(catalog, WorkQuery(media="audio")) == ["a2"]
    assert ids(catalog, WorkQuery(text="STEP")) == ["a1", "b1"]  # word starts, any case
    assert ids(catalog, WorkQuery(text="steppe sun")) == ["a1"]  # every word
    assert ids(catalog, WorkQuery(text="img_0042")) == ["a1"]  # the file name
    assert ids(catalog, WorkQuery(text="b1")) == ["b1"]  # the id
    assert ids(catalog, WorkQuery(text="teppe")) == []  # not inside a word
    assert ids(catalog, WorkQuery(owners=("B",))) == ["b1"]
    assert ids(catalog, WorkQuery(work_ids=("a2", "b1"))) == ["a2", "b1"]
    assert ids(catalog, WorkQuery(owners=())) == []
    assert ids(catalog, WorkQuery(work_ids=())) == []
    page = catalog.search(WorkQuery(owner="A", text="steppe", owners=("A", "B")))
    assert [w.work_id for w in page.works] == ["a1"] and page.total == 1
    assert catalog.owners() == ["A", "B"]
    assert catalog.count() == 3


def test_cursor_pages_walk_every_work_once(catalog: WorkCatalog) -> None:
    put(catalog, *(work(f"w{i:02}", owner=f"O{i % 3}", title=f"T{i % 4}") for i in range(23)))
    seen: list[str] = []
    query = WorkQuery(limit=5)
    pages = 0
    while True:
        page = catalog.search(query)
        assert page.total == 23
        seen += [w.work_id for w in page.works]
        pages += 1
        if not page.next_cursor:
            break
        query = WorkQuery(limit=5, after=page.next_cursor)
    assert pages == 5 and sorted(seen) == [f"w{i:02}" for i in range(23)]
    assert seen == ids(catalog, WorkQuery(limit=100))
    filtered = catalog.search(WorkQuery(owner="O1", limit=2))
    rest = catalog.search(WorkQuery(owner="O1", limit=100, after=filtered.next_cursor))
    assert [w.owner for w in rest.works] == ["O1"] * (filtered.total - 2)


def test_a_damaged_cursor_or_page_size_says_what_to_do(catalog: WorkCatalog) -> None:
    with pytest.raises(BadCursor, match="next link"):
        catalog.search(WorkQuery(after="not-a-cursor"))
    with pytest.raises(BadCursor, match="1 to 500"):
        catalog.search(WorkQuery(limit=0))


def test_catch_up_folds_the_topic_after_its_positions_once(
    catalog: WorkCatalog, bus: EmbeddedBus
) -> None:
    def publish(event: WorkRegistered | WorkRemoved, key: str) -> None:
        bus.publish(topics.WORKS, [Record(key, encode(event))])

    for i in range(3):
        publish(WorkRegistered(work=work(f"w{i}", title=f"v1 {i}")), f"w{i}")
    publish(WorkRegistered(work=work("w1", title="v2")), "w1")
    publish(WorkRemoved(work_id="w2", removed_at="2026-03-02T00:00:00.000Z"), "w2")
    assert catalog.catch_up(bus) == 5
    assert ids(catalog, WorkQuery()) == ["w0", "w1"]
    entry = catalog.get("w1")
    assert entry is not None and entry.title == "v2"
    assert catalog.catch_up(bus) == 0
    publish(WorkRegistered(work=work("w3")), "w3")
    assert catalog.catch_up(bus) == 1
    assert ids(catalog, WorkQuery()) == ["w0", "w1", "w3"]
    # Folding everything again from the start (another process, a lost position) changes nothing.
    for message in bus.replay(topics.WORKS):
        catalog.apply([change_of(message.value, message.offset)], {})
    assert ids(catalog, WorkQuery()) == ["w0", "w1", "w3"]


def test_the_registry_lists_what_it_registers_and_what_others_did(
    catalog: WorkCatalog, bus: EmbeddedBus
) -> None:
    now = [0.0]
    registry = WorkRegistry(bus, catalog, clock=lambda: now[0])
    registry.register([work("mine", title="Mine")])
    assert [w.work_id for w in registry.search(WorkQuery()).works] == ["mine"]
    # Another process registers through its own registry: this one sees it on its next read.
    WorkRegistry(bus).register([work("theirs", title="Theirs")])
    assert [w.work_id for w in registry.search(WorkQuery()).works] == ["mine"]  # read < 1 s ago
    now[0] += CATCH_UP_EVERY_S
    assert [w.work_id for w in registry.search(WorkQuery()).works] == ["mine", "theirs"]
    registry.remove("mine", "2026-03-02T00:00:00.000Z")
    assert registry.entry("mine") is None
    assert registry.get("theirs").fingerprint.media == "image"
