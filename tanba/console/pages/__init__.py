"""The server-rendered pages: plain HTML forms, inline SVG charts, no script.

Each page reads through the same rules as the API (:mod:`tanba.console.alerts`,
:mod:`tanba.console.works`, the target and user stores); forms post back and are
answered with a redirect to the page (post/redirect/get), so reloading never
repeats an action. Every form carries the session's CSRF token. One module per
area; :data:`router` holds them all.
"""

from __future__ import annotations

from fastapi import APIRouter

from tanba.console.pages import alerts, login, targets, users, works

router = APIRouter()
for area in (login, alerts, works, targets, users):
    router.include_router(area.router)
