"""Jurisdiction registry: which CIS state a host belongs to, and what its copyright law says.

Contract: the data lives in ``jurisdictions.yaml`` (agencies correct it there, or point the
setting ``TANBA_JURISDICTIONS`` at a corrected copy); ``default_registry()`` loads and
validates it once per process; ``codes`` holds the stable ISO 3166-1 codes used as keys
everywhere else in Tanba, and is where they are imported from (this package gives the
registry, its model and its errors). See ``registry`` for the loader and the host lookup.
"""

from tanba.core.jurisdictions.exceptions import JurisdictionDataError, UnknownJurisdiction
from tanba.core.jurisdictions.model import Authority, CopyrightTerm, Jurisdiction
from tanba.core.jurisdictions.registry import (
    JURISDICTIONS_ENV,
    JurisdictionRegistry,
    default_registry,
)

__all__ = [
    "JURISDICTIONS_ENV",
    "Authority",
    "CopyrightTerm",
    "Jurisdiction",
    "JurisdictionDataError",
    "JurisdictionRegistry",
    "UnknownJurisdiction",
    "default_registry",
]
