"""The ``store`` fixture (:mod:`tests.support.backends`): contract tests run on every store."""

from tests.services import elastic_url  # noqa: F401 - fixture
from tests.support.backends import elastic_store, store  # noqa: F401 - fixtures
