"""Crawl jobs: build them from targets, key them by site, and turn them back into targets.

Contract: :func:`job_for` makes the :class:`~tanba.core.schemas.crawl_jobs.CrawlJobRequested`
of one target in one crawl (deterministic: the same crawl and target give the same
job id, see :func:`job_id`); :func:`job_record` is its bus record, keyed by
:func:`site_of`; :func:`job_target` is the crawler's :class:`~tanba.core.targets.Target`
of a job (a spec that breaks a rule raises :class:`~tanba.core.targets.TargetInvalid`).

The site is the registrable domain of the target's first seed, by the Public Suffix
List that ``tldextract`` bundles (never fetched at run time): ``kino.example.kz`` and
``tv.example.kz`` are one site, ``a.github.io`` and ``b.github.io`` two. An IP address
or a single-label host is its own site. Keying by the registrable domain rather than
the host is the stricter choice for politeness: a site's subdomains usually share its
servers, and Scrapy Cluster throttles by registered domain for the same reason.

Why in the core: the CLI, ``tanba run``, the console's scheduler and the crawler all
make or read jobs, and only the crawler imports Scrapy.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from urllib.parse import urlsplit

import tldextract

from tanba.core.bus import Record
from tanba.core.hosts import ascii_host
from tanba.core.schemas.base import encode
from tanba.core.schemas.crawl_jobs import CrawlJobRequested
from tanba.core.targets import Target, check_target, target_fields


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    # The snapshot shipped inside the package, offline; private suffixes (github.io) count,
    # so two users' pages there are two sites.
    return tldextract.TLDExtract(
        suffix_list_urls=(), cache_dir=None, include_psl_private_domains=True
    )


def site_of_host(host: str) -> str:
    """The registrable domain of ``host`` (ASCII form); the host itself for an IP or a bare name."""
    name = ascii_host(host)
    try:
        ipaddress.ip_address(name.strip("[]"))
        return name
    except ValueError:
        pass
    found = _extractor()(name)
    if not found.suffix or not found.domain:
        return name
    return f"{found.domain}.{found.suffix}"


def site_of(target: Target) -> str:
    """The site a target's jobs are keyed by: its first seed's registrable domain."""
    for seed in target.seeds:
        host = urlsplit(seed).hostname
        if host:
            return site_of_host(host)
    return target.key  # a target without a usable seed fails when crawled; keep it apart


def job_id(crawl_id: str, target_key: str) -> str:
    """The id of the job that crawls target ``target_key`` in crawl ``crawl_id``."""
    return f"{crawl_id}/{target_key}"


def job_for(
    target: Target, crawl_id: str, resolve: dict[str, str], *, requested_at: str, requested_by: str
) -> CrawlJobRequested:
    """The job that crawls ``target`` once in crawl ``crawl_id`` (see the module doc)."""
    return CrawlJobRequested(
        job_id=job_id(crawl_id, target.key),
        crawl_id=crawl_id,
        site=site_of(target),
        target_id=target.id,
        name=target.name,
        spec=target_fields(target),
        resolve=dict(resolve),
        requested_at=requested_at,
        requested_by=requested_by,
    )


def job_record(job: CrawlJobRequested) -> Record:
    """The job as a record of ``tanba.crawl-jobs``, keyed by its site."""
    return Record(job.site, encode(job))


def job_target(job: CrawlJobRequested) -> Target:
    """The target a job crawls, with its id; TargetInvalid if its spec breaks a rule."""
    return check_target(job.spec, target_id=job.target_id)
