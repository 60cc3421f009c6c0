"""The JSON API's request and response models (what ``/openapi.json`` documents)."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field

from tanba.console.alerts import AlertFilters
from tanba.console.crawls import CrawlRun
from tanba.core.alerts import Alert
from tanba.core.crawl_reports import TargetCrawl
from tanba.core.schemas.crawls import FetchFailure
from tanba.core.schemas.targets import TargetRecord
from tanba.core.schemas.works import Licence, Work
from tanba.core.works_catalog import WorkEntry


class _Out(BaseModel):
    """A response model read off a domain object's attributes (properties included)."""

    model_config = ConfigDict(from_attributes=True)

    @classmethod
    def of(cls, obj: object) -> Self:
        return cls.model_validate(obj)


class UserOut(_Out):
    username: str
    role: str
    org: str = ""
    jurisdiction: str = ""
    language: str
    disabled: bool = False
    created_at: str = ""
    timezone: str = ""


class UserIn(BaseModel):
    username: str
    password: str = Field(min_length=1)
    role: str
    org: str = ""
    jurisdiction: str = ""
    language: str = "ru"


class UserPatch(BaseModel):
    role: str | None = None
    org: str | None = None
    jurisdiction: str | None = None
    language: str | None = None
    disabled: bool | None = None
    password: str | None = None


class LanguageIn(BaseModel):
    language: str


class TimezoneIn(BaseModel):
    """The caller's time zone: an IANA name, or "" for the installation's."""

    timezone: str


class TokenIn(BaseModel):
    label: str = ""


class TokenOut(_Out):
    id: str
    label: str
    created_at: str
    last_used_at: str = ""


class TokenCreated(TokenOut):
    token: str = Field(description="the secret; shown once, keep it safe")


class AlertSummary(_Out):
    id: str
    work_id: str
    work_title: str
    owner: str
    media: str
    score: float
    jurisdiction: str
    site: str
    target: str
    page_url: str
    page_title: str
    media_url: str
    status: str
    first_seen: str
    last_seen: str


class AlertList(BaseModel):
    total: int
    page: int | None = Field(description="the page number; null for a page reached by cursor")
    per_page: int
    pages: int
    alerts: list[AlertSummary]
    next_cursor: str = Field(
        default="",
        description="pass as 'after' (same filters and sort) for the next page; "
        "empty on the last page",
    )
    prev_cursor: str = Field(
        default="",
        description="pass as 'before' for the previous page; empty on the first page",
    )


class AlertDetail(BaseModel):
    alert: Alert
    next_statuses: list[str]


class StatusIn(BaseModel):
    """A status change, as the API's body and the alert page's form send it."""

    status: str
    comment: str = ""


class BulkStatusIn(BaseModel):
    """A status change of many alerts: the ``ids`` picked, or every alert ``filter`` matches."""

    status: str
    comment: str = ""
    ids: list[str] = Field(default_factory=list, max_length=10_000)
    filter: AlertFilters | None = Field(
        default=None,
        description="the list's filters (as GET /api/alerts takes them); "
        "every alert they match is changed, up to 10,000",
    )


class BulkExportIn(BaseModel):
    """An evidence export of many alerts: the ``ids`` picked, or every alert ``filter`` matches."""

    ids: list[str] = Field(default_factory=list, max_length=10_000)
    filter: AlertFilters | None = Field(
        default=None,
        description="the list's filters (as GET /api/alerts takes them); every alert they "
        "match is exported, up to the export's maximum (50)",
    )
    mark_notice_sent: bool = Field(
        default=False,
        description="after the export, set each alert's status to notice_sent (all must be "
        "confirmed, or nothing is exported)",
    )


class BulkStatusOut(BaseModel):
    """What a bulk change did: the alerts moved, and per status how many could not move."""

    changed: int
    ids: list[str]
    refused: dict[str, int]


