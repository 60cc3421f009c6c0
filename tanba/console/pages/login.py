"""Pages: logging in and out, and each user's own account (language, API tokens)."""

from __future__ import annotations

import math
from typing import Annotated
from zoneinfo import available_timezones

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from tanba.console.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    Caller,
    check_login_csrf,
    identify,
    new_login_token,
)
from tanba.console.context import LANG_COOKIE, Console, local_path
from tanba.console.deps import AnyUser, ConsoleDep
from tanba.console.exceptions import TooManyLogins
from tanba.console.i18n import pick_language
from tanba.console.rendering import redirect, render

# The time zones the account page offers (the input takes any IANA name).
ZONES = sorted(available_timezones())
router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/login")
def login_page(request: Request, c: ConsoleDep, next: str = "/alerts", lang: str = "") -> Response:
    return _login_form(request, c, next, "")


def _login_form(
    request: Request, c: Console, next_url: str, error: str, status: int = 200, minutes: int = 0
) -> Response:
    token = new_login_token()
    response = render(
        c,
        request,
        "login.html",
        status_code=status,
        login_token=token,
        next=local_path(next_url, "/alerts"),
        error=error,
        minutes=minutes,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=c.settings.console_secure_cookies,
    )
    lang = request.query_params.get("lang")
    if lang:
        response.set_cookie(LANG_COOKIE, pick_language(lang), max_age=365 * 86400, samesite="lax")
    return response


@router.post(
    "/login",
    dependencies=[Depends(check_login_csrf)],
    responses={429: {"description": "too many failed logins; wait Retry-After seconds"}},
)
def login(
    request: Request,
    c: ConsoleDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/alerts",
) -> Response:
    """Start a session; failed logins are throttled per user and address (tanba.console.throttle)."""
    address = request.client.host if request.client else ""
    try:
        c.throttle.check(username, address)
    except TooManyLogins as refused:
        response = _login_form(
            request, c, next, "login.throttled", status=429, minutes=refused.minutes
        )
        response.headers["Retry-After"] = str(math.ceil(refused.retry_after_s))
        return response
    user = c.users.verify(username, password)
    if user is None:
        c.throttle.failed(username, address)
        return _login_form(request, c, next, "login.failed", status=401)
    c.throttle.succeeded(user.username, address)
    session = c.sessions.start(user.username)
    response = redirect(local_path(next, "/alerts"))
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        max_age=int(c.settings.console_session_hours * 3600),
        httponly=True,
        samesite="lax",
        secure=c.settings.console_secure_cookies,
    )
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout")
def logout(who: AnyUser, c: ConsoleDep) -> Response:
    if who.session is not None:
        c.sessions.end(who.session.id)
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request) -> Response:
    return redirect("/alerts" if identify(request) else "/login")


@router.get("/account")
def account_page(request: Request, who: AnyUser, c: ConsoleDep) -> Response:
    return _account(c, request, who, new_token="")


@router.post("/account/language")
def account_language(
    who: AnyUser,
    c: ConsoleDep,
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/alerts",
) -> Response:
    c.users.update(who.user.username, language=language)
    response = redirect(local_path(next, "/alerts"))
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/account/timezone")
def account_timezone(
    who: AnyUser, c: ConsoleDep, timezone: Annotated[str, Form()] = ""
) -> Response:
    c.users.update(who.user.username, timezone=timezone)
    return redirect("/account")


@router.post("/account/tokens")
def account_token(
    request: Request, who: AnyUser, c: ConsoleDep, label: Annotated[str, Form()] = ""
) -> Response:
    _, raw = c.sessions.issue_token(who.user.username, label)
    return _account(c, request, who, new_token=raw)


def _account(c: Console, request: Request, who: Caller, new_token: str) -> Response:
    """The account page: who the caller is, their time zone, their tokens (a new one once)."""
    return render(
        c,
        request,
        "account.html",
        tokens=c.sessions.tokens(who.user.username),
        new_token=new_token,
        zones=ZONES,
        default_zone=c.app.settings.evidence_timezone,
    )


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(token_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    c.sessions.revoke_token(who.user.username, token_id)
    return redirect("/account")
