"""Benchmark: how fast the console's alert list answers with 100,000 alerts in the store.

Usage::

    .venv/bin/python bench/console_list.py [--alerts 100000] [--repeat 15] [--home DIR]

The store comes from the settings (``TANBA_STORE``: ``embedded`` by default, or
an Elasticsearch URL), so the same figures can be taken on either store. The
alerts are loaded once per home (a marker file remembers it); the console is
then served by uvicorn on 127.0.0.1 and timed over HTTP as a browser would
see it: the API and the HTML page (its charts are frames of their own), for
the first page, filtered pages, the deepest page by number (page 20, rows
951-1,000), the page at the very end of the list reached by cursor
(``after=``: one request with the cursor of row 99,950, taken beforehand, not
the walk there), the last page (``last=true``) and the page before it
(``before=``), as an administrator (every alert in scope) and as a rights
holder (scoped to one organisation). Figures are the median and 95th
percentile of ``--repeat`` requests, in milliseconds, printed beside the 300 ms
target of the issue.

The pages carry thumbnails: the works are registered from generated pictures
(500 works, fingerprinted once per home) and the image alerts' found copies are
200 other generated pictures in the blob store, so every image row has a
copy and a reference to show. Besides the HTML, the bench then fetches every
image one page needs to show its pictures, as a browser would (six at a time):
its img elements and the images its style elements name (the page's sheet of
pictures, tanba.console.pictures: one image for all of them). First when no
thumbnail has been made yet ("cold": each file decoded and resized once), then
again with the thumbnails made (the server's work for a browser whose own
cache is empty: the sheet is made again from its cells on every request, the
server keeps no sheet; a browser that has it asks nothing, its URL names its
content and is cached for a year). The table says how many pictures the page shows and how
many requests they took.

Then the charts: each chart's first request in a fresh process (counts are
cached 30 s by the console; on Elasticsearch its caches are cleared first, so
"cold" means cold there too) and the cached median.
"""

from __future__ import annotations

import argparse
import html
import os
import random
import re
import shutil
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import numpy as np
import uvicorn
from argon2 import PasswordHasher
from PIL import Image

from tanba.console.web import create_app
from tanba.core.alerts import Alert, MatchDetail, Signal, alert_id
from tanba.core.clock import iso
from tanba.core.settings import EMBEDDED, Settings
from tanba.core.store import AlertQuery
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register

START = datetime(2026, 1, 1, tzinfo=UTC)

TARGET_MS = 300.0
CODES = ("KZ", "RU", "BY", "UZ", "KG", "AM", "AZ", "TJ", "MD", "TM")
STATUSES = ("new", "new", "new", "confirmed", "dismissed", "licensed", "notice_sent")
WORKS = 500
COPIES = 200  # distinct found copies (a picture is found on many pages)
BROWSER_CONNECTIONS = 6  # what a browser opens to one host