class CustodyOut(_Out):
    """One line of a case's chain of custody: a capture, an export or a status change."""

    at: str
    actor: str
    action: str = Field(description="captured, capture_failed, exported, status_changed or note")
    detail: str = ""
    subject: str = Field("", description="SHA-256 of the artifact in the blob store")
    source: str = Field(description="custody (the custody log) or status_history (the alert)")
    interface: str = Field("", description="exports: cli, console or api")
    package_sha256: str = Field("", description="exports: SHA-256 of the zip written")
    status: str = ""
    comment: str = ""


class Counts(BaseModel):
    key: str
    counts: dict[str, int]
    other: int = Field(default=0, description="with 'top': the alerts of every other value")


class GroupOut(BaseModel):
    value: str = Field(description="the site, or the work id")
    count: int
    last_seen: str = Field(description="the latest sighting among its alerts")
    title: str = Field(default="", description="grouped by work: the work's title")


class GroupList(BaseModel):
    key: str
    total: int = Field(description="how many groups the filters match")
    exact: bool = Field(description="false when Elasticsearch could only bound the counts")
    page: int
    per_page: int
    groups: list[GroupOut]


class WorkOut(BaseModel):
    work_id: str
    owner: str
    title: str
    media: str
    sha256: str
    filename: str
    territories: list[str]
    licences: list[Licence]
    owner_home: str
    registered_at: str
    # The print's summary: an image's size and indexed windows, a recording's length.
    width: int = 0
    height: int = 0
    windows: int = 0
    duration_s: float = 0.0
    alerts_by_jurisdiction: dict[str, int] = Field(default_factory=dict)

    @classmethod
    def of(cls, w: Work | WorkEntry, counts: dict[str, int] | None = None) -> WorkOut:
        entry = w if isinstance(w, WorkEntry) else WorkEntry.of(w)
        data = {
            name: getattr(entry, name)
            for name in cls.model_fields
            if name != "alerts_by_jurisdiction"
        }
        return cls(**data, alerts_by_jurisdiction=counts or {})


class WorkList(BaseModel):
    total: int = Field(description="how many works match the filters")
    works: list[WorkOut]
    next_cursor: str = Field(
        default="",
        description="pass as 'after' (same filters) for the next page; empty on the last page",
    )


class JurisdictionOut(BaseModel):
    code: str
    status: str
    names: dict[str, str]


class CrawlRunOut(_Out):
    id: str
    target: str
    started_at: str
    started_by: str
    finished_at: str
    returncode: int | None
    running: bool


class TargetOut(BaseModel):
    id: str = Field(description="stable: the target's crawls and alerts are kept under it")
    name: str
    archived: bool
    spec: dict[str, Any] = Field(description="the target's fields, as a targets file has them")
    resolve: list[str]
    created_at: str
    created_by: str
    updated_at: str
    updated_by: str
    last_run: CrawlRunOut | None = None

    @classmethod
    def of(cls, record: TargetRecord, last: CrawlRun | None) -> TargetOut:
        return cls(
            **record.model_dump(),
            last_run=CrawlRunOut.of(last) if last else None,
        )


class CrawlOut(BaseModel):
    """One crawl of one target: its counters, failed fetches by reason, and those listed."""

    crawl_id: str
    started_at: str
    finished_at: str
    name: str
    counters: dict[str, int]
    failures: dict[str, int] = Field(description="failed fetches by reason (every one counted)")
    failed: list[FetchFailure] = Field(description="the first failed fetches, URL and reason")

    @classmethod
    def of(cls, crawl: TargetCrawl, *, listed: bool = True) -> CrawlOut:
        r = crawl.report
        return cls(
            crawl_id=crawl.crawl_id,
            started_at=crawl.started_at,
            finished_at=crawl.finished_at,
            name=r.name,
            counters=r.counters(),
            failures=dict(r.failures),
            failed=list(r.failed) if listed else [],
        )


class FiguresOut(_Out):
    crawls: int
    pages: int
    media: int
    errors: int
    failed: int = Field(description="failed fetches of every reason")
    traps: int
    throttled: int
    paused: int
    matches: int
    confirmed: int
    yield_per_k: float = Field(description="confirmed alerts per thousand pages")


class DayOut(FiguresOut):
    day: str


class StatsOut(FiguresOut):
    target: str
    last_crawl_at: str
    days: list[DayOut]
