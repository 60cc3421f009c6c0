"""The decoder sandbox's contract built on pebble's ``ProcessPool``: the candidate ``bench.sandbox`` measures.

Contract: the same as :class:`tanba.fingerprint.sandbox.Sandbox` (``call``,
``close``, ``pid``, ``started``, ``outcomes`` and the same refusal messages),
with the process management left to pebble: one worker (``max_workers=1``),
started by ``spawn`` (a fresh interpreter, as ours: forking a worker process
that runs Kafka, uvicorn and BLAS threads is unsafe, and would give the child
the parent's BLAS thread count), ``schedule(..., timeout=...)`` for the time
limit, ``ProcessExpired`` for a crash, pebble replacing a worker it killed or
that died. The child side is ours (:func:`tanba.fingerprint.sandbox_child.answer`
classifies the outcome; the initializer sets the memory cap and the parent
watchdog). ``setup`` names a module the child imports at start: the test seam
that replaces ``python -m bench.harness.stalling_decoder``.

What pebble does not do, and this wrapper adds: a limit on the child's start
(pebble's task timeout counts from the worker's acknowledgement, so a child
that never starts would hang the call), a fresh worker after a MemoryError
(pebble has no "replace this worker" call: the pool is restarted), the
trivial call after a crash, and the child's pid and start count (pebble keeps
its workers private: the pid comes back with each answer, and the starts are
counted as the pool is created and as pebble replaces a worker it killed).
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import importlib
import multiprocessing
import os
import resource
import signal
import threading
from typing import Any

from pebble import ProcessExpired, ProcessPool

from tanba.fingerprint.exceptions import DecoderRefused, DecoderUnavailable
from tanba.fingerprint.sandbox import describe_exit, outcome
from tanba.fingerprint.sandbox_child import answer, die_with_parent, virtual_size

_START_TIMEOUT_S = 60.0
# Set in the parent: a spawned child may import numpy (the parent's __main__) before its
# initializer runs, so only the inherited environment reaches its BLAS.
_ONE_THREAD = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


class PebbleSandbox:
    """A warm decoder child in a pebble ``ProcessPool`` of one; see the module doc."""

    def __init__(self, memory_budget: int, *, setup: str | None = None) -> None:
        self.memory_budget = memory_budget
        self.setup = setup
        self._pool: ProcessPool | None = None
        self._lock = threading.Lock()
        self._pid: int | None = None
        self.started = 0
        self.outcomes: dict[str, int] = {}

    @property
    def pid(self) -> int | None:
        """The pid of the child that answered last, while it is known to be running."""
        return self._pid

    def call(
        self, function: str, *args: Any, timeout_s: float, what: str = "decoding", **kwargs: Any
    ) -> Any:
        """Run ``function(*args, **kwargs)`` in the child; ``what`` words the reasons."""
        with self._lock:
            reply = self._run(function, list(args), kwargs, timeout_s, what)
            if "memory" in reply:
                self._discard()  # its heap may be fragmented or half-freed: start afresh
        self._count(next(iter(reply)))
        return outcome(reply, what, self.memory_budget)

    def _run(
        self, function: str, args: list[Any], kwargs: dict[str, Any], timeout_s: float, what: str
    ) -> dict[str, Any]:
        pool = self._ensure_pool()
        try:
            future = pool.schedule(_child_call, (function, args, kwargs), timeout=timeout_s)
        except RuntimeError as exc:  # the pool broke between calls
            self._discard()
            raise DecoderUnavailable(f"the decoder pool is broken ({exc}); retry") from None
        try:
            pid, reply = future.result(timeout=timeout_s + _START_TIMEOUT_S)
        except TimeoutError:
            if not future.done():  # the child never took the call: it did not start
                self._discard()
                raise DecoderUnavailable(
                    "the decoder subprocess did not start; check the installation (scripts/setup)"
                ) from None
            self._count("timeout")
            self._pid = None
            self.started += 1  # pebble replaces the worker it killed
            raise DecoderRefused(
                f"{what} took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); "
                "the decoder was stopped"
            ) from None
        except ProcessExpired as exc:
            self._count("crash")
            self._pid = None
            self.started += 1
            self._check_alive()
            raise DecoderRefused(
                f"{what} crashed the decoder ({describe_exit(exc.exitcode)}); the file was refused"
            ) from None
        except concurrent.futures.process.BrokenProcessPool as exc:
            self._discard()
            raise DecoderUnavailable(
                f"the decoder subprocess did not start ({exc}); check the installation"
            ) from None
        self._pid = pid
        return reply

    def _check_alive(self) -> None:
        try:
            self._run("os:getpid", [], {}, _START_TIMEOUT_S, "a trivial call")
        except DecoderRefused:
            self._discard()
            raise DecoderUnavailable(
                "the decoder subprocess dies even on a trivial call; check the installation"
            ) from None

    def _ensure_pool(self) -> ProcessPool:
        if self._pool is not None and self._pool.active:
            return self._pool
        self._discard()
        for name in _ONE_THREAD:
            os.environ.setdefault(name, "1")
        self._pool = ProcessPool(
            max_workers=1,
            initializer=_start_child,
            initargs=(self.memory_budget, self.setup),
            context=multiprocessing.get_context("spawn"),
        )
        self.started += 1
        return self._pool

    def _discard(self) -> None:
        pool, self._pool = self._pool, None
        self._pid = None
        if pool is not None:
            pool.stop()
            with contextlib.suppress(RuntimeError, OSError):
                pool.join(timeout=5)

    def close(self) -> None:
        """Stop the child (pebble's SIGTERM, then SIGKILL if it lingers)."""
        with self._lock:
            self._discard()

    def _count(self, kind: str) -> None:
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1


def _start_child(memory_budget: int, setup: str | None) -> None:
    """Pebble's initializer: the same start as ``tanba.fingerprint.sandbox_child.main``'s."""
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    importlib.import_module("tanba.fingerprint.image")
    importlib.import_module("tanba.fingerprint.audio")
    if setup:
        importlib.import_module(setup)
    # A library that prints must not write into the worker's output.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    limit = virtual_size() + memory_budget
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _child_call(function: str, args: list[Any], kwargs: dict[str, Any]) -> tuple[int, Any]:
    return os.getpid(), answer(function, args, kwargs)
