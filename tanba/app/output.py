"""What the ``tanba`` sub-commands share: the handler type, tables and JSON lines."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Sequence
from typing import Any

from tanba.core.wiring import App

# A sub-command: the installation, the parsed arguments -> the exit status.
Handler = Callable[[App, argparse.Namespace], int]


def emit(rows: list[dict[str, Any]], as_json: bool, columns: Sequence[str]) -> None:
    """Rows as JSON lines, or as a table of ``columns`` (cells cut at 60 characters)."""
    if as_json:
        for row in rows:
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return
    if not rows:
        print("(none)")
        return
    widths = {c: max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(min(widths[c], 60)) for c in columns))
    for r in rows:
        print("  ".join(str(r.get(c, ""))[:60].ljust(min(widths[c], 60)) for c in columns))
