"""docker-compose.yml and the Dockerfile agree with Tanba: stages, settings, volumes, scaling.

(``docker compose config`` also parses the file; that needs the compose plugin,
which the test machines do not have, so this test reads the YAML itself.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tanba.core.browser import CHROMIUM
from tanba.core.settings import Settings

REPO = Path(__file__).resolve().parents[2]
STAGES = ("crawler", "fingerprint", "matcher", "console")


def compose() -> dict[str, Any]:
    data = yaml.safe_load((REPO / "docker-compose.yml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_every_stage_is_its_own_service_on_kafka_and_elasticsearch() -> None:
    services = compose()["services"]
    assert {"kafka", "elasticsearch", *STAGES} <= set(services)
    known = {env for env, _, _ in Settings.documentation()}
    for name in STAGES:
        env = services[name]["environment"]
        assert env["TANBA_BUS"] == "kafka://kafka:9092"
        assert env["TANBA_STORE"] == "http://elasticsearch:9200"
        unknown = {k for k in env if k.startswith("TANBA_")} - known
        assert not unknown, f"{name} sets variables Tanba does not read: {unknown}"
        assert services[name]["depends_on"]["kafka"]["condition"] == "service_healthy"
    assert services["fingerprint"]["command"] == ["worker", "fingerprint"]
    assert services["matcher"]["command"] == ["worker", "matcher"]
    assert services["crawler"]["command"] == ["worker", "crawler"]
    # The console publishes the jobs of scheduled targets; the crawlers run them.
    assert services["console"]["environment"]["TANBA_CONSOLE_CRAWL_COMMAND"] == "jobs"
    assert "--no-scheduler" not in services["console"]["command"]


def test_crawlers_and_fingerprint_workers_scale_and_share_blobs_through_s3() -> None:
    services = compose()["services"]
    assert str(services["fingerprint"]["deploy"]["replicas"]).startswith("${FINGERPRINT_REPLICAS")
    assert str(services["crawler"]["deploy"]["replicas"]).startswith("${CRAWLER_REPLICAS")

    def mounts(name: str) -> dict[str, str]:
        return {v.split(":")[1]: v.split(":")[0] for v in services[name].get("volumes", [])}

    s3 = services["s3"]["environment"]
    for name in (*STAGES, "tanba"):
        env = services[name]["environment"]
        assert env["TANBA_BLOBS"] == "${TANBA_BLOBS:-s3://tanba}"
        assert env["TANBA_S3_ENDPOINT"] == "${TANBA_S3_ENDPOINT:-http://s3:80}"
        # The stages sign with the keys the server is given.
        assert env["TANBA_S3_ACCESS_KEY"] == s3["S3PROXY_IDENTITY"]
        assert env["TANBA_S3_SECRET_KEY"] == s3["S3PROXY_CREDENTIAL"]
        assert services[name]["depends_on"]["s3-bucket"]["condition"] == (
            "service_completed_successfully"
        )
        # No stage shares a file system with another: blobs and captures are in S3.
        shared = set(mounts(name).values()) & {"blobs", "captures"}
        assert not shared, f"{name} mounts {shared}"
    assert mounts("crawler")["/var/lib/tanba/captures"] == "crawler-spool"
    assert s3["S3PROXY_ENDPOINT"].endswith(":80") and s3["JCLOUDS_PROVIDER"] == "filesystem-nio2"
    assert services["s3-bucket"]["environment"]["TANBA_BLOBS"] == "${TANBA_BLOBS:-s3://tanba}"
    assert {"s3-data", "crawler-spool", "kafka-data", "es-data"} <= set(compose()["volumes"])


def test_the_dockerfile_installs_the_packages_and_runs_tanba_unprivileged() -> None:
    text = (REPO / "Dockerfile").read_text(encoding="utf-8")
    # Every stage lives in the one package (tanba/crawlers, tanba/matcher...); a COPY of a
    # folder that is not in the repository fails `docker build`.
    copied = [line.split()[1:-1] for line in text.splitlines() if line.startswith("COPY ")]
    sources = [source for sources in copied for source in sources]
    assert "tanba" in sources
    assert [s for s in sources if not (REPO / s).exists()] == []
    assert "ffmpeg" in text and "libchromaprint" in text
    # Targets marked `render: true` need the browser tanba.core.browser drives.
    installed = text.split("apt-get install", 1)[1].split("&&", 1)[0].split()
    assert "chromium" in installed and str(CHROMIUM) == "/usr/bin/chromium"
    assert "USER tanba" in text
    assert 'ENTRYPOINT ["tanba"]' in text


def test_the_shards_profile_runs_two_shards_and_the_gather_stage_that_decides_their_answers() -> (
    None
):
    services = compose()["services"]
    shards = {name: s for name, s in services.items() if "shards" in s.get("profiles", [])}
    assert {name: s["command"] for name, s in shards.items()} == {
        "matcher-0": ["worker", "matcher", "--shard", "0/2"],
        "matcher-1": ["worker", "matcher", "--shard", "1/2"],
        "gather": ["worker", "gather"],
    }
    assert str(services["matcher"]["deploy"]["replicas"]).startswith("${MATCHER_REPLICAS")
