"""What the ``tanba`` sub-commands share: the handler type, tables, JSON lines, and the
lines that show a crawl's failed fetches with their reasons."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from tanba.core.hosts import for_people
from tanba.core.schemas.crawls import FAILURE_REASONS, FetchFailure
from tanba.core.wiring import App
from tanba.crawlers.stats import CrawlStats

#: Failed fetches a crawl's summary lists one per line; the rest are counted, and listed
#: by `tanba targets show ID` and on the target's page in the console.
FAILURES_SHOWN = 20

# A sub-command: the installation, the parsed arguments -> the exit status.
Handler = Callable[[App, argparse.Namespace], int]


def emit(rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    """Rows as JSON lines, or as a table of ``columns`` (cells cut at 60 characters).

    JSON carries what is stored (host names in their ASCII form, one string per name, for
    scripts); the table shows them as people read them (мысал.қаз, :func:`for_people`).
    """
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        print("(none)")
        return
    cells = [{c: for_people(str(r.get(c, ""))) for c in columns} for r in rows]
    widths = {c: max(len(c), *(len(r[c]) for r in cells)) for c in columns}
    print("  ".join(c.ljust(min(widths[c], 60)) for c in columns))
    for r in cells:
        print("  ".join(r[c][:60].ljust(min(widths[c], 60)) for c in columns))


def reason_counts(failures: dict[str, int]) -> str:
    """``dns 1, timeout 2`` in the order of FAILURE_REASONS, or "none"."""
    parts = [f"{code} {failures[code]}" for code in FAILURE_REASONS if failures.get(code)]
    return ", ".join(parts) or "none"


def failure_line(failure: FetchFailure) -> str:
    """One failed fetch: its URL, then why, in words, and what the crawler saw."""
    where = f" (linked from {failure.referrer})" if failure.referrer else ""
    detail = f": {failure.detail}" if failure.detail else ""
    return for_people(f"{failure.url}{where}\n      {failure.kind}, {failure.reason_text}{detail}")


def failure_lines(stats: CrawlStats, limit: int = FAILURES_SHOWN) -> list[str]:
    """The crawl's failed fetches per target, by reason, and the first ``limit`` of them."""
    total = stats.total()
    if not total.failure_count():
        return ["  failed fetches 0"]
    out = [f"  failed fetches {total.failure_count()}: {reason_counts(total.failures)}"]
    shown = 0
    for key, tally in stats.targets.items():
        if not tally.failure_count():
            continue
        label = stats.name_of(key) + (f" (id {key})" if key != stats.name_of(key) else "")
        out.append(f"    {label}: {reason_counts(tally.failures)}")
        for failure in tally.failed:
            if shown == limit:
                break
            out.append(f"    - {failure_line(failure)}")
            shown += 1
    hidden = total.failure_count() - shown
    if hidden:
        out.append(f"    ({hidden} more: 'tanba targets show ID' lists a target's failed fetches)")
    return out
