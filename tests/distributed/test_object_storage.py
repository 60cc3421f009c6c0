"""The distributed pipeline with blobs and captures in S3 and no shared file system.

The last test stops an S3 server of its own twice: before a crawl (which pauses
until it is back) and before the workers read the media (they wait, commit
nothing, and go on); the alerts are still exactly the expected ones.


Each stage runs as its own ``tanba`` process with a home of its own (as on a
machine of its own), Kafka and Elasticsearch between them and scripts/services'
S3Proxy for media, reference files and WARC captures. The alerts must be exactly
those of the one-home run (tests/distributed/test_pipeline.py), and an evidence
package exported from yet another home, without recapturing, must hold the found
copy, the reference file and the crawl's own WARC records, all read from S3.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import DemoSite, build
from tanba.core import topics
from tanba.core.blobs import open_blobs
from tanba.core.settings import Settings
from tests.distributed.harness import Cluster, free_port
from tests.services import (  # noqa: F401 - s3_url is a fixture
    SERVICES,
    drop_s3_prefix,
    new_namespace,
    s3_environment,
    s3_url,
)

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def demo() -> DemoSite:
    return build()


@pytest.fixture
def s3_cluster(
    tmp_path: Path,
    kafka_bootstrap: str,
    elastic_url: str,
    s3_url: str,  # noqa: F811
) -> Iterator[Cluster]:
    namespace = new_namespace("o")
    instance = Cluster(
        home=tmp_path / "shared-logs",
        namespace=namespace,
        kafka=kafka_bootstrap,
        elastic=elastic_url,
        extra_env=s3_environment(namespace),
    )
    yield instance
    instance.close()
    drop_s3_prefix(namespace)


def _members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def test_stages_on_machines_of_their_own_share_only_kafka_elasticsearch_and_s3(
    s3_cluster: Cluster, demo: DemoSite, tmp_path: Path
) -> None:
    cluster = s3_cluster
    homes = {name: tmp_path / name for name in ("registry", "crawler", "fp1", "fp2", "matcher")}
    cluster.run(
        "works", "import", str(demo.write_manifest(tmp_path / "works.csv")), home=homes["registry"]
    )
    with SiteServer(demo.sites) as server:
        targets = demo.write_targets(tmp_path / "targets.yaml", server.port)
        cluster.worker("matcher", "matcher", home=homes["matcher"])
        cluster.worker("fingerprint-1", "fingerprint", home=homes["fp1"])
        cluster.worker("fingerprint-2", "fingerprint", home=homes["fp2"])
        cluster.start(
            "crawler", "crawl", str(targets), *server.resolve_args(), home=homes["crawler"]
        )
        cluster.finish("crawler")
        cluster.wait_drained()
        port = server.port

    expected = demo.alert_keys(port)
    assert sorted(cluster.wait_alerts(expected)) == sorted(expected)
    for name in ("fingerprint-1", "fingerprint-2", "matcher"):
        cluster.stop(name)
    # Nothing was kept on any "machine": no blobs directory anywhere, and the crawler's
    # WARC files (its spool) are all stored (none is left marked unpublished).
    for name, home in homes.items():
        assert not (home / "blobs").exists(), f"{name} wrote blobs to its own disk"
    spool = homes["crawler"] / "captures"
    assert list(spool.glob("*/*.warc.gz")) and not list(spool.glob("**/*.unpublished"))

    # An evidence export on another machine reads the copy, the reference and the crawl's
    # records from S3 (no recapture: nothing is fetched from the sites, which are gone).
    console = tmp_path / "console"
    listed = [
        json.loads(line)
        for line in cluster.run("alerts", "list", "--json", home=console).splitlines()
        if line.strip()
    ]
    alert = next(a for a in listed if a["work_id"] == "photo-a")
    out = tmp_path / "case.zip"
    cluster.run("evidence", "export", alert["id"], "-o", str(out), "--no-recapture", home=console)
    files = _members(out.read_bytes())
    blobs = open_blobs(Settings.from_env(cluster.env(console)))
    assert files["found/media.jpg"] == blobs.get(alert["media_sha256"])
    reference = next(w["path"] for w in demo.works if w["work_id"] == "photo-a")
    assert files["work/reference.jpg"] == Path(reference).read_bytes()
    archive = _members(files["web-archive.wacz"])
    crawl_warc = archive["archive/crawl.warc.gz"]
    assert alert["page_url"].encode() in zipfile_safe_gunzip(crawl_warc)
    assert not (console / "captures").exists()
    verified = cluster.run("evidence", "verify", str(out), home=console)
    assert "OK" in verified


def zipfile_safe_gunzip(data: bytes) -> bytes:
    """All gzip members of a WARC, decompressed one after the other."""
    import zlib

    out = b""
    while data:
        inflater = zlib.decompressobj(wbits=31)
        out += inflater.decompress(data)
        data = inflater.unused_data
    return out


@pytest.fixture
def private_s3(tmp_path: Path) -> Iterator[tuple[str, Callable[[str], None]]]:
    """An S3Proxy of this test's own (it is stopped and started again), and its switch."""
    env = {
        **os.environ,
        "TANBA_SERVICES_DIR": str(tmp_path / "services"),
        "TANBA_S3_PORT": str(free_port()),
    }

    def services(action: str) -> None:
        done = subprocess.run(
            [str(SERVICES), action, "s3"], env=env, capture_output=True, text=True, timeout=600
        )
        assert done.returncode == 0, done.stderr

    services("start")
    try:
        yield f"http://127.0.0.1:{env['TANBA_S3_PORT']}", services
    finally:
        services("stop")


