"""The JSON API under ``/api``: everything the pages do, for scripts and other tools.

Authentication is a session cookie (with the CSRF token on writes) or an API
token (``Authorization: Bearer tnb_...``). Every route narrows what it reads
with the caller's :class:`~tanba.core.access.Principal`; see :mod:`tanba.console.alerts`
and :mod:`tanba.console.works` for the rules.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from tanba.console import alerts as alert_rules
from tanba.console import organisations as org_rules
from tanba.console import works as work_rules
from tanba.console.alerts import MAX_OFFSET, AlertFilters
from tanba.console.auth import Caller, caller, console_of, require
from tanba.console.crawls import CrawlRun
from tanba.console.evidence import custody_entries, export_evidence
from tanba.console.exceptions import Conflict, Forbidden
from tanba.console.media import blob_type, is_inline, thumbnail
from tanba.console.stats import target_statistics
from tanba.console.targets import StoredTarget, TargetSpec
from tanba.console.users import User
from tanba.console.web import Console
from tanba.core.alerts import TRANSITIONS, Alert
from tanba.core.exceptions import NotFound
from tanba.core.schemas.organisations import OrganisationPolicy
from tanba.core.schemas.works import Licence, Work
from tanba.core.store.base import CountKey

router = APIRouter(prefix="/api")
NOTICE_SENT = "notice_sent"

AnyUser = Annotated[Caller, Depends(caller)]
Operator = Annotated[Caller, Depends(require("operator", "admin"))]
Admin = Annotated[Caller, Depends(require("admin"))]
Filters = Annotated[AlertFilters, Query()]


def _console(request: Request) -> Console:
    return console_of(request)


ConsoleDep = Annotated[Console, Depends(_console)]


# --- models --------------------------------------------------------------------------


class _Out(BaseModel):
    """A response model read off a domain object's attributes (properties included)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, obj: object) -> Self:
        return cls.model_validate(obj)


class UserOut(_Out):
    username: str
    role: str
    org: str = ""
    jurisdiction: str = ""
    language: str
    disabled: bool = False
    created_at: str = ""


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=1)
    role: str
    org: str = ""
    jurisdiction: str = ""
    language: str = "ru"


class UserPatch(BaseModel):
    role: str | None = None
    org: str | None = None
    jurisdiction: str | None = None
    language: str | None = None
    disabled: bool | None = None
    password: str | None = None


class LanguageIn(BaseModel):
    language: str


class TokenIn(BaseModel):
    label: str = ""


class TokenOut(_Out):
    id: str
    label: str
    created_at: str
    last_used_at: str = ""


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown once, keep it safe")


class AlertSummary(_Out):
    id: str
    work_id: str
    work_title: str
    owner: str
    media: str
    score: float
    jurisdiction: str
    site: str
    target: str
    page_url: str
    page_title: str
    media_url: str
    status: str
    first_seen: str
    last_seen: str


class AlertList(BaseModel):
    total: int
    page: int | None = Field(description="the page number; null for a page reached by cursor")
    per_page: int
    pages: int
    alerts: list[AlertSummary]
    next_cursor: str = Field(
        default="",
        description="pass as 'after' (same filters and sort) for the next page; "
        "empty on the last page",
    )
    prev_cursor: str = Field(
        default="",
        description="pass as 'before' for the previous page; empty on the first page",
    )


class AlertDetail(BaseModel):
    alert: Alert
    next_statuses: list[str]


class StatusIn(BaseModel):
    status: str
    comment: str = ""


class CustodyOut(_Out):
    """One line of a case's chain of custody: a capture, an export or a status change."""

    at: str
    actor: str
    action: str = Field(description="captured, capture_failed, exported, status_changed or note")
    detail: str = ""
    subject: str = Field("", description="SHA-256 of the artifact in the blob store")
    source: str = Field(description="custody (the custody log) or status_history (the alert)")
    interface: str = Field("", description="exports: cli, console or api")
    package_sha256: str = Field("", description="exports: SHA-256 of the zip written")
    status: str = ""
    comment: str = ""


class Counts(BaseModel):
    key: str
    counts: dict[str, int]
    other: int = Field(default=0, description="with 'top': the alerts of every other value")


class WorkOut(BaseModel):
    work_id: str
    owner: str
    title: str
    media: str
    sha256: str
    filename: str
    territories: list[str]
    licences: list[Licence]
    owner_home: str
    registered_at: str
    alerts_by_jurisdiction: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(cls, w: Work, counts: dict[str, int] | None = None) -> WorkOut:
        data = {
            name: getattr(w, name) for name in cls.model_fields if name != "alerts_by_jurisdiction"
        }
        return cls(**data, alerts_by_jurisdiction=counts or {})


