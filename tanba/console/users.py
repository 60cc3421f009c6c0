"""Console users: who they are, their role, organisation or jurisdiction, language and password.

Passwords are hashed with Argon2id (``argon2-cffi``'s :class:`PasswordHasher`)
and re-hashed on login when the library's parameters change. A user maps to a
:class:`tanba.core.access.Principal`, which decides what they may see: a rights
holder's organisation is the ``owner`` of their works; an agency's jurisdiction
is the code of the alerts it works.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from tanba.console.dates import zone
from tanba.console.exceptions import Forbidden
from tanba.console.sessions import SessionStore
from tanba.core.access import ROLES, Principal, Role
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import InputError, NotFound
from tanba.core.sqlite import Database, transaction

LANGUAGES: tuple[str, ...] = ("ru", "en", "kk")
DEFAULT_LANGUAGE = "ru"
MIN_PASSWORD = 10
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    username TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    org TEXT NOT NULL DEFAULT '',
    jurisdiction TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    timezone TEXT NOT NULL DEFAULT ''
);
"""
_COLUMNS = "username, role, org, jurisdiction, language, disabled, created_at, timezone"


@dataclass(frozen=True)
class User:
    """A console user as stored, without the password hash."""

    username: str
    role: Role
    org: str = ""
    jurisdiction: str = ""
    language: str = DEFAULT_LANGUAGE
    disabled: bool = False
    created_at: str = ""
    timezone: str = ""  # IANA name; "" = the installation's (TANBA_EVIDENCE_TIMEZONE)

    def principal(self) -> Principal:
        """The access-control view of this user (see :mod:`tanba.core.access`)."""
        return Principal(
            name=self.username,
            role=self.role,
            owners=(self.org,) if self.role == "rights_holder" and self.org else (),
            jurisdictions=(self.jurisdiction,)
            if self.role == "agency" and self.jurisdiction
            else (),
        )


