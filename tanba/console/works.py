"""Works as the console shows them: the caller's works, uploads, and edits of territories and licences.

Which works a caller sees is decided in one place, :class:`tanba.core.access.Access`
(a rights holder its organisation's works, an agency the works with an alert
in its jurisdiction, operators and administrators every work). A rights holder
registers and edits only works owned by their organisation, and only
administrators register works for any owner. Editing a work republishes it
with the same id, which is how the registry records a change.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, BinaryIO, Literal

from fastapi import Query, UploadFile
from pydantic import BaseModel, Field

from tanba.console.exceptions import Conflict, Forbidden
from tanba.core.access import AnyWork, Principal
from tanba.core.exceptions import InputError
from tanba.core.hosts import bare_host
from tanba.core.schemas.works import Licence, Work
from tanba.core.store import AlertQuery, AlertStore
from tanba.core.wiring import App
from tanba.core.works_catalog import WorkEntry, WorkPage, WorkQuery
from tanba.core.works_catalog.base import MAX_LIMIT

_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SAFE_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,8}$")
PER_PAGE = 50


class WorkEdit(BaseModel):
    """What may change on a registered work from the console."""

    territories: list[str] = Field(default_factory=list)
    licences: list[Licence] = Field(default_factory=list)
    title: str | None = None


class WorkUpload(BaseModel):
    """The fields sent with an uploaded work, by the upload form and by the API's multipart
    request (one model for both, so they cannot drift apart). Lists may come as repeated
    fields or as one field of comma- or space-separated values."""

    title: str = ""
    work_id: str = ""
    owner: str = Field(
        default="", description="administrators only; rights holders register as their organisation"
    )
    owner_home: str = ""
    territories: list[str] = Field(default_factory=list)
    licensees: list[str] = Field(default_factory=list)


class _WorkFilters(BaseModel):
    """The works list's filters and paging, from the query string (pages and API alike)."""

    owner: str = ""
    media: Literal["", "image", "audio", "video"] = ""
    q: str = Field(default="", max_length=200)
    after: str = Field(default="", max_length=1024)
    per_page: int = Field(default=PER_PAGE, ge=1, le=MAX_LIMIT)

    def query(self) -> WorkQuery:
        return WorkQuery(
            owner=self.owner.strip(),
            media=self.media,
            text=self.q,
            after=self.after,
            limit=self.per_page,
        )


WorkFilters = Annotated[_WorkFilters, Query()]


def may_register(principal: Principal) -> bool:
    return principal.role in ("rights_holder", "admin")


def may_edit(principal: Principal, work: AnyWork) -> bool:
    return principal.role == "admin" or (
        principal.role == "rights_holder" and work.owner in principal.owners
    )


def visible_works(app: App, principal: Principal, query: WorkQuery) -> WorkPage:
    """A page of the works ``principal`` may see, from the works catalogue (no topic replay)."""
    return app.access.works_page(principal, query)


def visible_work(app: App, principal: Principal, work_id: str) -> WorkEntry:
    """The work if ``principal`` may see it; NotFound otherwise (see :class:`tanba.core.access.Access`)."""
    return app.access.work(principal, work_id)


def listed(app: App, work_ids: Iterable[str]) -> dict[str, WorkEntry]:
    """These works as listed, by id (one catalogue read; a work no longer listed is left out).

    Not scoped: for ids taken from alerts the caller may see, whose works it sees too
    (:mod:`tanba.core.access`). At most MAX_LIMIT ids (a page of the alert list).
    """
    ids = tuple(sorted(set(work_ids)))
    if not ids:
        return {}
    found = app.works.search(WorkQuery(work_ids=ids, limit=min(len(ids), MAX_LIMIT)))
    return {w.work_id: w for w in found.works}


def titles(app: App, work_ids: Iterable[str]) -> dict[str, str]:
    """The titles of these works, by id (see :func:`listed`: not scoped, one read)."""
    return {work_id: w.title for work_id, w in listed(app, work_ids).items()}


