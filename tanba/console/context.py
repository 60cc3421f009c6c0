"""The console's shared context: the stores a request handler needs, built once per application.

:func:`build_console` opens them over a Tanba :class:`~tanba.core.wiring.App`;
:func:`console_of` finds them from a request. Routes reach them through the
dependencies in :mod:`tanba.console.deps`; pages render with
:func:`tanba.console.rendering.render`. This module imports no route, dependency
or renderer, so everything else in the console can import it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from fastapi import Request
from jinja2 import Environment, PackageLoader, StrictUndefined

from tanba.console.alerts import CountCache
from tanba.console.caching import digest_of
from tanba.console.crawls import CrawlLauncher, JobLauncher, RunLog, SubprocessLauncher
from tanba.console.db import db_path
from tanba.console.exports import ExportJobs
from tanba.console.i18n import pick_language
from tanba.console.pictures import Grants
from tanba.console.sessions import SessionStore
from tanba.console.targets import ConsoleTargets, migrate_console_targets
from tanba.console.throttle import LoginThrottle
from tanba.console.users import UserStore
from tanba.core.crawl_reports import CrawlReports
from tanba.core.hosts import for_people
from tanba.core.settings import Settings
from tanba.core.sqlite import Database
from tanba.core.wiring import App

LANG_COOKIE = "tanba_lang"


@dataclass
class Console:
    """Everything a request handler needs, built once per application."""

    app: App
    settings: Settings
    users: UserStore
    sessions: SessionStore
    targets: ConsoleTargets
    runs: RunLog
    launcher: CrawlLauncher
    reports: CrawlReports
    counts: CountCache
    throttle: LoginThrottle
    grants: Grants  # the pictures the alert list just showed, and to whom
    exports: ExportJobs  # bulk evidence exports running in the background
    templates: Environment = field(repr=False)


def login_language(request: Request) -> str:
    return pick_language(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        accept=request.headers.get("accept-language", ""),
    )


def safe_href(url: object) -> str:
    """An http(s) URL for an href, or '#': crawled URLs must not become javascript: links."""
    text = str(url or "")
    try:
        scheme = urlsplit(text).scheme.lower()
    except ValueError:
        return "#"
    return text if scheme in ("http", "https") else "#"


def local_path(target: str, default: str = "/") -> str:
    """``target`` if it is a path on this site (for redirects after a form), else ``default``."""
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default


def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("tanba.console", "templates"),
        autoescape=True,  # every template, .html and .svg alike: crawled text stays text
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,  # a missing value is a bug to see in tests, not a blank
    )
    env.filters["href"] = safe_href
    env.filters["q"] = lambda v: quote(str(v), safe="")
    env.filters["pct"] = lambda v: f"{float(v) * 100:.0f}%"
    env.filters["digest"] = digest_of  # a thumbnail URL's d=: the file it names, for good
    env.filters["idn"] = for_people  # host names as people read them (мысал.қаз, not xn--)
    return env


def build_console(
    app: App,
    launcher: CrawlLauncher | None = None,
    hasher: PasswordHasher | None = None,
) -> Console:
    """The console's stores over ``app`` (also used by the ``tanba users`` commands)."""
    db = Database(db_path(app.settings), "")
    runs = RunLog(db)
    migrate_console_targets(db, app.targets)
    targets = ConsoleTargets(app.targets, allow_private=app.settings.console_allow_private_targets)
    reports = CrawlReports(app.bus)
    if launcher is None:
        launcher = (
            JobLauncher(app.bus, runs, reports, app.clock)
            if app.settings.console_crawl_command == "jobs"
            else SubprocessLauncher(app.settings, runs, app.clock)
        )
    return Console(
        app=app,
        settings=app.settings,
        users=UserStore(db, app.clock, app.jurisdictions.codes(), hasher),
        sessions=SessionStore(db, app.clock, timedelta(hours=app.settings.console_session_hours)),
        targets=targets,
        runs=runs,
        launcher=launcher,
        reports=reports,
        counts=CountCache(app.store),
        throttle=LoginThrottle(db, app.clock),
        grants=Grants(),
        exports=ExportJobs(),
        templates=templates(),
    )


def console_of(request: Request) -> Console:
    """The console the request's application was built with."""
    return request.app.state.console  # type: ignore[no-any-return]
