"""Screenshots of a page for evidence: headless Debian Chromium, kept off the internal network.

Contract: a :class:`Screenshotter` says whether it can take screenshots
(:meth:`~Screenshotter.available` is "" or the reason not) and takes a
full-page PNG of a URL, raising with a message saying why it could not.
:class:`ChromiumScreenshotter` drives Debian's Chromium through Playwright
(never downloading a browser), honours the ``--resolve`` map as the crawler
does, and aborts every load whose host is neither mapped nor public, so a
hostile page cannot point the browser's subresource loads at the internal
network. :class:`NoScreenshots` is the screenshotter of
installations without a browser.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

from tanba.core.browser import CHROMIUM, CHROMIUM_ARGS, resolver_rules
from tanba.core.net import is_public_address

__all__ = ["CHROMIUM", "CHROMIUM_ARGS", "ChromiumScreenshotter", "NoScreenshots", "Screenshotter"]

log = logging.getLogger(__name__)

VIEWPORT_WIDTH, VIEWPORT_HEIGHT = 1280, 900


class Screenshotter(Protocol):
    """Takes a full-page PNG of a URL; raises on failure with a message saying why."""

    def available(self) -> str:
        """ "" when ready, else the reason no screenshot can be taken (e.g. not installed)."""
        ...

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes: ...


class NoScreenshots:
    """The screenshotter of installations without a browser: never takes one, and says so."""

    def __init__(self, reason: str = "screenshots are turned off for this capture") -> None:
        self.reason = reason

    def available(self) -> str:
        return self.reason

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes:
        raise RuntimeError(self.reason)


class ChromiumScreenshotter:
    """Headless Debian Chromium driven by Playwright; never downloads a browser."""

    def __init__(self, executable: Path = CHROMIUM) -> None:
        self.executable = executable

    def available(self) -> str:
        if not self.executable.exists():
            return (
                f"Chromium is not installed at {self.executable} (apt-get install chromium);"
                " no screenshot was taken"
            )
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            return "the playwright Python package is not installed; no screenshot was taken"
        return ""

    def shoot(self, url: str, resolve: Mapping[str, str], timeout_s: float) -> bytes:
        from playwright.sync_api import Route, sync_playwright

        args = [*CHROMIUM_ARGS, *resolver_rules(resolve)]

        def guard(route: Route) -> None:
            why = _refusal(route.request.url, resolve)
            if why:
                log.warning("screenshot of %s: blocked %s (%s)", url, route.request.url, why)
                route.abort("addressunreachable")
            else:
                route.continue_()

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(self.executable), args=args)
            try:
                context = browser.new_context(
                    viewport={"width": VIEWPORT_WIDTH, "height": VIEWPORT_HEIGHT},
                    ignore_https_errors=True,
                )
                page = context.new_page()
                page.route("**/*", guard)
                page.goto(url, wait_until="load", timeout=timeout_s * 1000)
                return page.screenshot(full_page=True, type="png")
            finally:
                browser.close()


def _refusal(url: str, resolve: Mapping[str, str]) -> str:
    """Why ``url`` may not be fetched ("" when it may): mapped hosts are the operator's choice."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        return "" if parts.scheme in ("data", "blob", "about") else f"scheme {parts.scheme!r}"
    host = (parts.hostname or "").rstrip(".").lower()
    if host in resolve:
        return ""
    try:
        infos = socket.getaddrinfo(host, parts.port or 443, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        return f"{host} does not resolve ({exc})"
    for info in infos:
        address = str(info[4][0]).split("%")[0]
        if not is_public_address(address):
            return f"{host} resolves to non-public address {address}"
    return ""
