"""Organisations' policies in the console: who may read and change them, and which are listed.

An organisation's own rights holders and the administrators read and change
its policy (:mod:`tanba.organisations`: today, whether agencies receive its
reference files); agencies and operators do neither. An organisation the
caller does not belong to is "not found" for a rights holder, as other
organisations' works and alerts are, so names cannot be probed.
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel

from tanba.console.exceptions import Forbidden
from tanba.core.access import Principal
from tanba.core.exceptions import NotFound
from tanba.core.schemas.organisations import OrganisationPolicy
from tanba.core.wiring import App

MANAGERS = ("rights_holder", "admin")


class PolicyIn(BaseModel):
    """What an organisation may change about itself."""

    withhold_references: bool


def _require_manager(principal: Principal) -> None:
    if principal.role not in MANAGERS:
        raise Forbidden(
            "an organisation's settings belong to its rights holders and the administrators"
        )


def policy(app: App, principal: Principal, org: str) -> OrganisationPolicy:
    """The policy of ``org`` if ``principal`` manages it; Forbidden or NotFound otherwise."""
    _require_manager(principal)
    name = org.strip()
    if principal.role == "rights_holder" and name not in principal.owners:
        raise NotFound("no such organisation, or not yours; see the organisations page")
    return app.organisations.get(name)


def policies(app: App, principal: Principal, known: Iterable[str]) -> list[OrganisationPolicy]:
    """The policies ``principal`` manages, by name.

    A rights holder's own organisation(s); for an administrator every organisation
    that owns a work, set a policy or appears in ``known`` (the users' organisations).
    """
    _require_manager(principal)
    stored = app.organisations.all()
    if principal.role == "rights_holder":
        names = set(principal.owners)
    else:
        names = set(stored) | set(app.works.catalog.owners()) | set(known)
    return [stored.get(n) or OrganisationPolicy(org=n) for n in sorted(names - {""})]


def change(app: App, principal: Principal, org: str, body: PolicyIn) -> OrganisationPolicy:
    """Set ``org``'s policy (its rights holders and administrators only)."""
    current = policy(app, principal, org)
    return app.organisations.set(
        current.org, withhold_references=body.withhold_references, actor=principal.name
    )
