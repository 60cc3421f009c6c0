"""Pages: crawl targets, their statistics, crawls and failed fetches (operators and administrators).

Targets are addressed by id (:mod:`tanba.core.target_registry`). A form with a
mistake is answered with the same page (status 422), the user's input in the
fields and each problem beside its field in the user's language; only a valid
form redirects (post/redirect/get).
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from tanba.console import charts
from tanba.console.context import Console
from tanba.console.deps import ConsoleDep, Operator
from tanba.console.rendering import redirect, render
from tanba.console.stats import target_statistics, targets_overview
from tanba.console.targets import FORM_FIELDS, TargetForm, form_values
from tanba.core.exceptions import NotFound, TargetsError
from tanba.core.schemas.crawls import FAILURE_REASONS
from tanba.core.schemas.targets import TargetRecord
from tanba.core.targets import Problem, TargetInvalid, TargetsFileError

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)
UNPROCESSABLE = 422


def _problems(exc: TargetInvalid | None) -> dict[str, list[Problem]]:
    """Problems by form field; those of fields the form does not show under "" (above it)."""
    out: dict[str, list[Problem]] = {}
    for p in exc.problems if exc else ():
        out.setdefault(p.field if p.field in FORM_FIELDS else "", []).append(p)
    return out


def _list_page(
    c: Console,
    request: Request,
    *,
    archived: bool = False,
    values: dict[str, str] | None = None,
    error: TargetInvalid | None = None,
    import_error: TargetsError | None = None,
) -> Response:
    records = c.targets.registry.records(archived)
    figures = targets_overview([r.id for r in records], c.reports, c.app.store)
    rows = [(r, c.runs.last(r.id), figures[r.id]) for r in records]
    return render(
        c,
        request,
        "targets.html",
        status_code=UNPROCESSABLE if error or import_error else 200,
        rows=rows,
        archived=archived,
        imported=_imported(request),
        import_error=import_error,
        values=values or form_values(None),
        problems=_problems(error),
        allow_private=c.settings.console_allow_private_targets,
    )


@router.get("/targets")
def targets_page(
    request: Request, who: Operator, c: ConsoleDep, archived: bool = False
) -> Response:
    return _list_page(c, request, archived=archived)


@router.post("/targets")
def target_add(
    request: Request, who: Operator, c: ConsoleDep, form: Annotated[TargetForm, Form()]
) -> Response:
    try:
        record = c.targets.add(form.fields(), form.resolve_entries(), who.user.username)
    except TargetInvalid as exc:
        return _list_page(c, request, values=form.values(), error=exc)
    return redirect(f"/targets/{record.id}")


# Largest targets file the console takes (a file of 1,000 targets is about 200 KB).
MAX_TARGETS_FILE = 1 << 20


@router.post("/targets/import")
async def targets_import(
    request: Request,
    who: Operator,
    c: ConsoleDep,
    file: Annotated[UploadFile, File()],
    resolve: Annotated[str, Form()] = "",
) -> Response:
    """Import a targets file (YAML, as ``tanba targets import``): the list again with what
    changed, or with why nothing was (the file's problems, each target named)."""
    data = await file.read(MAX_TARGETS_FILE + 1)
    name = file.filename or "targets.yaml"
    try:
        if len(data) > MAX_TARGETS_FILE:
            raise TargetsFileError(name, "too_large", limit=f"{MAX_TARGETS_FILE:,}")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise TargetsFileError(name, "not_utf8") from None
        entries = [e for e in resolve.replace(",", "\n").split() if e]
        done = c.targets.import_file(text, name, entries, who.user.username)
    except TargetsError as exc:
        return _list_page(c, request, import_error=exc)
    counts = {a: sum(1 for i in done if i.action == a) for a in ("added", "updated", "unchanged")}
    return redirect("/targets?" + urlencode({"imported": len(done), **counts}))


def _imported(request: Request) -> dict[str, int] | None:
    """What the last import did, from its redirect's query (None when there was none)."""
    q = request.query_params
    if "imported" not in q:
        return None
    try:
        return {k: int(q.get(k, "0")) for k in ("imported", "added", "updated", "unchanged")}
    except ValueError:
        return None


def _target_page(
    c: Console,
    request: Request,
    record: TargetRecord,
    *,
    values: dict[str, str] | None = None,
    error: TargetInvalid | None = None,
) -> Response:
    stats = target_statistics(record.id, c.reports, c.app.store)
    pages_chart = charts.columns("pages", {d.day: d.pages for d in stats.days})
    yield_chart = charts.columns("yield", {d.day: round(d.yield_per_k) for d in stats.days})
    return render(
        c,
        request,
        "target.html",
        status_code=UNPROCESSABLE if error else 200,
        target=record,
        stats=stats,
        last=stats.history[0] if stats.history else None,
        reasons=list(FAILURE_REASONS),
        runs=c.runs.runs(record.id),
        charts=[pages_chart, yield_chart],
        values=values or form_values(record),
        problems=_problems(error),
        allow_private=c.settings.console_allow_private_targets,
    )


@router.get("/targets/{target_id}")
def target_page(request: Request, target_id: str, who: Operator, c: ConsoleDep) -> Response:
    return _target_page(c, request, c.targets.registry.require(target_id))


@router.post("/targets/{target_id}")
def target_edit(
    request: Request,
    target_id: str,
    who: Operator,
    c: ConsoleDep,
    form: Annotated[TargetForm, Form()],
) -> Response:
    record = c.targets.registry.require(target_id)
    fields: dict[str, Any] = form.fields()
    resolve: list[str] | None = form.resolve_entries()
    if not c.settings.console_allow_private_targets:
        # The form has no such fields here: what the target has stays as it is.
        fields.pop("allow_private_addresses")
        resolve = None
    try:
        c.targets.update(target_id, fields, resolve, who.user.username)
    except TargetInvalid as exc:
        return _target_page(c, request, record, values=form.values(), error=exc)
    return redirect(f"/targets/{target_id}")


@router.post("/targets/{target_id}/pause")
def target_pause(target_id: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.registry.set_paused(target_id, True, who.user.username)
    return redirect(f"/targets/{target_id}")


@router.post("/targets/{target_id}/resume")
def target_resume(target_id: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.registry.set_paused(target_id, False, who.user.username)
    return redirect(f"/targets/{target_id}")


@router.post("/targets/{target_id}/remove")
def target_remove(target_id: str, who: Operator, c: ConsoleDep) -> Response:
    """Archive the target: no longer crawled or listed; its statistics and alerts stay."""
    c.targets.registry.archive(target_id, who.user.username)
    return redirect(f"/targets/{target_id}")


@router.post("/targets/{target_id}/restore")
def target_restore(target_id: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.registry.restore(target_id, who.user.username)
    return redirect(f"/targets/{target_id}")


@router.post("/targets/{target_id}/crawl")
def target_crawl(request: Request, target_id: str, who: Operator, c: ConsoleDep) -> Response:
    record = c.targets.registry.require(target_id)
    try:
        c.targets.launchable(record)
    except TargetInvalid as exc:  # e.g. a demo target's private addresses, refused here
        return _target_page(c, request, record, error=exc)
    c.launcher.start(record, who.user.username)
    return redirect(f"/targets/{target_id}")


@router.get("/targets/{target_id}/crawls/{crawl_id}")
def target_crawl_page(
    request: Request, target_id: str, crawl_id: str, who: Operator, c: ConsoleDep
) -> Response:
    """One crawl of the target: its counters, its failed fetches by reason, each one listed."""
    record = c.targets.registry.require(target_id)
    crawl = c.reports.crawl(record.id, crawl_id)
    if crawl is None:
        raise NotFound(f"target {record.name!r} has no crawl {crawl_id!r}; see its page")
    return render(
        c,
        request,
        "target_crawl.html",
        target=record,
        crawl=crawl,
        reasons=[r for r in FAILURE_REASONS if crawl.report.failures.get(r)],
    )


@router.get("/targets/{target_id}/crawls/{crawl_id}/failures/{index}")
def target_failure_page(
    request: Request, target_id: str, crawl_id: str, index: int, who: Operator, c: ConsoleDep
) -> Response:
    """One failed fetch: its URL, the page that led to it, why it failed and what to do."""
    record = c.targets.registry.require(target_id)
    crawl = c.reports.crawl(record.id, crawl_id)
    failed = crawl.report.failed if crawl is not None else []
    if crawl is None or not 0 <= index < len(failed):
        raise NotFound(f"no failed fetch #{index} in crawl {crawl_id!r} of {record.name!r}")
    return render(
        c,
        request,
        "target_failure.html",
        target=record,
        crawl=crawl,
        failure=failed[index],
        index=index,
    )
