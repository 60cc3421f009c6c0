"""Topic ``tanba.organisations`` (compacted, key = organisation): what each rights holder decided.

An organisation is the ``owner`` of its works (and the ``org`` of its rights
holders' console accounts). The latest :class:`OrganisationPolicySet` per
organisation is its policy; an organisation that never set one has the default
(:class:`OrganisationPolicy` with every field at its default).
"""

from __future__ import annotations

from typing import ClassVar

from tanba.core.schemas.base import Event, Model


class OrganisationPolicy(Model):
    """What an organisation allows others to do with its works."""

    org: str
    # True: agencies never receive the reference files (console media routes answer 403,
    # evidence packages carry only the reference's hash and a thumbnail by default).
    withhold_references: bool = False
    changed_by: str = ""  # the console user (or "system") who set it
    changed_at: str = ""  # ISO 8601, UTC


class OrganisationPolicySet(Event):
    """An organisation's policy was set or changed."""

    SCHEMA: ClassVar[str] = "tanba.OrganisationPolicySet"
    VERSION: ClassVar[int] = 1

    policy: OrganisationPolicy
