"""Where Debian's Chromium is and the flags every headless run of it gets.

Contract: :data:`CHROMIUM` is the browser Playwright is pointed at (Debian's
``chromium`` package; a browser is never downloaded) and :data:`CHROMIUM_ARGS`
the flags it is launched with: headless, no sandbox (it runs as the crawler's
user inside containers), no GPU, and none of the background traffic a browser
makes on its own (updates, sync, first-run pages), so every request it makes
is one a page asked for. :func:`resolver_rules` gives the ``--host-resolver-rules``
flag for a ``--resolve`` map.

Why in the core: the evidence screenshots (:mod:`tanba.evidence.screenshot`)
and the crawler's rendering of script-built pages (:mod:`tanba.crawlers.render`)
launch the same browser the same way, and the crawler may not import evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)


def resolver_rules(resolve: Mapping[str, str]) -> list[str]:
    """The Chromium flag that serves each host of ``resolve`` from its address ([] for none)."""
    if not resolve:
        return []
    rules = ", ".join(f"MAP {host} {address}" for host, address in sorted(resolve.items()))
    return [f"--host-resolver-rules={rules}"]
