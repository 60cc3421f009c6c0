"""The JSON API under ``/api``: everything the pages do, for scripts and other tools.

Authentication is a session cookie (with the CSRF token on writes) or an API
token (``Authorization: Bearer tnb_...``). Every route narrows what it reads
with the caller's :class:`~tanba.core.access.Principal`; see :mod:`tanba.console.alerts`
and :mod:`tanba.console.works` for the rules.

Why one module of about 440 lines: every route of ``/api`` is here, each a few
lines that hand over to the rules modules, so a client's author reads one file.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, UploadFile
from fastapi.responses import FileResponse, Response

from tanba.console import alerts as alert_rules
from tanba.console import organisations as org_rules
from tanba.console import users as user_rules
from tanba.console import works as work_rules
from tanba.console.alerts import MAX_OFFSET, AlertFilters
from tanba.console.caching import NO_STORE, ONE_DAY
from tanba.console.deps import Admin, AnyUser, ConsoleDep, Filters, Operator
from tanba.console.disk_cache import frames_dir
from tanba.console.evidence import bundle_response, custody_entries, export_response
from tanba.console.frames import frame_pairs, span_moments
from tanba.console.media import ThumbSize, blob_response, sheet_response, thumbnail_response
from tanba.console.models import (
    AlertDetail,
    AlertList,
    AlertSummary,
    BulkExportIn,
    BulkStatusIn,
    BulkStatusOut,
    Counts,
    CrawlOut,
    CrawlRunOut,
    CustodyOut,
    GroupList,
    GroupOut,
    JurisdictionOut,
    LanguageIn,
    StatsOut,
    StatusIn,
    TargetOut,
    TimezoneIn,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserIn,
    UserOut,
    UserPatch,
    WorkList,
    WorkOut,
)
from tanba.console.stats import target_statistics
from tanba.console.targets import TargetSpec
from tanba.core.exceptions import InputError, NotFound, Withheld
from tanba.core.schemas.organisations import OrganisationPolicy
from tanba.core.store.base import CountKey

router = APIRouter(prefix="/api")


# --- me --------------------------------------------------------------------------------


@router.get("/me", response_model=UserOut, tags=["account"])
def me(who: AnyUser) -> UserOut:
    return UserOut.of(who.user)


@router.put("/me/language", response_model=UserOut, tags=["account"])
def set_language(body: LanguageIn, who: AnyUser, c: ConsoleDep) -> UserOut:
    return UserOut.of(c.users.update(who.user.username, language=body.language))


@router.put("/me/timezone", response_model=UserOut, tags=["account"])
def set_timezone(body: TimezoneIn, who: AnyUser, c: ConsoleDep) -> UserOut:
    """The time zone the console shows dates in ("" for the installation's)."""
    return UserOut.of(c.users.update(who.user.username, timezone=body.timezone))


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


@router.get(
    "/alerts/groups/{key}",
    response_model=GroupList,
    tags=["alerts"],
    responses={400: {"description": f"a page past the first {MAX_OFFSET:,} groups"}},
)
def group_alerts(
    key: Literal["site", "work"], filters: Filters, who: AnyUser, c: ConsoleDep
) -> GroupList:
    """The alerts the filters match, one row per site or work with its count, most first.

    Page by ``page`` and ``per_page``; list one group's alerts with ``site=`` or ``work_id=``.
    """
    filters = filters.model_copy(update={"group": key})
    found = c.counts.groups(who.principal, filters)
    titles: dict[str, str] = {}
    if key == "work":
        titles = work_rules.titles(c.app, (g.key for g in found.groups))
    groups = [
        GroupOut(value=g.key, count=g.count, last_seen=g.last_seen, title=titles.get(g.key, ""))
        for g in found.groups
    ]
    paging = filters.model_dump(include={"page", "per_page"})
    return GroupList(key=key, total=found.total, exact=found.exact, groups=groups, **paging)


@router.post(
    "/alerts/status",
    response_model=BulkStatusOut,
    tags=["alerts"],
    responses={400: {"description": "nothing selected, too many alerts, or an unknown status"}},
)
def change_statuses(body: BulkStatusIn, who: AnyUser, c: ConsoleDep) -> BulkStatusOut:
    """Move many alerts to one status: the ``ids`` given, or all that ``filter`` matches.

    Each alert moved gets its history entry with the caller as actor; alerts the caller
    may not see are left alone (as ids that do not exist), and alerts whose status may
    not move to the new one are counted per status in ``refused``.
    """
    if body.ids and body.filter is not None:
        raise InputError("give the alerts' ids or a filter, not both")
    query = alert_rules.bulk_query(
        who.principal, body.filter or AlertFilters(), body.ids, body.filter is not None
    )
    done = alert_rules.change_many(
        c.app.store, who.principal, query, body.status, body.comment, c.app.clock
    )
    c.counts.forget()
    return BulkStatusOut(changed=len(done.changed), ids=list(done.changed), refused=done.refused)


@router.post(
    "/alerts/evidence",
    tags=["alerts"],
    response_class=FileResponse,
    responses={
        400: {"description": "nothing selected, or more alerts than one export holds"},
        409: {"description": "mark_notice_sent, and an alert is not confirmed"},
        501: {"description": "evidence export is not installed"},
    },
)
def alerts_evidence(body: BulkExportIn, who: AnyUser, c: ConsoleDep) -> FileResponse:
    """One zip of the signed evidence packages of many alerts: the ``ids`` given, or all that
    ``filter`` matches (packages/<id>.zip each, index.json and its signature index.json.sig).

    Each package is recorded in its alert's chain of custody with the caller as actor,
    through "api"; alerts the caller may not see are left out, as ids that do not exist.
    """
    if body.ids and body.filter is not None:
        raise InputError("give the alerts' ids or a filter, not both")
    query = alert_rules.bulk_query(
        who.principal, body.filter or AlertFilters(), body.ids, body.filter is not None
    )
    return bundle_response(c, who, query, "api", mark_notice_sent=body.mark_notice_sent)


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
    c.counts.forget()
    return AlertDetail(
        alert=alert, next_statuses=list(alert_rules.next_statuses(who.principal, alert))
    )


@router.get(
    "/alerts/{alert_id}/media",
    tags=["alerts"],
    response_class=FileResponse,
    responses={200: {"description": "the found copy, as fetched"}},
)
def alert_media(alert_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return blob_response(c, alert.media_sha256)


JPEG: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "a JPEG thumbnail"}
}
ThumbSizeQuery = Annotated[
    ThumbSize, Query(description="'page': 360 pixels a side at most; 'list': 128")
]
DigestQuery = Annotated[
    str,
    Query(
        max_length=64,
        description="the start of the file's SHA-256 the link expects (the pages put it): "
        "when it matches, the answer may be cached for a year",
    ),
]


