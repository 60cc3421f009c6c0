"""Topic ``tanba.crawl-jobs``: one job = one crawl of one target, keyed by the target's site.

A :class:`CrawlJobRequested` carries everything a crawler needs to crawl the target
without reading the registry: the target's fields exactly as a targets file writes
them (``spec``, checked again by :func:`tanba.core.targets.check_target` when the job
runs), its id and name, the crawl it belongs to and the ``--resolve`` map. A snapshot,
not a reference: a target edited after the job was published is crawled as it was
asked, and the next job takes the edit.

Keys and ids (:mod:`tanba.core.crawl_jobs` builds both):

* the record key is ``site``, the registrable domain of the target's first seed
  (``kino.example.kz`` → ``example.kz``), so every job of one site lands on one
  partition, and one crawler (the partition's owner in the consumer group) crawls it
  at a time;
* ``job_id`` is ``<crawl_id>/<target key>``: publishing the same job twice (a retried
  publish) gives the same id, and the crawl's report (``tanba.crawls``) is keyed by
  the same pair, so a re-run job replaces its report instead of adding one.

Versioning as in :mod:`tanba.core.schemas.base`: a new optional field needs no bump.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from tanba.core.schemas.base import Event


class CrawlJobRequested(Event):
    """Crawl one target once, as part of crawl ``crawl_id`` (see the module doc)."""

    SCHEMA: ClassVar[str] = "tanba.CrawlJobRequested"
    VERSION: ClassVar[int] = 1

    job_id: str
    crawl_id: str
    site: str
    target_id: str  # "" for a target read straight from a file (then keyed by its name)
    name: str
    spec: dict[str, Any]
    resolve: dict[str, str] = Field(default_factory=dict)  # host -> address (--resolve)
    requested_at: str
    requested_by: str