class JurisdictionOut(BaseModel):
    code: str
    status: str
    names: dict[str, str]


class CrawlRunOut(_Out):
    id: str
    target: str
    started_at: str
    started_by: str
    finished_at: str
    returncode: int | None
    running: bool


class TargetOut(BaseModel):
    spec: TargetSpec
    created_at: str
    updated_at: str
    updated_by: str
    last_run: CrawlRunOut | None = None

    @classmethod
    def of(cls, stored: StoredTarget, last: CrawlRun | None) -> TargetOut:
        return cls(
            spec=stored.spec,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
            updated_by=stored.updated_by,
            last_run=CrawlRunOut.of(last) if last else None,
        )


class FiguresOut(_Out):
    crawls: int
    pages: int
    media: int
    errors: int
    traps: int
    throttled: int
    paused: int
    matches: int
    confirmed: int
    yield_per_k: float = Field(description="confirmed alerts per thousand pages")


class DayOut(FiguresOut):
    day: str


class StatsOut(FiguresOut):
    target: str
    last_crawl_at: str
    days: list[DayOut]


# --- me --------------------------------------------------------------------------------


@router.get("/me", response_model=UserOut, tags=["account"])
def me(who: AnyUser) -> UserOut:
    return UserOut.of(who.user)


@router.put("/me/language", response_model=UserOut, tags=["account"])
def set_language(body: LanguageIn, who: AnyUser, c: ConsoleDep) -> UserOut:
    return UserOut.of(c.users.update(who.user.username, language=body.language))


@router.get("/me/tokens", response_model=list[TokenOut], tags=["account"])
def my_tokens(who: AnyUser, c: ConsoleDep) -> list[TokenOut]:
    return [TokenOut.of(t) for t in c.sessions.tokens(who.user.username)]


@router.post("/me/tokens", response_model=TokenCreated, status_code=201, tags=["account"])
def new_token(body: TokenIn, who: AnyUser, c: ConsoleDep) -> TokenCreated:
    token, raw = c.sessions.issue_token(who.user.username, body.label)
    return TokenCreated(**TokenOut.of(token).model_dump(), token=raw)


