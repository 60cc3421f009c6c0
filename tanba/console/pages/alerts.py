"""Pages: the alert list with its charts, one alert, its status and its evidence export."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from tanba.console import alerts as alert_rules
from tanba.console import charts
from tanba.console import works as work_rules
from tanba.console.alerts import AlertFilters
from tanba.console.auth import Caller
from tanba.console.context import Console
from tanba.console.deps import AnyUser, ConsoleDep, Filters
from tanba.console.evidence import custody_or_none, export_response, start_bundle
from tanba.console.exceptions import BulkRefused
from tanba.console.frames import file_time, span_moments
from tanba.console.i18n import Translator
from tanba.console.models import StatusIn
from tanba.console.pictures import list_pictures
from tanba.console.rendering import redirect, render
from tanba.core.exceptions import NotFound
from tanba.core.hosts import for_people
from tanba.core.store import AlertPage
from tanba.core.store.base import CountKey
from tanba.core.works_catalog import WorkQuery
from tanba.evidence.bundle import MAX_BUNDLE
from tanba.evidence.wording import variant_name

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
WORK_CHOICES = 200
EXPORT_REFRESH_S = 3  # how often a running export's page reloads itself (no scripts here)


@router.get("/alerts")
def alerts_page(request: Request, filters: Filters, who: AnyUser, c: ConsoleDep) -> Response:
    return _list_page(request, filters, who, c)


@dataclass(frozen=True)
class BulkForm:
    """A refused bulk form as it was sent, shown again above the list: why it was refused
    (a :class:`BulkRefused`), and what was ticked and typed, kept."""

    refused: BulkRefused
    ids: frozenset[str]
    everything: bool
    comment: str = ""
    mark_notice_sent: bool = False


def _list_page(
    request: Request, filters: AlertFilters, who: Caller, c: Console, form: BulkForm | None = None
) -> Response:
    """The list (or its groups); with ``form``, the bulk form that was refused, its reason
    beside it in the user's language and its input kept, answered with the refusal's status."""
    principal = who.principal
    tabs = c.counts.tabs(principal, filters)
    if filters.group:
        return _grouped_page(request, filters, who, c, tabs)
    page = alert_rules.search(c.app.store, principal, filters)
    return render(
        c,
        request,
        "alerts.html",
        status_code=form.refused.status_code if form else 200,
        **_list_context(request, filters, who, c, tabs),
        bulk_form=form,
        page=page,
        grouped=None,
        pictures=list_pictures(c.app, c.grants, principal, page.alerts),
        number=alert_rules.page_number(filters, page),
        pages=alert_rules.page_count(filters, page),
    )


def _grouped_page(
    request: Request, filters: AlertFilters, who: Caller, c: Console, tabs: dict[str, int]
) -> Response:
    """The list as one row per site or work with its count (``group=site|work``)."""
    grouped = c.counts.groups(who.principal, filters)
    titles: dict[str, str] = {}
    if filters.group == "work":
        titles = work_rules.titles(c.app, (g.key for g in grouped.groups))
    alerts = tabs[filters.status] if filters.status else sum(tabs.values())
    return render(
        c,
        request,
        "alerts.html",
        **_list_context(request, filters, who, c, tabs),
        page=AlertPage([], alerts),  # the title's total: alerts, not groups
        grouped=grouped,
        group_link=alert_rules.group_link,
        titles=titles,
        number=filters.page,
        pages=max(1, math.ceil(grouped.total / filters.per_page)),
        max_offset=alert_rules.MAX_OFFSET,
    )


def _list_context(
    request: Request, filters: AlertFilters, who: Caller, c: Console, tabs: dict[str, int]
) -> dict[str, Any]:
    """What the list shows grouped or not: filters and their choices, tabs, charts, bulk."""
    principal = who.principal
    # The work filter offers the first works of the list (a catalogue may hold a million)
    # and the one filtered on; any other is reached from its work page's alert links.
    first = work_rules.visible_works(c.app, principal, WorkQuery(limit=WORK_CHOICES)).works
    works = {w.work_id: w.title for w in first}
    if filters.work_id and filters.work_id not in works:
        works[filters.work_id] = filters.work_id
    return {
        "filters": filters,
        "tabs": tabs,
        "may_bulk": principal.may_change_statuses,
        "may_export": who.user.role != "operator",
        "max_export": MAX_BUNDLE,
        "bulk_statuses": alert_rules.BULK_STATUSES,
        "chart_keys": CHART_KEYS,
        "chart_heights": CHART_HEIGHTS,
        "works": works,
        "visible_codes": principal.jurisdictions or c.app.jurisdictions.codes(),
        "done": _done(request),
        "bulk_error": lambda refused: _bulk_error(Translator(who.user.language), refused),
    }


def _bulk_error(t: Translator, refused: BulkRefused) -> str:
    """Why a bulk form was refused, in the user's words (a status named by its own)."""
    values = {k: t(f"status.{v}") if k == "status" else v for k, v in refused.values.items()}
    return t(f"bulk.error.{refused.code}", **values)


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
            label=lambda k: for_people(k)[:18],
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
    return render(
        c,
        request,
        "alert.html",
        alert=alert,
        work=work,
        next_statuses=alert_rules.next_statuses(who.principal, alert),
        withheld=work is not None and c.app.access.withholds_reference(who.principal, work),
        may_export=who.user.role != "operator",
        blob_ok=c.app.blobs.exists(alert.media_sha256),
        custody=custody_or_none(c.app, alert),
        confidence=alert_rules.jurisdiction_confidence(alert),
        variant_words=variant_name,  # "the work with a margin cut off: … bottom 24%", not a code
        moments=span_moments(alert),  # a video match's frame pairs (tanba.console.frames)
        # The copy's player starts where the span does, in the file's own time (a stream's
        # sampled file joins pieces far apart in the stream).
        copy_start=None
        if alert.match.query_offset_s is None
        else file_time(alert.stream, alert.match.query_offset_s),
    )


