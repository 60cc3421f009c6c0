"""Evidence exports that run in the background, with their progress, for whoever started them.

Contract: :meth:`ExportJobs.start` takes the work of one export (a function that
writes the archive, telling a callback how many packages it has written, and returns
its path) and returns at once an :class:`ExportJob` that says how far it is;
:meth:`ExportJobs.get` returns a job to the user who started it and to nobody else
(NotFound, as for an id that does not exist). A job is ``running``, then ``done`` with
its file or ``failed`` with what went wrong, in words for the user.

Why: an export signs a package per alert (about 0.7 s each with its report and
capture replay), so the list's bulk export of up to 200 alerts took minutes while the
browser waited on one request, with no sign of life and a proxy's timeout in the way.
The job runs on the console's own worker thread, one export at a time (each is
CPU-bound), and its page shows how many packages are written and, once done, the file.

Jobs live in the console's memory, the newest :data:`KEEP` of them: a restart forgets
them (the archives stay under ``console/evidence/``; every package is in its alert's
chain of custody all the same). ``runner`` is the seam: :func:`in_thread` (one
worker thread) for the console, :func:`inline` (the job runs before ``start``
returns: the reference, and what tests use).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from tanba.core.exceptions import NotFound, TanbaError

log = logging.getLogger(__name__)

KEEP = 200  # jobs remembered, the oldest forgotten first
JobState = Literal["running", "done", "failed"]
Work = Callable[[Callable[[int], None]], Path]
Runner = Callable[[Callable[[], None]], None]


@dataclass
class ExportJob:
    """One export: who started it, how many packages of how many are written, and its end."""

    id: str
    owner: str  # the user name
    total: int
    filename: str
    written: int = 0
    state: JobState = "running"
    path: Path | None = None
    error: str = ""


def inline(task: Callable[[], None]) -> None:
    """Run the job at once, in the caller's thread (the reference runner)."""
    task()


def in_thread() -> Runner:
    """A runner with one worker thread: jobs run one after the other, beside the requests."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tanba-export")

    def submit(task: Callable[[], None]) -> None:
        pool.submit(task)

    return submit


class ExportJobs:
    """The console's background exports (see the module doc). Thread-safe."""

    def __init__(
        self, runner: Runner | None = None, new_id: Callable[[], str] | None = None
    ) -> None:
        self._run = runner or in_thread()
        self._new_id = new_id or (lambda: secrets.token_urlsafe(12))
        self._lock = threading.Lock()
        self._jobs: OrderedDict[str, ExportJob] = OrderedDict()

    def start(self, owner: str, total: int, filename: str, work: Work) -> ExportJob:
        """A new job of ``owner`` writing ``total`` packages, running ``work`` (see the module doc)."""
        job = ExportJob(self._new_id(), owner, total, filename)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP:
                self._jobs.popitem(last=False)

        def told(written: int) -> None:
            job.written = written

        def task() -> None:
            try:
                job.path = work(told)
                job.state = "done"
            except TanbaError as exc:  # says what to do next
                job.error, job.state = str(exc), "failed"
            except Exception as exc:  # a job must end, whatever happened
                log.exception("evidence export %s failed", job.id)
                job.error = f"the export failed ({type(exc).__name__}); see the console's log"
                job.state = "failed"

        self._run(task)
        return job

    def get(self, owner: str, job_id: str) -> ExportJob:
        """``owner``'s job ``job_id``; NotFound when there is none (or it is someone else's)."""
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            raise NotFound(
                "no such export of yours (exports are remembered until the console restarts);"
                " export the alerts again from the list"
            )
        return job
