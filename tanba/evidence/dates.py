"""Times in a report as its reader reads them: stored UTC instants shown in a chosen time zone.

Contract: :func:`zone` turns an IANA name (``Europe/Moscow``, ``Asia/Almaty``,
``UTC``) into a time zone, or raises :class:`~tanba.core.exceptions.InputError`
saying what to give instead. :func:`local` shows an instant (a datetime or the
ISO 8601 text Tanba stores) as ``YYYY-MM-DD HH:MM:SS UTC+HH:MM`` in that zone:
the offset is printed on every line because a zone's offset changes with
daylight saving time and with the law, and a reader must be able to get back to
the instant. :func:`pdf_date` is the same instant in the PDF date syntax.
Nothing here reads a clock: callers pass the injected clock's time.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tanba.core.clock import parse_iso
from tanba.core.exceptions import InputError


def zone(name: str) -> ZoneInfo:
    """The time zone named ``name`` (IANA), or InputError saying how to name one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InputError(
            f"{name!r} is not a time zone; give an IANA name such as Europe/Moscow, "
            "Asia/Almaty, Europe/Minsk or UTC"
        ) from None


def instant(value: datetime | str) -> datetime:
    """A timezone-aware datetime from a datetime or stored ISO 8601 text."""
    return parse_iso(value) if isinstance(value, str) else value


def offset(moment: datetime) -> str:
    """``UTC+HH:MM`` of an aware datetime (``UTC`` itself for zero)."""
    delta = moment.utcoffset() or timedelta(0)
    if not delta:
        return "UTC"
    minutes = int(delta.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def local(value: datetime | str, tz: ZoneInfo) -> str:
    """The instant in ``tz`` as ``YYYY-MM-DD HH:MM:SS UTC+HH:MM`` ("" for "")."""
    if value == "":
        return ""
    moment = instant(value).astimezone(tz)
    return f"{moment:%Y-%m-%d %H:%M:%S} {offset(moment)}"


def local_date(value: datetime | str, tz: ZoneInfo) -> str:
    """The calendar date (``YYYY-MM-DD``) of the instant in ``tz``."""
    return f"{instant(value).astimezone(tz):%Y-%m-%d}"


def pdf_date(value: datetime | str, tz: ZoneInfo) -> str:
    """The instant in the PDF date syntax, ``D:YYYYMMDDHHmmSS+HH'mm'``, in ``tz``."""
    moment = instant(value).astimezone(tz)
    minutes = int((moment.utcoffset() or timedelta(0)).total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    return f"D:{moment:%Y%m%d%H%M%S}{sign}{abs(minutes) // 60:02d}'{abs(minutes) % 60:02d}'"
