"""Shared fixtures, and what kind of test each test is.

Fixtures: settings on a temporary home, real Debian media, a fixed clock, Chromium.

Kinds: every test carries exactly one of the marks ``unit``, ``integration`` and
``e2e`` (see :func:`kind_of`), so ``pytest -m unit`` is the fast loop for a change
to one module and ``scripts/test`` still runs them all. A test no rule classifies
stops the collection with an error that names it.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

from tanba.app.demo import media
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence.screenshot import CHROMIUM, CHROMIUM_ARGS
from tests.support.media import web_photo

TESTS = Path(__file__).resolve().parent
UNIT, INTEGRATION, E2E = "unit", "integration", "e2e"
KINDS = (UNIT, INTEGRATION, E2E)

# The kind of each file, by its path under tests/; the longest entry that is the file or
# one of its folders wins.
# unit: runs in the pytest process, on files, SQLite stores and loopback threads (a tool
#   it needs may run as a child: ffmpeg making an input, the decoder sandbox);
# integration: also one real outside piece: Kafka or Elasticsearch, Chromium, the real
#   `tanba crawl` or `tanba run` in a child process, or children killed on purpose;
# e2e: the system as its users run it, every stage at once, and faults on it: processes
#   killed, servers stopped, disks filled.
KIND_BY_PATH: dict[str, str] = {
    "test_kinds.py": UNIT,  # this table and kind_of
    "test_layers.py": UNIT,  # reads the source's imports
    "test_bench.py": INTEGRATION,  # every bench module imported and run in child processes
    "test_readme.py": UNIT,  # reads README.md and the CLI's parser
    "test_services.py": UNIT,  # the test servers' housekeeping, on rows given to it
    "app": UNIT,  # the pipeline's stages in this process; their Kafka runs are "services"
    "app/test_targets_cli.py": UNIT,  # `tanba targets` in this process; `tanba run` children
    # are marked integration
    "console": UNIT,  # FastAPI's TestClient in this process, alerts written to the store
    "console/test_browser.py": INTEGRATION,  # Chromium against uvicorn, crawls started
    "console/test_walks.py": INTEGRATION,  # each role's day in Chromium, crawls started
    "console/test_targets.py": UNIT,  # the targets pages over the registry, in this process
    "console/test_dates.py": UNIT,  # TestClient, and a users table of the old schema
    "console/test_triage.py": UNIT,  # TestClient; its Elasticsearch runs are marked "services"
    "console/test_works_list.py": UNIT,  # TestClient over the works catalogue
    "console/test_works_cli.py": INTEGRATION,  # `tanba works list` in child processes
    "core": UNIT,  # embedded bus and store; the Kafka/Elasticsearch runs are "services"
    "core/bus/test_kafka.py": INTEGRATION,  # what only the real Kafka does
    "core/store/test_elastic.py": INTEGRATION,  # what only the real Elasticsearch does
    "core/test_target_registry.py": UNIT,  # the embedded bus; its Kafka runs are "services"
    "core/test_works_catalog.py": UNIT,  # SQLite catalogue; its Elasticsearch runs are "services"
    "crawlers": UNIT,  # spiders and pipelines driven by hand, no reactor
    "crawlers/test_crawl.py": INTEGRATION,  # one real `tanba crawl` in a child process
    "crawlers/test_failure_reasons.py": INTEGRATION,  # a real crawl failing every way, a child
    "crawlers/test_media_sharing.py": INTEGRATION,  # real crawls in a child process
    "crawlers/test_video.py": INTEGRATION,  # real crawls of streams and players, a child
    "crawlers/test_render.py": INTEGRATION,  # a real crawl rendering pages in Chromium
    "distributed": E2E,  # every stage its own process on the real Kafka and Elasticsearch
    "distributed/test_compose_file.py": UNIT,  # reads docker-compose.yml
    "e2e": E2E,  # `tanba run` over a loopback web of real media
    "evidence": UNIT,  # packages, signatures, texts, loopback TSA and HTTPS in this process
    "evidence/test_export.py": E2E,  # packages of alerts `tanba run` raised, verified, tampered
    "evidence/test_replay.py": E2E,  # an exported WACZ replayed in ReplayWeb.page in Chromium
    "fingerprint": UNIT,  # prints of real media, compared with reference implementations
    "matcher": UNIT,  # indexes and matching on prints computed in this process
    "reliability": E2E,  # faults: every stage and the store writer killed, the disk filled
    "reliability/test_fuzz.py": UNIT,  # hypothesis on each parser, in this process
    "reliability/test_hostile_media.py": INTEGRATION,  # the real worker, sandbox children killed
    "reliability/test_hostile_sites.py": INTEGRATION,  # one real crawl in a child process
}

# Fixtures that make a test of a unit file an integration test: they start what that
# kind allows (the Kafka/Elasticsearch parameters of the contract fixtures do the same
# through the "services" mark they carry).
INTEGRATION_FIXTURES = frozenset(
    {
        "browser",  # Chromium
        "kafka_bootstrap",  # the real Kafka
        "elastic_url",  # the real Elasticsearch
        "s3_url",  # the real S3 server (S3Proxy)
        "crawl_run",  # `tanba crawl` in a child process (tests/crawlers/conftest.py)
        "demo_case",  # `tanba run` on the demo web in a child process (evidence)
    }
)


def kind_of(
    path: str, marked: Iterable[str], fixtures: Iterable[str], services: bool = False
) -> str:
    """The one kind of the test at ``path`` (under tests/) that uses ``fixtures``.

    A kind marked on the test or its module wins; else its file's entry in
    KIND_BY_PATH, raised from unit to integration when the test asks for one of
    INTEGRATION_FIXTURES or carries the ``services`` mark. Raises UsageError, saying
    what to do, for a test of no kind or of two.
    """
    explicit = sorted(set(marked) & set(KINDS))
    if len(explicit) > 1:
        raise pytest.UsageError(f"tests/{path} is marked {' and '.join(explicit)}: keep one")
    if explicit:
        return explicit[0]
    parts = path.split("::")[0].split("/")
    entries = ["/".join(parts[:n]) for n in range(len(parts), 0, -1)]
    kind = next((KIND_BY_PATH[e] for e in entries if e in KIND_BY_PATH), None)
    if kind is None:
        raise pytest.UsageError(
            f"tests/{path} has no kind: add its file or folder to KIND_BY_PATH in "
            "tests/conftest.py (unit, integration or e2e, and why), or mark the test "
            "@pytest.mark.unit, integration or e2e"
        )
    if kind == UNIT and (services or INTEGRATION_FIXTURES & set(fixtures)):
        return INTEGRATION
    return kind


def pytest_configure(config: pytest.Config) -> None:
    """Collect cyclic garbage a tenth as often as Python's defaults (700, 10, 10) do.

    A session keeps real media, prints and imported stages alive from test to test, and
    at the default thresholds the collector walked that heap about 25 times in a unit run,
    4 to 5 s of it; at these, 5 times and about 2 s in all. What is collected is the same.
    """
    gc.set_threshold(7000, 10, 10)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every collected test with its kind (see KIND_BY_PATH)."""
    for item in items:
        relative = Path(item.path).resolve().relative_to(TESTS).as_posix()
        where = relative + "::" + item.nodeid.split("::", 1)[-1]
        kind = kind_of(
            where,
            (mark.name for mark in item.iter_markers()),
            getattr(item, "fixturenames", ()),
            services=item.get_closest_marker("services") is not None,
        )
        item.add_marker(getattr(pytest.mark, kind))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, home=tmp_path / "home")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock("2026-03-01T12:00:00Z")


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> App:
    application = App(settings, clock)
    yield application
    application.close()


@pytest.fixture(scope="session")
def photos() -> list[Path]:
    return media.photos()


@pytest.fixture(scope="session")
def small_photos(photos: list[Path], tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The first six photos as a website serves them (1280 px wide JPEGs), made once.

    For tests in which a photo is only a work's file (who may see it, uploads, the
    registry): decoding the 4K originals in every such test cost most of their time.
    Tests of fingerprints and matching use ``photos`` themselves.
    """
    folder = tmp_path_factory.mktemp("small-photos")
    small = [folder / f"{path.stem}.jpg" for path in photos[:6]]
    for path, target in zip(photos, small, strict=False):
        target.write_bytes(web_photo(path))
    return small


@pytest.fixture(scope="session")
def tracks() -> list[Path]:
    return media.music()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium through Playwright, with the flags the evidence capture uses.

    Never a downloaded browser; a missing Chromium fails the test that asks for it.
    """
    with sync_playwright() as p:
        instance = p.chromium.launch(executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS))
        yield instance
        instance.close()
