"""Who may see what: the principal behind a request, and the one rule for alerts, works and references.

Every reader (console pages, API, media routes, evidence export) narrows alert
queries with :meth:`Principal.scope`, checks single alerts with
:meth:`Principal.may_see`, and asks :class:`Access` for works and reference
files, so the rule lives here and nowhere else:

* alerts: a rights holder sees the alerts on works of their own organisation,
  an agency the alerts of its jurisdictions, operators and administrators
  everything (operators cannot change statuses: :meth:`Principal.may_change_status`);
* works: a rights holder sees its organisation's works, an agency the works
  that have at least one alert in its jurisdictions (the reference behind the
  alerts it works, nothing more), operators and administrators every work;
* reference files: whoever sees the work, except that an organisation may
  withhold its references from agencies (:mod:`tanba.organisations`).

Whatever a caller may not see is "not found", the same answer as for an id
that does not exist, so other parties' ids cannot be probed; only the
reference of a work the caller does see can be :class:`Withheld`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Literal

from tanba.core.alerts import Alert
from tanba.core.exceptions import NotFound, Withheld
from tanba.core.organisations import OrganisationRegistry
from tanba.core.registry import WorkRegistry
from tanba.core.schemas.works import Work
from tanba.core.store.base import AlertQuery, AlertStore
from tanba.core.works_catalog import WorkEntry, WorkPage, WorkQuery

Role = Literal["rights_holder", "agency", "operator", "admin"]
ROLES: tuple[Role, ...] = ("rights_holder", "agency", "operator", "admin")
NOBODY = "\x00nobody"  # a scope value no alert has: a scoped role without scope sees nothing
# A registered work as the rules read it: with its print (Work) or as listed (WorkEntry).
AnyWork = Work | WorkEntry


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
            return replace(query, owners=self.owners or (NOBODY,))
        if self.role == "agency":
            return replace(query, jurisdictions=self.jurisdictions or (NOBODY,))
        return query

    def may_see(self, alert: Alert) -> bool:
        if self.role == "rights_holder":
            return alert.owner in self.owners
        if self.role == "agency":
            return alert.jurisdiction in self.jurisdictions
        return True

    @property
    def may_change_statuses(self) -> bool:
        """Whether this role changes statuses at all (of the alerts it may see)."""
        return self.role != "operator"

    def may_change_status(self, alert: Alert) -> bool:
        return self.may_change_statuses and self.may_see(alert)


SYSTEM = Principal(name="system", role="admin")


def visible_alert(store: AlertStore, principal: Principal, alert_id: str) -> Alert:
    """The alert if ``principal`` may see it; NotFound otherwise (whether it exists or not)."""
    alert = store.get(alert_id)
    if alert is None or not principal.may_see(alert):
        raise NotFound("no such alert, or not one you may see; go back to the alerts list")
    return alert


class Access:
    """The visibility of works and reference files, decided against the stores (see the module doc)."""

    def __init__(
        self, store: AlertStore, works: WorkRegistry, organisations: OrganisationRegistry
    ) -> None:
        self.store = store
        self.registry = works
        self.organisations = organisations

    def alert(self, principal: Principal, alert_id: str) -> Alert:
        return visible_alert(self.store, principal, alert_id)

    def works_page(self, principal: Principal, query: WorkQuery) -> WorkPage:
        """A page of the works ``principal`` may see, by owner, title and id (from the catalogue)."""
        return self.registry.search(self.scope_works(principal, query))

    def works(self, principal: Principal) -> list[WorkEntry]:
        """Every work ``principal`` may see, page after page: for small catalogues and tests;
        lists page with :meth:`works_page`."""
        out: list[WorkEntry] = []
        query = WorkQuery(limit=500)
        while True:
            page = self.works_page(principal, query)
            out += page.works
            if not page.next_cursor:
                return out
            query = replace(query, after=page.next_cursor)

    def scope_works(self, principal: Principal, query: WorkQuery) -> WorkQuery:
        """``query`` narrowed to the works ``principal`` may see (never widened)."""
        if principal.role == "agency":
            # One count over the agency's alerts names every work it may see.
            alerted = self.store.count_by("work_id", principal.scope(AlertQuery()))
            return replace(query, work_ids=tuple(sorted(alerted)))
        if principal.role == "rights_holder":
            return replace(query, owners=principal.owners)
        return query

    def work(self, principal: Principal, work_id: str) -> WorkEntry:
        """The work (as listed) if ``principal`` may see it; NotFound otherwise (whether it
        exists or not)."""
        work = self.registry.entry(work_id)
        if work is None or not self.may_see_work(principal, work):
            raise NotFound("no such work, or not one you may see; see the works page")
        return work

    def may_see_work(self, principal: Principal, work: AnyWork) -> bool:
        if principal.role == "agency":
            query = principal.scope(AlertQuery(work_id=work.work_id))
            return bool(self.store.count_by("jurisdiction", query))
        return self._sees_owner(principal, work)

    def reference(self, principal: Principal, work_id: str) -> WorkEntry:
        """The work whose reference file ``principal`` may have; NotFound or Withheld otherwise."""
        work = self.work(principal, work_id)
        if self.withholds_reference(principal, work):
            raise Withheld(
                f"{work.owner} does not hand its reference files to agencies; the alert's found "
                "copy is yours to see, and the rights holder can show the reference on request"
            )
        return work

    def withholds_reference(self, principal: Principal, work: AnyWork) -> bool:
        """True when ``principal`` sees ``work`` but must not receive its reference file."""
        return bool(self.withheld_references(principal, [work]))

    def withheld_references(self, principal: Principal, works: Iterable[AnyWork]) -> set[str]:
        """The ids of those ``works`` whose reference files ``principal`` must not receive."""
        works = list(works)
        withheld = self.withholding_owners(principal, {w.owner for w in works})
        return {w.work_id for w in works if w.owner in withheld}

    def withholding_owners(self, principal: Principal, owners: Iterable[str]) -> set[str]:
        """Those of ``owners`` that withhold their reference files from ``principal`` (one read
        of the organisations' policies, and none for roles they never apply to)."""
        if principal.role != "agency":
            return set()
        policies = self.organisations.all()
        return {o for o in owners if o in policies and policies[o].withhold_references}

    def export_withholds_reference(
        self, principal: Principal, work: AnyWork, requested: bool | None
    ) -> bool:
        """Whether an evidence package made by ``principal`` leaves the reference file out.

        ``requested`` (``--withhold-reference``) wins when given; by default the
        owning organisation's choice decides, and a principal who may not
        receive the reference never gets it in a package either.
        """
        chosen = (
            self.organisations.get(work.owner).withhold_references
            if requested is None
            else requested
        )
        return chosen or self.withholds_reference(principal, work)

    @staticmethod
    def _sees_owner(principal: Principal, work: AnyWork) -> bool:
        return principal.role != "rights_holder" or work.owner in principal.owners