@router.get(
    "/alerts/{alert_id}/thumbnail",
    tags=["alerts"],
    response_class=Response,
    responses=JPEG,
)
def alert_thumbnail(
    alert_id: str, who: AnyUser, c: ConsoleDep, size: ThumbSizeQuery = "page", d: DigestQuery = ""
) -> Response:
    """A JPEG thumbnail of the found copy (400 when the copy is not an image)."""
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return thumbnail_response(c, alert.media_sha256, size, d)


@router.get(
    "/alerts/{alert_id}/frames",
    tags=["alerts"],
    response_class=Response,
    responses=JPEG | {404: {"description": "the alert is not a video match with a span"}},
)
def alert_frames(alert_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    """A video match's span as frame pairs: a row per instant, the copy's frame left, the
    work's right (grey where there is none, or where the reference is withheld from the
    caller); the instants are listed on the alert's page (tanba.console.frames)."""
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    if not span_moments(alert):
        raise NotFound("this alert is not a video match with a matched span")
    try:
        reference: str | None = c.app.access.reference(who.principal, alert.work_id).sha256
    except (NotFound, Withheld):
        reference = None
    jpeg = frame_pairs(
        alert, reference, c.app.blobs, c.app.settings, frames_dir(c.app.settings.home)
    )
    # A withheld reference may be handed over later: that answer is not kept.
    return Response(
        jpeg,
        media_type="image/jpeg",
        headers={"Cache-Control": ONE_DAY if reference else NO_STORE},
    )


@router.get(
    "/sheets/{key}",
    tags=["alerts"],
    response_class=Response,
    responses=JPEG | {404: {"description": "no list page showed this caller the sheet lately"}},
)
def picture_sheet(key: str, who: AnyUser, c: ConsoleDep) -> Response:
    """The pictures of an alert list page the caller was shown in the last minute, on one JPEG.

    Cells of 128 pixels, ten a row, in the order the page placed them
    (tanba.console.pictures); the page's markup says which cell is which row's.
    """
    return sheet_response(c, who.principal, key)


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
    return export_response(c, who, alert_id, "api", mark_notice_sent=mark_notice_sent)


@router.get("/alerts/{alert_id}/custody", response_model=list[CustodyOut], tags=["alerts"])
def alert_custody(alert_id: str, who: AnyUser, c: ConsoleDep) -> list[CustodyOut]:
    """The alert's chain of custody, oldest first: captures, exports (with the package's
    SHA-256 and interface) and status changes."""
    alert = alert_rules.visible(c.app.store, who.principal, alert_id)
    return [CustodyOut.of(entry) for entry in custody_entries(c.app, alert)]


# --- works -------------------------------------------------------------------------------


@router.get(
    "/works",
    response_model=WorkList,
    tags=["works"],
    responses={400: {"description": "a damaged cursor, or a page size out of range"}},
)
def list_works(filters: work_rules.WorkFilters, who: AnyUser, c: ConsoleDep) -> WorkList:
    """Works the caller may see, by owner, title and id, from the works catalogue.

    Filter by ``owner``, ``media`` and ``q`` (every word begins a word of the title,
    file name or id); page with ``next_cursor`` passed back as ``after``.
    """
    page = work_rules.visible_works(c.app, who.principal, filters.query())
    counts = work_rules.alert_counts(c.app.store, who.principal, c.app.jurisdictions.codes())
    return WorkList(
        total=page.total,
        works=[WorkOut.of(w, counts.get(w.work_id)) for w in page.works],
        next_cursor=page.next_cursor,
    )


@router.post("/works", response_model=WorkOut, status_code=201, tags=["works"])
def upload_work(
    who: AnyUser,
    c: ConsoleDep,
    file: Annotated[UploadFile, File(description="an image or audio file")],
    form: Annotated[work_rules.WorkUpload, Form()],
) -> WorkOut:
    return WorkOut.of(work_rules.upload(c.app, who.principal, file, form))


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
def work_media(work_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    """The registered reference file, for those who may have it (tanba.core.access.Access.reference)."""
    return blob_response(c, c.app.access.reference(who.principal, work_id).sha256)


@router.get(
    "/works/{work_id}/thumbnail",
    tags=["works"],
    response_class=Response,
    responses=WITHHELD | JPEG,
)
def work_thumbnail(
    work_id: str, who: AnyUser, c: ConsoleDep, size: ThumbSizeQuery = "page", d: DigestQuery = ""
) -> Response:
    """A JPEG thumbnail of the registered reference, for those who may have the reference."""
    return thumbnail_response(c, c.app.access.reference(who.principal, work_id).sha256, size, d)


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

TARGET_ERRORS: dict[int | str, dict[str, Any]] = {
    409: {"description": "another active target has the name"},
    422: {"description": "a field breaks a rule: 'problems' names each field, code and fix"},
}


@router.get("/targets", response_model=list[TargetOut], tags=["targets"])
def list_targets(who: Operator, c: ConsoleDep, archived: bool = False) -> list[TargetOut]:
    """The active targets (or, with ``archived=true``, the archived ones), by name."""
    return [TargetOut.of(r, c.runs.last(r.id)) for r in c.targets.registry.records(archived)]


@router.post(
    "/targets",
    response_model=TargetOut,
    status_code=201,
    tags=["targets"],
    responses=TARGET_ERRORS,
)
def add_target(spec: TargetSpec, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.add(spec.fields(), spec.resolve, who.user.username), None)


@router.get("/targets/{target_id}", response_model=TargetOut, tags=["targets"])
def get_target(target_id: str, who: Operator, c: ConsoleDep) -> TargetOut:
    return TargetOut.of(c.targets.registry.require(target_id), c.runs.last(target_id))


@router.put(
    "/targets/{target_id}", response_model=TargetOut, tags=["targets"], responses=TARGET_ERRORS
)
def edit_target(target_id: str, spec: TargetSpec, who: Operator, c: ConsoleDep) -> TargetOut:
    """Replace the target's settings (its name too: the id stays, and its history with it)."""
    record = c.targets.update(target_id, spec.fields(), spec.resolve, who.user.username)
    return TargetOut.of(record, c.runs.last(target_id))


@router.delete("/targets/{target_id}", response_model=TargetOut, tags=["targets"])
def remove_target(target_id: str, who: Operator, c: ConsoleDep) -> TargetOut:
    """Archive the target: no longer crawled or listed; its crawls and alerts are kept."""
    record = c.targets.registry.archive(target_id, who.user.username)
    return TargetOut.of(record, c.runs.last(target_id))


@router.post(
    "/targets/{target_id}/restore",
    response_model=TargetOut,
    tags=["targets"],
    responses=TARGET_ERRORS,
)
def restore_target(target_id: str, who: Operator, c: ConsoleDep) -> TargetOut:
    record = c.targets.registry.restore(target_id, who.user.username)
    return TargetOut.of(record, c.runs.last(target_id))


@router.post("/targets/{target_id}/pause", response_model=TargetOut, tags=["targets"])
def pause_target(target_id: str, who: Operator, c: ConsoleDep) -> TargetOut:
    record = c.targets.registry.set_paused(target_id, True, who.user.username)
    return TargetOut.of(record, c.runs.last(target_id))


@router.post("/targets/{target_id}/resume", response_model=TargetOut, tags=["targets"])
def resume_target(target_id: str, who: Operator, c: ConsoleDep) -> TargetOut:
    record = c.targets.registry.set_paused(target_id, False, who.user.username)
    return TargetOut.of(record, c.runs.last(target_id))


@router.post(
    "/targets/{target_id}/crawl", response_model=CrawlRunOut, status_code=202, tags=["targets"]
)
def start_crawl(target_id: str, who: Operator, c: ConsoleDep) -> CrawlRunOut:
    record = c.targets.registry.require(target_id)
    c.targets.launchable(record)
    return CrawlRunOut.of(c.launcher.start(record, who.user.username))


@router.get("/targets/{target_id}/runs", response_model=list[CrawlRunOut], tags=["targets"])
def target_runs(target_id: str, who: Operator, c: ConsoleDep) -> list[CrawlRunOut]:
    c.targets.registry.require(target_id)
    return [CrawlRunOut.of(r) for r in c.runs.runs(target_id)]


@router.get("/targets/{target_id}/stats", response_model=StatsOut, tags=["targets"])
def target_stats(target_id: str, who: Operator, c: ConsoleDep) -> StatsOut:
    c.targets.registry.require(target_id)
    return StatsOut.of(target_statistics(target_id, c.reports, c.app.store))


@router.get("/targets/{target_id}/crawls", response_model=list[CrawlOut], tags=["targets"])
def target_crawls(target_id: str, who: Operator, c: ConsoleDep) -> list[CrawlOut]:
    """The target's crawls, newest first, with failed fetches counted by reason."""
    record = c.targets.registry.require(target_id)
    return [CrawlOut.of(x, listed=False) for x in reversed(c.reports.for_target(record.id))]


@router.get("/targets/{target_id}/crawls/{crawl_id}", response_model=CrawlOut, tags=["targets"])
def target_crawl(target_id: str, crawl_id: str, who: Operator, c: ConsoleDep) -> CrawlOut:
    """One crawl of the target, with its failed fetches listed (URL, reason, detail)."""
    record = c.targets.registry.require(target_id)
    crawl = c.reports.crawl(record.id, crawl_id)
    if crawl is None:
        raise NotFound(f"target {record.name!r} has no crawl {crawl_id!r}")
    return CrawlOut.of(crawl)


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
    user = user_rules.change(c.users, c.sessions, who.user.username, username, **body.model_dump())
    return UserOut.of(user)


@router.get("/users/{username}/tokens", response_model=list[TokenOut], tags=["users"])
def user_tokens(username: str, who: Admin, c: ConsoleDep) -> list[TokenOut]:
    return [TokenOut.of(t) for t in c.sessions.tokens(c.users.require(username).username)]


@router.delete("/users/{username}/tokens/{token_id}", status_code=204, tags=["users"])
def revoke_user_token(username: str, token_id: str, who: Admin, c: ConsoleDep) -> Response:
    c.sessions.revoke_token(c.users.require(username).username, token_id)
    return Response(status_code=204)
