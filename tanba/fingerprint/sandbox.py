"""Decoders in a child process with a memory limit and a time limit per call.

Contract: :class:`Sandbox` keeps one long-lived child (``python -m
tanba.fingerprint.sandbox``) and runs a function in it per :meth:`Sandbox.call`,
named ``"module:function"``, with JSON arguments and a JSON (or pydantic)
result. The child caps its address space (``RLIMIT_AS``) at its idle size
plus ``memory_budget`` bytes, so an allocation past that fails inside the
child (a ``MemoryError``), never in the worker; the audio decoder (FFmpeg's
libraries through PyAV) runs in the child under the same cap. A call that does not answer within ``timeout_s``
has its child's whole process group killed. Outcomes:

- the function's value, or :class:`~tanba.fingerprint.exceptions.Unfingerprintable`
  re-raised with the child's message when the function refused the file;
- :class:`~tanba.fingerprint.exceptions.DecoderRefused` (an ``Unfingerprintable``)
  when the file ran the decoder out of time or memory, crashed it (a signal),
  or made it raise one of the errors decoders raise on bad input; its message
  is the quarantine reason;
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

Protocol (one JSON object per line): the parent sends ``{"fn", "args",
"kwargs"}``; the child answers ``{"ok": value}``, ``{"refused": reason}``,
``{"memory": detail}``, ``{"bad_input": "Type: detail"}`` or ``{"bug":
"Type: detail"}``. The child speaks on a duplicate of its original stdout and
points fd 1 at stderr, so a library that prints cannot corrupt the protocol;
its stderr goes to /dev/null.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import os
import resource
import selectors
import signal
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tanba.fingerprint.exceptions import DecoderRefused, DecoderUnavailable, Unfingerprintable

# Waiting for the child's imports (Pillow, numpy, Chromaprint) on a slow, busy machine.
_START_TIMEOUT_S = 60.0
# Exceptions decoders raise on malformed input: the file's fault, so a quarantine reason.
_BAD_INPUT = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    OverflowError,
    ZeroDivisionError,
    RecursionError,
    struct.error,
    zlib.error,
)
# How often the child checks that its parent is still alive.
_PARENT_CHECK_S = 0.2


class Sandbox:
    """A warm decoder child with a memory budget; see the module doc for the contract."""

    def __init__(
        self,
        memory_budget: int,
        *,
        python: str = sys.executable,
        module: str = "tanba.fingerprint.sandbox",
    ) -> None:
        """``module`` is the child's entry point (``python -m module``): this module's
        :func:`main` unless a test wraps it with a decoder of its own."""
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
                    f"{what} crashed the decoder ({_describe_exit(code)}); the file was refused"
                ) from None
            if "memory" in reply:
                self._discard()  # its heap may be fragmented or half-freed: start afresh
        return self._outcome(reply, what)

    def _outcome(self, reply: dict[str, Any], what: str) -> Any:
        kind, value = next(iter(reply.items()))
        self._count(kind)
        if kind == "ok":
            return value
        if kind == "refused":
            raise Unfingerprintable(value)
        if kind == "memory":
            raise DecoderRefused(
                f"{what} needs more memory than the decoder's limit of "
                f"{self.memory_budget // (1 << 20)} MB; refused as a possible decompression bomb"
            )
        if kind == "bad_input":
            raise DecoderRefused(f"{what} failed, the file is malformed: {value}")
        raise RuntimeError(f"the decoder subprocess raised an unexpected error: {value}")

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


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


# -- functions the child runs --------------------------------------------------------------


def image_print_file(path: str, max_pixels: int, variants: str | list[str]) -> dict[str, Any]:
    """``tanba.fingerprint.image.image_print`` of the file at ``path``, as JSON.

    ``variants`` is passed on as ``tanba.fingerprint.image`` names them (a mode name, or a
    list of variant names that arrives as a JSON list and goes on as a tuple).
    """
    from PIL import Image

    from tanba.fingerprint.image import image_print

    chosen: Any = tuple(variants) if isinstance(variants, list) else variants
    try:
        image = image_print(Path(path).read_bytes(), max_pixels=max_pixels, variants=chosen)
    except Image.DecompressionBombError as exc:
        # Pillow's own ceiling, hit in Image.open before any header check of ours.
        raise Unfingerprintable(f"refused as a decompression bomb: {exc}") from None
    return image.model_dump(mode="json")


def audio_print_file(path: str, max_seconds: int, timeout_s: float) -> dict[str, Any]:
    """``tanba.fingerprint.audio.audio_print`` of the file at ``path``, as JSON."""
    from tanba.fingerprint.audio import audio_print

    return audio_print(Path(path), max_seconds=max_seconds, timeout_s=timeout_s).model_dump(
        mode="json"
    )


# -- the child --------------------------------------------------------------------------------


def _virtual_size() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _die_with_parent() -> None:
    """Exit as soon as the parent process is gone, even in the middle of a decode.

    Why a thread and not ``PR_SET_PDEATHSIG``: Linux sends that signal when the
    parent *thread* that started the child exits, and a web server or a thread
    pool starts the sandbox from a worker thread that may end while the process
    lives on, which killed the decoder between two calls.
    """
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_PARENT_CHECK_S)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def _answer(function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        module, _, name = function.partition(":")
        value = getattr(importlib.import_module(module), name)(*args, **kwargs)
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        return {"ok": value}
    except Unfingerprintable as exc:
        return {"refused": str(exc)}
    except MemoryError as exc:
        return {"memory": f"MemoryError: {exc}"}
    except _BAD_INPUT as exc:
        return {"bad_input": f"{type(exc).__name__}: {exc}"[:1000]}
    except Exception as exc:
        return {"bug": f"{type(exc).__name__}: {exc}"[:1000]}


def main(argv: list[str] | None = None) -> int:
    """The child's loop: read a call per line on stdin, answer it on the protocol fd."""
    parser = argparse.ArgumentParser(prog="python -m tanba.fingerprint.sandbox")
    parser.add_argument("--memory-budget", type=int, required=True)
    args = parser.parse_args(argv)
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the child stops
    # Import the decoders now, so their code does not count against the budget per call.
    importlib.import_module("tanba.fingerprint.image")
    importlib.import_module("tanba.fingerprint.audio")
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    limit = _virtual_size() + args.memory_budget
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    protocol.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply = _answer(request["fn"], request.get("args", []), request.get("kwargs", {}))
            text = json.dumps(reply)
        except MemoryError as exc:  # even the answer did not fit
            text = json.dumps({"memory": f"MemoryError: {exc}"})
        except (ValueError, KeyError, TypeError) as exc:
            text = json.dumps({"bug": f"bad request: {exc}"})
        protocol.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
