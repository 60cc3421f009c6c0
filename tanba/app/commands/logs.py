"""``tanba alerts``, the logs (quarantine, suppressions, dead letters) and ``tanba settings``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from tanba.app.output import Handler, emit
from tanba.app.pipeline import crawl_report
from tanba.core import topics
from tanba.core.alerts import STATUSES, StatusChange
from tanba.core.clock import iso
from tanba.core.exceptions import InputError
from tanba.core.hosts import stored_host
from tanba.core.schemas.base import Event, decode
from tanba.core.schemas.deadletter import DeadLetter
from tanba.core.schemas.quarantine import MediaQuarantined
from tanba.core.schemas.suppressions import MatchSuppressed
from tanba.core.settings import Settings
from tanba.core.store import AlertQuery
from tanba.core.wiring import App
from tanba.matcher.lifecycle import reconcile


def register(sub: Any) -> None:
    """Add these commands to the ``tanba`` parser's sub-commands."""
    alerts = sub.add_parser("alerts", help="list alerts and change their status")
    alerts_sub = alerts.add_subparsers(metavar="ACTION")
    al = alerts_sub.add_parser("list", help="list alerts, newest first")
    al.add_argument("--jurisdiction", default="", metavar="CC")
    al.add_argument("--status", default="")
    al.add_argument("--work", default="", metavar="WORK_ID")
    al.add_argument("--site", default="")
    al.add_argument("--limit", type=int, default=1000)
    al.add_argument("--json", action="store_true")
    al.set_defaults(handler=_alerts_list)
    rc = alerts_sub.add_parser("reconcile", help="apply a crawl's findings to alerts after notices")
    rc.add_argument("crawl_id", nargs="?", default="", help="default: the latest crawl")
    rc.set_defaults(handler=_alerts_reconcile)
    st = alerts_sub.add_parser("status", help="move an alert to a new status")
    st.add_argument("alert_id")
    st.add_argument("status")
    st.add_argument("--actor", required=True, help="who makes the change")
    st.add_argument("--comment", default="")
    st.set_defaults(handler=_alerts_status)

    for name, helptext in (
        ("quarantine", "media that could not be fingerprinted, with the reason"),
        ("suppressions", "matches that raised no alert, with the reason"),
        ("deadletters", "messages a stage gave up on, with the error"),
    ):
        q = sub.add_parser(name, help=helptext)
        q.add_argument("--json", action="store_true")
        q.set_defaults(handler=_log_lister(name))

    s = sub.add_parser("settings", help="print every setting, its variable and its value")
    s.set_defaults(handler=_settings)


def _alerts_list(app: App, args: argparse.Namespace) -> int:

    query = AlertQuery(
        jurisdiction=args.jurisdiction.upper(),
        status=args.status,
        work_id=args.work,
        site=stored_host(args.site) if args.site else "",  # фильмы.рф or its punycode
        limit=args.limit,
    )
    alerts = app.store.search(query).alerts
    if args.json:
        for a in alerts:
            row = a.model_dump(mode="json")
            row["offset_s"] = a.offset_s
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        return 0
    rows = [
        {
            "id": a.id,
            "jurisdiction": a.jurisdiction,
            "work_id": a.work_id,
            "score": f"{a.score:.2f}",
            "status": a.status,
            "page_url": a.page_url,
            "media_url": a.media_url,
        }
        for a in alerts
    ]
    emit(rows, False, ("id", "jurisdiction", "work_id", "score", "status", "page_url", "media_url"))
    return 0


def _alerts_status(app: App, args: argparse.Namespace) -> int:

    if args.status not in STATUSES:
        raise InputError(f"unknown status {args.status!r}; use one of {', '.join(STATUSES)}")
    change = StatusChange(
        status=args.status, actor=args.actor, at=iso(app.clock.now()), comment=args.comment
    )
    alert = app.store.change_status(args.alert_id, change)
    print(f"{alert.id}: {alert.status}")
    return 0


def _alerts_reconcile(app: App, args: argparse.Namespace) -> int:

    report = crawl_report(app, args.crawl_id)
    if report is None:
        raise InputError(f"no crawl report {args.crawl_id or ''} on the bus; run a crawl first")
    r = reconcile(app.store, report, app.clock)
    print(
        f"crawl {report.crawl_id}: {r.persists} persist, {r.missed} not found, {r.removed} removed"
    )
    return 0


def _log_lister(name: str) -> Handler:
    def handler(app: App, args: argparse.Namespace) -> int:

        spec: dict[str, tuple[str, type[Event], tuple[str, ...]]] = {
            "quarantine": (topics.QUARANTINE, MediaQuarantined, ("media_url", "reason")),
            "suppressions": (
                topics.SUPPRESSIONS,
                MatchSuppressed,
                ("work_id", "page_url", "reason", "detail"),
            ),
            "deadletters": (topics.DEAD_LETTER, DeadLetter, ("stage", "topic", "offset", "error")),
        }
        topic, kind, columns = spec[name]
        rows = []
        for message in app.bus.replay(topic):
            row: dict[str, Any] = decode(message.value, kind).model_dump(mode="json")
            row |= row.pop("occurrence", {}) if "occurrence" in row else {}
            rows.append(row)
        emit(rows, args.json, columns)
        return 0

    return handler


def _settings(app: App, args: argparse.Namespace) -> int:
    values = app.settings.variables(reveal=False)
    for env, default, doc in Settings.documentation():
        print(f"{env}={values[env]}  (default {default})\n    {doc}")
    return 0
