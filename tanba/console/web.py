"""The web application: the API and page routers, error answers and security headers.

:func:`create_app` builds one FastAPI application over a Tanba :class:`App`:
the JSON API under ``/api`` (:mod:`tanba.console.api`) and the server-rendered pages
(:mod:`tanba.console.pages`), both in the OpenAPI schema at ``/openapi.json`` so the
whole surface is documented and can be walked by tests. The interactive docs
pages are off: they load scripts from a CDN, which the console's
Content-Security-Policy (no scripts at all) forbids anyway.

Imports run one way: this module imports the routers, which import the
dependencies (:mod:`tanba.console.deps`), the renderer and the services, which
import the shared context (:mod:`tanba.console.context`).
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import quote

from argon2 import PasswordHasher
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tanba.console import api, caching, pages
from tanba.console.auth import identify
from tanba.console.context import build_console
from tanba.console.crawls import CrawlLauncher
from tanba.console.exceptions import ConsoleError, Unauthorized
from tanba.console.rendering import render
from tanba.core.exceptions import InputError, NotFound, TanbaError, TransientError, Withheld
from tanba.core.targets import TargetInvalid, TargetNameTaken
from tanba.core.wiring import App

log = logging.getLogger(__name__)

CSP = (
    "default-src 'none'; img-src 'self' data:; media-src 'self'; style-src 'unsafe-inline';"
    " frame-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
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
        return render(
            console, request, "error.html", status_code=status, status=status, message=message
        )

    @web.exception_handler(TargetInvalid)
    async def target_invalid(request: Request, exc: TargetInvalid) -> Response:
        """422 (409 for a name in use) with each problem: field, code, what to do."""
        status = 409 if isinstance(exc, TargetNameTaken) else 422
        if not request.url.path.startswith("/api/"):
            return answer(request, status, str(exc))
        problems = [
            {"field": p.field, "code": p.code, "message": p.message, "values": dict(p.values)}
            for p in exc.problems
        ]
        return JSONResponse({"detail": str(exc), "problems": problems}, status_code=status)

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
