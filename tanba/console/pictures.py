"""The alert list's two pictures a row, all on one sheet of pictures per page, or why there is none.

Contract: :func:`list_pictures` takes a page of alerts the caller may see and
returns a :class:`ListPictures`: per alert id, a :class:`Picture` for the found
copy and one for the registered reference, each either a cell of the page's
sheet or the reason there is none (a recording, a file not stored here, a
reference its owner withholds from agencies, a work no longer registered); and
the sheet itself, granted to the caller for a minute (:class:`Grants`).
:func:`stack` makes a granted sheet one JPEG: its cells, squares of
:data:`LIST_SIDE` pixels, one above the other.

Why one picture per page: a list page of 50 rows shows up to a hundred small
pictures. As a hundred requests they cost a browser at least seventeen round trips
over its six connections, and the server a hundred authorisations (the
administrator's page took 296 ms median, 457 ms p95, page included, at 100,000
alerts); as one sheet they cost one request. What is lost is a picture's reuse
across pages; a sheet is cached by the browser for a year all the same, its URL
naming its content (the digest of its cells).

Why stacked without decoding: drawing a sheet (decoding 85 cells, encoding the
sheet) takes 13 to 26 ms median and up to 100 ms at the 95th percentile on a busy
machine. Each cell is instead kept as a JPEG encoded so that cells join as they are
(:func:`tanba.console.media.cell`): a sheet is their bytes joined, a quarter of a
millisecond (``bench/list_sheet.py``), and shows each cell's pixels as they are. A
cell is made once per file, like the thumbnails.

Why like this: the list must stay fast at 100,000 alerts, so a page costs one
catalogue read for all its works and one file check per picture, and decodes
nothing. The reference's work is read without the caller's scope: every alert here
is one the caller may see, and whoever sees an alert sees its work
(:mod:`tanba.core.access`); whether they may have the reference file is asked as
everywhere else, through :meth:`~tanba.core.access.Access.withheld_references`.

The sheet's URL carries only its key; which files it holds is what the page
decided, remembered a minute for that caller (:class:`Grants`), so a caller can
ask for no file the list did not show them, and the sheet costs no second look at
the alert store or the works catalogue. An organisation's choice to withhold its
references is asked again when the sheet is made (it is a policy its owner
expects to hold at once): a reference it withholds is left blank.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from tanba.console.works import listed
from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.blobs import BlobStore
from tanba.core.exceptions import InputError, NotFound
from tanba.core.wiring import App

log = logging.getLogger(__name__)

Missing = Literal["", "audio", "not_stored", "withheld", "no_reference"]
Kind = Literal["alert", "work"]
# The alert list shows two 64-pixel pictures a row; 128 keeps them sharp on 2x screens,
# and a JPEG of that size is a few kilobytes (tanba.console.media makes them).
LIST_SIDE = 128
COLUMNS = 1  # cells a row of the sheet: one, so that cells stack without decoding (stack)
MAX_CELLS = 65_535 // LIST_SIDE  # a JPEG is at most 65,535 pixels high
SHOWN = 64  # pixels a side a cell is shown at (LIST_SIDE is for 2x screens)
BACKGROUND = (250, 250, 250)  # the .thumb box's background (#fafafa)


@dataclass(frozen=True)
class Cell:
    """One picture of a sheet: a copy (of an alert) or a reference (of a work), its file, and
    for a reference its owner ('' for a copy)."""

    kind: Kind
    sha256: str
    owner: str


@dataclass(frozen=True)
class Sheet:
    """The pictures one list page showed, in cell order; ``key`` names them (and the layout)."""

    cells: tuple[Cell, ...]
    key: str = field(init=False)

    def __post_init__(self) -> None:
        seed = f"stacked\0{COLUMNS}\0{LIST_SIDE}\0" + "\0".join(
            f"{c.kind}:{c.sha256}" for c in self.cells
        )
        object.__setattr__(self, "key", hashlib.sha256(seed.encode()).hexdigest()[:32])


class Grants:
    """The sheets the list just showed to whom, for ``ttl_s`` seconds: (principal, key) -> Sheet.

    The principal is the whole value (name, role, owners, jurisdictions), so a user whose
    role or scope changed has no grant. At most ``size`` entries, the oldest dropped.
    Thread-safe: pages and sheets are served from several threads.
    """

    def __init__(
        self, ttl_s: float = 60.0, size: int = 5_000, now: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._size = size
        self._now = now
        self._lock = threading.Lock()
        self._entries: OrderedDict[tuple[Principal, str], tuple[float, Sheet]] = OrderedDict()

    def grant(self, principal: Principal, sheet: Sheet) -> None:
        with self._lock:
            self._entries[(principal, sheet.key)] = (self._now(), sheet)
            self._entries.move_to_end((principal, sheet.key))
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def get(self, principal: Principal, key: str) -> Sheet | None:
        """The sheet, or None when there is none or it is older than ``ttl_s``."""
        with self._lock:
            hit = self._entries.get((principal, key))
        if hit is None or self._now() - hit[0] >= self._ttl:
            return None
        return hit[1]


@dataclass(frozen=True)
class Picture:
    """One side of a row: its cell on the page's sheet and where it sits there, or why none."""

    cell: int = -1
    missing: Missing = ""

    @property
    def x(self) -> int:
        """Its left edge on the sheet as shown (cells of SHOWN pixels)."""
        return (self.cell % COLUMNS) * SHOWN

    @property
    def y(self) -> int:
        return (self.cell // COLUMNS) * SHOWN


@dataclass(frozen=True)
class ListPictures:
    """A list page's pictures: (copy, reference) by alert id, and the sheet (None: no picture)."""

    rows: dict[str, tuple[Picture, Picture]]
    sheet: Sheet | None
    columns: int = COLUMNS
    shown: int = SHOWN


def list_pictures(
    app: App, grants: Grants, principal: Principal, alerts: Sequence[Alert]
) -> ListPictures:
    """The (copy, reference) pictures of each alert, on one sheet granted to ``principal``
    in ``grants``; see the module doc."""
    entries = listed(app, (a.work_id for a in alerts))
    withheld = app.access.withheld_references(principal, entries.values())
    # One file shown twice is one cell; a reference's cell is also its owner's, whose
    # withholding blanks it (one file registered by two owners is two cells).
    cells: dict[Cell, int] = {}

    def place(kind: Kind, media: str, sha256: str, owner: str) -> Picture:
        if media != "image":
            return Picture(missing="audio")
        one = Cell(kind, sha256, owner if kind == "work" else "")
        if one not in cells:
            if not _stored(app.blobs, sha256):
                return Picture(missing="not_stored")
            cells[one] = len(cells)
        return Picture(cell=cells[one])

    rows = {}
    for a in alerts:
        copy = place("alert", a.media, a.media_sha256, a.owner)
        entry = entries.get(a.work_id)
        if entry is None:
            reference = Picture(missing="audio" if a.media == "audio" else "no_reference")
        elif entry.work_id in withheld:
            reference = Picture(missing="withheld")
        else:
            reference = place("work", entry.media, entry.sha256, entry.owner)
        rows[a.id] = (copy, reference)
    sheet = Sheet(tuple(cells)) if cells else None
    if sheet is not None:
        grants.grant(principal, sheet)
    return ListPictures(rows, sheet)


def _stored(blobs: BlobStore, sha256: str) -> bool:
    try:
        return blobs.exists(sha256)
    except NotFound:  # not a digest at all: nothing stored under it
        return False


def stack(
    sheet: Sheet,
    cell: Callable[[str], bytes],
    blank_cell: bytes,
    blank: Callable[[Cell], bool] = lambda one: False,
) -> bytes:
    """The sheet as one JPEG, its cells one above the other, stacked without decoding any.

    ``cell`` gives a file's cell: a JPEG of LIST_SIDE pixels square encoded exactly as
    ``blank_cell`` (the same tables, 4:2:0, a restart marker after each row of 16-pixel
    blocks: :func:`tanba.console.media.cell`). Stacked, the cells' coded rows follow each
    other, each restart interval coded on its own, so the sheet is the cells' scans
    joined by the restart marker due there and its height set in the frame header: a
    hundred cells in about a millisecond, their pixels as each alone decodes them (but for
    the colour of the row at each joint, which a decoder draws from both cells). A cell
    ``blank`` names, or whose file has none (InputError or NotFound: gone since, not an
    image Pillow reads, too many pixels), is the blank cell.
    """
    if len(sheet.cells) > MAX_CELLS:
        raise ValueError(f"a sheet holds at most {MAX_CELLS} cells; {len(sheet.cells)} given")
    head, empty = _split(blank_cell)
    scans = []
    for i, one in enumerate(sheet.cells):
        scan = empty
        if not blank(one):
            try:
                scan = _split(cell(one.sha256))[1]
            except (InputError, NotFound) as exc:
                log.info("sheet %s: cell %d left blank: %s", sheet.key, i, exc)
        scans.append(scan)
    # Each cell codes 8 restart intervals with RST0..RST6 between them; RST7 joins the next.
    return _with_height(head, LIST_SIDE * max(1, len(scans))) + RST7.join(scans or [empty]) + EOI


def same_encoding(one: bytes, other: bytes) -> bool:
    """Whether two cells' JPEGs share everything before their scans (tables, sizes, restarts)."""
    try:
        return _split(one)[0] == _split(other)[0]
    except ValueError:
        return False


RST7, EOI, SOF0, SOS = b"\xff\xd7", b"\xff\xd9", 0xC0, 0xDA


def _split(jpeg: bytes) -> tuple[bytes, bytes]:
    """(everything up to the scan's data, the scan's data) of a one-scan JPEG; ValueError else."""
    at = 2
    while at + 4 <= len(jpeg) and jpeg[at] == 0xFF:
        end = at + 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
        if jpeg[at + 1] == SOS:
            if not jpeg.endswith(EOI):
                raise ValueError("the JPEG does not end after its scan")
            return jpeg[:end], jpeg[end:-2]
        at = end
    raise ValueError("not a JPEG of one baseline scan")


def _with_height(head: bytes, height: int) -> bytes:
    """``head`` with the frame's height set to ``height``."""
    at = 2
    out = bytearray(head)
    while at + 4 <= len(out):
        if out[at + 1] == SOF0:
            out[at + 5 : at + 7] = height.to_bytes(2, "big")
            return bytes(out)
        at += 2 + int.from_bytes(out[at + 2 : at + 4], "big")
    raise ValueError("the cells are not baseline JPEGs")
