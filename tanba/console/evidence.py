"""The seam to evidence export and the chain of custody (the ``evidence`` package).

The console only calls it, for one alert the caller may see, in the caller's
language, without recapturing the page (a web request must not wait for a
crawl; ``tanba evidence export`` recaptures when asked). The exporter checks
access again with the same :class:`Principal` and records the export in the
case's chain-of-custody log with the interface it came through ("console" for
the pages, "api" for the HTTP API). :func:`custody_entries` reads that log for
the alert's page and ``GET /api/alerts/{id}/custody``. When the ``evidence``
package is not installed the console answers 501 with this module's message,
so the button and routes exist before the exporter does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tanba.console.exceptions import EvidenceUnavailable
from tanba.core.access import Principal
from tanba.core.alerts import Alert
from tanba.core.wiring import App

if TYPE_CHECKING:
    from tanba.evidence.custody import CustodyEntry

MISSING = (
    "evidence export is not installed in this Tanba (the 'evidence' package is missing);"
    " the alert's captures stay in the store, export them once it is installed"
)


def export_evidence(
    app: App,
    alert_id: str,
    out_path: Path,
    principal: Principal,
    lang: str,
    interface: Literal["console", "api"],
) -> Path:
    """Write the evidence package of one alert to ``out_path``; returns the file written."""
    try:
        from tanba.evidence.package import ExportOptions, export
    except ImportError:
        raise EvidenceUnavailable(MISSING) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    options = ExportOptions(lang=lang, recapture="never", interface=interface)
    results = export(app, [alert_id], out_path, principal, options)
    return Path(results[0].path)


def custody_entries(app: App, alert: Alert) -> list[CustodyEntry]:
    """The alert's chain of custody (captures, exports, status changes), oldest first."""
    try:
        from tanba.evidence.custody import CustodyLog
    except ImportError:
        raise EvidenceUnavailable(MISSING) from None
    return CustodyLog(app.bus, app.clock).case_log(alert)


def custody_or_none(app: App, alert: Alert) -> list[CustodyEntry]:
    """:func:`custody_entries`, or none when evidence is not installed (for the alert's page)."""
    try:
        return custody_entries(app, alert)
    except EvidenceUnavailable:
        return []
