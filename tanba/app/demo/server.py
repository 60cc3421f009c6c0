"""A loopback web server that serves several made-up sites, routed by the Host header.

Contract::

    sites = {
        "kino.example.kz": {                                   # a dict site
            "/": b"<html>...</html>",                           # text/html by default
            "/robots.txt": b"User-agent: *\\nDisallow: /private/",
            "/img/a.jpg": jpeg_bytes,                           # type from the extension
            "/fake.jpg": (b"<html>not an image</html>", "image/jpeg"),  # explicit type
            "/old": Reply(b"", status=301, headers={"Location": "/"}),   # anything else
        },
        "cdn.example.ru": Path("tests/data/cdn"),               # a directory site
    }
    with SiteServer(sites) as server:
        server.port                     # the port on 127.0.0.1 (ephemeral by default)
        server.url("kino.example.kz", "/")      # "http://kino.example.kz:PORT/"
        server.resolve_args()           # ["--resolve", "kino.example.kz:PORT:127.0.0.1", ...]
        ...                             # crawl
        server.requests["kino.example.kz"]      # ["/robots.txt", "/", ...] in arrival order
        server.log                      # every request: host header, path, headers

``sites`` may be changed after construction (``server.sites[host].update(...)``),
e.g. to put absolute URLs with ``server.port`` in pages; lookups read it per request.
Routing uses the Host header's name without the port, lower-cased; a request
for a host not in ``sites`` gets 404 and is still recorded (under that name).
Paths are matched with their query string first, then without it. A
directory site serves files under the directory (``/`` → ``index.html``) and
refuses paths that escape it. Bodies are sent with ``Content-Length``;
``HEAD`` and single byte ranges (``Range: bytes=A-B``, answered 206) are supported. Nothing is written to stderr.

Why a custom server instead of ``http.server`` on a directory: crawler tests
need several host names on one port (through ``--resolve``), wrong content
types on purpose, and a record of what was requested so they can assert that
a page forbidden by robots.txt was never fetched.
"""

from __future__ import annotations

import mimetypes
import re
import threading
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self
from urllib.parse import unquote, urlsplit

__all__ = ["Content", "LoopbackServer", "Reply", "RequestLog", "Site", "SiteServer"]


@dataclass(frozen=True)
class Reply:
    """A full response for one path: body, status, type and extra headers."""

    body: bytes = b""
    content_type: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestLog:
    """One request as the server saw it."""

    host: str  # the Host header's name, lower case, no port
    host_header: str  # the Host header as sent, e.g. "kino.example.kz:8081"
    method: str
    path: str  # with the query string
    headers: dict[str, str]


Content = bytes | tuple[bytes, str] | Reply
Site = Path | Mapping[str, Content]


class LoopbackServer:
    """An HTTP server on a loopback address, run from a background thread; a context manager.

    Subclasses give the request handler (:meth:`_handler_class`) and the host
    names they answer for (:meth:`hosts`); this class owns the socket, the thread
    and the ``--resolve`` arguments that point the crawler's made-up names at it.
    """

    def __init__(self, address: str = "127.0.0.1", port: int = 0) -> None:
        self.address = address
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((address, port), self._handler_class())
        self._httpd.daemon_threads = True
        self.port: int = self._httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        raise NotImplementedError

    def hosts(self) -> list[str]:
        """The host names this server answers for, in the order ``resolve_args`` lists them."""
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def url(self, host: str, path: str = "/") -> str:
        """The URL of ``path`` on site ``host`` as a client would write it."""
        return f"http://{host}:{self.port}{path}"

    def resolve_args(self, hosts: list[str] | None = None) -> list[str]:
        """``--resolve`` arguments mapping ``hosts`` (default: every site) to this server."""
        args: list[str] = []
        for host in hosts or self.hosts():
            args += ["--resolve", f"{host}:{self.port}:{self.address}"]
        return args


