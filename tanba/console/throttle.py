"""Login throttling that slows password guessing without letting a stranger lock a user out.

Policy (sliding windows of :data:`WINDOW`), checked before the password:

* per (user name, address): at most :data:`PAIR_LIMIT` failures; this is what
  stops one guesser against one account;
* per address: at most :data:`ADDRESS_LIMIT` failures over every user name (one
  address trying many names); higher, as an office's NAT or a proxy is shared;
* per user name: at most :data:`USER_LIMIT` failures from all addresses
  together (a guesser spread over many addresses), but this limit applies only
  to addresses the user has never logged in from. An address where the user
  logged in successfully within :data:`KNOWN_FOR` is *known*, and the user name
  limit never refuses it.

So an attacker elsewhere, however many failures they pile up, can slow down
only logins from unknown addresses; the owner keeps logging in from their
usual addresses with the right password. A success clears its own (user name,
address) failures, but not the user name's: otherwise the owner's own login
would give a distributed guesser a fresh allowance.

Why before the password check: a refused attempt must teach an attacker
nothing (the right password is refused too) and must not cost an Argon2 hash.

Addresses are compared by network where one holder has many addresses: IPv4
by address, IPv6 by its /64 (a single host usually owns a whole /64, so
counting per IPv6 address would give it 2^64 allowances). Failures and known
addresses live in the console database, so every worker process of one
console shares them, and the clock is injected (tests move it).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import datetime, timedelta

from tanba.console.exceptions import TooManyLogins
from tanba.core.clock import Clock, iso, parse_iso
from tanba.core.sqlite import Database, transaction

PAIR_LIMIT = 5
ADDRESS_LIMIT = 20
USER_LIMIT = 10
WINDOW = timedelta(minutes=15)
KNOWN_FOR = timedelta(days=90)  # a successful login makes its address known this long
KNOWN_MAX = 20  # known addresses kept per user (the most recent)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS login_failures (
    key TEXT NOT NULL,
    at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_key_at ON login_failures (key, at);
CREATE TABLE IF NOT EXISTS login_addresses (
    username TEXT NOT NULL,
    network TEXT NOT NULL,
    last_login_at TEXT NOT NULL,
    PRIMARY KEY (username, network)
);
"""


@dataclass(frozen=True)
class Limit:
    """At most ``failures`` failed logins per key within ``window``; 0 failures: no limit."""

    failures: int
    window: timedelta


@dataclass(frozen=True)
class Policy:
    """The limits of the module doc, and how long a login makes its address known."""

    per_pair: Limit = Limit(PAIR_LIMIT, WINDOW)
    per_address: Limit = Limit(ADDRESS_LIMIT, WINDOW)
    per_user: Limit = Limit(USER_LIMIT, WINDOW)
    known_for: timedelta = KNOWN_FOR

    @property
    def longest_window(self) -> timedelta:
        """How long a failure may count: older ones are swept."""
        return max(self.per_pair.window, self.per_address.window, self.per_user.window)


class LoginThrottle:
    """Counts failed logins per (user, address), address and user; refuses while a limit is reached."""

    def __init__(self, db: Database, clock: Clock, policy: Policy = Policy()) -> None:
        self._db = db
        self._clock = clock
        self._policy = policy
        db.conn().executescript(_SCHEMA)

    def check(self, username: str, address: str) -> None:
        """Raise TooManyLogins (with the seconds to wait) if a limit for this attempt is reached."""
        now = self._clock.now()
        name, network = _name(username), network_of(address)
        limits = [(_pair_key(name, network), self._policy.per_pair)]
        if network:
            limits.append((_address_key(network), self._policy.per_address))
        if not self.is_known(name, network):
            limits.append((_user_key(name), self._policy.per_user))
        wait = max((self._wait(key, limit, now) for key, limit in limits), default=0.0)
        if wait > 0:
            raise TooManyLogins(wait)

    def failed(self, username: str, address: str) -> None:
        """Count one failed login for the pair, the address and the user name."""
        now = self._clock.now()
        name, network = _name(username), network_of(address)
        keys = [_pair_key(name, network), _user_key(name)]
        if network:
            keys.append(_address_key(network))
        oldest = now - self._policy.longest_window
        with transaction(self._db.conn()) as conn:
            # Old failures are swept here, so the table stays small whatever the traffic.
            conn.execute("DELETE FROM login_failures WHERE at < ?", (iso(oldest),))
            conn.executemany(
                "INSERT INTO login_failures VALUES (?, ?)", [(key, iso(now)) for key in keys]
            )

    def succeeded(self, username: str, address: str) -> None:
        """Make ``address`` known for the user and forget the pair's failures (see the module doc)."""
        now = self._clock.now()
        name, network = _name(username), network_of(address)
        with transaction(self._db.conn()) as conn:
            conn.execute("DELETE FROM login_failures WHERE key = ?", (_pair_key(name, network),))
            if not network:
                return
            conn.execute(
                "INSERT INTO login_addresses VALUES (?, ?, ?) ON CONFLICT (username, network)"
                " DO UPDATE SET last_login_at = excluded.last_login_at",
                (name, network, iso(now)),
            )
            # Keep the most recent few per user, and none older than known_for.
            conn.execute(
                "DELETE FROM login_addresses WHERE username = ? AND (last_login_at < ? OR network"
                " NOT IN (SELECT network FROM login_addresses WHERE username = ?"
                " ORDER BY last_login_at DESC LIMIT ?))",
                (name, iso(now - self._policy.known_for), name, KNOWN_MAX),
            )

    def is_known(self, username: str, address: str) -> bool:
        """Whether the user logged in successfully from this address (network) recently."""
        network = network_of(address)
        if not network:
            return False
        since = iso(self._clock.now() - self._policy.known_for)
        row = (
            self._db.conn()
            .execute(
                "SELECT 1 FROM login_addresses WHERE username = ? AND network = ?"
                " AND last_login_at >= ?",
                (_name(username), network, since),
            )
            .fetchone()
        )
        return row is not None

    def _wait(self, key: str, limit: Limit, now: datetime) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        if limit.failures <= 0:
            return 0.0
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


def network_of(address: str) -> str:
    """The unit an address is counted by: an IPv4 address, an IPv6 /64, or the text as given."""
    text = address.strip()
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text  # not an IP (a test client's name, a socket path): counted as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _name(username: str) -> str:
    return username.strip().lower()


def _user_key(name: str) -> str:
    return f"user:{name}"


def _address_key(network: str) -> str:
    return f"addr:{network}"


def _pair_key(name: str, network: str) -> str:
    return f"pair:{name}\x00{network}"
