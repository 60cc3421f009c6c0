"""Decoders in a child process with a memory limit and a time limit per call.

Contract: :class:`Sandbox` keeps one long-lived child (``python -m
tanba.fingerprint.sandbox_child``) and runs a function in it per
:meth:`Sandbox.call`, named ``"module:function"``, with JSON arguments and a
JSON (or pydantic) result. The child caps its address space (``RLIMIT_AS``) at
its idle size plus ``memory_budget`` bytes, so an allocation past that fails
inside the child (a ``MemoryError``), never in the worker; the audio decoder
(FFmpeg's libraries through PyAV) runs in the child under the same cap. A call
that does not answer within ``timeout_s`` has its child's whole process group
killed. Outcomes:

- the function's value, or :class:`~tanba.fingerprint.exceptions.Unfingerprintable`
  re-raised with the child's message when the function refused the file;
- :class:`~tanba.fingerprint.exceptions.DecoderRefused` (an ``Unfingerprintable``)
  when the file ran the decoder out of time or memory, crashed it (a signal, or
  an exit of any status mid-call), or made it raise one of the errors decoders
  raise on bad input; its message is the quarantine reason;
- :class:`~tanba.fingerprint.exceptions.DecoderUnavailable` when the child cannot
  start or dies on a trivial call: an installation problem, not the file's
  fault, so the worker retries instead of quarantining.

A child that timed out, crashed or ran out of memory is replaced before the
next call. The child dies with its parent (a watchdog thread sees it re-parented)
and on EOF of its stdin. Calls are serialised (one child, one call at a time).

Why: Pillow and the codecs under it run in the worker's own process. A
decompression bomb that passes the header check, an image that sends a codec
into a loop, or a memory-hungry file would otherwise take the whole worker
down (or stall its queue) for one file. The child stays warm (imports done
once), so the isolation costs a pipe round trip, not a process start, per file.

Why not pebble's ``ProcessPool`` (the maintained library for a pool of worker
processes with per-task timeouts): ``python -m bench.sandbox`` builds this
contract on it (``bench/pebble_sandbox.py``: one spawned worker, our child-side
functions as its initializer and task) and runs both side by side. On 2 CPUs
it measured a trivial call at 168 µs against our 48 µs, and an image
fingerprint of a 1280-px web JPEG at 2.58 ms against our 2.24 ms (+15%: the
rate through the sandbox falls from 3.8× to 3.3× a naive imagehash loop);
a decoder stuck in native code stopped 4.1 s into a 1 s limit (pebble's
SIGTERM, then 3 s of grace before SIGKILL); a child exiting with status 0
mid-call went unnoticed until the limit ran out, then was reported as slow
instead of crashed. Pebble also kills only the worker, not its process group;
its ``spawn`` workers re-run the caller's ``__main__`` and inherit its BLAS
thread count from the environment; and it has no start limit, no way to
replace one worker after a MemoryError, and no public worker pid, all of which
the wrapper had to add. It did match the memory cap, crash reasons, parent
death and the thread that started the child ending, with our initializer.

Protocol (one JSON object per line): the parent sends ``{"fn", "args",
"kwargs"}``; the child answers ``{"ok": value}``, ``{"refused": reason}``,
``{"memory": detail}``, ``{"bad_input": "Type: detail"}`` or ``{"bug":
"Type: detail"}``. The child speaks on a duplicate of its original stdout and
points fd 1 at stderr, so a library that prints cannot corrupt the protocol;
its stderr goes to /dev/null.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from tanba.fingerprint.exceptions import DecoderRefused, DecoderUnavailable, Unfingerprintable

# Waiting for the child's imports (Pillow, numpy, Chromaprint) on a slow, busy machine.
_START_TIMEOUT_S = 60.0


class Sandbox:
    """A warm decoder child with a memory budget; see the module doc for the contract."""

    def __init__(
        self,
        memory_budget: int,
        *,
        python: str = sys.executable,
        module: str = "tanba.fingerprint.sandbox_child",
    ) -> None:
        """``module`` is the child's entry point (``python -m module``):
        :func:`tanba.fingerprint.sandbox_child.main` unless a test wraps it with a
        decoder of its own."""
        self.memory_budget = memory_budget
        self.python = python
        self.module = module
        self._process: subprocess.Popen[bytes] | None = None
        self._buffer = b""
        self._lock = threading.Lock()
        # For the figures: children started, and calls that ended each way.
        self.started = 0
        self.outcomes: dict[str, int] = {}

    def call(
        self, function: str, *args: Any, timeout_s: float, what: str = "decoding", **kwargs: Any
    ) -> Any:
        """Run ``function(*args, **kwargs)`` in the child; ``what`` words the reasons."""
        request = json.dumps({"fn": function, "args": args, "kwargs": kwargs}) + "\n"
        with self._lock:
            process = self._ensure_started()
            try:
                assert process.stdin is not None
                process.stdin.write(request.encode())
                process.stdin.flush()
            except (BrokenPipeError, OSError):
                # Died between calls (e.g. its parent thread ended): not this file's fault.
                self._discard()
                process = self._ensure_started()
                assert process.stdin is not None
                process.stdin.write(request.encode())
                process.stdin.flush()
            try:
                reply = self._read_reply(process, time.monotonic() + timeout_s)
            except TimeoutError:
                self._count("timeout")
                self._discard()
                raise DecoderRefused(
                    f"{what} took longer than {timeout_s:.0f} s (TANBA_DECODE_TIMEOUT_S); "
                    "the decoder was stopped"
                ) from None
            except EOFError:
                try:
                    code: int | None = process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    code = None  # alive but talking nonsense: killed below all the same
                self._discard()
                self._count("crash")
                self._check_alive()
                raise DecoderRefused(
                    f"{what} crashed the decoder ({describe_exit(code)}); the file was refused"
                ) from None
            if "memory" in reply:
                self._discard()  # its heap may be fragmented or half-freed: start afresh
        self._count(next(iter(reply)))
        return outcome(reply, what, self.memory_budget)

    def close(self) -> None:
        """Stop the child (EOF on its stdin, then a kill if it lingers)."""
        with self._lock:
            process = self._process
            if process is None:
                return
            with contextlib.suppress(OSError):
                assert process.stdin is not None
                process.stdin.close()
            try:
                process.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self._discard()
            self._process = None

    @property
    def pid(self) -> int | None:
        """The child's process id, when one is running (for tests and figures)."""
        return self._process.pid if self._process is not None else None

    # -- the child's lifecycle ------------------------------------------------------------

    def _ensure_started(self) -> subprocess.Popen[bytes]:
        if self._process is not None and self._process.poll() is None:
            return self._process
        self._discard()
        env = {
            **os.environ,
            # One thread each: BLAS thread pools reserve address space the budget would pay for.
            "OPENBLAS_NUM_THREADS": "1",
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        command = [
            self.python, "-m", self.module, "--memory-budget", str(self.memory_budget),
        ]  # fmt: skip
        try:
            process = subprocess.Popen(
                command,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own process group: a kill takes what it started too
                close_fds=True,
            )
        except OSError as exc:
            raise DecoderUnavailable(f"cannot start the decoder subprocess: {exc}") from exc
        self._process = process
        self._buffer = b""
        self.started += 1
        try:
            ready = self._read_reply(process, time.monotonic() + _START_TIMEOUT_S)
        except (TimeoutError, EOFError):
            self._discard()
            raise DecoderUnavailable(
                f"the decoder subprocess ({' '.join(command)}) did not start; "
                "check the installation (scripts/setup)"
            ) from None
        if "ready" not in ready:
            self._discard()
            raise DecoderUnavailable(f"the decoder subprocess answered {ready!r} at start")
        return process

    def _check_alive(self) -> None:
        """After a crash: a fresh child must answer a trivial call, or it is not the file."""
        process = self._ensure_started()
        assert process.stdin is not None
        process.stdin.write(b'{"fn": "os:getpid", "args": [], "kwargs": {}}\n')
        process.stdin.flush()
        try:
            self._read_reply(process, time.monotonic() + _START_TIMEOUT_S)
        except (TimeoutError, EOFError):
            self._discard()
            raise DecoderUnavailable(
                "the decoder subprocess dies even on a trivial call; check the installation"
            ) from None

    def _discard(self) -> None:
        """Kill the child's process group (decoder and any process it started) and forget it."""
        process, self._process = self._process, None
        self._buffer = b""
        if process is None:
            return
        if process.poll() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=5)
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()

    def _read_reply(self, process: subprocess.Popen[bytes], deadline: float) -> dict[str, Any]:
        """The next JSON line from the child; TimeoutError past ``deadline``, EOFError if it died."""
        assert process.stdout is not None
        fd = process.stdout.fileno()
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while b"\n" not in self._buffer:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError
                if not selector.select(remaining):
                    continue
                chunk = os.read(fd, 1 << 16)
                if not chunk:
                    raise EOFError
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        try:
            reply = json.loads(line)
        except ValueError:
            raise EOFError from None  # a garbled answer: treat the child as broken
        if not isinstance(reply, dict) or len(reply) != 1:
            raise EOFError  # a garbled answer: treat the child as broken
        return reply

    def _count(self, kind: str) -> None:
        self.outcomes[kind] = self.outcomes.get(kind, 0) + 1


def outcome(reply: dict[str, Any], what: str, memory_budget: int) -> Any:
    """The value of the child's ``reply`` (see the protocol), or the exception it stands for."""
    kind, value = next(iter(reply.items()))
    if kind == "ok":
        return value
    if kind == "refused":
        raise Unfingerprintable(value)
    if kind == "memory":
        raise DecoderRefused(
            f"{what} needs more memory than the decoder's limit of "
            f"{memory_budget // (1 << 20)} MB; refused as a possible decompression bomb"
        )
    if kind == "bad_input":
        raise DecoderRefused(f"{what} failed, the file is malformed: {value}")
    raise RuntimeError(f"the decoder subprocess raised an unexpected error: {value}")


def describe_exit(code: int | None) -> str:
    """How the child ended, for a reason: a signal's name, an exit status, or no answer."""
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"
