"""Every test is exactly one of unit, integration and e2e (tests/conftest.py), and says why."""

from __future__ import annotations

import pytest

from tests.conftest import E2E, INTEGRATION, KIND_BY_PATH, KINDS, TESTS, UNIT, kind_of


def test_every_entry_names_a_file_or_folder_that_exists() -> None:
    # A renamed file would otherwise fall back to its folder's kind without anyone noticing.
    missing = [path for path in KIND_BY_PATH if not (TESTS / path).exists()]
    assert missing == []


def test_every_collected_test_carries_exactly_one_kind(request: pytest.FixtureRequest) -> None:
    items = request.session.items
    assert len(items) > 1  # this test and others, however the run was selected
    wrong = [i.nodeid for i in items if len({m.name for m in i.iter_markers()} & set(KINDS)) != 1]
    assert wrong == []


def test_a_test_of_no_listed_file_or_folder_stops_the_collection_naming_it() -> None:
    with pytest.raises(pytest.UsageError, match=r"tests/newstage/test_x\.py::test_y has no kind"):
        kind_of("newstage/test_x.py::test_y", [], [])


def test_the_longest_entry_wins() -> None:
    assert kind_of("distributed/test_compose_file.py::test_a", [], []) == UNIT
    assert kind_of("distributed/test_faults.py::test_a", [], []) == E2E
    assert kind_of("crawlers/test_crawl.py::test_a", [], []) == INTEGRATION
    assert kind_of("crawlers/test_urls.py::test_a", [], []) == UNIT


def test_a_unit_file_s_test_that_needs_a_server_a_browser_or_a_crawl_is_integration() -> None:
    assert kind_of("core/bus/test_contract.py::test_a[kafka]", [], [], services=True) == INTEGRATION
    assert kind_of("evidence/test_texts.py::test_a", [], ["demo_case", "tmp_path"]) == INTEGRATION
    assert kind_of("crawlers/test_resolve.py::test_a", [], ["crawl_run"]) == INTEGRATION
    assert kind_of("console/test_api.py::test_a", [], ["tmp_path", "web"]) == UNIT
    # An e2e test uses the servers too, and stays e2e.
    assert kind_of("distributed/test_pipeline.py::test_a", [], ["kafka_bootstrap"], True) == E2E


def test_a_kind_marked_on_the_test_wins_and_two_kinds_are_refused() -> None:
    assert kind_of("console/test_api.py::test_a", ["integration", "parametrize"], []) == INTEGRATION
    with pytest.raises(pytest.UsageError, match="marked e2e and unit: keep one"):
        kind_of("console/test_api.py::test_a", ["unit", "e2e"], [])
