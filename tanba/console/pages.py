"""The server-rendered pages: plain HTML forms, inline SVG charts, no script.

Each page reads through the same rules as the API (:mod:`tanba.console.alerts`,
:mod:`tanba.console.works`, the target and user stores); forms post back and are
answered with a redirect to the page (post/redirect/get), so reloading never
repeats an action. Every form carries the session's CSRF token.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from tanba.console import alerts as alert_rules
from tanba.console import charts
from tanba.console import organisations as org_rules
from tanba.console import works as work_rules

# The request dependencies are the API's: pages and API authorise callers the same way.
from tanba.console.api import (
    Admin,
    AnyUser,
    ConsoleDep,
    Filters,
    Operator,
    UserPatch,
    _split,
    evidence_response,
    stats_out,
    update_user,
)
from tanba.console.auth import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    check_login_csrf,
    identify,
    new_login_token,
)
from tanba.console.evidence import custody_or_none
from tanba.console.exceptions import TooManyLogins
from tanba.console.i18n import Translator, pick_language
from tanba.console.targets import TargetSpec
from tanba.console.web import LANG_COOKIE, Console, local_path
from tanba.core.exceptions import InputError, NotFound
from tanba.core.schemas.works import Licence
from tanba.core.store import AlertQuery
from tanba.core.store.base import CountKey

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


def _back(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# --- login -------------------------------------------------------------------------------


@router.get("/login")
def login_page(request: Request, c: ConsoleDep, next: str = "/alerts", lang: str = "") -> Response:
    return _login_form(request, c, next, "")


def _login_form(
    request: Request, c: Console, next_url: str, error: str, status: int = 200, minutes: int = 0
) -> Response:
    token = new_login_token()
    response = c.render(
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
    response = _back(local_path(next, "/alerts"))
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
    response = _back("/login")
    response.delete_cookie(SESSION_COOKIE)
    return response


@router.get("/")
def home(request: Request) -> Response:
    return _back("/alerts" if identify(request) else "/login")


# --- alerts ------------------------------------------------------------------------------


@router.get("/alerts")
def alerts_page(request: Request, filters: Filters, who: AnyUser, c: ConsoleDep) -> Response:
    principal = who.principal
    page = alert_rules.search(c.app.store, principal, filters)
    works = {w.work_id: w.title for w in work_rules.visible_works(c.app, principal)}
    return c.render(
        request,
        "alerts.html",
        filters=filters,
        page=page,
        number=alert_rules.page_number(filters, page),
        pages=alert_rules.page_count(filters, page),
        chart_keys=CHART_KEYS,
        chart_heights=CHART_HEIGHTS,
        works=works,
        visible_codes=principal.jurisdictions or c.app.jurisdictions.codes(),
    )


CHART_KEYS: tuple[CountKey, ...] = ("jurisdiction", "site", "day")
# Sites are many (tens of thousands): the chart shows the largest and one "other" bar.
CHART_TOP = 10
# Frame heights of the charts in the list: columns, or CHART_TOP bars and "other".
CHART_HEIGHTS = {"day": 110, "jurisdiction": (CHART_TOP + 1) * charts.ROW_H + 4}
CHART_HEIGHTS["site"] = CHART_HEIGHTS["jurisdiction"]
# A chart is a framed image of this site whose bars link the list (target="_top").
CHART_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'self'"


@router.get(
    "/alerts/charts/{key}.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}, "description": "a bar chart"}},
)
def alerts_chart(
    request: Request, key: CountKey, filters: Filters, who: AnyUser, c: ConsoleDep
) -> Response:
    """One chart of the alert list, in its own frame so the list itself answers at once.

    Each bar links the list filtered to its jurisdiction, site or day (with the
    other filters kept); the site chart asks the store for the top sites only.
    """
    t = Translator(who.user.language)
    names = {j.code: j.name(who.user.language) for j in c.app.jurisdictions}

    def link(**change: str) -> str:
        return "/alerts?" + filters.link(**change)

    if key == "day":
        counts = c.counts.counts(who.principal, filters, key)
        chart = charts.columns(key, counts, href=lambda k: link(since=k, until=k))
    elif key == "site":
        top = c.counts.top(who.principal, filters, key, CHART_TOP)
        chart = charts.horizontal(
            key,
            top.counts,
            top=CHART_TOP,
            label=lambda k: k[:18],
            href=lambda k: link(site=k),
            other=top.other,
            other_label=t("chart.other"),
        )
    else:
        counts = c.counts.counts(who.principal, filters, key)
        label = (
            (lambda k: f"{k} {names.get(k, '')}"[:18])
            if key == "jurisdiction"
            else (lambda k: k[:18])
        )
        href = {
            "jurisdiction": lambda k: link(jurisdiction=k),
            "status": lambda k: link(status=k),
            "target": lambda k: link(target=k),
            "work_id": lambda k: link(work_id=k),
        }[key]
        chart = charts.horizontal(
            key, counts, top=CHART_TOP, label=label, href=href, other_label=t("chart.other")
        )
    svg = c.templates.get_template("chart.svg").render(c=chart, t=t)
    return Response(
        svg,
        media_type="image/svg+xml",
        headers={
            "Cache-Control": "private, max-age=30",
            "Content-Security-Policy": CHART_CSP,
            "X-Frame-Options": "SAMEORIGIN",
        },
    )


@router.get("/alerts/{alert_id}")
def alert_page(request: Request, alert_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    try:
        work = work_rules.visible_work(c.app, who.principal, alert.work_id)
    except NotFound:
        work = None
    return c.render(
        request,
        "alert.html",
        alert=alert,
        work=work,
        next_statuses=alert_rules.next_statuses(who.principal, alert),
        withheld=work is not None and c.app.access.withholds_reference(who.principal, work),
        may_export=who.user.role != "operator",
        blob_ok=c.app.blobs.exists(alert.media_sha256),
        custody=custody_or_none(c.app, alert),
    )


@router.post("/alerts/{alert_id}/status")
def alert_status(
    alert_id: str,
    who: AnyUser,
    c: ConsoleDep,
    status: Annotated[str, Form()],
    comment: Annotated[str, Form()] = "",
) -> Response:
    alert = alert_rules.change_status(
        c.app.store, who.principal, alert_id, status, comment, c.app.clock
    )
    return _back(f"/alerts/{alert.id}")


@router.post("/alerts/{alert_id}/evidence", response_class=FileResponse)
def alert_evidence_page(
    alert_id: str,
    who: AnyUser,
    c: ConsoleDep,
    mark_notice_sent: Annotated[bool, Form()] = False,
) -> FileResponse:
    return evidence_response(c, who, alert_id, "console", mark_notice_sent=mark_notice_sent)


# --- works -------------------------------------------------------------------------------


@router.get("/works")
def works_page(request: Request, who: AnyUser, c: ConsoleDep) -> Response:
    works = work_rules.visible_works(c.app, who.principal)
    counts = work_rules.alert_counts(c.app.store, who.principal, c.app.jurisdictions.codes())
    used = sorted({code for per in counts.values() for code in per})
    return c.render(
        request,
        "works.html",
        works=works,
        counts=counts,
        codes=used,
        withheld=c.app.access.withheld_references(who.principal, works),
        may_register=work_rules.may_register(who.principal),
    )


@router.post("/works")
def works_upload(
    who: AnyUser,
    c: ConsoleDep,
    file: Annotated[UploadFile, File()],
    title: Annotated[str, Form()] = "",
    work_id: Annotated[str, Form()] = "",
    owner: Annotated[str, Form()] = "",
    territories: Annotated[list[str], Form()] = [],  # noqa: B006
    licensees: Annotated[str, Form()] = "",
) -> Response:
    work = work_rules.register_upload(
        c.app,
        who.principal,
        file.file,
        file.filename or "upload",
        owner=owner,
        title=title,
        work_id=work_id,
        territories=territories,
        licensees=_split([licensees]),
    )
    return _back(f"/works/{work.work_id}")


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    work = work_rules.visible_work(c.app, who.principal, work_id)
    counts = c.app.store.count_by(
        "jurisdiction", who.principal.scope(AlertQuery(work_id=work.work_id))
    )
    licences = "\n".join(_licence_line(lic) for lic in work.licences)
    return c.render(
        request,
        "work.html",
        work=work,
        counts=counts,
        licences_text=licences,
        withheld=c.app.access.withholds_reference(who.principal, work),
        may_edit=work_rules.may_edit(who.principal, work),
    )


def _licence_line(lic: Licence) -> str:
    parts = [lic.domain]
    if lic.territories:
        parts.append(",".join(lic.territories))
    if lic.valid_from or lic.valid_until:
        parts.append(f"{lic.valid_from or '*'}..{lic.valid_until or '*'}")
    return " ".join(parts)


def parse_licences(text: str) -> list[Licence]:
    """Licences from lines of ``DOMAIN [CC,CC] [FROM..UNTIL]`` (``*`` for an open end)."""
    out = []
    for number, line in enumerate(text.splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        domain, territories, valid_from, valid_until = parts[0], [], "", ""
        for part in parts[1:]:
            if ".." in part:
                a, _, b = part.partition("..")
                valid_from, valid_until = a.strip("*"), b.strip("*")
            else:
                territories += [p for p in part.split(",") if p]
        if len(parts) > 3:
            raise InputError(f"licence line {number}: write DOMAIN [CC,CC] [FROM..UNTIL]")
        out.append(
            Licence(
                domain=domain,
                territories=territories,
                valid_from=valid_from,
                valid_until=valid_until,
            )
        )
    return out


@router.post("/works/{work_id}")
def work_edit(
    work_id: str,
    who: AnyUser,
    c: ConsoleDep,
    territories: Annotated[list[str], Form()] = [],  # noqa: B006
    licences: Annotated[str, Form()] = "",
    title: Annotated[str, Form()] = "",
) -> Response:
    change = work_rules.WorkEdit(
        territories=territories, licences=parse_licences(licences), title=title or None
    )
    work = work_rules.edit(c.app, who.principal, work_id, change)
    return _back(f"/works/{work.work_id}")


# --- organisations -----------------------------------------------------------------------


@router.get("/organisations")
def organisations_page(request: Request, who: AnyUser, c: ConsoleDep) -> Response:
    known = (u.org for u in c.users.all())
    return c.render(
        request, "organisations.html", policies=org_rules.policies(c.app, who.principal, known)
    )


@router.post("/organisations/{org}")
def organisation_edit(
    org: str, who: AnyUser, c: ConsoleDep, withhold_references: Annotated[str, Form()] = ""
) -> Response:
    body = org_rules.PolicyIn(withhold_references=bool(withhold_references))
    org_rules.change(c.app, who.principal, org, body)
    return _back("/organisations")


# --- targets -----------------------------------------------------------------------------


@router.get("/targets")
def targets_page(request: Request, who: Operator, c: ConsoleDep) -> Response:
    rows = [(t, c.runs.last(t.spec.name), stats_out(c, t.spec.name)) for t in c.targets.all()]
    return c.render(
        request, "targets.html", rows=rows, allow_private=c.settings.console_allow_private_targets
    )


def _lines(text: str) -> list[str]:
    return [p for p in text.replace(",", "\n").split() if p]


class TargetForm(BaseModel):
    """The crawl target form as the browser posts it (lists as text, ticks as "on")."""

    name: str = Field(default="", description="only when adding; editing keeps the name")
    seeds: str
    allowed_domains: str = ""
    max_depth: int = 3
    max_pages: int = 500
    delay_s: str = ""
    schedule_hours: float = 0.0
    jurisdiction: str = ""
    paused: str = ""
    allow_private_addresses: str = ""
    resolve: str = ""

    def spec(self, name: str) -> TargetSpec:
        """The target these fields describe, under ``name``."""
        try:
            delay = float(self.delay_s) if self.delay_s.strip() else None
        except ValueError:
            raise InputError("the delay is a number of seconds, or empty for the default") from None
        return TargetSpec(
            name=name.strip(),
            seeds=_lines(self.seeds),
            allowed_domains=_lines(self.allowed_domains),
            max_depth=self.max_depth,
            max_pages=self.max_pages,
            delay_s=delay,
            schedule_hours=self.schedule_hours,
            jurisdiction=self.jurisdiction.strip().upper(),
            paused=bool(self.paused),
            allow_private_addresses=bool(self.allow_private_addresses),
            resolve=_lines(self.resolve),
        )


@router.post("/targets")
def target_add(who: Operator, c: ConsoleDep, form: Annotated[TargetForm, Form()]) -> Response:
    if not form.name.strip():
        raise InputError("give the target a name (letters, digits, '-' or '_')")
    stored = c.targets.add(form.spec(form.name), who.user.username)
    return _back(f"/targets/{stored.spec.name}")


@router.get("/targets/{name}")
def target_page(request: Request, name: str, who: Operator, c: ConsoleDep) -> Response:
    stored = c.targets.require(name)
    stats = stats_out(c, name)
    pages_chart = charts.columns("pages", {d.day: d.pages for d in stats.days})
    yield_chart = charts.columns("yield", {d.day: round(d.yield_per_k) for d in stats.days})
    return c.render(
        request,
        "target.html",
        target=stored,
        stats=stats,
        runs=c.runs.runs(name),
        charts=[pages_chart, yield_chart],
        allow_private=c.settings.console_allow_private_targets,
    )


@router.post("/targets/{name}")
def target_edit(
    name: str, who: Operator, c: ConsoleDep, form: Annotated[TargetForm, Form()]
) -> Response:
    c.targets.update(name, form.spec(name), who.user.username)
    return _back(f"/targets/{name}")


@router.post("/targets/{name}/pause")
def target_pause(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.set_paused(name, True, who.user.username)
    return _back(f"/targets/{name}")


@router.post("/targets/{name}/resume")
def target_resume(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.set_paused(name, False, who.user.username)
    return _back(f"/targets/{name}")


@router.post("/targets/{name}/crawl")
def target_crawl(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.launcher.start(c.targets.validate(c.targets.require(name).spec), who.user.username)
    return _back(f"/targets/{name}")


# --- users and account -------------------------------------------------------------------


@router.get("/users")
def users_page(request: Request, who: Admin, c: ConsoleDep) -> Response:
    return c.render(request, "users.html", users=c.users.all(), codes=c.app.jurisdictions.codes())


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
    return _back("/users")


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
    patch = UserPatch(
        role=role,
        org=org,
        jurisdiction=jurisdiction,
        language=language,
        disabled=bool(disabled),
        password=password or None,
    )
    update_user(c, who, username, patch)
    return _back("/users")


@router.get("/account")
def account_page(request: Request, who: AnyUser, c: ConsoleDep) -> Response:
    return c.render(
        request, "account.html", tokens=c.sessions.tokens(who.user.username), new_token=""
    )


@router.post("/account/language")
def account_language(
    who: AnyUser,
    c: ConsoleDep,
    language: Annotated[str, Form()],
    next: Annotated[str, Form()] = "/alerts",
) -> Response:
    c.users.update(who.user.username, language=language)
    response = _back(local_path(next, "/alerts"))
    response.set_cookie(LANG_COOKIE, language, max_age=365 * 86400, samesite="lax")
    return response


@router.post("/account/tokens")
def account_token(
    request: Request, who: AnyUser, c: ConsoleDep, label: Annotated[str, Form()] = ""
) -> Response:
    _, raw = c.sessions.issue_token(who.user.username, label)
    return c.render(
        request, "account.html", tokens=c.sessions.tokens(who.user.username), new_token=raw
    )


@router.post("/account/tokens/{token_id}/revoke")
def account_token_revoke(token_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    c.sessions.revoke_token(who.user.username, token_id)
    return _back("/account")