def alert_counts(
    store: AlertStore, principal: Principal, codes: Sequence[str]
) -> dict[str, dict[str, int]]:
    """Visible alerts per work and jurisdiction: {work_id: {code: n}} (one query per code)."""
    out: dict[str, dict[str, int]] = {}
    for code in codes:
        for work_id, n in store.count_by(
            "work_id", principal.scope(AlertQuery(jurisdiction=code))
        ).items():
            out.setdefault(work_id, {})[code] = n
    return out


def upload(app: App, principal: Principal, file: UploadFile, form: WorkUpload) -> Work:
    """Register an uploaded file as a work of the caller's organisation (or ``form.owner``,
    for admins): the one handler of the upload form and the API's multipart request."""
    from tanba.fingerprint.registration import WorkSpec, register

    if not may_register(principal):
        raise Forbidden("only rights holders and administrators register works")
    owner = principal.owners[0] if principal.role == "rights_holder" else form.owner
    if not owner.strip():
        raise InputError("give the owner of the work")
    filename = file.filename or "upload"
    suffix = Path(filename).suffix if _SAFE_SUFFIX.match(Path(filename).suffix) else ""
    folder = app.settings.path("console", "uploads", "x").parent
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        path = Path(tmp) / f"upload{suffix}"
        h = hashlib.sha256()
        with open(path, "wb") as out:
            shutil.copyfileobj(_Hashing(file.file, h, app.settings.media_max_bytes), out)
        effective_id = form.work_id.strip() or h.hexdigest()[:16]
        existing = app.works.entry(effective_id)
        # Registering an id again replaces that work: never let one owner replace another's.
        if existing is not None and existing.owner != owner.strip():
            raise Conflict(f"work id {effective_id!r} is taken; choose another work id")
        spec = WorkSpec(
            path=path,
            owner=owner,
            title=form.title.strip() or Path(filename).stem[:200],
            work_id=effective_id,
            territories=tuple(split_list(form.territories)),
            licensees=tuple(split_list(form.licensees)),
            owner_home=form.owner_home,
        )
        return register(app, [spec])[0]


def edit(app: App, principal: Principal, work_id: str, change: WorkEdit) -> Work:
    """Replace a work's territories and licences (and title); checked, then republished."""
    if not may_edit(principal, visible_work(app, principal, work_id)):
        raise Forbidden("only the work's owner or an administrator may edit it")
    work = app.works.get(work_id)  # with its print, which the new event carries again
    codes = app.jurisdictions
    territories = _codes([t for t in change.territories if t.strip()], codes.codes())
    licences = []
    for lic in change.licences:
        try:
            domain = bare_host(lic.domain)  # in its ASCII form, as the sites crawled
        except ValueError as exc:
            raise InputError(f"licensee: {exc}") from None
        for day in (lic.valid_from, lic.valid_until):
            if day and not _DAY.match(day):
                raise InputError(f"licence dates are written YYYY-MM-DD, not {day!r}")
        licences.append(
            Licence(
                domain=domain,
                territories=_codes(lic.territories, codes.codes()),
                valid_from=lic.valid_from,
                valid_until=lic.valid_until,
            )
        )
    data = work.model_dump()
    data.update(territories=territories, licences=[lic.model_dump() for lic in licences])
    if change.title is not None and change.title.strip():
        data["title"] = change.title.strip()[:200]
    updated = Work.model_validate(data)
    app.works.register([updated])
    return updated


def _codes(values: Sequence[str], known: Sequence[str]) -> list[str]:
    out = list(dict.fromkeys(v.strip().upper() for v in values if v.strip()))
    unknown = [c for c in out if c not in known]
    if unknown:
        raise InputError(f"unknown territory {', '.join(unknown)}; use one of {', '.join(known)}")
    return out


class _Hashing:
    """A read-only file wrapper that hashes what is read through it and caps its size."""

    def __init__(self, f: BinaryIO, h: hashlib._Hash, limit: int) -> None:
        self._f = f
        self._h = h
        self._left = limit

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        self._left -= len(data)
        if self._left < 0:
            raise InputError("the file is larger than TANBA_MEDIA_MAX_BYTES allows")
        self._h.update(data)
        return data


def split_list(values: list[str]) -> list[str]:
    """Form lists may come as repeated fields or as one comma/space-separated field."""
    return [p for v in values for p in v.replace(",", " ").replace(";", " ").split() if p]