class UserStore:
    """Users in the console database; every write validates the whole user first."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        jurisdiction_codes: tuple[str, ...],
        hasher: PasswordHasher | None = None,
    ) -> None:
        self._db = db
        self._clock = clock
        self._codes = jurisdiction_codes
        self._hasher = hasher or PasswordHasher()
        self._dummy: str = ""
        conn = db.conn()
        conn.executescript(_SCHEMA)
        # Files made before users had a time zone get the column (empty: the installation's).
        if "timezone" not in {row[1] for row in conn.execute("PRAGMA table_info(users)")}:
            with transaction(conn):
                conn.execute("ALTER TABLE users ADD COLUMN timezone TEXT NOT NULL DEFAULT ''")

    def add(
        self,
        username: str,
        password: str,
        role: str,
        *,
        org: str = "",
        jurisdiction: str = "",
        language: str = DEFAULT_LANGUAGE,
    ) -> User:
        """Create a user; :class:`InputError` says what is wrong, nothing is written then."""
        user = self._validate(
            User(
                username=username.strip().lower(),
                role=role,  # type: ignore[arg-type]
                org=org.strip(),
                jurisdiction=jurisdiction.strip().upper(),
                language=language,
                created_at=iso(self._clock.now()),
            )
        )
        _check_password(password)
        with transaction(self._db.conn()) as conn:
            if conn.execute("SELECT 1 FROM users WHERE username = ?", (user.username,)).fetchone():
                raise UserInvalid(
                    f"user {user.username!r} exists; change it with 'tanba users edit {user.username}' (or in the console's Users page)",
                    "username",
                    "exists",
                    username=user.username,
                )
            conn.execute(
                "INSERT INTO users VALUES (?,?,?,?,?,?,?,?,?)",
                (
                    user.username,
                    user.role,
                    user.org,
                    user.jurisdiction,
                    user.language,
                    self._hasher.hash(password),
                    0,
                    user.created_at,
                    user.timezone,
                ),
            )
        return user

    def get(self, username: str) -> User | None:
        row = (
            self._db.conn()
            .execute(
                f"SELECT {_COLUMNS} FROM users WHERE username = ?",
                (username.strip().lower(),),
            )
            .fetchone()
        )
        return _user(row) if row else None

    def require(self, username: str) -> User:
        user = self.get(username)
        if user is None:
            raise NotFound(f"no user {username!r}; see the users page or 'tanba users list'")
        return user

    def all(self) -> list[User]:
        rows = self._db.conn().execute(f"SELECT {_COLUMNS} FROM users ORDER BY username")
        return [_user(r) for r in rows]

    def update(
        self,
        username: str,
        *,
        role: str | None = None,
        org: str | None = None,
        jurisdiction: str | None = None,
        language: str | None = None,
        disabled: bool | None = None,
        password: str | None = None,
        timezone: str | None = None,
    ) -> User:
        """Change some fields of a user; the result is validated as a whole."""
        current = self.require(username)
        user = self._validate(
            User(
                username=current.username,
                role=(role or current.role),  # type: ignore[arg-type]
                org=current.org if org is None else org.strip(),
                jurisdiction=current.jurisdiction
                if jurisdiction is None
                else jurisdiction.strip().upper(),
                language=language or current.language,
                disabled=current.disabled if disabled is None else disabled,
                created_at=current.created_at,
                timezone=current.timezone if timezone is None else timezone.strip(),
            )
        )
        with transaction(self._db.conn()) as conn:
            conn.execute(
                "UPDATE users SET role=?, org=?, jurisdiction=?, language=?, disabled=?,"
                " timezone=? WHERE username=?",
                (
                    user.role,
                    user.org,
                    user.jurisdiction,
                    user.language,
                    int(user.disabled),
                    user.timezone,
                    user.username,
                ),
            )
            if password is not None:
                _check_password(password)
                conn.execute(
                    "UPDATE users SET password_hash=? WHERE username=?",
                    (self._hasher.hash(password), user.username),
                )
        return user

    def verify(self, username: str, password: str) -> User | None:
        """The user if the password is right and the user is enabled, else None."""
        name = username.strip().lower()
        row = (
            self._db.conn()
            .execute("SELECT password_hash FROM users WHERE username = ?", (name,))
            .fetchone()
        )
        # Verifying against a dummy hash when the user does not exist keeps the timing alike.
        if row is None and not self._dummy:
            self._dummy = self._hasher.hash("tanba-no-such-user")
        stored = row[0] if row else self._dummy
        try:
            self._hasher.verify(stored, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(stored):
            with transaction(self._db.conn()) as conn:
                conn.execute(
                    "UPDATE users SET password_hash=? WHERE username=?",
                    (self._hasher.hash(password), name),
                )
        user = self.get(name)
        return user if user is not None and not user.disabled else None

    def _validate(self, user: User) -> User:
        if not _USERNAME.match(user.username):
            raise UserInvalid(
                f"user name {user.username!r}: use 2-64 lower-case letters, digits, '.', '_' or '-'",
                "username",
                "bad_name",
            )
        if user.role not in ROLES:
            raise UserInvalid(
                f"role {user.role!r} is not known; use one of {', '.join(ROLES)}", "role", "role"
            )
        if user.role == "rights_holder" and not user.org:
            raise UserInvalid(
                "a rights holder needs an organisation (--org): the owner of its works",
                "org",
                "needs_org",
            )
        if user.role == "agency" and user.jurisdiction not in self._codes:
            raise UserInvalid(
                f"an agency needs its jurisdiction (--jurisdiction), one of {', '.join(self._codes)}",
                "jurisdiction",
                "needs_jurisdiction",
            )
        if user.language not in LANGUAGES:
            raise UserInvalid(
                f"language {user.language!r}: use one of {', '.join(LANGUAGES)}",
                "language",
                "language",
            )
        if user.timezone:
            zone(user.timezone)  # InputError naming time zones to give
        # Clear fields the role does not use, so a role change cannot leave a stale scope.
        return User(
            username=user.username,
            role=user.role,
            org=user.org if user.role == "rights_holder" else "",
            jurisdiction=user.jurisdiction if user.role == "agency" else "",
            language=user.language,
            disabled=user.disabled,
            created_at=user.created_at,
            timezone=user.timezone,
        )


class UserInvalid(InputError):
    """A user's field is refused: ``field`` names it, ``code`` the reason (``users.error.<code>``
    in the console's languages) and ``values`` fill the text; the message is the same in
    English, for the CLI and the API."""

    def __init__(self, message: str, field: str, code: str, **values: object) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.values = values


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserInvalid(
            f"the password must have at least {MIN_PASSWORD} characters",
            "password",
            "short_password",
            least=MIN_PASSWORD,
        )


def _user(row: tuple[object, ...]) -> User:
    username, role, org, jurisdiction, language, disabled, created_at, timezone = row
    return User(
        username=str(username),
        role=str(role),  # type: ignore[arg-type]
        org=str(org),
        jurisdiction=str(jurisdiction),
        language=str(language),
        disabled=bool(disabled),
        created_at=str(created_at),
        timezone=str(timezone),
    )


def change(
    users: UserStore, sessions: SessionStore, actor: str, username: str, **changes: Any
) -> User:
    """Change a user as ``actor``; ``changes`` as :meth:`UserStore.update` takes them.

    No one may disable themselves or drop their own administrator role (an
    installation must keep an administrator who can undo a mistake), and a changed
    scope or password ends the user's sessions: it must not ride on old ones.
    """
    if username == actor and (
        changes.get("disabled") or (changes.get("role") and changes["role"] != "admin")
    ):
        raise Forbidden("you cannot disable yourself or drop your own administrator role")
    before = users.require(username)
    user = users.update(username, **changes)
    scope = ("role", "org", "jurisdiction", "disabled")
    if changes.get("password") is not None or any(
        getattr(user, k) != getattr(before, k) for k in scope
    ):
        sessions.end_all(user.username)
    return user
