"""The decoder sandbox's child: runs named functions under a memory cap and answers on a pipe.

Contract: ``python -m tanba.fingerprint.sandbox_child --memory-budget N`` is
started by :class:`tanba.fingerprint.sandbox.Sandbox` (see its module doc for
the protocol). It imports the decoders, caps its address space at its idle size
plus ``N`` bytes, says ``{"ready": pid}``, then answers one JSON call per line
of stdin until EOF, classifying each outcome (:func:`answer`). It exits when
its parent is gone (:func:`die_with_parent`). The functions it runs for the
fingerprint stage are here too (:func:`image_print_file`, :func:`audio_print_file`,
:func:`video_print_file`).

Why a module of its own: the child imports the decoders, the parent never
needs to, and a test's own child (``bench.harness.stalling_decoder``)
wraps :func:`main`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import struct
import sys
import threading
import time
import zlib
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from tanba.fingerprint.exceptions import Unfingerprintable

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


def video_print_file(
    path: str,
    max_seconds: int,
    timeout_s: float,
    reference: bool,
    sparse_after_s: float,
    audio_max_seconds: int,
    audio_timeout_s: float,
) -> dict[str, Any]:
    """The picture's print and the soundtrack's (None when silent) of a video file, as JSON
    ``{"video": ..., "audio": ...}``; a file without a picture gives ``{"audio": ...}`` alone."""
    from tanba.fingerprint.audio import audio_print
    from tanba.fingerprint.video import picture_start, video_print

    file = Path(path)
    start = picture_start(file, timeout_s)
    if start is None:
        sound = audio_print(file, max_seconds=audio_max_seconds, timeout_s=audio_timeout_s)
        return {"audio": sound.model_dump(mode="json")}
    picture = video_print(
        file,
        max_seconds=max_seconds,
        timeout_s=timeout_s,
        reference=reference,
        sparse_after_s=sparse_after_s,
    )
    try:
        # The sound from the picture's first instant, as the frames' times (the AAC priming
        # samples a container without an edit list keeps before it are dropped).
        soundtrack: Any = audio_print(
            file, max_seconds=audio_max_seconds, timeout_s=audio_timeout_s, start_s=start
        ).model_dump(mode="json")
    except Unfingerprintable:
        soundtrack = None  # a muted copy: the picture alone is matched
    return {"video": picture.model_dump(mode="json"), "audio": soundtrack}


# -- the child --------------------------------------------------------------------------------


def virtual_size() -> int:
    """This process's address space in bytes (what ``RLIMIT_AS`` limits)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def die_with_parent() -> None:
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


def answer(function: str, args: list[Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    """``function`` (``"module:name"``) called, its outcome as one protocol reply."""
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
    parser = argparse.ArgumentParser(prog="python -m tanba.fingerprint.sandbox_child")
    parser.add_argument("--memory-budget", type=int, required=True)
    args = parser.parse_args(argv)
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when the child stops
    # Import the decoders now, so their code does not count against the budget per call.
    importlib.import_module("tanba.fingerprint.image")
    importlib.import_module("tanba.fingerprint.audio")
    importlib.import_module("tanba.fingerprint.video")
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8", buffering=1)
    os.dup2(2, 1)
    limit = virtual_size() + args.memory_budget
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    protocol.write(json.dumps({"ready": os.getpid()}) + "\n")
    for line in sys.stdin:
        try:
            request = json.loads(line)
            reply = answer(request["fn"], request.get("args", []), request.get("kwargs", {}))
            text = json.dumps(reply)
        except MemoryError as exc:  # even the answer did not fit
            text = json.dumps({"memory": f"MemoryError: {exc}"})
        except (ValueError, KeyError, TypeError) as exc:
            text = json.dumps({"bug": f"bad request: {exc}"})
        protocol.write(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
