"""Registering works from files and from a CSV manifest.

Every input is checked before anything is written, so a manifest with one bad
row registers nothing and reports every bad row with its line number.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from fingerprint.compute import fingerprint_file
from fingerprint.exceptions import Unfingerprintable
from tanba.app import App
from tanba.clock import iso
from tanba.exceptions import InputError
from tanba.schemas.works import Licence, Work

MANIFEST_HEADER = ("path", "work_id", "owner", "title", "territories", "licensees")
_WORK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_DOMAIN = re.compile(
    r"^(?=.{1,253}$)([a-z0-9\u00a1-\uffff-]{1,63}\.)*[a-z0-9\u00a1-\uffff-]{1,63}$"
)


@dataclass(frozen=True)
class WorkSpec:
    """What a rights holder says about one file to register."""

    path: Path
    owner: str
    title: str = ""
    work_id: str = ""
    territories: tuple[str, ...] = ()
    licensees: tuple[str, ...] = ()
    owner_home: str = ""
    where: str = ""  # for error messages: "manifest.csv line 3"
    licences: tuple[Licence, ...] = field(default=())


def register(app: App, specs: Sequence[WorkSpec]) -> list[Work]:
    """Validate and fingerprint every spec, then register them all; nothing on any error."""
    problems: list[str] = []
    works: list[Work] = []
    for spec in specs:
        try:
            works.append(_build(app, spec))
        except InputError as exc:
            problems.append(str(exc))
    ids = [w.work_id for w in works]
    problems += [
        f"work id {i!r} appears twice" for i in sorted({i for i in ids if ids.count(i) > 1})
    ]
    if problems:
        raise InputError("nothing was registered:\n  " + "\n  ".join(problems))
    app.works.register(works)
    return works


def _build(app: App, spec: WorkSpec) -> Work:
    where = f"{spec.where}: " if spec.where else ""
    if not spec.path.is_file():
        raise InputError(f"{where}{spec.path} is not a file")
    if not spec.owner.strip():
        raise InputError(f"{where}an owner is required (--owner NAME)")
    if spec.work_id and not _WORK_ID.match(spec.work_id):
        raise InputError(
            f"{where}work id {spec.work_id!r} may use letters, digits and . _ : - only"
        )
    territories = tuple(t.strip().upper() for t in spec.territories if t.strip())
    unknown = [t for t in territories if t not in app.jurisdictions]
    if unknown:
        raise InputError(
            f"{where}unknown territory {', '.join(unknown)}; use one of {', '.join(app.jurisdictions.codes())}"
        )
    licences = list(spec.licences)
    for domain in spec.licensees:
        d = domain.strip().lower().strip(".")
        if not _DOMAIN.match(d):
            raise InputError(f"{where}licensee {domain!r} is not a domain name such as example.kz")
        licences.append(Licence(domain=d))
    # Storing the blob before every row is checked is harmless: an unreferenced blob is inert.
    sha256 = app.blobs.put_file(spec.path)
    try:
        fingerprint = fingerprint_file(spec.path, sha256, app.settings, reference=True)
    except Unfingerprintable as exc:
        raise InputError(f"{where}{spec.path} cannot be registered: {exc}") from None
    return Work(
        work_id=spec.work_id or sha256[:16],
        owner=spec.owner.strip(),
        title=spec.title or spec.path.stem,
        media=fingerprint.media,
        sha256=sha256,
        filename=spec.path.name,
        territories=list(territories),
        licences=licences,
        owner_home=spec.owner_home.upper(),
        registered_at=iso(app.clock.now()),
        fingerprint=fingerprint,
    )


def read_manifest(path: Path) -> list[WorkSpec]:
    """Parse a works manifest CSV (header: path,work_id,owner,title,territories,licensees)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read manifest {path}: {exc}") from None
    rows = csv.reader(text.splitlines())
    header = tuple(h.strip() for h in next(rows, []))
    if header[: len(MANIFEST_HEADER)] != MANIFEST_HEADER:
        raise InputError(
            f"{path}: the first line must be the header {','.join(MANIFEST_HEADER)} (found {','.join(header)!r})"
        )
    specs = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        file = Path(cells["path"])
        specs.append(
            WorkSpec(
                path=file if file.is_absolute() else path.parent / file,
                owner=cells["owner"],
                title=cells["title"],
                work_id=cells["work_id"],
                territories=_split(cells["territories"]),
                licensees=_split(cells["licensees"]),
                where=f"{path} line {line}",
            )
        )
    return specs


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())
