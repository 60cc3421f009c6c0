"""Which jurisdiction a page falls under, decided from weighted signals that stay on the alert.

Signals, strongest first: the operator's override on the target (decisive), the
host's country-code TLD, the country of the server's IP address (from a pluggable
offline lookup), and the page's language where only one state's web uses it.
Signals that disagree lower the confidence; all of them are kept so an agency
sees why, and what spoke against it.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Protocol

from tanba.core.alerts import Signal
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
    total = sum(weights.values())
    if override is not None:
        code = override.value
    elif weights:
        code = max(sorted(weights), key=lambda c: weights[c])
    else:
        return Attribution(UNASSIGNED, 0.0, [])
    return Attribution(code, round(weights[code] / total, 3), signals)


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