@router.delete("/me/tokens/{token_id}", status_code=204, tags=["account"])
def revoke_token(token_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    c.sessions.revoke_token(who.user.username, token_id)
    return Response(status_code=204)


# --- alerts ----------------------------------------------------------------------------


@router.get(
    "/alerts",
    response_model=AlertList,
    tags=["alerts"],
    responses={
        400: {"description": f"a damaged cursor, or a page past the first {MAX_OFFSET:,} alerts"}
    },
)
def list_alerts(filters: Filters, who: AnyUser, c: ConsoleDep) -> AlertList:
    """Alerts the caller may see, newest (or best score) first.

    Page by cursor: follow ``next_cursor``/``prev_cursor`` (as ``after``/``before``),
    and ``last=true`` for the end; any page then answers as fast as the first.
    ``page`` numbers reach the first 1,000 alerts (:data:`tanba.console.alerts.MAX_OFFSET`).
    A damaged cursor is a 400 that says what to do.
    """
    page = alert_rules.search(c.app.store, who.principal, filters)
    return AlertList(
        total=page.total,
        page=alert_rules.page_number(filters, page),
        per_page=filters.per_page,
        pages=alert_rules.page_count(filters, page),
        alerts=[AlertSummary.of(a) for a in page.alerts],
        next_cursor=page.next_cursor,
        prev_cursor=page.prev_cursor,
    )


@router.get("/alerts/counts/{key}", response_model=Counts, tags=["alerts"])
def count_alerts(
    key: CountKey,
    filters: Filters,
    who: AnyUser,
    c: ConsoleDep,
    top: Annotated[
        int,
        Query(ge=0, le=1000, description="only the values with most alerts (0: every value)"),
    ] = 0,
) -> Counts:
    if top:
        found = c.app.store.top_counts(key, filters.query(who.principal, paged=False), top)
        return Counts(key=key, counts=found.counts, other=found.other)
    return Counts(key=key, counts=alert_rules.counts(c.app.store, who.principal, filters, key))


@router.get("/alerts/{alert_id}", response_model=AlertDetail, tags=["alerts"])
def get_alert(alert_id: str, who: AnyUser, c: ConsoleDep) -> AlertDetail:
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return AlertDetail(
        alert=alert, next_statuses=list(alert_rules.next_statuses(who.principal, alert))
    )


@router.post("/alerts/{alert_id}/status", response_model=AlertDetail, tags=["alerts"])
def change_status(alert_id: str, body: StatusIn, who: AnyUser, c: ConsoleDep) -> AlertDetail:
    alert = alert_rules.change_status(
        c.app.store, who.principal, alert_id, body.status, body.comment, c.app.clock
    )
    return AlertDetail(
        alert=alert, next_statuses=list(alert_rules.next_statuses(who.principal, alert))
    )


@router.get(
    "/alerts/{alert_id}/media",
    tags=["alerts"],
    response_class=FileResponse,
    responses={200: {"description": "the found copy, as fetched"}},
)
def alert_media(alert_id: str, who: AnyUser, c: ConsoleDep) -> FileResponse:
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return blob_response(c, alert.media_sha256)


@router.get("/alerts/{alert_id}/thumbnail", tags=["alerts"], response_class=FileResponse)
def alert_thumbnail(alert_id: str, who: AnyUser, c: ConsoleDep) -> FileResponse:
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return thumbnail_response(c, alert.media_sha256)


@router.post(
    "/alerts/{alert_id}/evidence",
    tags=["alerts"],
    response_class=FileResponse,
    responses={501: {"description": "evidence export is not installed"}},
)
def alert_evidence(
    alert_id: str,
    who: AnyUser,
    c: ConsoleDep,
    mark_notice_sent: Annotated[
        bool, Query(description="after the export, set the alert's status to notice_sent")
    ] = False,
) -> FileResponse:
    """The alert's signed evidence package (zip), recorded in its chain of custody as via "api"."""
    return evidence_response(c, who, alert_id, "api", mark_notice_sent=mark_notice_sent)


@router.get("/alerts/{alert_id}/custody", response_model=list[CustodyOut], tags=["alerts"])
def alert_custody(alert_id: str, who: AnyUser, c: ConsoleDep) -> list[CustodyOut]:
    """The alert's chain of custody, oldest first: captures, exports (with the package's
    SHA-256 and interface) and status changes."""
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return [CustodyOut.of(entry) for entry in custody_entries(c.app, alert)]


def evidence_response(
    c: Console,
    who: Caller,
    alert_id: str,
    interface: Literal["console", "api"],
    *,
    mark_notice_sent: bool = False,
) -> FileResponse:
    """Export one alert's package; with ``mark_notice_sent``, then move it to notice_sent.

    The status is checked before anything is written, so a refused change never
    leaves an export behind; the change goes through the alert store like any
    other, with the caller as its actor.
    """
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    if who.user.role == "operator":
        raise Forbidden("operators do not export evidence; an agency or the rights holder does")
    if mark_notice_sent and NOTICE_SENT not in alert_rules.next_statuses(who.principal, alert):
        raise Conflict(
            f"the alert is {alert.status!r}: a notice can be marked as sent only from "
            f"{' or '.join(repr(s) for s, nxt in TRANSITIONS.items() if NOTICE_SENT in nxt)}; "
            "nothing was exported. Confirm the alert first, or export without marking it"
        )
    stamp = c.app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    out = c.app.settings.path("console", "evidence", f"{alert.id}-{stamp}.zip")
    path = export_evidence(c.app, alert.id, out, who.principal, who.user.language, interface)
    if mark_notice_sent:
        alert_rules.change_status(
            c.app.store, who.principal, alert.id, NOTICE_SENT, "", c.app.clock
        )
    return FileResponse(path, filename=path.name, content_disposition_type="attachment")


def blob_response(c: Console, sha256: str) -> FileResponse:
    if not c.app.blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    kind = blob_type(c.app.blobs, sha256)
    return FileResponse(
        c.app.blobs.path(sha256),
        media_type=kind,
        content_disposition_type="inline" if is_inline(kind) else "attachment",
        filename=sha256[:16],
        headers={"Cache-Control": "private, max-age=86400"},
    )


def thumbnail_response(c: Console, sha256: str) -> FileResponse:
    if not c.app.blobs.exists(sha256):
        raise NotFound("the media file is not stored here (blob missing)")
    path = thumbnail(
        c.app.blobs,
        sha256,
        c.app.settings.home / "console" / "thumbnails",
        c.app.settings.image_max_pixels,
    )
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=86400"}
    )


# --- works -------------------------------------------------------------------------------


