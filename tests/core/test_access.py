"""The one visibility rule (tanba.core.access) and the organisations' policies it reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.access import Principal
from tanba.core.alerts import Alert, MatchDetail, alert_id
from tanba.core.clock import FixedClock
from tanba.core.exceptions import InputError, NotFound, Withheld
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register

ADMIN = Principal("root", "admin")
OPS = Principal("ops", "operator")
OWNER_A = Principal("alice", "rights_holder", owners=("Owner A",))
MOSCOW = Principal("masha", "rights_holder", owners=("Moscow Arts",))
KZ = Principal("kz", "agency", jurisdictions=("KZ",))
RU = Principal("ru", "agency", jurisdictions=("RU",))


def _alert(work_id: str, owner: str, jurisdiction: str) -> Alert:
    page = f"http://site.example/{work_id}/{jurisdiction}"
    return Alert(
        id=alert_id(work_id, page, page + ".jpg"),
        work_id=work_id,
        owner=owner,
        media="image",
        score=0.95,
        match=MatchDetail(algorithm="phash64", distance=3),
        page_url=page,
        media_url=page + ".jpg",
        media_sha256="0" * 64,
        site="site.example",
        jurisdiction=jurisdiction,
        first_seen="2026-03-01T00:00:00.000Z",
        last_seen="2026-03-01T00:00:00.000Z",
    )


@pytest.fixture
def registered(app: App, small_photos: list[Path]) -> App:
    """Owner A's 'steppe' found in KZ; Moscow Arts' 'city' found in RU; 'quiet' found nowhere."""
    register(
        app,
        [
            WorkSpec(path=small_photos[0], owner="Owner A", title="Steppe", work_id="steppe"),
            WorkSpec(path=small_photos[2], owner="Moscow Arts", title="City", work_id="city"),
            WorkSpec(path=small_photos[3], owner="Moscow Arts", title="Quiet", work_id="quiet"),
        ],
    )
    app.store.upsert([_alert("steppe", "Owner A", "KZ"), _alert("city", "Moscow Arts", "RU")])
    return app


def test_each_role_sees_the_works_the_rule_gives_it(registered: App) -> None:
    access = registered.access
    seen = {p.name: [w.work_id for w in access.works(p)] for p in (ADMIN, OPS, OWNER_A, KZ, RU)}
    assert seen == {
        "root": ["city", "quiet", "steppe"],
        "ops": ["city", "quiet", "steppe"],
        "alice": ["steppe"],
        "kz": ["steppe"],
        "ru": ["city"],
    }
    assert access.work(RU, "city").title == "City"
    for who, work_id in ((KZ, "city"), (RU, "quiet"), (OWNER_A, "city"), (ADMIN, "nothing")):
        with pytest.raises(NotFound):
            access.work(who, work_id)
        with pytest.raises(NotFound):
            access.reference(who, work_id)
    no_scope = Principal("lost", "agency")  # an agency without a jurisdiction sees nothing
    assert access.works(no_scope) == []


def test_an_organisation_withholds_its_references_from_agencies_only(
    registered: App, clock: FixedClock
) -> None:
    orgs, access = registered.organisations, registered.access
    assert not orgs.get("Moscow Arts").withhold_references  # never set: the default
    assert access.reference(RU, "city").work_id == "city"
    clock.advance(60)
    set_ = orgs.set(" Moscow Arts ", withhold_references=True, actor="masha")
    assert (set_.org, set_.changed_by, set_.changed_at) == (
        "Moscow Arts",
        "masha",
        "2026-03-01T12:01:00.000Z",
    )
    with pytest.raises(Withheld, match="Moscow Arts"):
        access.reference(RU, "city")
    assert access.work(RU, "city").work_id == "city"  # the work itself stays visible
    for who in (MOSCOW, ADMIN, OPS):
        assert access.reference(who, "city").work_id == "city"
    assert access.withheld_references(RU, access.works(ADMIN)) == {"city", "quiet"}
    assert access.withheld_references(MOSCOW, access.works(ADMIN)) == set()
    orgs.set("Moscow Arts", withhold_references=False, actor="root")  # the latest wins
    assert access.reference(RU, "city").work_id == "city"
    assert set(orgs.all()) == {"Moscow Arts"}
    with pytest.raises(InputError, match="name the organisation"):
        orgs.set("  ", withhold_references=True, actor="root")


@pytest.mark.parametrize(
    ("withheld_by_org", "requested", "principal", "expected"),
    [
        (False, None, ADMIN, False),  # the default is the organisation's choice...
        (True, None, ADMIN, True),
        (True, None, MOSCOW, True),
        (True, False, ADMIN, False),  # ...an explicit choice wins for who may have the file...
        (False, True, RU, True),
        (True, False, RU, True),  # ...but an agency never gets a withheld file
        (False, False, RU, False),
    ],
)
def test_evidence_export_withholds_by_the_organisations_choice_by_default(
    registered: App,
    withheld_by_org: bool,
    requested: bool | None,
    principal: Principal,
    expected: bool,
) -> None:
    registered.organisations.set("Moscow Arts", withhold_references=withheld_by_org, actor="t")
    work = registered.works.get("city")
    assert registered.access.export_withholds_reference(principal, work, requested) is expected
