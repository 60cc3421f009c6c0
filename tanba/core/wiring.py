"""Wiring: the objects a command needs (bus, store, blobs, registries), built from Settings once."""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

from tanba.core.access import Access
from tanba.core.blobs import BlobStore, open_blobs
from tanba.core.bus import Bus, open_bus
from tanba.core.captures import Captures, open_captures
from tanba.core.clock import Clock, SystemClock
from tanba.core.jurisdictions.attribution import IpCountryLookup
from tanba.core.jurisdictions.geoip import open_lookup
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.organisations import OrganisationRegistry
from tanba.core.registry import WorkRegistry
from tanba.core.settings import Settings
from tanba.core.store import AlertStore, open_store
from tanba.core.target_registry import TargetRegistry
from tanba.core.works_catalog import WorkCatalog, open_catalog


class App:
    """One Tanba installation as seen from a process; parts are opened on first use."""

    def __init__(self, settings: Settings, clock: Clock | None = None) -> None:
        self.settings = settings
        self.clock = clock or SystemClock()

    @cached_property
    def bus(self) -> Bus:
        return open_bus(self.settings)

    @cached_property
    def store(self) -> AlertStore:
        return open_store(self.settings)

    @cached_property
    def blobs(self) -> BlobStore:
        """Media, reference files and recaptures (:mod:`tanba.core.blobs`; TANBA_BLOBS)."""
        return open_blobs(self.settings)

    @cached_property
    def captures(self) -> Captures:
        """The crawls' WARC captures (:mod:`tanba.core.captures`), where TANBA_BLOBS keeps them."""
        return open_captures(self.settings)

    @cached_property
    def catalog(self) -> WorkCatalog:
        """The works read model lists and searches use (:mod:`tanba.core.works_catalog`)."""
        return open_catalog(self.settings)

    @cached_property
    def works(self) -> WorkRegistry:
        return WorkRegistry(self.bus, self.catalog)

    @cached_property
    def organisations(self) -> OrganisationRegistry:
        return OrganisationRegistry(self.bus, self.clock)

    @cached_property
    def targets(self) -> TargetRegistry:
        """The crawl targets (:mod:`tanba.core.target_registry`), shared by CLI and console."""
        return TargetRegistry(self.bus, self.clock)

    @cached_property
    def access(self) -> Access:
        """Who may see which works and reference files (:mod:`tanba.core.access`)."""
        return Access(self.store, self.works, self.organisations)

    @cached_property
    def jurisdictions(self) -> JurisdictionRegistry:
        return JurisdictionRegistry.load(self.settings.jurisdictions_file or None)

    @cached_property
    def ip_lookup(self) -> IpCountryLookup:
        return open_lookup(self.settings.geoip)

    @property
    def captures_dir(self) -> Path:
        """This machine's spool of WARC files (all of them unless TANBA_BLOBS is s3://)."""
        return self.settings.home / "captures"

    def close(self) -> None:
        for name in ("bus", "store", "catalog"):
            if name in self.__dict__:
                self.__dict__[name].close()
