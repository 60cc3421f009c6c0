"""The web application: wiring of stores, error answers, security headers and page rendering.

:func:`create_app` builds one FastAPI application over a Tanba :class:`App`:
the JSON API under ``/api`` (:mod:`tanba.console.api`) and the server-rendered pages
(:mod:`tanba.console.pages`), both in the OpenAPI schema at ``/openapi.json`` so the
whole surface is documented and can be walked by tests. The interactive docs
pages are off: they load scripts from a CDN, which the console's
Content-Security-Policy (no scripts at all) forbids anyway.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from argon2 import PasswordHasher
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanba.console import caching
from tanba.console.alerts import CountCache
from tanba.console.auth import identify
from tanba.console.crawls import CrawlLauncher, RunLog, SubprocessLauncher
from tanba.console.db import db_path
from tanba.console.exceptions import ConsoleError, Unauthorized
from tanba.console.i18n import LANGUAGE_NAMES, Translator, pick_language
from tanba.console.sessions import SessionStore
from tanba.console.stats import CrawlReports
from tanba.console.targets import TargetStore
from tanba.console.throttle import LoginThrottle
from tanba.console.users import LANGUAGES, UserStore
from tanba.core.exceptions import InputError, NotFound, TanbaError, TransientError, Withheld
from tanba.core.settings import Settings
from tanba.core.sqlite import Database
from tanba.core.wiring import App

log = logging.getLogger(__name__)

LANG_COOKIE = "tanba_lang"
CSP = (
    "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline';"
    " frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass
class Console:
    """Everything a request handler needs, built once per application."""

    app: App
    settings: Settings
    users: UserStore
    sessions: SessionStore
    targets: TargetStore
    runs: RunLog
    launcher: CrawlLauncher
    reports: CrawlReports
    counts: CountCache
    throttle: LoginThrottle
    templates: Environment = field(repr=False)

    def render(
        self, request: Request, name: str, status_code: int = 200, **context: Any
    ) -> HTMLResponse:
        """A page from ``templates/name`` in the caller's language, with the common context."""
        caller = identify(request)
        lang = caller.user.language if caller else login_language(request)
        t = Translator(lang)
        jurisdictions = {j.code: j.name(lang) for j in self.app.jurisdictions}
        html = self.templates.get_template(name).render(
            request=request,
            caller=caller,
            csrf=caller.csrf if caller else "",
            cache_key=caller.cache_key if caller else "",
            t=t,
            lang=lang,
            languages=[(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            jurisdictions=jurisdictions,
            path=request.url.path,
            **context,
        )
        return HTMLResponse(html, status_code=status_code)


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
    return env


def build_console(
    app: App,
    launcher: CrawlLauncher | None = None,
    hasher: PasswordHasher | None = None,
) -> Console:
    """The console's stores over ``app`` (also used by the ``tanba users`` commands)."""
    db = Database(db_path(app.settings), "")
    runs = RunLog(db)
    targets = TargetStore(db, app.clock, allow_private=app.settings.console_allow_private_targets)
    return Console(
        app=app,
        settings=app.settings,
        users=UserStore(db, app.clock, app.jurisdictions.codes(), hasher),
        sessions=SessionStore(db, app.clock, timedelta(hours=app.settings.console_session_hours)),
        targets=targets,
        runs=runs,
        launcher=launcher or SubprocessLauncher(app.settings, runs, app.clock),
        reports=CrawlReports(app.bus),
        counts=CountCache(app.store),
        throttle=LoginThrottle(db, app.clock),
        templates=templates(),
    )


def create_app(
    app: App,
    *,
    launcher: CrawlLauncher | None = None,
    hasher: PasswordHasher | None = None,
) -> FastAPI:
    """The console over ``app``: API, pages, error handling and security headers.

    ``launcher`` and ``hasher`` replace the crawl subprocess launcher and the Argon2
    parameters (tests use cheaper ones; production keeps argon2-cffi's defaults).
    """
    from tanba.console import api, pages

    console = build_console(app, launcher, hasher)
    web = FastAPI(
        title="Tanba console",
        version="1",
        description="Alerts, works, crawl targets and users of a Tanba installation. "
        "Authenticate with a session cookie (pages; writes need the CSRF token) "
        "or with 'Authorization: Bearer TOKEN' (scripts).",
        docs_url=None,
        redoc_url=None,
    )
    web.state.console = console
    web.include_router(api.router)
    web.include_router(pages.router)

    @web.middleware("http")
    async def security_headers(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers.setdefault("X-Frame-Options", "DENY")  # charts: SAMEORIGIN
        response.headers["Referrer-Policy"] = "same-origin"
        # Who asked decides whether a browser may keep the answer (see tanba.console.caching).
        requested = response.headers.get("Cache-Control")
        caller_key: str | None = None
        if requested and caching.NO_STORE not in requested:
            found = identify(request)
            caller_key = found.cache_key if found else None
        url_key = request.query_params.get(caching.CACHE_PARAM, "")
        response.headers.update(caching.headers(requested, url_key=url_key, caller_key=caller_key))
        return response

    def answer(request: Request, status: int, message: str) -> Response:
        page = not request.url.path.startswith("/api/")
        if status == 401 and page and request.method in ("GET", "HEAD"):
            nxt = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
            return RedirectResponse(f"/login?next={nxt}", status_code=303)
        if request.url.path.startswith("/api/") or request.url.path == "/openapi.json":
            return JSONResponse({"detail": message}, status_code=status)
        return console.render(
            request, "error.html", status_code=status, status=status, message=message
        )

    @web.exception_handler(TanbaError)
    async def tanba_error(request: Request, exc: TanbaError) -> Response:
        if isinstance(exc, ConsoleError):
            status = exc.status_code
        elif isinstance(exc, NotFound):
            status = 404
        elif isinstance(exc, Withheld):
            status = 403
        elif isinstance(exc, InputError):
            status = 400
        elif isinstance(exc, TransientError):
            status = 503
        else:
            status = 500
        return answer(request, status, str(exc))

    @web.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return answer(request, exc.status_code, str(exc.detail))

    @web.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ())[1:]) or 'request'}: {e.get('msg')}"
            for e in exc.errors()
        )
        # Without credentials, say so first: a validation message must not hint at data.
        if identify(request) is None:
            return answer(request, 401, str(Unauthorized("log in first")))
        return answer(request, 422, problems)

    return web
