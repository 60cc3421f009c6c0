"""Two matcher shards over the demo web raise exactly the alerts of one matcher.

Real ``tanba`` processes on the embedded bus: the crawl and a fingerprint worker
once, then the matcher either whole or as shards 0/2 and 1/2, each in its own
process and consumer group, and the gather stage that decides the shards' answers. The demo's alerts come from works of both shards, so
a shard that matched every work, or none, would be seen.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tanba.app.demo.server import SiteServer
from tanba.app.demo.site import DemoSite, build
from tanba.core.shards import Shard
from tests.support.cli import json_lines, ok, tanba


@pytest.fixture(scope="module")
def demo() -> DemoSite:
    return build()


def _alerts(home: Path) -> set[tuple[str, str, str, str]]:
    rows = json_lines(ok(tanba(home, "alerts", "list", "--json")))
    return {(r["work_id"], r["page_url"], r["media_url"], r["jurisdiction"]) for r in rows}


def _suppressed(home: Path) -> set[tuple[str, str, str]]:
    rows = json_lines(ok(tanba(home, "suppressions", "--json")))
    return {(r["work_id"], r["page_url"], r["reason"]) for r in rows}


def test_two_shards_raise_exactly_the_alerts_of_one_matcher(tmp_path: Path, demo: DemoSite) -> None:
    crawled = tmp_path / "crawled"
    ok(tanba(crawled, "works", "import", str(demo.write_manifest(tmp_path / "works.csv"))))
    with SiteServer(demo.sites) as server:
        targets = demo.write_targets(tmp_path / "targets.yaml", server.port)
        ok(tanba(crawled, "crawl", str(targets), *server.resolve_args()))
        port = server.port
    ok(tanba(crawled, "worker", "fingerprint", "--until-idle"))
    whole, sharded = tmp_path / "whole", tmp_path / "sharded"
    shutil.copytree(crawled, whole)
    shutil.copytree(crawled, sharded)

    ok(tanba(whole, "worker", "matcher", "--until-idle"))
    for shard in ("0/2", "1/2"):
        ok(tanba(sharded, "worker", "matcher", "--shard", shard, "--until-idle"))
    assert _alerts(sharded) == set()  # the shards answer; the gather stage decides
    ok(tanba(sharded, "worker", "gather", "--until-idle"))

    expected = demo.alert_keys(port)
    assert _alerts(whole) == expected
    assert _alerts(sharded) == expected
    assert _suppressed(sharded) == _suppressed(whole) != set()
    # Both shards had work to do: the alerts' works are spread over them.
    owners = {i for work_id, *_ in expected for i in (0, 1) if Shard(i, 2).holds(work_id)}
    assert owners == {0, 1}


def test_a_bad_shard_is_refused_before_anything_runs(tmp_path: Path) -> None:
    result = tanba(tmp_path, "worker", "matcher", "--shard", "2/2", "--until-idle")
    assert result.returncode == 2 and "I/N" in result.stderr and "Traceback" not in result.stderr
    result = tanba(tmp_path, "worker", "fingerprint", "--shard", "0/2", "--until-idle")
    assert result.returncode == 2 and "tanba worker matcher" in result.stderr


def test_tanba_run_with_a_shard_set_says_to_run_the_shards_and_the_gather(tmp_path: Path) -> None:
    result = tanba(tmp_path, "run", env={"TANBA_MATCHER_SHARD": "0/2"})
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert "tanba worker gather" in result.stderr
