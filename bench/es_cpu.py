"""Elasticsearch's CPU per alert written as the matcher writes them, by batch size and read path.

Run (the server is scripts/services' Elasticsearch; start it first)::

    .venv/bin/python -m bench.es_cpu [--url http://127.0.0.1:9200] [--alerts 2048]

Writes ``--alerts`` new alerts spread over 8 jurisdictions (8 indices, as the
pipeline benchmark's 200 sites are) with :meth:`ElasticAlertStore.upsert`, in
batches of 16, 64 and 256 alerts, each batch as the matcher's (the copies read, one
bulk with ``refresh=wait_for``), and prints per alert the Elasticsearch process's CPU
milliseconds (net of its rate in the 5 s before, idle as far as this run goes: the
server is shared) and this process's, and the wall time per batch. Two read paths,
the same writes: ``search`` (what the store does: one search by id over the alias;
a retry reads realtime) and ``mget+search`` (what it did: a realtime ``mget`` of the
alerts' own indices and a search of the others, every batch). CPU time, not wall
time: on the pipeline benchmark's machine the servers share the stages' two cores, so
their CPU per medium is what the distributed mode pays beyond the embedded one
(bench/pipeline_throughput.py). Every configuration has a namespace of its own,
dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tanba.app.demo.alerts import make_alert
from tanba.core.alerts import Alert
from tanba.core.store.elastic import ElasticAlertStore, _Stored

SERVICES_DIR = Path(os.environ.get("TANBA_SERVICES_DIR", "/var/cache/tanba-services"))
ES_PID = SERVICES_DIR / "elasticsearch/state/es.pid"
CLK_TCK = os.sysconf("SC_CLK_TCK")
# The pipeline benchmark's sites fall in 8 jurisdictions: a batch writes to 8 indices.
JURISDICTIONS = ("KZ", "RU", "KG", "UZ", "TJ", "TM", "BY", "MD")
BATCHES = (16, 64, 256)
IDLE_S = 5.0


class MgetAndSearch(ElasticAlertStore):
    """The read path before: a realtime mget besides the search, on every attempt."""

    def _locate(self, alerts: Iterable[Alert], realtime: bool) -> dict[str, list[_Stored]]:
        return super()._locate(alerts, realtime=True)


def es_cpu_s() -> float:
    pid = int(ES_PID.read_text().strip())
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12)) / CLK_TCK


def own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system


def alerts(count: int, tag: str) -> list[Alert]:
    return [
        make_alert(
            work_id=f"w-{i % 97}",
            page=f"http://site{i % 200}.example.{j.lower()}/{tag}/{i}",
            jurisdiction=j,
            site=f"site{i % 200}.example.{j.lower()}",
        )
        for i in range(count)
        for j in (JURISDICTIONS[i % len(JURISDICTIONS)],)
    ]


def run(kind: type[ElasticAlertStore], url: str, count: int, batch: int) -> tuple[float, ...]:
    """(ES CPU ms per alert net of its idle rate, own CPU ms per alert, wall ms per batch)."""
    store = kind(url, namespace=f"escpu{uuid.uuid4().hex[:8]}")
    todo = alerts(count, uuid.uuid4().hex[:6])
    try:
        store.upsert(todo[:8])  # the template and the 8 indices exist before the clock
        idle0 = es_cpu_s()
        time.sleep(IDLE_S)
        idle_rate = (es_cpu_s() - idle0) / IDLE_S
        es0, own0, wall0 = es_cpu_s(), own_cpu_s(), time.monotonic()
        rest = todo[8:]
        for start in range(0, len(rest), batch):
            store.upsert(rest[start : start + batch])
        wall = time.monotonic() - wall0
        es = es_cpu_s() - es0 - idle_rate * wall
        own = own_cpu_s() - own0
        batches = -(-len(rest) // batch)
        return es * 1000 / len(rest), own * 1000 / len(rest), wall * 1000 / batches
    finally:
        store.drop()
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:9200")
    parser.add_argument("--alerts", type=int, default=2048)
    args = parser.parse_args()
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(
        f"{'read path':<12} {'batch':>5} {'ES ms/alert':>12} {'client ms/alert':>16} {'ms/batch':>9}"
    )
    for batch in BATCHES:
        for name, kind in (("mget+search", MgetAndSearch), ("search", ElasticAlertStore)):
            es, own, wall = run(kind, args.url, args.alerts, batch)
            print(f"{name:<12} {batch:>5} {es:>12.3f} {own:>16.3f} {wall:>9.1f}")
    print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
