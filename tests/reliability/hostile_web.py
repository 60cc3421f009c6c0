"""A loopback web server that misbehaves on purpose: endless streams, drips, 429s, slow pages.

Contract::

    routes = {
        ("kino.example.kz", "/"): static(b"<html>...</html>"),
        ("kino.example.kz", "/live.mp3"): endless("audio/mpeg"),      # never ends, no length
        ("kino.example.kz", "/drip.jpg"): drip(b"\\xff\\xd8...", every_s=1.0),
        ("kino.example.kz", "/busy.html"): sequence(too_many(retry_after="1"), static(b"ok")),
        ("kino.example.kz", "/slow.html"): static(b"...", delay_s=0.3),
    }
    with HostileServer(routes) as server:
        server.port, server.url(host, path), server.resolve_args()
        server.hits(host, path)        # [(monotonic start, monotonic end), ...]
        server.max_concurrency(host)   # most requests to host in progress at once

A route path ending in ``*`` answers every path it prefixes (the longest
prefix wins). Unknown paths answer 404. Routing uses the Host header without its port, as
:class:`tanba.app.demo.server.SiteServer` does, so ``--resolve`` maps made-up
hosts to it. A handler that streams stops when the client goes away.

Why not SiteServer: it serves whole bodies with a Content-Length and keeps no
timing; these tests need bodies that never end, bytes that trickle, replies
that change per request and the concurrency a crawler really used.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import urlsplit

from tanba.app.demo.server import LoopbackServer
from tanba.core.bus.embedded import EmbeddedBus
from tanba.core.schemas.base import decode
from tanba.core.schemas.media import MediaDiscovered
from tanba.core.topics import MEDIA

Respond = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Route:
    """How one path answers; ``respond`` writes the whole response."""

    respond: Respond


def static(
    body: bytes,
    content_type: str = "text/html; charset=utf-8",
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
    delay_s: float = 0.0,
) -> Route:
    """A fixed response, optionally after ``delay_s`` (a slow page)."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        if delay_s:
            time.sleep(delay_s)
        h.send_response(status)
        h.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            h.send_header(name, value)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    return Route(respond)


