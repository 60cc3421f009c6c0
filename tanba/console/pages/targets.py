"""Pages: crawl targets, their statistics and runs (operators and administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field

from tanba.console import charts
from tanba.console.deps import ConsoleDep, Operator
from tanba.console.rendering import redirect, render
from tanba.console.stats import target_statistics
from tanba.console.targets import TargetSpec
from tanba.core.exceptions import InputError

router = APIRouter(tags=["pages"], default_response_class=HTMLResponse)


@router.get("/targets")
def targets_page(request: Request, who: Operator, c: ConsoleDep) -> Response:
    rows = [
        (t, c.runs.last(t.spec.name), target_statistics(t.spec.name, c.reports, c.app.store))
        for t in c.targets.all()
    ]
    return render(
        c,
        request,
        "targets.html",
        rows=rows,
        allow_private=c.settings.console_allow_private_targets,
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
    return redirect(f"/targets/{stored.spec.name}")


@router.get("/targets/{name}")
def target_page(request: Request, name: str, who: Operator, c: ConsoleDep) -> Response:
    stored = c.targets.require(name)
    stats = target_statistics(name, c.reports, c.app.store)
    pages_chart = charts.columns("pages", {d.day: d.pages for d in stats.days})
    yield_chart = charts.columns("yield", {d.day: round(d.yield_per_k) for d in stats.days})
    return render(
        c,
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
    return redirect(f"/targets/{name}")


@router.post("/targets/{name}/pause")
def target_pause(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.set_paused(name, True, who.user.username)
    return redirect(f"/targets/{name}")


@router.post("/targets/{name}/resume")
def target_resume(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.targets.set_paused(name, False, who.user.username)
    return redirect(f"/targets/{name}")


@router.post("/targets/{name}/crawl")
def target_crawl(name: str, who: Operator, c: ConsoleDep) -> Response:
    c.launcher.start(c.targets.validate(c.targets.require(name).spec), who.user.username)
    return redirect(f"/targets/{name}")
