"""Two matcher shards and a gather process on the real Kafka: exactly one matcher's alerts.

The works are look-alikes that straddle the shards (``tests/matcher/test_gather.py``),
so each shard alone would raise alerts one matcher sets aside. Fingerprint events are
published straight to ``tanba.fingerprints`` (no crawl: the case is the matching); a
shard and then the gather process are killed with SIGKILL while work is left, started
again, and when every group has committed everything the alerts in Elasticsearch must
be those one matcher raises in-process over the same works (ids, scores, figures).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.base import encode
from tanba.core.schemas.common import Fingerprint, MediaOccurrence
from tanba.core.schemas.fingerprints import FingerprintComputed
from tanba.core.schemas.works import Work
from tanba.core.shards import Shard
from tanba.core.store import AlertQuery
from tests.distributed.harness import Cluster
from tests.matcher.test_gather import (
    RULE_ALONE,
    _copies,
    _lookalikes,
    _occurrence,
    _work,
    run_shards,
)

pytestmark = pytest.mark.services

PROCESSED = "tanba_messages_processed_total"
PAGES = 40  # pages per copy: 120 fingerprint events


def test_two_shards_and_a_gather_killed_midway_raise_exactly_one_matcher_s_alerts(
    cluster: Cluster, tmp_path: Path
) -> None:
    works = [_work(w, fp) for w, fp in _lookalikes().items()]
    copies = [
        (_occurrence(f"{name}-{page}", f"site{page % 7}.example.kz"), fp)
        for page in range(PAGES)
        for name, fp in _copies().items()
    ]
    expected, suppressed = run_shards(tmp_path, RULE_ALONE, works, copies, 1)
    assert expected and not suppressed
    assert {a[1] for a in expected} != {a[1] for a in run_per_shard(tmp_path, works, copies)}

    cluster.extra_env.update(
        TANBA_IMAGE_MIN_DETAIL=str(RULE_ALONE.image_min_detail),
        TANBA_IMAGE_ALIGNED_SIMILARITY=str(RULE_ALONE.image_aligned_similarity),
        TANBA_BATCH_SIZE="4",  # many batches, so the kills land between them
        TANBA_MATCHER_BATCH_SIZE="4",
        TANBA_MATCHER_STATE="off",
    )
    WorkRegistry(cluster.bus).register(works)
    cluster.bus.publish(
        topics.FINGERPRINTS,
        [
            Record(o.site, encode(FingerprintComputed(occurrence=o, fingerprint=fp)))
            for o, fp in copies
        ],
    )
    first = cluster.worker("shard-0", "matcher", "--shard", "0/2")
    cluster.worker("shard-1", "matcher", "--shard", "1/2")
    gather = cluster.worker("gather", "gather")
    cluster.wait(lambda: first.sample(PROCESSED, "matcher", 0) >= 16, 180, "shard 0 to work")
    cluster.kill("shard-0")
    cluster.wait(lambda: gather.sample(PROCESSED, "gather", 0) >= 16, 180, "gather to work")
    cluster.kill("gather")
    assert cluster.bus.group_lag(topics.GROUP_GATHER, [topics.MATCH_ANSWERS]) > 0 or (
        cluster.bus.group_lag(Shard(0, 2).group(topics.GROUP_MATCHER), [topics.FINGERPRINTS]) > 0
    ), "nothing was left to do at the kills: not midway"
    cluster.worker("shard-0-again", "matcher", "--shard", "0/2")
    again = cluster.worker("gather-again", "gather")
    groups = [Shard(i, 2).group(topics.GROUP_MATCHER) for i in (0, 1)]

    def drained() -> bool:
        bus = cluster.bus
        shards = sum(bus.group_lag(g, [topics.FINGERPRINTS]) for g in groups)
        return shards == 0 and bus.group_lag(topics.GROUP_GATHER, [topics.MATCH_ANSWERS]) == 0

    cluster.wait(drained, 300, "the shards and the gather to commit everything")
    assert again.sample(PROCESSED, "gather") > 0
    alerts = sorted(
        (a.id, a.work_id, a.score, a.match.model_dump_json())
        for a in cluster.store.search(AlertQuery(limit=10_000)).alerts
    )
    assert alerts == expected
    for name in ("shard-0-again", "shard-1", "gather-again"):
        cluster.stop(name)  # SIGTERM: a clean exit


def run_per_shard(
    tmp_path: Path, works: list[Work], copies: list[tuple[MediaOccurrence, Fingerprint]]
) -> list[tuple[str, str, float, str]]:
    """What the shards raised before the gather: each shard's own decisions, joined."""
    found = []
    for index in (0, 1):
        mine = [w for w in works if Shard(index, 2).holds(w.work_id)]
        (tmp_path / f"alone-{index}").mkdir()
        found += run_shards(tmp_path / f"alone-{index}", RULE_ALONE, mine, copies, 1)[0]
    return found
