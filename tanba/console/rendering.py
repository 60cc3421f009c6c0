"""Pages from the console's templates, in the caller's language, with the common context."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from markupsafe import Markup

from tanba.console.auth import Caller, identify
from tanba.console.context import Console, login_language
from tanba.console.dates import Style, machine, shown, zone
from tanba.console.i18n import LANGUAGE_NAMES, Translator
from tanba.console.users import LANGUAGES
from tanba.core.exceptions import InputError


def render(
    c: Console, request: Request, name: str, status_code: int = 200, **context: Any
) -> HTMLResponse:
    """A page from ``templates/name`` in the caller's language, with the common context."""
    caller = identify(request)
    lang = caller.user.language if caller else login_language(request)
    t = Translator(lang)
    jurisdictions = {j.code: j.name(lang) for j in c.app.jurisdictions}
    tz = reader_zone(c, caller)

    def when(value: str, style: Style = "medium") -> Markup:
        """A stored instant as the reader reads it, the instant itself in the tooltip."""
        exact = machine(value)
        return Markup('<time datetime="{0}" title="{0}">{1}</time>').format(
            exact, shown(value, lang, tz, style)
        )

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
        when=when,
        timezone=tz.key,
        **context,
    )
    return HTMLResponse(html, status_code=status_code)


def reader_zone(c: Console, caller: Caller | None) -> ZoneInfo:
    """The caller's time zone, else the installation's, else UTC (a bad setting shows UTC)."""
    for name in (caller.user.timezone if caller else "", c.app.settings.evidence_timezone):
        if name:
            try:
                return zone(name)
            except InputError:
                continue
    return ZoneInfo("UTC")


def redirect(url: str) -> RedirectResponse:
    """The answer to a form: see the page again (post/redirect/get)."""
    return RedirectResponse(url, status_code=303)
