"""Registering works from files and from a CSV manifest.

:func:`register` (``tanba works add``) checks every input before anything is
written, so one bad spec registers nothing and every bad one is named.
``tanba works import`` registers a whole catalogue file by file, on every core
and resumably (:mod:`tanba.fingerprint.bulk`).

A licensee is written ``DOMAIN[:FROM[:UNTIL]]`` with ISO dates (``partner.kz``,
``partner.kz:2026-01-01:2026-12-31``, ``partner.kz::2026-06-30``). A manifest
may add the optional columns ``owner_home``, ``author_death_year`` and
``publication_year`` after the required ones.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tanba.core.clock import iso
from tanba.core.exceptions import InputError
from tanba.core.hosts import bare_host
from tanba.core.print_blobs import travelling
from tanba.core.schemas.works import Licence, Work
from tanba.core.wiring import App
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.fingerprint.sandbox import Sandbox

MANIFEST_HEADER = ("path", "work_id", "owner", "title", "territories", "licensees")
MANIFEST_OPTIONAL = ("owner_home", "author_death_year", "publication_year")
_WORK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")


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
    author_death_year: int | None = None
    publication_year: int | None = None
    where: str = ""  # for error messages: "manifest.csv line 3"


def register(app: App, specs: Sequence[WorkSpec]) -> list[Work]:
    """Validate and fingerprint every spec, then register them all; nothing on any error."""
    problems: list[str] = []
    works: list[Work] = []
    for spec in specs:
        try:
            works.append(build_work(app, spec))
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


@dataclass(frozen=True)
class _Checked:
    """A spec's fields as they are registered."""

    territories: tuple[str, ...]
    licences: list[Licence]
    owner_home: str


def check_spec(app: App, spec: WorkSpec) -> _Checked:
    """What the spec says, checked without reading its file; InputError naming its row."""
    where = f"{spec.where}: " if spec.where else ""
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
    licences = [_licence(text, where) for text in spec.licensees]
    owner_home = spec.owner_home.strip().upper()
    if owner_home and owner_home not in app.jurisdictions:
        raise InputError(f"{where}unknown owner home {owner_home!r}; use a code such as KZ")
    return _Checked(territories, licences, owner_home)


def build_work(app: App, spec: WorkSpec, *, sandbox: Sandbox | None = None) -> Work:
    """The work a spec registers: checked, its file stored and fingerprinted as a reference.

    InputError naming the row when the spec or its file cannot be registered; nothing
    is published here. ``sandbox`` decodes the file (default: the process's shared one).
    """
    where = f"{spec.where}: " if spec.where else ""
    if not spec.path.is_file():
        raise InputError(f"{where}{spec.path} is not a file")
    checked = check_spec(app, spec)
    # Storing the blob before every row is checked is harmless: an unreferenced blob is inert.
    try:
        sha256 = app.blobs.put_file(spec.path)
    except OSError as exc:
        raise InputError(f"{where}{spec.path} cannot be read: {exc}") from None
    try:
        fingerprint = fingerprint_file(
            spec.path, sha256, app.settings, reference=True, sandbox=sandbox
        )
    except Unfingerprintable as exc:
        raise InputError(f"{where}{spec.path} cannot be registered: {exc}") from None
    return Work(
        work_id=spec.work_id or sha256[:16],
        owner=spec.owner.strip(),
        title=spec.title or spec.path.stem,
        media=fingerprint.media,
        sha256=sha256,
        filename=spec.path.name,
        territories=list(checked.territories),
        licences=checked.licences,
        owner_home=checked.owner_home,
        author_death_year=spec.author_death_year,
        publication_year=spec.publication_year,
        registered_at=iso(app.clock.now()),
        fingerprint=travelling(fingerprint, app.blobs),  # a film's print is a blob
    )


def write_manifest(rows: list[dict[str, str]], path: Path) -> Path:
    """Write manifest ``rows`` (keys: the header's names) as the CSV :func:`read_manifest` reads."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=list(MANIFEST_HEADER))
        writer.writeheader()
        writer.writerows(rows)
    return path


def read_manifest(path: Path) -> list[WorkSpec]:
    """Parse a works manifest CSV (header: path,work_id,owner,title,territories,licensees)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read manifest {path}: {exc}") from None
    rows = csv.reader(text.splitlines())
    header = tuple(h.strip() for h in next(rows, []))
    extra = [h for h in header[len(MANIFEST_HEADER) :] if h not in MANIFEST_OPTIONAL]
    if header[: len(MANIFEST_HEADER)] != MANIFEST_HEADER or extra:
        raise InputError(
            f"{path}: the first line must be the header {','.join(MANIFEST_HEADER)}"
            f" optionally followed by {','.join(MANIFEST_OPTIONAL)} (found {','.join(header)!r})"
        )
    specs = []
    for line, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            raise InputError(f"{path} line {line}: {len(row)} fields, the header has {len(header)}")
        cells = dict(zip(header, (c.strip() for c in row), strict=True))
        where = f"{path} line {line}"
        file = Path(cells["path"])
        specs.append(
            WorkSpec(
                path=file if file.is_absolute() else path.parent / file,
                owner=cells["owner"],
                title=cells["title"],
                work_id=cells["work_id"],
                territories=_split(cells["territories"]),
                licensees=_split(cells["licensees"]),
                owner_home=cells.get("owner_home", ""),
                author_death_year=_year(cells.get("author_death_year", ""), where),
                publication_year=_year(cells.get("publication_year", ""), where),
                where=where,
            )
        )
    return specs


def _licence(text: str, where: str) -> Licence:
    """Parse ``DOMAIN[:FROM[:UNTIL]]``."""
    domain, _, dates = text.strip().partition(":")
    valid_from, _, valid_until = dates.partition(":")
    try:
        d = bare_host(domain)  # фильмы.рф is kept as xn--h1agd3a1be.xn--p1ai, as sites are
    except ValueError:
        raise InputError(
            f"{where}licensee {text!r} is not DOMAIN[:FROM[:UNTIL]] such as partner.kz"
        ) from None
    for day in (valid_from, valid_until):
        try:
            if day:
                date.fromisoformat(day)
        except ValueError:
            raise InputError(
                f"{where}licensee {text!r}: {day!r} is not a date YYYY-MM-DD"
            ) from None
    if valid_from and valid_until and valid_until < valid_from:
        raise InputError(f"{where}licensee {text!r} ends before it starts")
    return Licence(domain=d, valid_from=valid_from, valid_until=valid_until)


def _year(cell: str, where: str) -> int | None:
    if not cell:
        return None
    if not cell.isdigit() or not 1000 <= int(cell) <= 2100:
        raise InputError(f"{where}: {cell!r} is not a year such as 1965")
    return int(cell)


def _split(cell: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in cell.split(";") if part.strip())
