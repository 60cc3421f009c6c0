"""What a finished crawl says about alerts already raised: still online, or taken down.

After an agency sent a notice, Tanba watches the page: a crawl that fetched the
page and found the copy again moves the alert to ``persists``; two crawls that
fetched the page without the copy move it to ``removed``. Only pages a crawl
actually parsed count, so a crawl cut short by its page budget proves nothing.
It must run after the matcher has processed the crawl's media (``tanba run``
does this when its queues are drained; distributed deployments run
``tanba alerts reconcile`` once the matcher has caught up).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from tanba.core.alerts import Alert, StatusChange
from tanba.core.clock import Clock, iso
from tanba.core.schemas.crawls import CrawlFinished
from tanba.core.store import AlertQuery, AlertStore

ACTOR = "tanba-crawler"
WATCHED = ("notice_sent", "persists")
MISSES_TO_REMOVE = 2
_PAGE = 500


@dataclass
class Reconciled:
    """How many watched alerts a crawl found persisting, missed, or removed."""

    persists: int = 0
    missed: int = 0
    removed: int = 0


def reconcile(store: AlertStore, report: CrawlFinished, clock: Clock) -> Reconciled:
    """Apply one crawl report to the watched alerts of its targets."""
    result = Reconciled()
    for target, counters in report.targets.items():
        fetched = set(counters.page_urls)
        for alert in _watched(store, target):
            if alert.page_url in fetched:
                _judge(store, alert, report.crawl_id, clock, result)
    return result


def _judge(
    store: AlertStore, alert: Alert, crawl_id: str, clock: Clock, result: Reconciled
) -> None:
    at = iso(clock.now())
    if alert.crawl_id == crawl_id:
        notice = next((h.at for h in reversed(alert.history) if h.status == "notice_sent"), "")
        if alert.status == "notice_sent" and alert.last_seen > notice:
            comment = f"still online in crawl {crawl_id}"
            store.change_status(
                alert.id, StatusChange(status="persists", actor=ACTOR, at=at, comment=comment)
            )
            result.persists += 1
        return
    alert = store.record_miss(alert.id, crawl_id)
    result.missed += 1
    if len(alert.missed_crawls) >= MISSES_TO_REMOVE:
        comment = "not found by crawls " + ", ".join(alert.missed_crawls[-MISSES_TO_REMOVE:])
        store.change_status(
            alert.id, StatusChange(status="removed", actor=ACTOR, at=at, comment=comment)
        )
        result.removed += 1


def _watched(store: AlertStore, target: str) -> list[Alert]:
    alerts: list[Alert] = []
    for status in WATCHED:
        # Cursor paging: each page is one request however deep (offsets past the
        # Elasticsearch result window would walk from the start every time).
        query = AlertQuery(target=target, status=status, limit=_PAGE)
        while True:
            page = store.search(query)
            alerts.extend(page.alerts)
            if not page.next_cursor:
                break
            query = replace(query, after=page.next_cursor)
    return alerts