def picture(path: Path, seed: int, side: int = 640) -> Path:
    """A JPEG of smooth blobs and noise, different for each seed (a fingerprintable picture)."""
    rnd = np.random.default_rng(seed)
    coarse = rnd.integers(0, 256, size=(6, 8, 3), dtype=np.uint8)
    image = Image.fromarray(coarse).resize((side, side * 3 // 4), Image.Resampling.BICUBIC)
    noise = rnd.integers(-12, 13, size=(side * 3 // 4, side, 3))
    pixels = np.clip(np.asarray(image, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, "JPEG", quality=88)
    return path


def owner_of(work: int) -> str:
    return f"Owner {work % 40}"


def register_works(app: App, folder: Path) -> None:
    """The WORKS works of the alerts, registered from generated pictures."""
    folder.mkdir(parents=True, exist_ok=True)
    for start in range(0, WORKS, 50):
        specs = [
            WorkSpec(
                path=picture(folder / f"w{w}.jpg", w),
                owner=owner_of(w),
                title=f"Work w{w}",
                work_id=f"w{w}",
            )
            for w in range(start, min(WORKS, start + 50))
        ]
        register(app, specs)


def store_copies(app: App, folder: Path) -> list[str]:
    """COPIES generated pictures in the blob store, as a crawl stores what it fetched."""
    folder.mkdir(parents=True, exist_ok=True)
    return [
        app.blobs.put_file(picture(folder / f"c{i}.jpg", 10_000 + i, side=800))
        for i in range(COPIES)
    ]


def synthetic(n: int, copies: list[str], seed: int = 7) -> list[Alert]:
    """``n`` alerts over 40 owners, 500 works, 2,000 sites, 10 jurisdictions and 120 days."""
    rnd = random.Random(seed)
    out = []
    for i in range(n):
        work_number = (i * 7) % WORKS
        owner = owner_of(work_number)
        work = f"w{work_number}"
        code = CODES[rnd.randrange(len(CODES))]
        site = f"site{rnd.randrange(2000)}.example.{code.lower()}"
        page = f"http://{site}/p/{i}"
        moment = START + timedelta(days=rnd.randrange(120), hours=rnd.randrange(24))
        seen = iso(moment)  # real calendar dates: Elasticsearch rejects a 30 February
        out.append(
            Alert(
                id=alert_id(work, page, page + "/m.jpg"),
                work_id=work,
                owner=owner,
                work_title=f"Work {work}",
                media="image" if i % 5 else "audio",
                score=round(0.5 + rnd.random() / 2, 3),
                match=MatchDetail(algorithm="phash64", distance=rnd.randrange(13)),
                page_url=page,
                page_title=f"Page {i}",
                media_url=page + "/m.jpg",
                media_sha256=copies[i % COPIES] if i % 5 else "0" * 64,
                site=site,
                target=f"t{rnd.randrange(30)}",
                jurisdiction=code,
                signals=[Signal(name="cctld", value=code, weight=0.6, detail=site)],
                first_seen=seen,
                last_seen=seen,
                status=STATUSES[rnd.randrange(len(STATUSES))],  # type: ignore[arg-type]
            )
        )
    return out


def load(app: App, n: int) -> float:
    marker = app.settings.home / f"bench-console-{n}-pictures.loaded"
    if marker.exists():
        return 0.0
    started = time.perf_counter()
    pictures = app.settings.home / "bench-pictures"
    register_works(app, pictures / "works")
    alerts = synthetic(n, store_copies(app, pictures / "copies"))
    for i in range(0, n, 2000):
        app.store.upsert(alerts[i : i + 2000])
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text("ok")
    return time.perf_counter() - started


def timed(client: httpx.Client, url: str, repeat: int) -> tuple[float, float, int]:
    client.get(url)  # warm SQLite's page cache and the query plan
    samples = []
    size = 0
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (url, r.status_code, r.text[:200])
        size = len(r.content)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)], size


def clear_caches(settings: Settings, app: App) -> None:
    """Empty Elasticsearch's request, query and field data caches (global ordinals too)."""
    pattern = getattr(app.store, "pattern", None)
    if settings.store != EMBEDDED and pattern:
        httpx.post(f"{settings.store.rstrip('/')}/{pattern}/_cache/clear", timeout=60)


def store_side_by_side(app: App, repeat: int) -> None:
    """The page at the end of the list read from the store: by offset (before) and by cursor."""
    print("\nthe last 50 of all alerts, from the store: by offset (the old way) vs by cursor")
    print(f"{'sort':12} {'offset median ms':>17} {'cursor median ms':>17}")
    for sort in ("last_seen", "score"):
        query = AlertQuery(sort=sort, limit=50)  # type: ignore[arg-type]
        last = app.store.search(replace(query, last=True))
        cursor = app.store.search(replace(query, before=last.prev_cursor)).next_cursor
        by_offset = replace(query, offset=last.total - len(last.alerts))
        by_cursor = replace(query, after=cursor)
        ids = [a.id for a in last.alerts]
        timings = []
        for q, times in ((by_offset, max(3, repeat // 5)), (by_cursor, repeat)):
            samples = []
            for _ in range(times):
                t = time.perf_counter()
                page = app.store.search(q)
                samples.append((time.perf_counter() - t) * 1000)
                assert [a.id for a in page.alerts] == ids, "offset and cursor disagree"
            timings.append(statistics.median(samples))
        print(f"{sort:12} {timings[0]:17.1f} {timings[1]:17.1f}")


# The grouped lists (one row per site or work): the page, and the API's groups.
GROUPED = [
    ("grouped by site", "?group=site"),
    ("grouped by work", "?group=work"),
    ("grouped by site: KZ, new", "?group=site&jurisdiction=KZ&status=new"),
]


def api_url(query: str) -> str:
    """The API answer of a list case: the alerts, or for a grouped case the groups."""
    grouped = re.search(r"group=(site|work)&?", query)
    if grouped is None:
        return f"/api/alerts{query}"
    return f"/api/alerts/groups/{grouped.group(1)}?{query[1:].replace(grouped.group(0), '')}"


def pictures_of(page: str) -> list[str]:
    """Every image URL a list page needs to show its pictures, each once as a browser asks:
    its img elements and the background images of its style elements (the sheet)."""
    found = re.findall(r'<img[^>]* src="([^"]+)"', page)
    found = [html.unescape(src) for src in found]
    for style in re.findall(r"<style>(.*?)</style>", page, re.S):
        found += re.findall(r'url\("?([^")]+)"?\)', style)
    return list(dict.fromkeys(url for url in found if not url.startswith("data:")))


def shown(page: str) -> int:
    """How many pictures the page shows (its thumbnails: img elements or cells of a sheet)."""
    return len(re.findall(r'<img class="thumb"', page)) + len(
        set(re.findall(r'class="thumb sheet"[^>]*style="([^"]+)"', page))
    )


def fetch_all(client: httpx.Client, urls: list[str]) -> float:
    """Milliseconds to fetch every URL with BROWSER_CONNECTIONS requests at a time."""
    started = time.perf_counter()
    with ThreadPoolExecutor(BROWSER_CONNECTIONS) as pool:
        for answer in pool.map(client.get, urls):
            assert answer.status_code == 200, (answer.url, answer.status_code, answer.text[:200])
    return (time.perf_counter() - started) * 1000


def pictures_section(
    base: str, tokens: dict[str, str], cases: list[tuple[str, str]], repeat: int, home: Path
) -> None:
    """The list page and every picture it links, as a browser with an empty cache loads them."""
    made = home / "console" / "thumbnails"
    if made.exists():
        shutil.rmtree(made)
    print(
        f"\nthe page and its pictures, {BROWSER_CONNECTIONS} at a time"
        " (cold: no thumbnail made yet; then made, browser cache empty)"
    )
    print(
        f"{'who':12} {'case':34} {'pictures':>8} {'requests':>8} {'cold ms':>9}"
        f" {'page+pictures median/p95 ms':>29} {'one image p95 ms':>17}"
    )
    worst = 0.0
    for who, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for label, query in cases:
                page = client.get(f"/alerts{query}").text
                urls = pictures_of(page)
                cold = fetch_all(client, urls)
                samples = []
                for _ in range(repeat):
                    started = time.perf_counter()
                    urls = pictures_of(client.get(f"/alerts{query}").text)
                    fetch_all(client, urls)
                    samples.append((time.perf_counter() - started) * 1000)
                samples.sort()
                one = []
                for url in (urls * 2 * repeat)[: 2 * repeat]:  # a sheet: the one URL, again
                    started = time.perf_counter()
                    client.get(url)
                    one.append((time.perf_counter() - started) * 1000)
                one.sort()
                p95 = samples[max(0, int(len(samples) * 0.95) - 1)]
                one_p95 = one[max(0, int(len(one) * 0.95) - 1)] if one else 0.0
                worst = max(worst, p95)
                print(
                    f"{who:12} {label:34} {shown(page):8} {len(urls):8} {cold:9.1f}"
                    f" {statistics.median(samples):15.1f} / {p95:10.1f} {one_p95:17.1f}"
                )
    print(
        f"worst p95 of a page and its pictures: {worst:.1f} ms"
        f" ({'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--home", type=Path, default=None, help="default: a new temporary directory"
    )
    args = parser.parse_args()
    home = args.home or Path(tempfile.mkdtemp(prefix="tanba-bench-console-"))
    settings = Settings.from_env(home=home, console_scheduler=False)
    app = App(settings)
    took = load(app, args.alerts)
    print(f"store: {settings.store}, home: {home}")
    print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(
        f"loaded {args.alerts} alerts in {took:.1f} s"
        if took
        else f"{args.alerts} alerts already loaded"
    )

    web = create_app(
        app,
        hasher=PasswordHasher(time_cost=1, memory_cost=8192),
    )
    console = web.state.console
    tokens = {}
    for name, role, org in (
        ("bench-admin", "admin", ""),
        ("bench-owner", "rights_holder", "Owner 3"),
    ):
        if console.users.get(name) is None:
            console.users.add(name, "benchmark password", role, org=org)
        tokens[name] = console.sessions.issue_token(name, "bench")[1]
    server = uvicorn.Server(uvicorn.Config(web, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"

    def cursor_cases(client: httpx.Client, query: str) -> list[tuple[str, str]]:
        """Cases that page by cursor at the end of the list; the cursors are taken untimed."""
        last = client.get(f"/api/alerts?{query}last=true").json()
        before_last = client.get(f"/api/alerts?{query}before={last['prev_cursor']}").json()
        deepest = last["total"] - len(last["alerts"])
        return [
            (f"cursor after alert {deepest:,}", f"?{query}after={before_last['next_cursor']}"),
            ("last page (last=true)", f"?{query}last=true"),
            ("page before last (before=)", f"?{query}before={last['prev_cursor']}"),
        ]

    cases = [
        ("first page", "?"),
        ("filtered: KZ, new, images", "?jurisdiction=KZ&status=new&media=image"),
        ("filtered: one site", "?site=site17.example.kz"),
        ("sorted by score", "?sort=score"),
        ("page 20 by number", "?page=20"),
    ]
    print(
        f"\n{'who':12} {'case':34} {'api median/p95 ms':>20} {'page median/p95 ms':>20}  target {TARGET_MS:.0f} ms"
    )
    worst = 0.0
    for who in tokens:
        with httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {tokens[who]}"}, timeout=60
        ) as client:
            mine = cases + cursor_cases(client, "") + cursor_cases(client, "sort=score&")
            mine += GROUPED
            for label, query in mine:
                label = label if "score" not in query or "score" in label else label + ", score"
                api_med, api_p95, _ = timed(client, api_url(query), args.repeat)
                page_med, page_p95, size = timed(client, f"/alerts{query}", args.repeat)
                worst = max(worst, api_p95, page_p95)
                print(
                    f"{who:12} {label:34} {api_med:9.1f} / {api_p95:7.1f}  {page_med:9.1f} / {page_p95:7.1f}"
                    f"  ({size // 1024} KiB HTML)"
                )
    print(
        f"\nworst p95 of the list: {worst:.1f} ms"
        f" ({'within' if worst <= TARGET_MS else 'OVER'} the {TARGET_MS:.0f} ms target)"
    )
    pictures_section(base, tokens, cases[:4], args.repeat, home)
    print("\ncharts (their own frames, loaded after the list; counts cached 30 s):")
    print(f"{'who':12} {'case / chart':40} {'cold ms':>9} {'cached median ms':>17}")
    clear_caches(settings, app)
    worst_cold = 0.0
    for who, token in tokens.items():
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=60) as client:
            for label, query in cases[:2]:
                for key in ("jurisdiction", "site", "day"):
                    url = f"/alerts/charts/{key}.svg{query}"
                    t = time.perf_counter()
                    assert client.get(url).status_code == 200
                    cold = (time.perf_counter() - t) * 1000
                    worst_cold = max(worst_cold, cold)
                    warm, _, _ = timed(client, url, 5)
                    print(f"{who:12} {label + ' / ' + key:40} {cold:9.1f} {warm:17.1f}")
    print(f"\nworst cold chart: {worst_cold:.1f} ms")
    store_side_by_side(app, args.repeat)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    server.should_exit = True
    thread.join(timeout=10)
    app.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
