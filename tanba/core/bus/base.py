"""The bus contract, shared by the embedded (SQLite) bus and the Kafka bus.

Delivery is at-least-once: a consumer sees a message again until it commits an
offset past it, so a stage commits only after the message's effect is durable
and makes that effect idempotent (deterministic ids). ``publish`` returns only
once the records are durable (fsync'd, or acknowledged by the brokers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

#: Called by a group member, inside ``poll``, with the (topic, partition) pairs that leave it
#: in a rebalance (or that it lost), before any other member can be given them.
OnRevoked = Callable[[list[tuple[str, int]]], None]


@dataclass(frozen=True)
class Record:
    """A message to publish: the key decides the partition (and so the order)."""

    key: str | None
    value: bytes


@dataclass(frozen=True)
class Message:
    """A message read from a topic, with the position a commit refers to."""

    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes


class Consumer(ABC):
    """A member of a consumer group reading some topics; its group shares their partitions."""

    @abstractmethod
    def poll(self, max_messages: int, timeout_s: float) -> list[Message]:
        """Up to ``max_messages`` messages after the last ones polled; [] after ``timeout_s``."""

    @abstractmethod
    def commit(self, messages: Sequence[Message]) -> None:
        """Mark these messages, and every earlier one of their partitions, as done for the group."""

    @abstractmethod
    def close(self) -> None:
        """Leave the group; uncommitted messages go to the next member."""

    def pause(self, paused: bool) -> None:  # noqa: B027 - optional, a no-op by default
        """Stop (True) or resume (False) fetching new messages; ``poll`` still keeps the
        membership alive meanwhile (and returns nothing new). For a member whose messages
        take long (a crawl job can take hours) and that buffers what it polled."""

    def lag(self) -> int | None:
        """Messages of this member's partitions not committed yet; None when unknown.

        For the ``tanba_consumer_lag`` gauge. It may ask the broker, so callers call it
        now and then (after a commit, or every few seconds when idle), not per message.
        """
        return None


class Bus(ABC):
    """Topics of records: publish, consume in groups, replay from the start."""

    @abstractmethod
    def publish(self, topic: str, records: Sequence[Record]) -> None:
        """Append records to a topic; returns when they are durable. Raises TransientError."""

    @abstractmethod
    def consumer(
        self, group: str, topics: Sequence[str], *, on_revoked: OnRevoked | None = None
    ) -> Consumer:
        """Join ``group`` on ``topics``; a new group starts at the earliest message.

        ``on_revoked``: the member wants to know which partitions leave it, and must
        keep the others through a rebalance (Kafka's cooperative protocol: a member
        working long on a partition's message stops only if that partition moves).
        """

    @abstractmethod
    def replay(self, topic: str, after: dict[int, int] | None = None) -> Iterator[Message]:
        """Every message of ``topic`` now there, after the given per-partition offsets, no group."""

    @abstractmethod
    def group_lag(self, group: str, topics: Sequence[str]) -> int:
        """Messages of ``topics`` that ``group`` has not committed, over every partition.

        The whole group's lag, not one member's: 0 exactly when the group's committed
        offset equals the end offset on every partition of ``topics`` (a partition the
        group never committed counts from its first message still there). Runs that
        must finish only once a stage is done (``tanba run``, ``--until-idle``) stop on
        this, since an empty poll only says that nothing arrived in time. Raises
        TransientError when the bus cannot be asked.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections; publishing after close is an error."""
