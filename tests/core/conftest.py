"""The ``bus`` fixture (:mod:`tests.support.backends`) for the registries kept on the bus."""

from tests.services import kafka_bootstrap, namespace  # noqa: F401 - fixtures
from tests.support.backends import bus, kafka_bus  # noqa: F401 - fixtures
