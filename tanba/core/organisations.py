"""Organisations' policies, kept as the compacted ``tanba.organisations`` topic.

Like the works registry (:mod:`tanba.core.registry`), the topic is the one source of
truth, so the console, ``tanba evidence export`` and every process of a
distributed installation read the same choice: setting a policy publishes an
:class:`OrganisationPolicySet` event, reading replays the topic (latest event
per organisation wins). An organisation that never set a policy has the
default one (nothing withheld).
"""

from __future__ import annotations

from tanba.core import topics
from tanba.core.bus import Bus, Record
from tanba.core.clock import Clock, iso
from tanba.core.exceptions import InputError
from tanba.core.schemas.base import decode, encode
from tanba.core.schemas.organisations import OrganisationPolicy, OrganisationPolicySet

MAX_ORG = 200


class OrganisationRegistry:
    """Read and set organisations' policies through the bus."""

    def __init__(self, bus: Bus, clock: Clock) -> None:
        self.bus = bus
        self.clock = clock

    def all(self) -> dict[str, OrganisationPolicy]:
        """Every organisation that set a policy, by name, replayed from the topic."""
        policies: dict[str, OrganisationPolicy] = {}
        for message in self.bus.replay(topics.ORGANISATIONS):
            event = decode(message.value, OrganisationPolicySet)
            policies[event.policy.org] = event.policy
        return policies

    def get(self, org: str) -> OrganisationPolicy:
        """The policy of ``org``: the one it set last, or the default."""
        return self.all().get(org) or OrganisationPolicy(org=org)

    def set(self, org: str, *, withhold_references: bool, actor: str) -> OrganisationPolicy:
        """Record ``org``'s choice; durable when this returns. InputError for an empty name."""
        name = org.strip()
        if not name or len(name) > MAX_ORG:
            raise InputError(f"name the organisation (1 to {MAX_ORG} characters), as on its works")
        policy = OrganisationPolicy(
            org=name,
            withhold_references=withhold_references,
            changed_by=actor,
            changed_at=iso(self.clock.now()),
        )
        self.bus.publish(
            topics.ORGANISATIONS, [Record(name, encode(OrganisationPolicySet(policy=policy)))]
        )
        return policy
