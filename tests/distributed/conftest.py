"""Fixtures of the distributed tests: the real servers, a namespaced cluster, the generated web."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.harness.bigsite import BigSite, build
from tests.distributed.harness import Cluster
from tests.services import elastic_url, kafka_bootstrap, new_namespace  # noqa: F401 - fixtures


@pytest.fixture
def cluster(tmp_path: Path, kafka_bootstrap: str, elastic_url: str) -> Iterator[Cluster]:  # noqa: F811
    instance = Cluster(
        home=tmp_path / "home",
        namespace=new_namespace("d"),
        kafka=kafka_bootstrap,
        elastic=elastic_url,
    )
    yield instance
    instance.close()


@pytest.fixture(scope="session")
def bigsite() -> BigSite:
    return build()