@router.get("/works", response_model=list[WorkOut], tags=["works"])
def list_works(who: AnyUser, c: ConsoleDep) -> list[WorkOut]:
    counts = work_rules.alert_counts(c.app.store, who.principal, c.app.jurisdictions.codes())
    return [
        WorkOut.of(w, counts.get(w.work_id)) for w in work_rules.visible_works(c.app, who.principal)
    ]


@router.post("/works", response_model=WorkOut, status_code=201, tags=["works"])
def upload_work(
    who: AnyUser,
    c: ConsoleDep,
    file: Annotated[UploadFile, File(description="an image or audio file")],
    title: Annotated[str, Form()] = "",
    work_id: Annotated[str, Form()] = "",
    owner: Annotated[
        str, Form(description="administrators only; rights holders register as their organisation")
    ] = "",
    owner_home: Annotated[str, Form()] = "",
    territories: Annotated[list[str], Form()] = [],  # noqa: B006 - FastAPI reads, never mutates
    licensees: Annotated[list[str], Form()] = [],  # noqa: B006
) -> WorkOut:
    work = work_rules.register_upload(
        c.app,
        who.principal,
        file.file,
        file.filename or "upload",
        owner=owner,
        title=title,
        work_id=work_id,
        territories=_split(territories),
        licensees=_split(licensees),
        owner_home=owner_home,
    )
    return WorkOut.of(work)


def _split(values: list[str]) -> list[str]:
    """Form lists may come as repeated fields or as one comma/space-separated field."""
    return [p for v in values for p in v.replace(",", " ").replace(";", " ").split() if p]


@router.get("/works/{work_id}", response_model=WorkOut, tags=["works"])
def get_work(work_id: str, who: AnyUser, c: ConsoleDep) -> WorkOut:
    work = work_rules.visible_work(c.app, who.principal, work_id)
    counts = c.app.store.count_by(
        "jurisdiction", who.principal.scope(alert_rules.AlertQuery(work_id=work.work_id))
    )
    return WorkOut.of(work, counts)


@router.patch("/works/{work_id}", response_model=WorkOut, tags=["works"])
def edit_work(work_id: str, body: work_rules.WorkEdit, who: AnyUser, c: ConsoleDep) -> WorkOut:
    return WorkOut.of(work_rules.edit(c.app, who.principal, work_id, body))


WITHHELD: dict[int | str, dict[str, Any]] = {
    403: {"description": "the owner withholds its reference files from agencies"}
}


@router.get(
    "/works/{work_id}/media", tags=["works"], response_class=FileResponse, responses=WITHHELD
)
def work_media(work_id: str, who: AnyUser, c: ConsoleDep) -> FileResponse:
    """The registered reference file, for those who may have it (tanba.core.access.Access.reference)."""
    return blob_response(c, c.app.access.reference(who.principal, work_id).sha256)


@router.get(
    "/works/{work_id}/thumbnail", tags=["works"], response_class=FileResponse, responses=WITHHELD
)
def work_thumbnail(work_id: str, who: AnyUser, c: ConsoleDep) -> FileResponse:
    return thumbnail_response(c, c.app.access.reference(who.principal, work_id).sha256)


@router.get("/jurisdictions", response_model=list[JurisdictionOut], tags=["works"])
def jurisdictions(who: AnyUser, c: ConsoleDep) -> list[JurisdictionOut]:
    return [
        JurisdictionOut(code=j.code, status=j.status, names=dict(j.names))
        for j in c.app.jurisdictions
    ]


# --- organisations -----------------------------------------------------------------------


@router.get("/organisations", response_model=list[OrganisationPolicy], tags=["organisations"])
def list_organisations(who: AnyUser, c: ConsoleDep) -> list[OrganisationPolicy]:
    """The organisations the caller manages: a rights holder its own, an administrator all."""
    return org_rules.policies(c.app, who.principal, (u.org for u in c.users.all()))


@router.get("/organisations/{org}", response_model=OrganisationPolicy, tags=["organisations"])
def get_organisation(org: str, who: AnyUser, c: ConsoleDep) -> OrganisationPolicy:
    return org_rules.policy(c.app, who.principal, org)


@router.put("/organisations/{org}", response_model=OrganisationPolicy, tags=["organisations"])
def set_organisation(
    org: str, body: org_rules.PolicyIn, who: AnyUser, c: ConsoleDep
) -> OrganisationPolicy:
    """Change an organisation's policy; ``withhold_references`` keeps its files from agencies."""
    return org_rules.change(c.app, who.principal, org, body)


