"""The ``bus`` fixture (:mod:`tests.support.backends`): the pipeline's tests run on every bus."""

from tests.services import kafka_bootstrap, namespace  # noqa: F401 - fixtures
from tests.support.backends import bus, kafka_bus  # noqa: F401 - fixtures
