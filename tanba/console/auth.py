"""Who is calling: a session cookie or an API token, checked on every request; CSRF on every write.

Contract for route code: depend on :func:`caller` (any logged-in user) or on
``require(...)`` (some roles). Either raises :class:`Unauthorized` without
valid credentials, and for POST/PUT/PATCH/DELETE from a cookie session also
:class:`CsrfRefused` unless the session's CSRF token came along, in the
``X-CSRF-Token`` header or the ``csrf_token`` form field. Requests with
``Authorization: Bearer`` are exempt: browsers never attach that header by
themselves, so a forged cross-site request cannot carry it.

The login form, which has no session yet, uses a double-submit token: a random
value in a cookie that must equal the form field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import Request

from tanba.console.context import console_of
from tanba.console.exceptions import CsrfRefused, Forbidden, Unauthorized
from tanba.console.sessions import Session
from tanba.console.users import User
from tanba.core.access import Principal

SESSION_COOKIE = "tanba_session"
LOGIN_COOKIE = "tanba_login"
CSRF_HEADER = "x-csrf-token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Caller:
    """The user behind a request, and their session when they came with a cookie."""

    user: User
    session: Session | None

    @property
    def principal(self) -> Principal:
        return self.user.principal()

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    @property
    def cache_key(self) -> str:
        """A value of this login session alone, for URLs a browser may cache (see tanba.console.caching).

        A digest of the session id and the user's language: unguessable, different
        for every login, it reveals nothing of the id, and a change of language
        gives new URLs, so a cached chart is never shown in the previous language.
        API tokens have none (scripts get no caching).
        """
        if self.session is None:
            return ""
        seed = f"tanba-cache\0{self.session.id}\0{self.user.language}"
        return hashlib.sha256(seed.encode()).hexdigest()[:32]


async def sent_csrf(request: Request) -> str:
    """The CSRF token that came with a request: header first, then the form field."""
    header = request.headers.get(CSRF_HEADER, "")
    if header:
        return header
    kind = request.headers.get("content-type", "")
    if kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()  # Starlette caches it; FastAPI reads the same parsed form
        value = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


def identify(request: Request) -> Caller | None:
    """The caller from an API token or a session cookie, or None (no CSRF check here)."""
    console = console_of(request)
    cached = getattr(request.state, "caller", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    header = request.headers.get("authorization", "")
    session: Session | None = None
    if header[:7].lower() == "bearer ":
        username = console.sessions.token_user(header[7:].strip())
    else:
        session = console.sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        username = session.username if session else None
    user = console.users.get(username) if username else None
    if user is None or user.disabled:
        return None
    caller = Caller(user, session)
    request.state.caller = caller
    return caller


async def caller(request: Request) -> Caller:
    """FastAPI dependency: the authenticated caller; checks CSRF on state-changing requests."""
    found = identify(request)
    if found is None:
        raise Unauthorized("log in first, or send 'Authorization: Bearer TOKEN' with an API token")
    if request.method not in SAFE_METHODS and found.session is not None:
        sent = await sent_csrf(request)
        if not sent or not hmac.compare_digest(sent, found.session.csrf):
            raise CsrfRefused(
                "this request came without the form's security token; reload the page and try again"
            )
    return found


def require(*roles: str) -> Callable[[Request], Awaitable[Caller]]:
    """A dependency that admits only the given roles (after :func:`caller`'s checks)."""

    async def dependency(request: Request) -> Caller:
        found = await caller(request)
        if found.user.role not in roles:
            raise Forbidden(f"this needs the role {' or '.join(roles)}; yours is {found.user.role}")
        return found

    return dependency


def new_login_token() -> str:
    return secrets.token_urlsafe(24)


async def check_login_csrf(request: Request) -> None:
    """The login form's double-submit check (cookie value == form field)."""
    cookie = request.cookies.get(LOGIN_COOKIE, "")
    sent = await sent_csrf(request)
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfRefused("the login form expired; reload the login page and try again")
