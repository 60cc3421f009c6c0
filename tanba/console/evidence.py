"""The seam to evidence export and the chain of custody (the ``evidence`` package).

The console only calls it, for one alert the caller may see, in the caller's
language, without recapturing the page (a web request must not wait for a
crawl; ``tanba evidence export`` recaptures when asked). The exporter checks
access again with the same :class:`Principal` and records the export in the
case's chain-of-custody log with the interface it came through ("console" for
the pages, "api" for the HTTP API). :func:`custody_entries` reads that log for
the alert's page and ``GET /api/alerts/{id}/custody``. When the ``evidence``
package is not installed the console answers 501 with this module's message,
so the button and routes exist before the exporter does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from fastapi.responses import FileResponse

from tanba.console import alerts as alert_rules
from tanba.console.auth import Caller
from tanba.console.context import Console
from tanba.console.exceptions import BulkRefused, Conflict, EvidenceUnavailable, Forbidden
from tanba.console.exports import ExportJob
from tanba.core.access import Principal
from tanba.core.alerts import TRANSITIONS, Alert
from tanba.core.store import AlertQuery
from tanba.core.wiring import App

if TYPE_CHECKING:
    from tanba.evidence.custody import CustodyEntry
    from tanba.evidence.package import ExportOptions

MISSING = (
    "evidence export is not installed in this Tanba (the 'evidence' package is missing);"
    " the alert's captures stay in the store, export them once it is installed"
)

NOTICE_SENT = "notice_sent"


def export_evidence(
    app: App,
    alert_id: str,
    out_path: Path,
    principal: Principal,
    lang: str,
    interface: Literal["console", "api"],
) -> Path:
    """Write the evidence package of one alert to ``out_path``; returns the file written."""
    try:
        from tanba.evidence.package import export
    except ImportError:
        raise EvidenceUnavailable(MISSING) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results = export(app, [alert_id], out_path, principal, _options(lang, interface))
    return Path(results[0].path)


def custody_entries(app: App, alert: Alert) -> list[CustodyEntry]:
    """The alert's chain of custody (captures, exports, status changes), oldest first."""
    try:
        from tanba.evidence.custody import CustodyLog
    except ImportError:
        raise EvidenceUnavailable(MISSING) from None
    return CustodyLog(app.bus, app.clock).case_log(alert)


def custody_or_none(app: App, alert: Alert) -> list[CustodyEntry]:
    """:func:`custody_entries`, or none when evidence is not installed (for the alert's page)."""
    try:
        return custody_entries(app, alert)
    except EvidenceUnavailable:
        return []


