"""Login throttling: too many failed logins for one user name, or from one address, wait a while.

Policy (a sliding window): at most :data:`USER_LIMIT` failed logins per user
name and :data:`ADDRESS_LIMIT` per client address within :data:`WINDOW`. Once a
limit is reached, further logins for that name (or from that address) are
refused, without checking the password, until the oldest counted failure
leaves the window; a successful login clears its user name's failures. The
address limit is higher because many people can share one address (an
office's NAT or a reverse proxy).

Why before the password check: a refused attempt must teach an attacker
nothing (the right password is refused too) and must not cost an Argon2 hash.
The cost is that someone who knows a user name can keep its owner out by
failing on purpose; the address limit and the short window bound that, and an
administrator can see the failures in the console database.

Failures live in the console database (``login_failures``), so every worker
process of one console shares them, and the clock is injected (tests move it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from console.db import Database
from console.exceptions import TooManyLogins
from tanba.clock import Clock, iso, parse_iso
from tanba.sqlite import transaction

USER_LIMIT = 5
ADDRESS_LIMIT = 20
WINDOW = timedelta(minutes=15)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key_at ON login_failures (key, at);
"""


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` failed logins per key within ``window``."""

    failures: int
    window: timedelta


class LoginThrottle:
    """Counts failed logins per user name and per address; refuses while a limit is reached."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        per_user: Limit = Limit(USER_LIMIT, WINDOW),
        per_address: Limit = Limit(ADDRESS_LIMIT, WINDOW),
    ) -> None:
        self._db = db
        self._clock = clock
        self._per_user = per_user
        self._per_address = per_address
        db.conn().executescript(_SCHEMA)

    def check(self, username: str, address: str) -> None:
        """Raise TooManyLogins (with the seconds to wait) if either limit is reached."""
        now = self._clock.now()
        waits = [
            self._wait(key, limit, now)
            for key, limit in self._keys(username, address)
            if limit.failures > 0
        ]
        wait = max(waits, default=0.0)
        if wait > 0:
            raise TooManyLogins(wait)

    def failed(self, username: str, address: str) -> None:
        """Count one failed login for the user name and for the address."""
        now = self._clock.now()
        oldest = now - max(self._per_user.window, self._per_address.window)
        with transaction(self._db.conn()) as conn:
            # Old failures are swept here, so the table stays small whatever the traffic.
            conn.execute("DELETE FROM login_failures WHERE at < ?", (iso(oldest),))
            conn.executemany(
                "INSERT INTO login_failures VALUES (?, ?)",
                [(key, iso(now)) for key, _ in self._keys(username, address)],
            )

    def succeeded(self, username: str) -> None:
        """Forget the user name's failures (not the address's: others may share it)."""
        with transaction(self._db.conn()) as conn:
            conn.execute("DELETE FROM login_failures WHERE key = ?", (_user_key(username),))

    def _keys(self, username: str, address: str) -> list[tuple[str, Limit]]:
        keys = [(_user_key(username), self._per_user)]
        if address:
            keys.append((f"addr:{address}", self._per_address))
        return keys

    def _wait(self, key: str, limit: Limit, now: datetime) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        since = now - limit.window
        rows = (
            self._db.conn()
            .execute(
                "SELECT at FROM login_failures WHERE key = ? AND at > ? ORDER BY at DESC LIMIT ?",
                (key, iso(since), limit.failures),
            )
            .fetchall()
        )
        if len(rows) < limit.failures:
            return 0.0
        # The oldest of the last `failures` failures leaves the window at this moment.
        free_at = parse_iso(rows[-1][0]) + limit.window
        return max(0.0, (free_at - now).total_seconds())


def _user_key(username: str) -> str:
    return f"user:{username.strip().lower()}"
