"""A loopback web server that records how many requests each host has in flight at once.

:class:`CountingServer` is the demo's :class:`~tanba.app.demo.server.SiteServer` with
three additions for the crawl-job tests:

* ``peak[host]``: the most requests to ``host`` it ever had at the same time (a
  request counts from its arrival until its answer starts: a subset of the time the
  client waits for it, so a peak above the crawler's limit is a real overlap, never
  one the server's own threads made by answering late);
* ``hold_s``: every answer waits this long first, so a crawler that keeps more
  requests to a site in flight than its per-domain limit is seen doing so;
* ``gate``: requests to the hosts in ``gated`` wait until the gate is opened (or the
  server closes), so a test can keep jobs unfinished by construction, not by timing;
  ``held`` counts the requests waiting there now.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler
from typing import Any

from tanba.app.demo.server import SiteServer


class CountingServer(SiteServer):
    """See the module doc."""

    def __init__(
        self,
        sites: Mapping[str, Any],
        *,
        hold_s: float = 0.0,
        gated: frozenset[str] = frozenset(),
    ) -> None:
        self.hold_s = hold_s
        self.gated = gated
        self.gate = threading.Event()
        self.in_flight: Counter[str] = Counter()
        self.peak: Counter[str] = Counter()
        self.held = 0
        self._counts = threading.Lock()
        self._closing = threading.Event()
        super().__init__(sites)

    def open_gate(self) -> None:
        self.gate.set()

    def close(self) -> None:
        self._closing.set()
        self.gate.set()
        super().close()

    def _enter(self, host: str) -> None:
        with self._counts:
            self.in_flight[host] += 1
            self.peak[host] = max(self.peak[host], self.in_flight[host])

    def _leave(self, host: str) -> None:
        with self._counts:
            self.in_flight[host] -= 1

    def _wait_at_gate(self, host: str) -> None:
        if host not in self.gated or self.gate.is_set():
            return
        with self._counts:
            self.held += 1
        try:
            self.gate.wait()
        finally:
            with self._counts:
                self.held -= 1

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        base: Any = super()._handler_class()
        server = self

        class Counting(base):  # type: ignore[misc,valid-type]
            counted = ""

            def _serve(self, send_body: bool) -> None:
                host = self.headers.get("Host", "").lower().rsplit(":", 1)[0]
                server._enter(host)
                self.counted = host
                try:
                    server._wait_at_gate(host)
                    server._closing.wait(server.hold_s)
                    try:
                        super()._serve(send_body)
                    except OSError:  # the crawler was killed: its socket is gone
                        self.close_connection = True
                finally:
                    self._uncount()

            def send_response(self, code: int, message: str | None = None) -> None:
                # Out of flight before any byte of the answer leaves: the client cannot
                # have its answer (and ask again) while it still counts here, so every
                # overlap counted is one the crawler really made.
                self._uncount()
                super().send_response(code, message)

            def _uncount(self) -> None:
                if self.counted:
                    server._leave(self.counted)
                    self.counted = ""

        return Counting