class SiteServer(LoopbackServer):
    """Serves ``sites`` on a loopback address from a background thread; a context manager.

    ``address`` may be any 127.x.y.z, so tests can place a site on an address an
    IP-to-country table maps to a state.
    """

    def __init__(
        self, sites: Mapping[str, Site], port: int = 0, address: str = "127.0.0.1"
    ) -> None:
        self.sites = {name.lower(): site for name, site in sites.items()}
        self.requests: dict[str, list[str]] = defaultdict(list)
        self.log: list[RequestLog] = []
        super().__init__(address, port)

    def hosts(self) -> list[str]:
        return list(self.sites)

    def lookup(self, host: str, path: str) -> Reply | None:
        """The reply for ``path`` on ``host``, or None (404)."""
        site = self.sites.get(host)
        if site is None:
            return None
        if isinstance(site, Path):
            return _from_directory(site, path)
        content = site.get(path)
        if content is None:
            content = site.get(urlsplit(path).path)
        if content is None:
            return None
        if isinstance(content, Reply):
            return content
        if isinstance(content, tuple):
            return Reply(body=content[0], content_type=content[1])
        return Reply(body=content, content_type=_guess_type(urlsplit(path).path))

    def _record(self, entry: RequestLog) -> None:
        with self._lock:
            self.requests[entry.host].append(entry.path)
            self.log.append(entry)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            server_version = "SiteServer/1"

            def do_GET(self) -> None:
                self._serve(send_body=True)

            def do_HEAD(self) -> None:
                self._serve(send_body=False)

            def _serve(self, send_body: bool) -> None:
                host_header = self.headers.get("Host", "")
                host = _host_name(host_header)
                server._record(
                    RequestLog(host, host_header, self.command, self.path, dict(self.headers))
                )
                reply = server.lookup(host, self.path) or Reply(
                    b"not found", "text/plain", status=404
                )
                reply = _ranged(reply, self.headers.get("Range", ""))
                self.send_response(reply.status)
                if reply.content_type:
                    self.send_header("Content-Type", reply.content_type)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(reply.body)))
                self.end_headers()
                if send_body:
                    try:
                        self.wfile.write(reply.body)
                    except ConnectionError:
                        # The client hung up mid-body: browsers abort fetches they no
                        # longer need (ReplayWeb.page reads a WACZ's length that way).
                        # Nothing went wrong here, so no traceback on stderr.
                        self.close_connection = True

            def log_message(self, format: str, *args: object) -> None:
                pass  # tests read server.log instead of stderr noise

        return Handler


def _ranged(reply: Reply, header: str) -> Reply:
    """The part of a 200 reply a single ``Range: bytes=A-B`` (or ``A-``) asks for, as a 206."""
    match = re.fullmatch(r"\s*bytes=(\d+)-(\d*)\s*", header)
    if reply.status != 200 or match is None:
        return reply
    size = len(reply.body)
    first = int(match.group(1))
    last = min(int(match.group(2)) if match.group(2) else size - 1, size - 1)
    if first >= size or last < first:
        return Reply(b"", reply.content_type, 416, {"Content-Range": f"bytes */{size}"})
    headers = {**reply.headers, "Content-Range": f"bytes {first}-{last}/{size}"}
    return Reply(reply.body[first : last + 1], reply.content_type, 206, headers)


def _host_name(host_header: str) -> str:
    host = host_header.strip().lower()
    if host.startswith("["):  # [::1]:8080
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if ":" in host else host


def _guess_type(path: str) -> str:
    if path.endswith("/") or "." not in path.rsplit("/", 1)[-1]:
        return "text/html; charset=utf-8"
    kind, _ = mimetypes.guess_type(path)
    if kind is None:
        return "application/octet-stream"
    return f"{kind}; charset=utf-8" if kind.startswith("text/") else kind


def _from_directory(root: Path, path: str) -> Reply | None:
    relative = unquote(urlsplit(path).path).lstrip("/")
    if relative == "" or relative.endswith("/"):
        relative += "index.html"
    base = root.resolve()
    candidate = (base / relative).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return Reply(body=candidate.read_bytes(), content_type=_guess_type(candidate.name))
