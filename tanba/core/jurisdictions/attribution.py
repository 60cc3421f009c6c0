"""Which jurisdiction a page falls under, decided from weighted signals that stay on the alert.

Signals, strongest first: the operator's override on the target (decisive), the
host's country-code TLD, the country of the server's IP address (from a pluggable
offline lookup), and the page's language where only one state's web uses it.
All of them are kept on the alert so an agency sees why, and what spoke against it.

The confidence (:func:`confidence`) says how sure the decided jurisdiction is,
not how much the signals agree: each signal's weight is read as the chance that
it alone names the right state, so one country-code domain and nothing else is
60%, not 100% (an earlier rule divided the agreeing weight by all the weight,
and a single signal of any strength came out certain). The weights are set by
hand from what each signal is (a ``.kz`` site may be hosted and run anywhere; a
server's country says where the machine is, not the site's audience), not
measured: read the figure as the strength of the evidence at hand.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from tanba.core.alerts import Alert, Signal
from tanba.core.jurisdictions.codes import UNASSIGNED
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.core.schemas.common import MediaOccurrence

WEIGHT_OVERRIDE = 1.0
WEIGHT_CCTLD = 0.6
WEIGHT_SERVER_IP = 0.3
WEIGHT_LANGUAGE = 0.15


class IpCountryLookup(Protocol):
    """Maps an IP address to an ISO 3166-1 country code, or None when unknown."""

    def country(self, ip: str) -> str | None: ...


class NoIpLookup:
    """The lookup used when no IP database is configured: knows nothing."""

    def country(self, ip: str) -> str | None:
        return None


@dataclass(frozen=True)
class Attribution:
    """The decided jurisdiction, how sure it is (0..1), and every signal considered."""

    code: str
    confidence: float
    signals: list[Signal]


def attribute(
    occurrence: MediaOccurrence,
    registry: JurisdictionRegistry,
    ip_lookup: IpCountryLookup | None = None,
) -> Attribution:
    """Attribute the page of ``occurrence`` to a jurisdiction."""
    signals = _signals(occurrence, registry, ip_lookup or NoIpLookup())
    override = next((s for s in signals if s.name == "target_override"), None)
    weights: dict[str, float] = defaultdict(float)
    for s in signals:
        weights[s.value] += s.weight
    if override is not None:
        code = override.value
    elif weights:
        code = max(sorted(weights), key=lambda c: weights[c])
    else:
        return Attribution(UNASSIGNED, 0.0, [])
    return Attribution(code, confidence(code, signals), signals)


def confidence(code: str, signals: Sequence[Signal]) -> float:
    """How sure it is that the page falls under ``code``, from 0 to 1, given ``signals``.

    Each signal counts as an independent witness that is right with the chance of
    its weight. Those naming ``code`` together make it ``1 - prod(1 - w)``; those
    naming another state count against it the same way; the confidence is the
    first times one minus the second, rounded to three places. So a ccTLD alone
    (0.6) gives 0.6; a ccTLD and the server's country agreeing, 0.72; a ccTLD
    contradicted by the server's country, 0.6 x 0.7 = 0.42; the operator's override
    (1.0) gives 1.0 unless the page's own signals name another state. No signal
    for ``code``: 0.
    """

    def together(ws: list[float]) -> float:
        return 1.0 - math.prod(1.0 - min(1.0, max(0.0, w)) for w in ws)

    backing = together([s.weight for s in signals if s.value == code])
    against = together([s.weight for s in signals if s.value != code])
    return round(backing * (1.0 - against), 3)


def alert_confidence(alert: Alert) -> float:
    """The confidence of an alert's jurisdiction by the rule above, from the signals it keeps.

    Alerts stored before this rule carry the old figure in ``jurisdiction_confidence``
    (1.0 for a single ccTLD); readers that show a confidence ask here. An alert kept
    without signals keeps the figure it was stored with.
    """
    if not alert.signals:
        return alert.jurisdiction_confidence
    return confidence(alert.jurisdiction, alert.signals)


def _signals(
    occurrence: MediaOccurrence, registry: JurisdictionRegistry, ip_lookup: IpCountryLookup
) -> list[Signal]:
    signals: list[Signal] = []
    if occurrence.jurisdiction_override:
        signals.append(
            Signal(
                name="target_override",
                value=occurrence.jurisdiction_override,
                weight=WEIGHT_OVERRIDE,
                detail=f"target {occurrence.target!r} sets jurisdiction",
            )
        )
    by_tld = registry.for_host(occurrence.site)
    if by_tld is not None and by_tld.code != UNASSIGNED:
        signals.append(
            Signal(name="cctld", value=by_tld.code, weight=WEIGHT_CCTLD, detail=occurrence.site)
        )
    country = ip_lookup.country(occurrence.server_ip) if occurrence.server_ip else None
    if country and country in registry:
        signals.append(
            Signal(
                name="server_ip",
                value=country,
                weight=WEIGHT_SERVER_IP,
                detail=occurrence.server_ip,
            )
        )
    lang = occurrence.page_lang.split("-")[0].strip().lower()
    speakers = [j.code for j in registry if lang and lang in j.web_languages]
    if len(speakers) == 1:  # "ru" is spoken across the region and decides nothing
        signals.append(
            Signal(
                name="page_language",
                value=speakers[0],
                weight=WEIGHT_LANGUAGE,
                detail=occurrence.page_lang,
            )
        )
    return signals