def test_an_object_store_outage_pauses_the_crawl_and_the_workers_and_loses_nothing(
    tmp_path: Path,
    demo: DemoSite,
    kafka_bootstrap: str,
    elastic_url: str,
    private_s3: tuple[str, Callable[[str], None]],
) -> None:
    endpoint, services = private_s3
    namespace = new_namespace("o")
    cluster = Cluster(
        home=tmp_path / "home",
        namespace=namespace,
        kafka=kafka_bootstrap,
        elastic=elastic_url,
        extra_env={**s3_environment(namespace), "TANBA_S3_ENDPOINT": endpoint},
    )
    try:
        cluster.run("works", "import", str(demo.write_manifest(tmp_path / "works.csv")))
        with SiteServer(demo.sites) as server:
            targets = demo.write_targets(tmp_path / "targets.yaml", server.port)
            # 1. The store is down when the crawl starts: the crawl pauses, then resumes.
            services("stop")
            crawler = cluster.start("crawler", "crawl", str(targets), *server.resolve_args())
            cluster.wait(
                lambda: "crawl paused, nothing fetched is lost" in crawler.stderr(),
                120,
                "the crawler to pause on the store",
            )
            assert crawler.popen.poll() is None
            services("start")
            cluster.finish("crawler")
            port = server.port
        # 2. The store goes down before the workers read the media: they wait, then go on.
        services("stop")
        first = cluster.worker("fingerprint-1", "fingerprint")
        cluster.worker("matcher", "matcher")
        cluster.wait(
            lambda: "does not answer" in first.stderr() and "nothing committed" in first.stderr(),
            120,
            "the fingerprint worker to wait for the store",
        )
        assert cluster.lags()[0] > 0  # nothing was committed meanwhile
        services("start")
        cluster.wait_drained()
        expected = demo.alert_keys(port)
        assert sorted(cluster.wait_alerts(expected)) == sorted(expected)
        assert sum(cluster.bus.end_offsets(topics.DEAD_LETTER).values()) == 0
        for name in ("fingerprint-1", "matcher"):
            cluster.stop(name)
    finally:
        cluster.close()
