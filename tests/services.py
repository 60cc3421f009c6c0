"""The real Kafka, Elasticsearch and S3 server for tests: found running, started, or a failure in CI.

Tests that need the servers use the ``kafka_bootstrap`` / ``elastic_url`` /
``s3_settings`` fixtures (imported by the conftests that need them). When a server does not
answer: in CI (``CI=true``) the test fails, saying how to start it, since a
skipped test would hide a broken set-up; locally the fixture runs
``scripts/services start`` once and checks again. Each test gets its own
namespace (topic, group and index prefix), so runs on the shared servers do not
see each other's data; indices are deleted after the test, topics and groups at
the end of the session (see :func:`drop_later`).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from contextlib import closing
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVICES = REPO / "scripts" / "services"
KAFKA = os.environ.get("TANBA_TEST_KAFKA", "127.0.0.1:9092")
ELASTIC = os.environ.get("TANBA_TEST_ELASTIC", "http://127.0.0.1:9200")
# scripts/services' S3Proxy, its development credentials and bucket.
S3 = os.environ.get("TANBA_TEST_S3", "http://127.0.0.1:8333")
S3_BUCKET = "tanba"
S3_KEYS = {"TANBA_S3_ACCESS_KEY": "tanba-dev", "TANBA_S3_SECRET_KEY": "tanba-dev-secret"}

_started: set[str] = set()


def kafka_up(bootstrap: str = KAFKA) -> bool:
    """True when the broker answers an ApiVersions request."""
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=3) as sock:
            # ApiVersions v0, correlation id 1, empty client id: the broker must answer.
            sock.sendall(b"\x00\x00\x00\x0a\x00\x12\x00\x00\x00\x00\x00\x01\x00\x00")
            sock.settimeout(3)
            return len(sock.recv(4)) == 4
    except OSError:
        return False


def elastic_up(url: str = ELASTIC) -> bool:
    """True when the cluster is at least yellow (the distribution has no ``GET /``)."""
    from elasticsearch import Elasticsearch

    client = Elasticsearch(url, request_timeout=5, max_retries=0)
    try:
        health = client.cluster.health(wait_for_status="yellow", timeout="2s")
        return health["status"] in ("yellow", "green")
    except Exception:
        return False
    finally:
        client.close()


def s3_up(url: str = S3) -> bool:
    """True when the S3 server answers HTTP (an anonymous request is refused, as it should be)."""
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(url, timeout=3).close()
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False
    return True


def require(service: str) -> None:
    """Make sure ``service`` ('kafka', 'elasticsearch' or 's3') answers; start it or fail."""
    probe = {"kafka": kafka_up, "elasticsearch": elastic_up, "s3": s3_up}[service]
    if probe():
        return
    where = {"kafka": KAFKA, "elasticsearch": ELASTIC, "s3": S3}[service]
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(
            f"{service} does not answer at {where}; CI must start it before the tests "
            f"('scripts/services start', as scripts/test does)",
            pytrace=False,
        )
    if service not in _started:
        _started.add(service)
        subprocess.run([str(SERVICES), "start", service], check=False, timeout=600)
    if not probe():
        pytest.fail(
            f"{service} does not answer at {where} even after 'scripts/services start "
            f"{service}'; see 'scripts/services status' and its logs",
            pytrace=False,
        )


def new_namespace(prefix: str = "t") -> str:
    """A namespace no other test run uses."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


# Namespaces to delete from Kafka when the session ends (see drop_later).
_kafka_namespaces: list[str] = []


def drop_later(namespace: str) -> None:
    """Delete this namespace's topics and groups at the end of the session.

    Not at once: a consumer closed a moment ago may still refresh its metadata, and the
    development broker (auto.create.topics.enable) would recreate a topic just deleted.
    """
    _kafka_namespaces.append(namespace)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    require("kafka")
    yield KAFKA
    for namespace in _kafka_namespaces:
        drop_namespace(namespace, elastic=False)
    _kafka_namespaces.clear()


# Test namespaces (new_namespace: a short prefix and 10 hex digits) in index names.
_TEST_INDEX = re.compile(r"[a-z]{1,4}[0-9a-f]{10}-tanba-")
# An index of a test namespace older than this was left by a killed run: no run lasts so long.
STALE_TEST_INDEX_HOURS = 6


def stale_test_indices(rows: Iterable[Mapping[str, object]], now_ms: int) -> list[str]:
    """Names among ``_cat/indices`` rows (index, creation.date) of stale test namespaces."""
    cutoff = now_ms - STALE_TEST_INDEX_HOURS * 3600 * 1000
    return [
        str(row["index"])
        for row in rows
        if _TEST_INDEX.match(str(row["index"])) and int(str(row["creation.date"])) < cutoff
    ]


def sweep_stale_test_indices() -> list[str]:
    """Delete the test servers' indices that killed test runs left behind; return their names.

    A run killed before its teardown leaves its namespace's indices, and a long-lived
    development server then reaches Elasticsearch's 1,000 open shards, when every test
    that creates an index fails. Only names of test namespaces older than
    STALE_TEST_INDEX_HOURS are deleted, so runs in progress keep theirs.
    """
    from elasticsearch import Elasticsearch

    with closing(Elasticsearch(ELASTIC, request_timeout=30)) as es:
        rows = es.cat.indices(h="index,creation.date", format="json")
        stale = stale_test_indices(rows, now_ms=int(time.time() * 1000))
        for start in range(0, len(stale), 50):  # one URL holds about 50 names
            es.indices.delete(index=",".join(stale[start : start + 50]), ignore_unavailable=True)
    return stale


@pytest.fixture(scope="session")
def elastic_url() -> str:
    require("elasticsearch")
    sweep_stale_test_indices()
    return ELASTIC


def s3_environment(prefix: str) -> dict[str, str]:
    """The TANBA_* variables that put blobs and captures in the test S3 bucket under ``prefix``."""
    return {
        "TANBA_BLOBS": f"s3://{S3_BUCKET}/{prefix}",
        "TANBA_S3_ENDPOINT": S3,
        **S3_KEYS,
    }


def drop_s3_prefix(prefix: str) -> None:
    """Delete every object under ``prefix`` in the test bucket (best effort, for teardown)."""
    from tanba.core.blobs.s3 import s3_client
    from tanba.core.settings import Settings

    if not s3_up():
        return
    client = s3_client(Settings.from_env(s3_environment(prefix)))
    for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=S3_BUCKET, Prefix=f"{prefix}/"
    ):
        for item in page.get("Contents", []):
            client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])


@pytest.fixture(scope="session")
def s3_url() -> str:
    require("s3")
    return S3


@pytest.fixture
def namespace() -> str:
    return new_namespace()


def drop_namespace(namespace: str, *, kafka: bool = True, elastic: bool = True) -> None:
    """Delete a namespace's topics, groups, indices and template (best effort, for teardown)."""
    from tanba.core.bus.kafka import KafkaBus
    from tanba.core.store.elastic import ElasticAlertStore
    from tanba.core.works_catalog.elastic import ElasticWorkCatalog

    if kafka and kafka_up():
        with closing(KafkaBus(KAFKA, namespace=namespace)) as bus:
            bus.delete_namespace()
    if elastic and elastic_up():
        with closing(ElasticAlertStore(ELASTIC, namespace=namespace)) as store:
            store.drop()
        # The works read model's indices are not the alert store's (a console test that
        # registers works left two indices a run, found on a long-lived server).
        with closing(ElasticWorkCatalog(ELASTIC, namespace=namespace)) as works:
            works.drop()
