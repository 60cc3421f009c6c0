"""Whether a match may raise an alert: licences, territories and the term of protection.

A match is suppressed, with a recorded reason, when the site holds a licence for
the work valid on the day of the capture in that jurisdiction, when the owner
holds no rights in the jurisdiction, or when the work's term has run out there.
An unassigned jurisdiction (XX) is never suppressed by territory: a human decides.
"""

from __future__ import annotations

from dataclasses import dataclass

from tanba.core.jurisdictions.codes import UNASSIGNED
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.schemas.works import Licence, Work

LICENSED = "licensed"
OUTSIDE_TERRITORIES = "outside_territories"
TERM_EXPIRED = "term_expired"


@dataclass(frozen=True)
class Suppression:
    """Why a match raises no alert: one of the reason codes above and a sentence."""

    reason: str
    detail: str


def check_rights(
    work: Work, site: str, jurisdiction: str, day: str, registry: JurisdictionRegistry
) -> Suppression | None:
    """None when an alert is due; otherwise the reason it is not. ``day`` is an ISO date."""
    for licence in work.licences:
        if _covers(licence, site, jurisdiction, day):
            return Suppression(
                LICENSED,
                f"{site} is covered by the licence for {licence.domain}"
                f" (valid {licence.valid_from or 'open'} to {licence.valid_until or 'open'})",
            )
    if work.territories and jurisdiction != UNASSIGNED and jurisdiction not in work.territories:
        return Suppression(
            OUTSIDE_TERRITORIES,
            f"{work.owner} holds rights in {', '.join(work.territories)}, not in {jurisdiction}",
        )
    if jurisdiction in registry:
        until = registry.get(jurisdiction).protected_until(
            author_death_year=work.author_death_year, publication_year=work.publication_year
        )
        if until is not None and int(day[:4]) > until:
            return Suppression(
                TERM_EXPIRED, f"protection in {jurisdiction} ended on 31 December {until}"
            )
    return None


def _covers(licence: Licence, site: str, jurisdiction: str, day: str) -> bool:
    domain = licence.domain.lower().strip(".")
    on_site = site == domain or site.endswith("." + domain)
    in_force = (not licence.valid_from or licence.valid_from <= day) and (
        not licence.valid_until or day <= licence.valid_until
    )
    in_territory = not licence.territories or jurisdiction in licence.territories
    return on_site and in_force and in_territory
