"""Pages from the console's templates, in the caller's language, with the common context."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from tanba.console.auth import identify
from tanba.console.context import Console, login_language
from tanba.console.i18n import LANGUAGE_NAMES, Translator
from tanba.console.users import LANGUAGES


def render(
    c: Console, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page from ``templates/name`` in the caller's language, with the common context."""
    caller = identify(request)
    lang = caller.user.language if caller else login_language(request)
    t = Translator(lang)
    jurisdictions = {j.code: j.name(lang) for j in c.app.jurisdictions}
    html = c.templates.get_template(name).render(
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


def redirect(url: str) -> RedirectResponse:
    """The answer to a form: see the page again (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)
