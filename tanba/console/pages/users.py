"""Pages: console users (administrators).

A refused form is the users page again, not an error page: the reason beside the field
it concerns, in the administrator's language, and what was typed kept (passwords
excepted).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tanba.console import users as user_rules
from tanba.console.deps import Admin, ConsoleDep
from tanba.console.exceptions import Forbidden
from tanba.console.rendering import redirect, render
from tanba.console.users import UserInvalid

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


def _page(
    request: Request,
    c: ConsoleDep,
    *,
    status_code: int = 200,
    failed: dict[str, Any] | None = None,
    typed: dict[str, str] | None = None,
) -> Response:
    """The users page; ``failed`` (form, field, code, args) and ``typed`` after a refusal."""
    return render(
        c,
        request,
        "users.html",
        status_code=status_code,
        users=c.users.all(),
        codes=c.app.jurisdictions.codes(),
        failed=failed,
        typed=typed or {},
    )


@router.get("/users")
def users_page(request: Request, who: Admin, c: ConsoleDep) -> Response:
    return _page(request, c)


@router.post("/users")
def user_add(
    request: Request,
    who: Admin,
    c: ConsoleDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()],
    org: Annotated[str, Form()] = "",
    jurisdiction: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "ru",
) -> Response:
    try:
        c.users.add(username, password, role, org=org, jurisdiction=jurisdiction, language=language)
    except UserInvalid as exc:
        status, failed = _refused("", exc)
        typed = dict(
            username=username, role=role, org=org, jurisdiction=jurisdiction, language=language
        )
        return _page(request, c, status_code=status, failed=failed, typed=typed)
    return redirect("/users")


@router.post("/users/{username}")
def user_edit(
    request: Request,
    username: str,
    who: Admin,
    c: ConsoleDep,
    role: Annotated[str, Form()],
    org: Annotated[str, Form()] = "",
    jurisdiction: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "ru",
    disabled: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    try:
        user_rules.change(
            c.users,
            c.sessions,
            who.user.username,
            username,
            role=role,
            org=org,
            jurisdiction=jurisdiction,
            language=language,
            disabled=bool(disabled),
            password=password or None,
        )
    except (UserInvalid, Forbidden) as exc:
        status, failed = _refused(username, exc)
        typed = dict(role=role, org=org, jurisdiction=jurisdiction, language=language)
        typed["disabled"] = "1" if disabled else ""
        return _page(request, c, status_code=status, failed=failed, typed=typed)
    return redirect("/users")


def _refused(form: str, exc: UserInvalid | Forbidden) -> tuple[int, dict[str, Any]]:
    """The status and what the page says of a refused form (``form``: "" for the new user's,
    else the user's row). The only Forbidden a form meets is an administrator locking
    themselves out (:func:`tanba.console.users.change`)."""
    if isinstance(exc, UserInvalid):
        return 422, {"form": form, "field": exc.field, "code": exc.code, "args": exc.values}
    return 403, {"form": form, "field": "", "code": "self", "args": {}}
