"""The message bus between stages: one interface, an embedded and a Kafka implementation."""

from __future__ import annotations

from tanba.core.bus.base import Bus, Consumer, Message, Record
from tanba.core.settings import EMBEDDED, Settings


def open_bus(settings: Settings) -> Bus:
    """The bus the settings select: SQLite under the home directory, or Kafka.

    TANBA_NAMESPACE prefixes Kafka topic and group names; the embedded bus needs no
    prefix, since its database already lives under the (per-installation) home.
    """
    if settings.bus == EMBEDDED:
        from tanba.core.bus.embedded import EmbeddedBus

        return EmbeddedBus(settings.path("bus.sqlite3"))
    from tanba.core.bus.kafka import KafkaBus

    return KafkaBus(
        settings.bus.removeprefix("kafka://"),
        namespace=settings.namespace,
        partitions=settings.kafka_partitions,
    )


__all__ = ["Bus", "Consumer", "Message", "Record", "open_bus"]
