"""Print registered works again from their stored files, when an earlier version printed them.

Contract: :func:`outdated_works` reads the works topic once and returns the current works
whose print is older than what registering their file today makes
(:func:`tanba.core.signals.versions.outdated`), each with the reasons, optionally only
those of one owner or medium or the ids given. :func:`reprint` fingerprints each one's
file again from the blob store (where registration put it) and publishes the work anew:
the same id and metadata (owner, title, territories, licences, registration date) with
today's print, in batches of ``batch`` works, each durable on the topic when published.

- Safe to stop and run again: a work printed again is current, so the next run skips it;
  a batch lost to a crash is printed again, which changes nothing (a work is its latest
  event on the compacted topic).
- A work whose file is no longer stored, or no longer decodes, is reported with what to
  do, and the others go on.

Why from the topic and not the works catalogue: the catalogue keeps a summary of each
print, not its algorithm ids; the topic is read once, keeping only the outdated works'
metadata, so the memory is that of the works to print, not of the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from tanba.core import topics
from tanba.core.exceptions import NotFound
from tanba.core.print_blobs import travelling
from tanba.core.schemas.base import decode
from tanba.core.schemas.works import Work, WorkRegistered, WorkRemoved
from tanba.core.signals.versions import outdated
from tanba.core.wiring import App
from tanba.fingerprint.compute import Unfingerprintable, fingerprint_file
from tanba.fingerprint.sandbox import Sandbox

BATCH = 200


@dataclass(frozen=True)
class Outdated:
    """A registered work whose print an earlier version made, and what differs."""

    work: Work  # as registered (its print is the old one)
    reasons: tuple[str, ...]


@dataclass
class ReprintTally:
    """What one run did: works printed again, and those that could not be, with why."""

    total: int
    reprinted: int = 0
    failed: list[str] = field(default_factory=list)  # "work ID: what happened and what to do"

    def line(self) -> str:
        failed = f", {len(self.failed)} failed" if self.failed else ""
        return f"reprint: {self.reprinted + len(self.failed)}/{self.total} works{failed}"


def outdated_works(
    app: App, *, owner: str = "", media: str = "", work_ids: Sequence[str] = ()
) -> list[Outdated]:
    """The current works (latest event per id, removed ones left out) with an older print."""
    wanted = set(work_ids)
    found: dict[str, Outdated] = {}
    for message in app.bus.replay(topics.WORKS):
        event = decode(message.value, WorkRegistered, WorkRemoved)
        if isinstance(event, WorkRemoved):
            found.pop(event.work_id, None)
            continue
        assert isinstance(event, WorkRegistered)
        work = event.work
        reasons = outdated(work.fingerprint)
        chosen = (
            (not wanted or work.work_id in wanted)
            and (not owner or work.owner == owner)
            and (not media or work.media == media)
        )
        if reasons and chosen:
            found[work.work_id] = Outdated(work, tuple(reasons))
        else:  # a later event that is current (or not asked for) supersedes an earlier one
            found.pop(work.work_id, None)
    return sorted(found.values(), key=lambda o: o.work.work_id)


def reprint(
    app: App,
    works: Sequence[Outdated],
    *,
    batch: int = BATCH,
    sandbox: Sandbox | None = None,
    progress: Callable[[ReprintTally], None] = lambda tally: None,
) -> ReprintTally:
    """Print each work again from its stored file and publish it; see the module doc."""
    tally = ReprintTally(total=len(works))
    ready: list[Work] = []
    for item in works:
        work = item.work
        try:
            ready.append(_printed_again(app, work, sandbox))
        except NotFound:
            tally.failed.append(
                f"work {work.work_id}: its file ({work.filename}, sha256 {work.sha256[:12]}...) "
                "is not in the blob store; register the file again with "
                f"'tanba works add FILE --work-id {work.work_id} --owner ...'"
            )
        except Unfingerprintable as exc:
            tally.failed.append(
                f"work {work.work_id}: its stored file no longer decodes ({exc}); it stays "
                "registered with its older print"
            )
        if len(ready) >= batch:
            _publish(app, ready, tally, progress)
    if ready:
        _publish(app, ready, tally, progress)
    elif tally.failed:
        progress(tally)
    return tally


def _printed_again(app: App, work: Work, sandbox: Sandbox | None) -> Work:
    if not app.blobs.exists(work.sha256):
        raise NotFound(work.sha256)
    with app.blobs.local_path(work.sha256) as path:
        fingerprint = fingerprint_file(
            path, work.sha256, app.settings, reference=True, sandbox=sandbox
        )
    # A film's print travels as a blob, as at registration.
    return work.model_copy(update={"fingerprint": travelling(fingerprint, app.blobs)})


def _publish(
    app: App, ready: list[Work], tally: ReprintTally, progress: Callable[[ReprintTally], None]
) -> None:
    app.works.register(ready)
    tally.reprinted += len(ready)
    ready.clear()
    progress(tally)
