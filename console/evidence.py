"""The seam to evidence export (``evidence.package.export``, written in its own issue).

The console only calls it, for one alert the caller may see, in the caller's
language, without recapturing the page (a web request must not wait for a
crawl; ``tanba evidence export`` recaptures when asked). The exporter checks
access again with the same :class:`Principal` and records the export in its
chain-of-custody log. When the ``evidence`` package is not installed the console
answers 501 with this module's message, so the button and route exist before
the exporter does.
"""

from __future__ import annotations

from pathlib import Path

from console.exceptions import EvidenceUnavailable
from tanba.access import Principal
from tanba.app import App


def export_evidence(
    app: App, alert_id: str, out_path: Path, principal: Principal, lang: str
) -> Path:
    """Write the evidence package of one alert to ``out_path``; returns the file written."""
    try:
        from evidence.package import ExportOptions, export
    except ImportError:
        raise EvidenceUnavailable(
            "evidence export is not installed in this Tanba (the 'evidence' package is missing);"
            " the alert's captures stay in the store, export them once it is installed"
        ) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results = export(
        app, [alert_id], out_path, principal, ExportOptions(lang=lang, recapture="never")
    )
    return Path(results[0].path)
