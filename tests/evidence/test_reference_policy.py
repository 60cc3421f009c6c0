"""Evidence export and an organisation's choice to withhold its reference files from agencies.

The organisation's setting (``tanba.organisations``, set in the console) is the
default of ``--withhold-reference``; an explicit choice still wins, except that
an agency never receives a reference its owner withholds from agencies.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tanba.core.access import SYSTEM, Principal
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence.package import ExportOptions, export
from tanba.evidence.signing import SigningKey
from tests.evidence.test_export import EXPORT_TIME, alerts, members, run

KZ_AGENCY = Principal("kz-agency", "agency", jurisdictions=("KZ",))
OWNER = "Qazaq Pictures"


def _app(case: Any) -> App:
    return App(Settings.from_env({}, home=case.home), FixedClock(EXPORT_TIME))


def _reference_in(
    case: Any, alert_id: str, out: Path, principal: Principal, key: SigningKey, **options: Any
) -> bool:
    """Export one case without fetching; True if the package holds the reference file itself."""
    app = _app(case)
    try:
        export(
            app,
            [alert_id],
            out,
            principal,
            ExportOptions(recapture="never", signing_key=key, lang="en", **options),
        )
    finally:
        app.close()
    files = members(out)
    withheld = "work/reference-withheld.json" in files
    assert withheld != ("work/reference.jpg" in files)
    return not withheld


def test_the_organisations_choice_is_the_default_and_agencies_never_get_a_withheld_file(
    demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    poster = alerts(demo_case)["kino.example.kz/img/a-small.jpg"]  # Qazaq Pictures, KZ
    assert poster.owner == OWNER
    app = _app(demo_case)
    try:
        app.organisations.set(OWNER, withhold_references=True, actor="qp-admin")
    finally:
        app.close()

    ref = _reference_in
    assert not ref(demo_case, poster.id, tmp_path / "1.zip", SYSTEM, signing_key)
    assert not ref(demo_case, poster.id, tmp_path / "2.zip", KZ_AGENCY, signing_key)
    # An explicit choice wins for whoever may have the file; an agency still may not.
    explicit = {"withhold_reference": False}
    assert ref(demo_case, poster.id, tmp_path / "3.zip", SYSTEM, signing_key, **explicit)
    assert not ref(demo_case, poster.id, tmp_path / "4.zip", KZ_AGENCY, signing_key, **explicit)
    # The command line without --withhold-reference follows the organisation too.
    out = tmp_path / "cli.zip"
    status, _ = run(
        demo_case.home, "export", poster.id, "-o", str(out), "--no-recapture",
        "--as-jurisdiction", "KZ", key=signing_key,
    )  # fmt: skip
    assert status == 0 and "work/reference-withheld.json" in members(out)

    app = _app(demo_case)
    try:
        app.organisations.set(OWNER, withhold_references=False, actor="qp-admin")
    finally:
        app.close()
    assert ref(demo_case, poster.id, tmp_path / "5.zip", KZ_AGENCY, signing_key)
    asked = {"withhold_reference": True}
    assert not ref(demo_case, poster.id, tmp_path / "6.zip", SYSTEM, signing_key, **asked)
