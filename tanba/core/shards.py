"""Matcher shards: which registered works one matcher process holds.

Contract: :class:`Shard` ``I/N`` holds the works whose id hashes to ``I`` of ``N``
(the first 8 bytes of the id's SHA-256, modulo ``N``), so every work lives in
exactly one shard and the same work always in the same one, on every machine
and in every Python (unlike ``hash()``). Each shard reads every fingerprint
through a consumer group of its own (:meth:`Shard.group`) and answers about it for
its works; the gather stage decides over the N answers (:mod:`tanba.matcher.gather`),
since the image rule counts look-alikes over the whole catalogue. An alert's id
depends on work, page and media URL only.

Why by work: a matcher's memory and query time grow with the works it holds, not
with the fingerprints it reads; splitting the catalogue is what lets a rights
holder's million images span machines.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from tanba.core.exceptions import SettingsError

SYNTAX = "I/N with 0 <= I < N, e.g. 0/2 and 1/2 for two shards (0/1: one matcher holds all)"


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` of ``count``."""

    index: int = 0
    count: int = 1

    @classmethod
    def parse(cls, text: str) -> Shard:
        """``"I/N"`` as a shard; SettingsError quoting the syntax when it is not one."""
        index, sep, count = text.strip().partition("/")
        if not (sep and index.isdigit() and count.isdigit()):
            raise SettingsError(f"matcher shard {text!r} is not understood; write {SYNTAX}")
        shard = cls(int(index), int(count))
        if not 0 <= shard.index < shard.count:
            raise SettingsError(f"matcher shard {text!r} is out of range; write {SYNTAX}")
        return shard

    def holds(self, work_id: str) -> bool:
        """Whether this shard holds the work."""
        if self.count == 1:
            return True
        digest = hashlib.sha256(work_id.encode()).digest()
        return int.from_bytes(digest[:8], "big") % self.count == self.index

    def group(self, base: str) -> str:
        """The consumer group of this shard: ``base`` when there is one shard."""
        return base if self.count == 1 else f"{base}-shard-{self.index}-of-{self.count}"

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"
