"""The embedded works catalogue: one SQLite file under the home, with an FTS5 word index.

Rows hold the entry as JSON beside its sort and filter columns; partial indexes on
the current (not removed) rows serve the list order (owner, title key, work id),
alone or within one owner or one media kind, so a page and a cursor seek walk an
index. Text search is an FTS5 prefix query over the words of title, file name and
id (:func:`~tanba.core.works_catalog.base.words`). A removed work keeps a row
(``removed = 1``) with its event's offset, so an older event folded late cannot
bring it back.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from tanba.core.sqlite import Database, Where
from tanba.core.works_catalog.base import Change, SortKey, WorkCatalog, WorkEntry, WorkQuery, words

_SCHEMA = """
CREATE TABLE IF NOT EXISTS works (
    id INTEGER PRIMARY KEY,
    work_id TEXT NOT NULL UNIQUE,
    version INTEGER NOT NULL,
    removed INTEGER NOT NULL DEFAULT 0,
    owner TEXT NOT NULL DEFAULT '',
    title_key TEXT NOT NULL DEFAULT '',
    media TEXT NOT NULL DEFAULT '',
    doc TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS works_order ON works (owner, title_key, work_id) WHERE removed = 0;
CREATE INDEX IF NOT EXISTS works_media_order
    ON works (media, owner, title_key, work_id) WHERE removed = 0;
CREATE VIRTUAL TABLE IF NOT EXISTS works_text USING fts5(
    words, tokenize='unicode61 remove_diacritics 0'
);
CREATE TABLE IF NOT EXISTS positions (
    partition INTEGER PRIMARY KEY,
    offset INTEGER NOT NULL
);
"""


class EmbeddedWorkCatalog(WorkCatalog):
    """Works in one SQLite file (``works.sqlite3`` under the home)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = Database(self.path, _SCHEMA, "the works catalogue")

    def apply(self, changes: Sequence[Change], positions: Mapping[int, int]) -> None:
        with self._db.write() as conn:
            for change in changes:
                _write(conn, change)
            conn.executemany(
                "INSERT INTO positions VALUES (?, ?) ON CONFLICT(partition) DO UPDATE"
                " SET offset = max(offset, excluded.offset)",
                list(positions.items()),
            )

    def positions(self) -> dict[int, int]:
        rows = self._db.conn().execute("SELECT partition, offset FROM positions")
        return {int(p): int(o) for p, o in rows}

    def get(self, work_id: str) -> WorkEntry | None:
        row = (
            self._db.conn()
            .execute("SELECT doc FROM works WHERE work_id = ? AND removed = 0", (work_id,))
            .fetchone()
        )
        return WorkEntry.model_validate_json(row[0]) if row else None

    def _page(self, query: WorkQuery, after: SortKey | None) -> tuple[list[WorkEntry], int]:
        where, params = _where(query)
        conn = self._db.conn()
        total = int(conn.execute(f"SELECT COUNT(*) FROM works WHERE {where}", params).fetchone()[0])
        if after is not None:
            where += " AND (owner, title_key, work_id) > (?, ?, ?)"
            params = [*params, *after]
        rows = conn.execute(
            f"SELECT doc FROM works WHERE {where} ORDER BY owner, title_key, work_id LIMIT ?",
            [*params, query.limit + 1],
        ).fetchall()
        return [WorkEntry.model_validate_json(doc) for (doc,) in rows], total

    def owners(self) -> list[str]:
        rows = self._db.conn().execute(
            "SELECT DISTINCT owner FROM works WHERE removed = 0 ORDER BY owner"
        )
        return [str(o) for (o,) in rows]

    def drop(self) -> None:
        with self._db.write() as conn:
            conn.execute("DELETE FROM works")
            conn.execute("DELETE FROM works_text")
            conn.execute("DELETE FROM positions")

    def close(self) -> None:
        self._db.close()


def _write(conn: Any, change: Change) -> None:
    """Write one change unless the row holds a later version; keeps the word index in step."""
    row = conn.execute(
        "SELECT id, version FROM works WHERE work_id = ?", (change.work_id,)
    ).fetchone()
    if row is not None and row[1] >= change.version:
        return
    entry = change.entry
    values = (
        change.version,
        0 if entry else 1,
        entry.owner if entry else "",
        entry.title_key() if entry else "",
        entry.media if entry else "",
        entry.model_dump_json() if entry else "",
    )
    if row is None:
        rowid = conn.execute(
            "INSERT INTO works (version, removed, owner, title_key, media, doc, work_id)"
            " VALUES (?,?,?,?,?,?,?)",
            (*values, change.work_id),
        ).lastrowid
    else:
        rowid = row[0]
        conn.execute(
            "UPDATE works SET version = ?, removed = ?, owner = ?, title_key = ?, media = ?,"
            " doc = ? WHERE id = ?",
            (*values, rowid),
        )
        conn.execute("DELETE FROM works_text WHERE rowid = ?", (rowid,))
    if entry is not None:
        conn.execute(
            "INSERT INTO works_text (rowid, words) VALUES (?, ?)", (rowid, entry.search_text())
        )


def _where(q: WorkQuery) -> tuple[str, list[Any]]:
    """The WHERE clause of a query; column names are fixed here, values are parameters."""
    where = Where(["removed = 0"])
    where.equal(q, ("owner", "media"))
    for column, scope in (("owner", q.owners), ("work_id", q.work_ids)):
        if scope is not None:  # an empty scope: nothing
            where.add(f"{column} IN (SELECT value FROM json_each(?))", json.dumps(list(scope)))
    terms = words(q.text)
    if terms:
        where.add(
            "id IN (SELECT rowid FROM works_text WHERE works_text MATCH ?)",
            " AND ".join(f'"{t}"*' for t in terms),
        )
    return where.sql(), where.params
