"""Pages: console users (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from tanba.console import users as user_rules
from tanba.console.deps import Admin, ConsoleDep
from tanba.console.rendering import redirect, render

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/users")
def users_page(request: Request, who: Admin, c: ConsoleDep) -> Response:
    return render(c, request, "users.html", users=c.users.all(), codes=c.app.jurisdictions.codes())


@router.post("/users")
def user_add(
    who: Admin,
    c: ConsoleDep,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()],
    org: Annotated[str, Form()] = "",
    jurisdiction: Annotated[str, Form()] = "",
    language: Annotated[str, Form()] = "ru",
) -> Response:
    c.users.add(username, password, role, org=org, jurisdiction=jurisdiction, language=language)
    return redirect("/users")


@router.post("/users/{username}")
def user_edit(
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
    return redirect("/users")