# --- targets -----------------------------------------------------------------------------


@router.get("/targets", response_model=list[TargetOut], tags=["targets"])
def list_targets(who: Operator, c: ConsoleDep) -> list[TargetOut]:
    return [TargetOut.of(t, c.runs.last(t.spec.name)) for t in c.targets.all()]


@router.post("/targets", response_model=TargetOut, status_code=201, tags=["targets"])
def add_target(spec: TargetSpec, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.add(spec, who.user.username), None)


@router.get("/targets/{name}", response_model=TargetOut, tags=["targets"])
def get_target(name: str, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.require(name), c.runs.last(name))


@router.put("/targets/{name}", response_model=TargetOut, tags=["targets"])
def edit_target(name: str, spec: TargetSpec, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.update(name, spec, who.user.username), c.runs.last(name))


@router.post("/targets/{name}/pause", response_model=TargetOut, tags=["targets"])
def pause_target(name: str, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.set_paused(name, True, who.user.username), c.runs.last(name))


@router.post("/targets/{name}/resume", response_model=TargetOut, tags=["targets"])
def resume_target(name: str, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.set_paused(name, False, who.user.username), c.runs.last(name))


@router.post("/targets/{name}/crawl", response_model=CrawlRunOut, status_code=202, tags=["targets"])
def start_crawl(name: str, who: Operator, c: ConsoleDep) -> CrawlRunOut:
    return CrawlRunOut.of(
        c.launcher.start(c.targets.validate(c.targets.require(name).spec), who.user.username)
    )


@router.get("/targets/{name}/runs", response_model=list[CrawlRunOut], tags=["targets"])
def target_runs(name: str, who: Operator, c: ConsoleDep) -> list[CrawlRunOut]:
    c.targets.require(name)
    return [CrawlRunOut.of(r) for r in c.runs.runs(name)]


@router.get("/targets/{name}/stats", response_model=StatsOut, tags=["targets"])
def target_stats(name: str, who: Operator, c: ConsoleDep) -> StatsOut:
    c.targets.require(name)
    return stats_out(c, name)


def stats_out(c: Console, name: str) -> StatsOut:
    return StatsOut.of(target_statistics(name, c.reports, c.app.store))


# --- users -------------------------------------------------------------------------------


@router.get("/users", response_model=list[UserOut], tags=["users"])
def list_users(who: Admin, c: ConsoleDep) -> list[UserOut]:
    return [UserOut.of(u) for u in c.users.all()]


@router.post("/users", response_model=UserOut, status_code=201, tags=["users"])
def add_user(body: UserIn, who: Admin, c: ConsoleDep) -> UserOut:
    user = c.users.add(
        body.username,
        body.password,
        body.role,
        org=body.org,
        jurisdiction=body.jurisdiction,
        language=body.language,
    )
    return UserOut.of(user)


@router.get("/users/{username}", response_model=UserOut, tags=["users"])
def get_user(username: str, who: Admin, c: ConsoleDep) -> UserOut:
    return UserOut.of(c.users.require(username))


@router.patch("/users/{username}", response_model=UserOut, tags=["users"])
def edit_user(username: str, body: UserPatch, who: Admin, c: ConsoleDep) -> UserOut:
    return UserOut.of(update_user(c, who, username, body))


def update_user(c: Console, who: Caller, username: str, body: UserPatch) -> User:
    if username == who.user.username and (body.disabled or (body.role and body.role != "admin")):
        raise Forbidden("you cannot disable yourself or drop your own administrator role")
    before = c.users.require(username)
    user = c.users.update(username, **body.model_dump())
    scope = ("role", "org", "jurisdiction", "disabled")
    if body.password is not None or any(getattr(user, k) != getattr(before, k) for k in scope):
        c.sessions.end_all(
            user.username
        )  # a changed scope or password must not ride on old sessions
    return user


@router.get("/users/{username}/tokens", response_model=list[TokenOut], tags=["users"])
def user_tokens(username: str, who: Admin, c: ConsoleDep) -> list[TokenOut]:
    return [TokenOut.of(t) for t in c.sessions.tokens(c.users.require(username).username)]


@router.delete("/users/{username}/tokens/{token_id}", status_code=204, tags=["users"])
def revoke_user_token(username: str, token_id: str, who: Admin, c: ConsoleDep) -> Response:
    c.sessions.revoke_token(c.users.require(username).username, token_id)
    return Response(status_code=204)
