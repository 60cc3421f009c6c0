"""Pages: the registered works, registering one, editing its territories and licences;
and the organisations' policies."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, Response

from tanba.console import organisations as org_rules
from tanba.console import works as work_rules
from tanba.console.deps import AnyUser, ConsoleDep
from tanba.console.rendering import redirect, render
from tanba.core.exceptions import InputError
from tanba.core.hosts import for_people
from tanba.core.schemas.works import Licence
from tanba.core.store import AlertQuery

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/works")
def works_page(
    request: Request, filters: work_rules.WorkFilters, who: AnyUser, c: ConsoleDep
) -> Response:
    page = work_rules.visible_works(c.app, who.principal, filters.query())
    works = page.works
    counts = work_rules.alert_counts(c.app.store, who.principal, c.app.jurisdictions.codes())
    used = sorted({code for per in counts.values() for code in per})
    kept = {
        k: v for k, v in (("owner", filters.owner), ("media", filters.media), ("q", filters.q)) if v
    }
    return render(
        c,
        request,
        "works.html",
        works=works,
        page=page,
        filters=filters,
        next_link=urlencode({**kept, "after": page.next_cursor}) if page.next_cursor else "",
        first_link=urlencode(kept),
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
    form: Annotated[work_rules.WorkUpload, Form()],
) -> Response:
    work = work_rules.upload(c.app, who.principal, file, form)
    return redirect(f"/works/{work.work_id}")


@router.get("/works/{work_id}")
def work_page(request: Request, work_id: str, who: AnyUser, c: ConsoleDep) -> Response:
    work = work_rules.visible_work(c.app, who.principal, work_id)
    counts = c.app.store.count_by(
        "jurisdiction", who.principal.scope(AlertQuery(work_id=work.work_id))
    )
    licences = "\n".join(_licence_line(lic) for lic in work.licences)
    return render(
        c,
        request,
        "work.html",
        work=work,
        counts=counts,
        licences_text=licences,
        withheld=c.app.access.withholds_reference(who.principal, work),
        may_edit=work_rules.may_edit(who.principal, work),
    )


def _licence_line(lic: Licence) -> str:
    parts = [for_people(lic.domain)]  # the textarea shows фильмы.рф, saved back as stored
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
    return redirect(f"/works/{work.work_id}")


@router.get("/organisations")
def organisations_page(request: Request, who: AnyUser, c: ConsoleDep) -> Response:
    known = (u.org for u in c.users.all())
    return render(
        c, request, "organisations.html", policies=org_rules.policies(c.app, who.principal, known)
    )


@router.post("/organisations/{org}")
def organisation_edit(
    org: str, who: AnyUser, c: ConsoleDep, withhold_references: Annotated[str, Form()] = ""
) -> Response:
    body = org_rules.PolicyIn(withhold_references=bool(withhold_references))
    org_rules.change(c.app, who.principal, org, body)
    return redirect("/organisations")