def dynamic(page: Callable[[str], bytes], content_type: str = "text/html; charset=utf-8") -> Route:
    """A page computed from the request path (with its query): calendars, loops."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        static(page(h.path), content_type).respond(h)

    return Route(respond)


def redirect(location: str, status: int = 302) -> Route:
    return static(b"", "text/plain", status=status, headers={"Location": location})


def too_many(retry_after: str | None = None) -> Route:
    """A 429, with ``Retry-After`` when given."""
    headers = {"Retry-After": retry_after} if retry_after is not None else {}
    return static(b"slow down", "text/plain", status=429, headers=headers)


def endless(content_type: str, chunk: int = 64 * 1024) -> Route:
    """A body that never ends and declares no length (an endless stream or radio)."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.end_headers()
        block = (b"\xff\xfb\x90\x00" + bytes(range(256)) * 4) * (chunk // 1028 + 1)
        try:
            while True:
                h.wfile.write(block[:chunk])
        except OSError:
            return  # the client gave up: what the test wants

    return Route(respond)


def drip(body: bytes, every_s: float, content_type: str = "image/jpeg") -> Route:
    """``body`` one byte every ``every_s`` seconds, with its true Content-Length."""

    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", content_type)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        try:
            for i in range(len(body)):
                h.wfile.write(body[i : i + 1])
                h.wfile.flush()
                time.sleep(every_s)
        except OSError:
            return

    return Route(respond)


def sequence(*routes: Route) -> Route:
    """The n-th request gets the n-th route; the last one answers every later request."""
    lock = threading.Lock()
    count = [0]

    def respond(h: BaseHTTPRequestHandler) -> None:
        with lock:
            index = min(count[0], len(routes) - 1)
            count[0] += 1
        routes[index].respond(h)

    return Route(respond)


@dataclass
class _Stats:
    hits: dict[tuple[str, str], list[tuple[float, float]]] = field(
        default_factory=lambda: defaultdict(list)
    )
    active: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    peak: dict[str, int] = field(default_factory=lambda: defaultdict(int))


class HostileServer(LoopbackServer):
    """Serves ``routes`` on a loopback address from background threads; a context manager."""

    def __init__(self, routes: Mapping[tuple[str, str], Route], address: str = "127.0.0.1") -> None:
        self.routes = dict(routes)
        self._stats = _Stats()
        super().__init__(address)

    def hosts(self) -> list[str]:
        return sorted({host for host, _ in self.routes})

    def hits(self, host: str, path: str) -> list[tuple[float, float]]:
        """(start, end) monotonic times of each request for ``path`` on ``host``."""
        with self._lock:
            return list(self._stats.hits.get((host, path), []))

    def paths(self, host: str) -> list[str]:
        """Every path requested on ``host``, in order of arrival."""
        with self._lock:
            timed = [(t[0], p) for (h, p), ts in self._stats.hits.items() if h == host for t in ts]
        return [p for _, p in sorted(timed)]

    def route(self, host: str, path: str) -> Route | None:
        exact = self.routes.get((host, path)) or self.routes.get((host, urlsplit(path).path))
        if exact is not None:
            return exact
        prefixes = [
            (len(p), r)
            for (h, p), r in self.routes.items()
            if h == host and p.endswith("*") and path.startswith(p[:-1])
        ]
        return max(prefixes, key=lambda pr: pr[0])[1] if prefixes else None

    def total_hits(self) -> int:
        """Requests of any kind this server received."""
        with self._lock:
            return sum(len(ts) for ts in self._stats.hits.values())

    def max_concurrency(self, host: str) -> int:
        with self._lock:
            return self._stats.peak.get(host, 0)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = self.headers.get("Host", "").rsplit(":", 1)[0].lower()
                path = self.path
                route = server.route(host, path)
                started = time.monotonic()
                with server._lock:
                    server._stats.active[host] += 1
                    server._stats.peak[host] = max(
                        server._stats.peak[host], server._stats.active[host]
                    )
                try:
                    if route is None:
                        static(b"not found", "text/plain", status=404).respond(self)
                    else:
                        route.respond(self)
                finally:
                    with server._lock:
                        server._stats.active[host] -= 1
                        server._stats.hits[(host, path)].append((started, time.monotonic()))

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@dataclass
class Crawl:
    """What ``tanba crawl --json`` printed and published."""

    targets: dict[str, dict[str, int]]  # per target counters
    events: list[tuple[str | None, MediaDiscovered]]
    stderr: str


def run_crawl(
    targets_yaml: str, home: Path, resolve: list[str], env: Mapping[str, str] | None = None
) -> Crawl:
    """Crawl ``targets_yaml`` into ``home`` in a subprocess; asserts that it exits 0."""
    home.mkdir(parents=True, exist_ok=True)
    targets = home / "targets.yaml"
    targets.write_text(targets_yaml, encoding="utf-8")
    full_env = {**os.environ, "TANBA_CRAWL_DELAY_S": "0", **(env or {})}
    command = [
        sys.executable, "-m", "tanba.app.cli", "--home", str(home), "crawl", str(targets), "--json",
        *resolve,
    ]  # fmt: skip
    done = subprocess.run(
        command, env=full_env, cwd=home, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, f"crawl failed ({done.returncode}):\n{done.stderr}"
    bus = EmbeddedBus(home / "bus.sqlite3")
    try:
        events = [(m.key, decode(m.value, MediaDiscovered)) for m in bus.replay(MEDIA)]
    finally:
        bus.close()
    stats = json.loads(done.stdout)
    return Crawl(targets=stats["targets"], events=events, stderr=done.stderr)