def _done(request: Request) -> dict[str, int] | None:
    """What the last bulk action did, from the redirect's query (None when it was not one)."""
    q = request.query_params
    if "changed" not in q:
        return None
    try:
        return {"changed": int(q["changed"]), "refused": int(q.get("refused", "0"))}
    except ValueError:
        return None


@router.post("/alerts/status")
def alerts_status(
    request: Request,
    filters: Filters,
    who: AnyUser,
    c: ConsoleDep,
    status: Annotated[str, Form()],
    ids: Annotated[list[str] | None, Form()] = None,
    everything: Annotated[bool, Form(alias="all")] = False,
    comment: Annotated[str, Form()] = "",
) -> Response:
    """The list's bulk action: the rows ticked, or every alert the list's filters match.

    The filters come in the form's URL (the list's own query), so the answer is the
    same list again, with how many alerts moved and how many could not. A refused action
    (nothing ticked, too many) changes nothing and answers the list itself, the form as
    it was sent and the reason beside it in the user's language.
    """
    try:
        query = alert_rules.bulk_query(who.principal, filters, ids or [], everything)
        done = alert_rules.change_many(
            c.app.store, who.principal, query, status, comment, c.app.clock
        )
    except BulkRefused as refused:
        form = BulkForm(refused, frozenset(ids or ()), everything, comment)
        return _list_page(request, filters, who, c, form)
    c.counts.forget()
    outcome = urlencode({"changed": len(done.changed), "refused": sum(done.refused.values())})
    kept = filters.link()
    return redirect(f"/alerts?{kept}&{outcome}" if kept else f"/alerts?{outcome}")


@router.post("/alerts/evidence")
def alerts_evidence(
    request: Request,
    filters: Filters,
    who: AnyUser,
    c: ConsoleDep,
    ids: Annotated[list[str] | None, Form()] = None,
    everything: Annotated[bool, Form(alias="all")] = False,
    mark_notice_sent: Annotated[bool, Form()] = False,
) -> Response:
    """The list's bulk export: the rows ticked, or every alert the filters match, as one
    archive of signed packages (at most :data:`tanba.evidence.bundle.MAX_BUNDLE`), written
    in the background; the answer leads to the export's page (its progress, then its file).
    A refused export answers the list, as a refused action does."""
    try:
        query = alert_rules.bulk_query(who.principal, filters, ids or [], everything)
        job = start_bundle(c, who, query, "console", mark_notice_sent=mark_notice_sent)
    except BulkRefused as refused:
        form = BulkForm(
            refused, frozenset(ids or ()), everything, mark_notice_sent=mark_notice_sent
        )
        return _list_page(request, filters, who, c, form)
    return redirect(f"/exports/{job.id}")


@router.get("/exports/{job_id}")
def export_page(request: Request, job_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    """A bulk export of the caller's: packages written so far (the page reloads itself
    every few seconds while it runs), then its file, or what went wrong."""
    job = c.exports.get(who.user.username, job_id)
    return render(c, request, "export.html", job=job, refresh_s=EXPORT_REFRESH_S)


@router.get("/exports/{job_id}/file", response_class=FileResponse)
def export_file(job_id: str, who: AnyUser, c: ConsoleDep) -> FileResponse:
    """The archive of a finished bulk export of the caller's (404 while it runs)."""
    job = c.exports.get(who.user.username, job_id)
    if job.path is None:
        raise NotFound(f"the export is {job.state}, not done: its page says how far it is")
    return FileResponse(job.path, filename=job.filename, content_disposition_type="attachment")


@router.post("/alerts/{alert_id}/status")
def alert_status(
    alert_id: str,
    who: AnyUser,
    c: ConsoleDep,
    change: Annotated[StatusIn, Form()],
) -> Response:
    alert = alert_rules.change_status(
        c.app.store, who.principal, alert_id, change.status, change.comment, c.app.clock
    )
    c.counts.forget()
    return redirect(f"/alerts/{alert.id}")


@router.post("/alerts/{alert_id}/evidence", response_class=FileResponse)
def alert_evidence_page(
    alert_id: str,
    who: AnyUser,
    c: ConsoleDep,
    mark_notice_sent: Annotated[bool, Form()] = False,
) -> FileResponse:
    return export_response(c, who, alert_id, "console", mark_notice_sent=mark_notice_sent)
