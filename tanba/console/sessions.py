"""Login sessions (for browsers) and API tokens (for scripts), both hashed at rest.

A session is a random id in an HttpOnly cookie plus a CSRF token that every
state-changing request from that session must echo (form field or header).
An API token is ``tnb_<id>_<secret>`` sent as ``Authorization: Bearer``; it
carries no ambient authority (a browser never sends it by itself), so such
requests need no CSRF token.

Only SHA-256 digests of session ids and token secrets are stored: they are 256
random bits, so a slow password hash would add nothing but latency, while a
leaked database copy still gives no usable credential.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from tanba.core.clock import Clock, iso, parse_iso
from tanba.core.exceptions import NotFound
from tanba.core.sqlite import Database, transaction

TOKEN_PREFIX = "tnb"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_user ON sessions (username);
CREATE TABLE IF NOT EXISTS api_tokens (
    id TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    label TEXT NOT NULL,
    secret_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_used_at TEXT NOT NULL DEFAULT ''
);
"""

RandomToken = Callable[[int], str]


@dataclass(frozen=True)
class Session:
    """A live login session: the raw id is only ever known to the browser and this object."""

    id: str
    username: str
    csrf: str
    expires_at: str


@dataclass(frozen=True)
class ApiToken:
    """An API token as listed (never with its secret)."""

    id: str
    username: str
    label: str
    created_at: str
    last_used_at: str = ""


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


class SessionStore:
    """Create, look up (sliding expiry) and end sessions; issue, check and revoke API tokens."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        lifetime: timedelta,
        random_token: RandomToken = secrets.token_urlsafe,
    ) -> None:
        self._db = db
        self._clock = clock
        self._lifetime = lifetime
        self._random = random_token
        db.conn().executescript(_SCHEMA)

    # --- sessions ---------------------------------------------------------------

    def start(self, username: str) -> Session:
        now = self._clock.now()
        session = Session(
            id=self._random(32),
            username=username,
            csrf=self._random(32),
            expires_at=iso(now + self._lifetime),
        )
        with transaction(self._db.conn()) as conn:
            # Expired sessions are swept here, on login, so the table cannot grow unbounded.
            conn.execute("DELETE FROM sessions WHERE expires_at < ?", (iso(now),))
            conn.execute(
                "INSERT INTO sessions VALUES (?,?,?,?,?)",
                (_digest(session.id), username, session.csrf, iso(now), session.expires_at),
            )
        return session

    def get(self, session_id: str) -> Session | None:
        """The session for a cookie value, extended by the lifetime; None if unknown or expired."""
        if not session_id:
            return None
        key = _digest(session_id)
        conn = self._db.conn()
        row = conn.execute(
            "SELECT username, csrf, expires_at FROM sessions WHERE key = ?", (key,)
        ).fetchone()
        now = self._clock.now()
        if row is None or parse_iso(row[2]) <= now:
            return None
        expires = now + self._lifetime
        # Extend at most once a minute: a write per request would serialise all readers.
        if parse_iso(row[2]) < expires - timedelta(minutes=1):
            with transaction(conn):
                conn.execute(
                    "UPDATE sessions SET expires_at = ? WHERE key = ?", (iso(expires), key)
                )
        return Session(id=session_id, username=row[0], csrf=row[1], expires_at=iso(expires))

    def end(self, session_id: str) -> None:
        with transaction(self._db.conn()) as conn:
            conn.execute("DELETE FROM sessions WHERE key = ?", (_digest(session_id),))

    def end_all(self, username: str) -> None:
        """Log a user out everywhere (after a password change, role change or disabling)."""
        with transaction(self._db.conn()) as conn:
            conn.execute("DELETE FROM sessions WHERE username = ?", (username,))

    # --- API tokens -------------------------------------------------------------

    def issue_token(self, username: str, label: str = "") -> tuple[ApiToken, str]:
        """A new token for ``username``: (its listing, the raw token shown once)."""
        token_id = self._random(9).replace("_", "").replace("-", "")[:10] or self._random(9)
        secret = self._random(32)
        token = ApiToken(
            id=token_id,
            username=username,
            label=label.strip()[:80],
            created_at=iso(self._clock.now()),
        )
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "INSERT INTO api_tokens VALUES (?,?,?,?,?,?)",
                (token.id, username, token.label, _digest(secret), token.created_at, ""),
            )
        return token, f"{TOKEN_PREFIX}_{token.id}_{secret}"

    def token_user(self, raw: str) -> str | None:
        """The user name a raw bearer token belongs to, or None."""
        prefix, _, rest = raw.partition("_")
        token_id, _, secret = rest.partition("_")
        if prefix != TOKEN_PREFIX or not token_id or not secret:
            return None
        conn = self._db.conn()
        row = conn.execute(
            "SELECT username, secret_sha256, last_used_at FROM api_tokens WHERE id = ?",
            (token_id,),
        ).fetchone()
        if row is None or not hmac.compare_digest(row[1], _digest(secret)):
            return None
        now = iso(self._clock.now())
        if row[2][:13] != now[:13]:  # record use once an hour at most
            with transaction(conn):
                conn.execute("UPDATE api_tokens SET last_used_at = ? WHERE id = ?", (now, token_id))
        return str(row[0])

    def tokens(self, username: str) -> list[ApiToken]:
        rows = self._db.conn().execute(
            "SELECT id, username, label, created_at, last_used_at FROM api_tokens"
            " WHERE username = ? ORDER BY created_at, id",
            (username,),
        )
        return [ApiToken(*map(str, r)) for r in rows]

    def revoke_token(self, username: str, token_id: str) -> None:
        with transaction(self._db.conn()) as conn:
            done = conn.execute(
                "DELETE FROM api_tokens WHERE id = ? AND username = ?", (token_id, username)
            )
            if done.rowcount == 0:
                raise NotFound(
                    f"no token {token_id!r} of {username}; list them on the account page"
                )
