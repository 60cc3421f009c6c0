"""The matcher's extension point: one signal index per medium (HMA's ``SignalTypeIndex``).

Contract: a :class:`SignalIndex` holds the registered prints of one medium
(``kind``), keyed by work id. :meth:`SignalIndex.add` indexes a work's print
(replacing an earlier one), :meth:`SignalIndex.remove` forgets it, and
:meth:`SignalIndex.match` returns every registered work a print of that medium
matches, as :class:`SignalMatch` (score 0..1 and the figures behind it), best
first. The :class:`~tanba.matcher.match.Matcher` keeps the works and hands each print
to the index of its medium, so a new medium is a new implementation here and no
branch elsewhere (``tanba.core.signals`` says where the other parts of a signal type live).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from tanba.core.alerts import MatchDetail
from tanba.core.schemas.common import Fingerprint, MediaKind


@dataclass(frozen=True)
class SignalMatch:
    """A registered work a print matches: a 0..1 score and the figures behind it."""

    work_id: str
    score: float
    detail: MatchDetail


class SignalIndex(ABC):
    """The registered prints of one medium, and the rule that decides a match."""

    kind: ClassVar[MediaKind]

    @abstractmethod
    def add(self, work_id: str, fingerprint: Fingerprint) -> None:
        """Index the work's print of this medium, replacing any earlier one of that work."""

    @abstractmethod
    def remove(self, work_id: str) -> None:
        """Forget a work; unknown ids are ignored."""

    @abstractmethod
    def match(self, fingerprint: Fingerprint) -> list[SignalMatch]:
        """Every registered work the print matches, best first (by score, then work id)."""


def ranked(matches: list[SignalMatch]) -> list[SignalMatch]:
    """Best first: by score, then work id (so equal scores come out in a stable order)."""
    return sorted(matches, key=lambda m: (-m.score, m.work_id))
