"""Dates in the console as its reader reads them: in the user's language and time zone.

Contract: :func:`shown` turns a stored ISO 8601 UTC instant into text in a
language's conventions (Babel's CLDR data: "6 дек. 2026 г., 09:34:07",
"Dec 6, 2026, 9:34:07 AM") in a time zone; :func:`machine` keeps the instant
itself for the ``<time datetime>`` attribute and the tooltip, so nothing is lost.
A user's time zone is theirs (``User.timezone``) or, unset, the installation's
(``TANBA_EVIDENCE_TIMEZONE``, the one its reports use).
"""

from __future__ import annotations

from typing import Literal
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from tanba.core.clock import parse_iso
from tanba.evidence.dates import zone

Style = Literal["short", "medium"]

__all__ = ["machine", "shown", "zone"]


def shown(value: str, lang: str, tz: ZoneInfo, style: Style = "medium") -> str:
    """``value`` (stored ISO text) in ``lang``'s date and time format in ``tz`` ("" for "")."""
    if not value:
        return ""
    return str(format_datetime(parse_iso(value), style, tzinfo=tz, locale=lang))


def machine(value: str) -> str:
    """The instant as ISO 8601 UTC (``2026-12-06T04:34:07Z``), for ``<time datetime>``."""
    if not value:
        return ""
    return f"{parse_iso(value).astimezone(ZoneInfo('UTC')):%Y-%m-%dT%H:%M:%SZ}"
