"""Benchmark: how fast the console's targets pages answer with many targets and crawls.

Usage::

    .venv/bin/python bench/console_targets.py [--targets 500] [--crawls 10] [--repeat 15]

The bus and the store come from the settings (``TANBA_BUS``, ``TANBA_STORE``,
``TANBA_NAMESPACE``: the embedded ones by default, or Kafka and Elasticsearch),
on a fresh temporary home. It records ``--targets`` targets in the registry,
publishes ``--crawls`` crawl reports over all of them (each target with as many
failed fetches listed as a report of that size holds), then times, in this
process (FastAPI's test client, so the figures are the server's work), the
targets list, one target's page, one crawl's page and the API's list: the first
request (which reads every report from the bus) and the median and 95th
percentile of ``--repeat`` more, in milliseconds.
"""

from __future__ import annotations

import argparse
import re
import statistics
import tempfile
import time
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from tanba.console.web import create_app
from tanba.core import topics
from tanba.core.bus import Record
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawls import (
    MAX_FAILURES_LISTED,
    MAX_FAILURES_PER_REPORT,
    MIN_FAILURES_LISTED,
    CrawlFinished,
    FetchFailure,
    TargetReport,
)
from tanba.core.settings import Settings
from tanba.core.targets import check_target
from tanba.core.wiring import App

PASSWORD = "a long benchmark password"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=500)
    parser.add_argument("--crawls", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings.from_env(home=Path(tmp) / "home", console_scheduler=False)
        app = App(settings)
        try:
            run(app, args.targets, args.crawls, args.repeat)
        finally:
            app.close()


def run(app: App, n: int, crawls: int, repeat: int) -> None:
    started = time.perf_counter()
    for i in range(n):
        app.targets.add(check_target({"name": f"t{i}", "seeds": [f"http://s{i}.example.kz/"]}), "b")
    print(f"recording {n} targets: {time.perf_counter() - started:.2f} s")
    listed = max(MIN_FAILURES_LISTED, min(MAX_FAILURES_LISTED, MAX_FAILURES_PER_REPORT // n))
    failed = [FetchFailure(url=f"http://gone.invalid/{k}", reason="dns") for k in range(listed)]
    for c in range(crawls):
        at = f"2026-03-{1 + c % 28:02d}T10:00:00.000Z"
        report = CrawlFinished(
            crawl_id=f"c{c}",
            started_at=at,
            finished_at=at,
            targets={
                f"t{i}": TargetReport(name=f"t{i}", pages=10, failures={"dns": 100}, failed=failed)
                for i in range(n)
            },
        )
        app.bus.publish(topics.CRAWLS, [Record(f"c{c}", encode(report))])
    web = create_app(app, hasher=PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1))
    web.state.console.users.add("bench", PASSWORD, "operator", language="ru")
    client = TestClient(web)
    token = CSRF.search(client.get("/login").text)
    assert token is not None
    client.post(
        "/login", data={"username": "bench", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    print(f"{n} targets, {crawls} crawls; ms: first request, then median and p95 of {repeat}")
    for url in ("/targets", "/targets/t0", f"/targets/t0/crawls/c{crawls - 1}", "/api/targets"):
        times = []
        for _ in range(repeat + 1):
            t = time.perf_counter()
            answer = client.get(url)
            times.append((time.perf_counter() - t) * 1000)
            assert answer.status_code == 200, answer.text[:300]
        first, rest = times[0], sorted(times[1:])
        p95 = rest[min(len(rest) - 1, round(0.95 * (len(rest) - 1)))]
        print(
            f"  {url:<28} first {first:8.1f}   median {statistics.median(rest):6.1f}   p95 {p95:6.1f}"
        )


if __name__ == "__main__":
    main()