def export_response(
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
    _may_export(who)
    if mark_notice_sent and NOTICE_SENT not in alert_rules.next_statuses(who.principal, alert):
        raise Conflict(
            f"the alert is {alert.status!r}: a notice can be marked as sent only from "
            f"{_from_statuses()}; nothing was exported. Confirm the alert first, or export "
            "without marking it"
        )
    stamp = c.app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    out = c.app.settings.path("console", "evidence", f"{alert.id}-{stamp}.zip")
    path = export_evidence(c.app, alert.id, out, who.principal, who.user.language, interface)
    if mark_notice_sent:
        alert_rules.change_status(
            c.app.store, who.principal, alert.id, NOTICE_SENT, "", c.app.clock
        )
        c.counts.forget()
    return FileResponse(path, filename=path.name, content_disposition_type="attachment")


@dataclass(frozen=True)
class BundlePlan:
    """A bulk export checked and ready to write: its alerts, its file and how."""

    ids: list[str]
    out: Path
    options: ExportOptions
    mark_notice_sent: bool


def plan_bundle(
    c: Console,
    who: Caller,
    query: AlertQuery,
    interface: Literal["console", "api"],
    mark_notice_sent: bool,
) -> BundlePlan:
    """Check a bulk export of every alert of ``query`` (scoped to the caller) before any is written.

    At most :data:`tanba.evidence.bundle.MAX_BUNDLE` alerts (BulkRefused beyond, saying
    to narrow the selection). With ``mark_notice_sent`` every alert must be able to move
    to notice_sent (BulkRefused with status 409 otherwise, nothing exported).
    """
    _may_export(who)
    try:
        from tanba.evidence.bundle import MAX_BUNDLE
    except ImportError:
        raise EvidenceUnavailable(MISSING) from None
    scoped = who.principal.scope(query)
    found = c.app.store.search(replace(scoped, limit=MAX_BUNDLE + 1, offset=0))
    if found.total > MAX_BUNDLE:
        raise BulkRefused(
            f"{found.total:,} alerts are selected; one export holds at most {MAX_BUNDLE:,}: "
            "narrow the filter (a site, a work, a status or a date range) and export the "
            "alerts part by part",
            "export_too_many",
            total=found.total,
            most=MAX_BUNDLE,
        )
    if not found.alerts:
        raise BulkRefused(
            "no alert you may see is selected; select some, or change the filter", "export_none"
        )
    if mark_notice_sent:
        stuck = [a for a in found.alerts if NOTICE_SENT not in alert_rules.next_statuses(
            who.principal, a)]  # fmt: skip
        if stuck:
            raise BulkRefused(
                f"{len(stuck)} of the {len(found.alerts)} alerts cannot be marked as notified "
                f"(e.g. {stuck[0].id} is {stuck[0].status!r}; only {_from_statuses()} can): "
                "nothing was exported. Confirm them first, or export without marking them",
                "not_notifiable",
                status_code=Conflict.status_code,
                stuck=len(stuck),
                total=len(found.alerts),
                status=stuck[0].status,
            )
    ids = [a.id for a in found.alerts]
    stamp = c.app.clock.now().strftime("%Y%m%dT%H%M%SZ")
    out = c.app.settings.path("console", "evidence", f"evidence-{stamp}-{len(ids)}-alerts.zip")
    options = _options(who.user.language, interface)
    return BundlePlan(ids, out, options, mark_notice_sent)


def write_bundle(
    c: Console, who: Caller, plan: BundlePlan, progress: Callable[[int], None] | None = None
) -> Path:
    """Write a planned bundle; each package is recorded in its alert's chain of custody with
    the caller as actor, and with ``mark_notice_sent`` the alerts then move in one store
    request, each with its history entry. ``progress`` is told the packages written so far."""
    from tanba.evidence.bundle import export_bundle

    options = replace(plan.options, progress=progress)
    bundle = export_bundle(c.app, plan.ids, plan.out, who.principal, options)
    if plan.mark_notice_sent:
        alert_rules.change_many(
            c.app.store,
            who.principal,
            AlertQuery(ids=tuple(plan.ids), limit=0),
            NOTICE_SENT,
            "",
            c.app.clock,
        )
        c.counts.forget()
    return Path(bundle.path)


def bundle_response(
    c: Console,
    who: Caller,
    query: AlertQuery,
    interface: Literal["console", "api"],
    mark_notice_sent: bool,
) -> FileResponse:
    """Export every alert of ``query`` as one bundle of signed packages, while the caller
    waits (the API's; see :func:`plan_bundle` and :func:`write_bundle`)."""
    plan = plan_bundle(c, who, query, interface, mark_notice_sent)
    path = write_bundle(c, who, plan)
    return FileResponse(path, filename=plan.out.name, content_disposition_type="attachment")


def start_bundle(
    c: Console,
    who: Caller,
    query: AlertQuery,
    interface: Literal["console", "api"],
    mark_notice_sent: bool,
) -> ExportJob:
    """Check a bulk export at once (errors as :func:`plan_bundle`), then write it in the
    background (:class:`tanba.console.exports.ExportJobs`), its progress on the job."""
    plan = plan_bundle(c, who, query, interface, mark_notice_sent)
    return c.exports.start(
        who.user.username,
        len(plan.ids),
        plan.out.name,
        lambda told: write_bundle(c, who, plan, told),
    )


def _options(lang: str, interface: Literal["console", "api"]) -> ExportOptions:
    """How the console exports: in the caller's language, never recapturing (a web request
    must not wait for a crawl), recorded with the interface it came through."""
    from tanba.evidence.package import ExportOptions

    return ExportOptions(lang=lang, recapture="never", interface=interface)


def _may_export(who: Caller) -> None:
    if who.user.role == "operator":
        raise Forbidden("operators do not export evidence; an agency or the rights holder does")


def _from_statuses() -> str:
    """The statuses a notice can be marked as sent from, for messages."""
    return " or ".join(repr(s) for s, nxt in TRANSITIONS.items() if NOTICE_SENT in nxt)
