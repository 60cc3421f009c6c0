"""The alert list's two pictures a row: the found copy and the registered reference, or why not.

Contract: :func:`list_pictures` takes a page of alerts the caller may see and
returns, per alert id, a :class:`Picture` for the copy and one for the
reference: the URL of a small thumbnail (:data:`tanba.console.media.LIST_SIDE`)
or the reason there is none (a recording, a file not stored here, a reference
its owner withholds from agencies, a work no longer registered).

Why here and like this: the list must stay fast at 100,000 alerts, so a page
costs one catalogue read for all its works and one file check per picture, and
decodes nothing; the pictures themselves are separate requests, made once per
file and size (:func:`tanba.console.media.thumbnail`) and cached by the browser
for a year because their URLs name the file's digest. The reference's work is
read without the caller's scope: every alert here is one the caller may see,
and whoever sees an alert sees its work (:mod:`tanba.core.access`); whether they
may have the reference file is asked as everywhere else, through
:meth:`~tanba.core.access.Access.withheld_references`.

What the page decided is remembered a minute (:class:`Grants`), so the hundred
picture requests that follow it do not each ask the alert store or the works
catalogue again (on Elasticsearch a search per copy): a change of which alerts a
caller sees (an alert's site moving to another state) reaches the pictures at most
that long after the page that showed them. An organisation's choice to withhold its
references is asked again on every reference picture, granted or not (it is a
policy its owner expects to hold at once); a request with no grant is checked
against the stores as always.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlencode

from tanba.console.caching import digest_of
from tanba.console.works import listed
from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.exceptions import NotFound
from tanba.core.wiring import App

Missing = Literal["", "audio", "not_stored", "withheld", "no_reference"]
Kind = Literal["alert", "work"]


@dataclass(frozen=True)
class Grant:
    """A file the list showed: its digest, and the owner of its alert or work."""

    sha256: str
    owner: str


class Grants:
    """The files the list just showed to whom, for ``ttl_s`` seconds: (principal, kind, id) -> Grant.

    The principal is the whole value (name, role, owners, jurisdictions), so a user whose
    role or scope changed has no grant. At most ``size`` entries, the oldest dropped.
    Thread-safe: pages and pictures are served from several threads.
    """

    def __init__(
        self, ttl_s: float = 60.0, size: int = 20_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._size = size
        self._now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Principal, Kind, str], tuple[float, Grant]] = OrderedDict()

    def grant(self, principal: Principal, kind: Kind, key: str, grant: Grant) -> None:
        with self._lock:
            self._entries[(principal, kind, key)] = (self._now(), grant)
            self._entries.move_to_end((principal, kind, key))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get(self, principal: Principal, kind: Kind, key: str) -> Grant | None:
        """The grant, or None when there is none or it is older than ``ttl_s``."""
        with self._lock:
            hit = self._entries.get((principal, kind, key))
        if hit is None or self._now() - hit[0] >= self._ttl:
            return None
        return hit[1]


@dataclass(frozen=True)
class Picture:
    """One side of a row: a thumbnail's URL (without the session's cache key), or why none."""

    url: str = ""
    missing: Missing = ""


def list_pictures(
    app: App, grants: Grants, principal: Principal, alerts: Sequence[Alert]
) -> dict[str, tuple[Picture, Picture]]:
    """The (copy, reference) pictures of each alert, by alert id, each one shown granted to
    ``principal`` in ``grants``; see the module doc."""
    entries = listed(app, (a.work_id for a in alerts))
    withheld = app.access.withheld_references(principal, entries.values())
    out = {}
    # One file found on several pages of the list (a site repeats its pictures) is shown
    # by one URL, that of its first alert here, so the browser fetches it once.
    copies: dict[str, Picture] = {}
    for a in alerts:
        entry = entries.get(a.work_id)
        copy = copies.get(a.media_sha256) if a.media == "image" else None
        if copy is None:
            copy = _picture(app, a.media, a.media_sha256, f"/api/alerts/{quote(a.id, safe='')}")
            if copy.url:
                grants.grant(principal, "alert", a.id, Grant(a.media_sha256, a.owner))
                copies[a.media_sha256] = copy
        if entry is None:
            reference = Picture(missing="audio" if a.media == "audio" else "no_reference")
        elif entry.work_id in withheld:
            reference = Picture(missing="withheld")
        else:
            path = f"/api/works/{quote(entry.work_id, safe='')}"
            reference = _picture(app, entry.media, entry.sha256, path)
            if reference.url:
                grants.grant(principal, "work", entry.work_id, Grant(entry.sha256, entry.owner))
        out[a.id] = (copy, reference)
    return out


def _picture(app: App, media: str, sha256: str, path: str) -> Picture:
    if media != "image":
        return Picture(missing="audio")
    try:
        stored = app.blobs.exists(sha256)
    except NotFound:  # not a digest at all: nothing stored under it
        stored = False
    if not stored:
        return Picture(missing="not_stored")
    return Picture(url=f"{path}/thumbnail?{urlencode({'size': 'list', 'd': digest_of(sha256)})}")
