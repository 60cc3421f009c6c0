"""The console's SQLite database under the home directory: one connection per thread.

Users, sessions, API tokens, crawl targets and crawl runs share one file; each
store creates its own tables. FastAPI runs plain endpoints in a thread pool,
so connections are per thread (SQLite connections must not be shared while in use).
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from tanba.settings import Settings
from tanba.sqlite import connect

DB_FILE = ("console", "console.sqlite3")


def db_path(settings: Settings) -> Path:
    """Where the console's database lives under the home directory."""
    return settings.path(*DB_FILE)


class Database:
    """A SQLite file opened lazily once per thread, with a schema applied on first open."""

    def __init__(self, path: Path, schema: str) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._schema = schema
        self._local = threading.local()
        self.conn().executescript(schema)

    def conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = connect(self.path)
        return conn

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
