"""The embedded bus: topics as rows of one SQLite database under the home directory.

One partition per topic; the offset is the row id. SQLite's write-ahead log with
``synchronous=FULL`` makes a publish durable when it returns, also across
``kill -9`` and power loss. Committed offsets live in the same database, so a
consumer group resumes exactly where it committed.

A write that fails (a full disk, a lock held too long), a publish or a
commit, raises :class:`~tanba.core.exceptions.TransientError`
(:class:`~tanba.core.exceptions.DiskFull` when space ran out, naming the file and
the file system) after rolling back, so the worker runtime retries it; a
commit that never succeeds only means the batch is replayed, which stages
make idempotent.

Limits: one process at a time should consume a given group (there is no
partition assignment: two members would both see every message, which is safe
because effects are idempotent, but wasteful). Scale-out is Kafka's job.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from tanba.core.bus.base import Bus, Consumer, Message, OnRevoked, Record
from tanba.core.sqlite import Database

_SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    offset INTEGER PRIMARY KEY AUTOINCREMENT,
    topic TEXT NOT NULL,
    key TEXT,
    value BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS messages_topic ON messages (topic, offset);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL,
    topic TEXT NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, topic)
);
"""

_POLL_INTERVAL_S = 0.05


class EmbeddedBus(Bus):
    """A durable bus in one SQLite file; safe for threads and for several processes."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._db = Database(self.path, _SCHEMA, "the embedded bus")

    def _conn(self) -> sqlite3.Connection:
        return self._db.conn()

    def publish(self, topic: str, records: Sequence[Record]) -> None:
        if not records:
            return
        with self._db.write() as conn:
            conn.executemany(
                "INSERT INTO messages (topic, key, value) VALUES (?, ?, ?)",
                [(topic, r.key, r.value) for r in records],
            )

    def consumer(
        self, group: str, topics: Sequence[str], *, on_revoked: OnRevoked | None = None
    ) -> Consumer:
        # One partition and no assignment: nothing is ever revoked, so on_revoked is not called.
        return EmbeddedConsumer(self, group, list(topics))

    def replay(self, topic: str, after: dict[int, int] | None = None) -> Iterator[Message]:
        start = (after or {}).get(0, -1)
        rows = self._conn().execute(
            "SELECT offset, key, value FROM messages WHERE topic = ? AND offset > ? ORDER BY offset",
            (topic, start),
        )
        for offset, key, value in rows:
            yield Message(topic, 0, offset, key, value)

    def end_offsets(self, topic: str) -> int:
        """The offset of the newest message of ``topic`` (0 when empty); for lag and progress."""
        row = (
            self._conn()
            .execute("SELECT COALESCE(MAX(offset), 0) FROM messages WHERE topic = ?", (topic,))
            .fetchone()
        )
        return int(row[0])

    def group_lag(self, group: str, topics: Sequence[str]) -> int:
        return EmbeddedConsumer(self, group, list(topics)).lag()

    def close(self) -> None:
        self._db.close()


class EmbeddedConsumer(Consumer):
    """A group member that reads from the group's committed offsets in the shared database."""

    def __init__(self, bus: EmbeddedBus, group: str, topics: list[str]) -> None:
        self._bus = bus
        self.group = group
        self.topics = topics
        # Positions handed out but maybe not committed yet; starts at the committed ones.
        self._position = {t: self._committed(t) for t in topics}
        self._paused = False

    def _committed(self, topic: str) -> int:
        row = (
            self._bus._conn()
            .execute(
                "SELECT next_offset FROM group_offsets WHERE grp = ? AND topic = ?",
                (self.group, topic),
            )
            .fetchone()
        )
        return int(row[0]) if row else 0

    def pause(self, paused: bool) -> None:
        self._paused = paused

    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        if self._paused:
            time.sleep(timeout_s)
            return []
        deadline = time.monotonic() + timeout_s
        while True:
            batch: list[Message] = []
            for topic in self.topics:
                rows = (
                    self._bus._conn()
                    .execute(
                        "SELECT offset, key, value FROM messages WHERE topic = ? AND offset >= ?"
                        " ORDER BY offset LIMIT ?",
                        (topic, self._position[topic], max_messages - len(batch)),
                    )
                    .fetchall()
                )
                batch.extend(Message(topic, 0, o, k, v) for o, k, v in rows)
                if rows:
                    self._position[topic] = rows[-1][0] + 1
                if len(batch) >= max_messages:
                    break
            if batch or time.monotonic() >= deadline:
                return batch
            time.sleep(_POLL_INTERVAL_S)

    def commit(self, messages: Sequence[Message]) -> None:
        newest: dict[str, int] = {}
        for m in messages:
            newest[m.topic] = max(newest.get(m.topic, -1), m.offset)
        if not newest:
            return
        with self._bus._db.write() as conn:
            for topic, offset in newest.items():
                conn.execute(
                    "INSERT INTO group_offsets (grp, topic, next_offset) VALUES (?, ?, ?)"
                    " ON CONFLICT (grp, topic) DO UPDATE SET"
                    " next_offset = MAX(next_offset, excluded.next_offset)",
                    (self.group, topic, offset + 1),
                )

    def lag(self) -> int:
        """Messages of the group's topics at or after the committed offsets.

        Counted rather than subtracted: offsets are row ids shared by all topics, so
        "newest offset minus committed" would count other topics' messages too.
        """
        conn = self._bus._conn()
        return sum(
            int(
                conn.execute(
                    "SELECT COUNT(*) FROM messages WHERE topic = ? AND offset >= ?",
                    (topic, self._committed(topic)),
                ).fetchone()[0]
            )
            for topic in self.topics
        )

    def close(self) -> None:
        # Forget uncommitted positions: the next member starts from the committed offsets.
        self._position = {t: self._committed(t) for t in self.topics}
