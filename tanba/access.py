"""Who may see what: the principal behind a request and the slice of alerts it may touch.

Every reader of alerts (console, API, evidence export) narrows its queries with
:meth:`Principal.scope` and checks single alerts with :meth:`Principal.may_see`,
so the rule lives in one place: a rights holder sees the alerts on works of
their own organisation, an agency the alerts of its jurisdictions, operators
and administrators everything (operators cannot change statuses; the console
enforces that with :meth:`may_change_status`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from tanba.alerts import Alert
from tanba.store.base import AlertQuery

Role = Literal["rights_holder", "agency", "operator", "admin"]
ROLES: tuple[Role, ...] = ("rights_holder", "agency", "operator", "admin")


@dataclass(frozen=True)
class Principal:
    """A user or API token: name, role, and for scoped roles the owners or jurisdictions."""

    name: str
    role: Role
    owners: tuple[str, ...] = ()  # rights holders: their organisation(s)
    jurisdictions: tuple[str, ...] = ()  # agencies: their state code(s)

    def scope(self, query: AlertQuery) -> AlertQuery:
        """``query`` narrowed to what this principal may see (never widened)."""
        if self.role == "rights_holder":
            return replace(query, owners=self.owners or ("\x00nobody",))
        if self.role == "agency":
            return replace(query, jurisdictions=self.jurisdictions or ("\x00nobody",))
        return query

    def may_see(self, alert: Alert) -> bool:
        if self.role == "rights_holder":
            return alert.owner in self.owners
        if self.role == "agency":
            return alert.jurisdiction in self.jurisdictions
        return True

    def may_change_status(self, alert: Alert) -> bool:
        return self.role != "operator" and self.may_see(alert)


SYSTEM = Principal(name="system", role="admin")
