"""The console's SQLite database under the home directory (a :class:`~tanba.core.sqlite.Database`).

Users, sessions, API tokens, crawl targets and crawl runs share one file; each
store creates its own tables. FastAPI runs plain endpoints in a thread pool,
so connections are per thread (SQLite connections must not be shared while in use).
"""

from __future__ import annotations

from pathlib import Path

from tanba.core.settings import Settings

DB_FILE = ("console", "console.sqlite3")


def db_path(settings: Settings) -> Path:
    """Where the console's database lives under the home directory."""
    return settings.path(*DB_FILE)
