"""The decoder sandbox, ours and one built on pebble, side by side in one run.

Usage: ``python -m bench.sandbox [--files 200] [--passes 3] [--calls 1000] [--aborts 40]``.
Prints, for :class:`tanba.fingerprint.sandbox.Sandbox` (a ``python -m`` child
over a JSON pipe) and :class:`bench.pebble_sandbox.PebbleSandbox` (pebble's
``ProcessPool`` of one spawned worker):

- the cold start (construction to the first answer) and the cost of a trivial
  call (``os:getpid``), best of 3 rounds of ``--calls``;
- ``fingerprint_file`` of ``--files`` real photos and drawings as 1280-px web
  JPEGs (bench.speed's files), each file through both sandboxes, in process
  and through ``imagehash.phash(Image.open(f))`` one after the other, best of
  ``--passes`` passes, and the rate against that naive loop (bench.speed's
  floor of 4× is for the in-process figure);
- the memory cap: a 12,000² PNG bomb under a 256 MB budget, its reason, and
  whether the next file is fingerprinted;
- the time limit: how long a call that hangs takes to be refused with a 1 s
  limit, once in Python (``time.sleep``) and once in native code that never
  returns to the interpreter (simulated by blocking SIGTERM first, as a codec
  spinning in C leaves a Python signal handler waiting);
- a crash (``os.abort``): the time to refuse it, replace the child and see the
  replacement answer, and over ``--aborts`` crashes in a row how many were
  refused as the file's fault (the rest came out as "decoder unavailable");
  and a child that exits with status 0 mid-call (a native library calling
  ``exit(0)``) under a 10 s limit;
- the test seam: the stalling decoder (``bench.harness.stalling_decoder``)
  stopping an interlaced PNG at the limit;
- the child's lifetime: the same child after the thread that started it ended,
  and how soon it is gone after its parent is killed, idle and mid-call.
"""

from __future__ import annotations

import os

# One BLAS thread, as in the sandbox child: set before numpy loads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import argparse
import contextlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from PIL import Image

from bench.harness.hostile_media import STALLING_DECODER, png_all_zero
from bench.pebble_sandbox import PebbleSandbox
from bench.speed import web_jpegs
from tanba.core.settings import Settings
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import DecoderUnavailable, Unfingerprintable
from tanba.fingerprint.image import image_print
from tanba.fingerprint.sandbox import Sandbox

Box = Sandbox | PebbleSandbox
KINDS: dict[str, Callable[..., Box]] = {
    "ours": lambda budget, stalling=False: Sandbox(
        budget, **({"module": STALLING_DECODER} if stalling else {})
    ),
    "pebble": lambda budget, stalling=False: PebbleSandbox(
        budget, setup=STALLING_DECODER if stalling else None
    ),
}
BUDGET = 512 << 20


def block_sigterm() -> bool:
    """Run in the child: SIGTERM's Python handler will never run, as in a codec stuck in C."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM})
    return True


def started_boxes(budget: int = BUDGET, *, stalling: bool = False) -> Iterator[tuple[str, Box]]:
    """Each kind's sandbox in turn, its child started (one trivial call), closed after its turn."""
    for kind, make in KINDS.items():
        with contextlib.closing(make(budget, stalling=stalling)) as box:
            box.call("os:getpid", timeout_s=60)
            yield kind, box


def _refusal(box: Box, function: str, *args: Any, timeout_s: float) -> tuple[str, float]:
    started = time.perf_counter()
    try:
        box.call(function, *args, timeout_s=timeout_s)
    except (Unfingerprintable, DecoderUnavailable) as exc:
        return f"{type(exc).__name__}: {exc}", time.perf_counter() - started
    return "answered", time.perf_counter() - started


def start_and_trivial(calls: int) -> list[str]:
    lines = ["START AND A TRIVIAL CALL (os:getpid), rounds alternating between the two"]
    boxes = {kind: make(BUDGET) for kind, make in KINDS.items()}
    cold: dict[str, float] = {}
    best = dict.fromkeys(boxes, float("inf"))
    try:
        for kind, box in boxes.items():
            started = time.perf_counter()
            box.call("os:getpid", timeout_s=60)
            cold[kind] = time.perf_counter() - started
        for _ in range(5):
            for kind, box in boxes.items():
                started = time.perf_counter()
                for _ in range(calls):
                    box.call("os:getpid", timeout_s=60)
                best[kind] = min(best[kind], (time.perf_counter() - started) / calls)
    finally:
        for box in boxes.values():
            box.close()
    for kind in boxes:
        lines.append(
            f"  {kind:6}  cold start {cold[kind] * 1000:6.0f} ms   "
            f"per call {best[kind] * 1e6:6.1f} µs (best of 5 rounds of {calls})"
        )
    return lines


def threads_and_parent() -> list[str]:
    """A child outlives the thread that started it, and dies with its parent (idle or busy)."""
    lines = ["LIFETIME: started from a thread that ends; parent killed with SIGKILL"]
    for kind, make in KINDS.items():
        with contextlib.closing(make(BUDGET)) as box:
            pids: list[int] = []
            starter = threading.Thread(target=_first_call, args=(box, pids))
            starter.start()
            starter.join()
            time.sleep(0.5)
            kept = box.call("os:getpid", timeout_s=60) == pids[0] and box.started == 1
        gone = [_parent_killed(kind, busy) for busy in (False, True)]
        lines.append(
            f"  {kind:6}  same child after its starting thread ended: {'yes' if kept else 'NO'}; "
            f"gone after its parent's death: idle {gone[0]}, mid-call {gone[1]}"
        )
    return lines


def _first_call(box: Box, pids: list[int]) -> None:
    pids.append(box.call("os:getpid", timeout_s=60))


def _parent_killed(kind: str, busy: bool) -> str:
    script = (
        "import sys, threading, time\n"
        "from bench.sandbox import KINDS\n"
        f"box = KINDS[{kind!r}]({BUDGET})\n"
        "print(box.call('os:getpid', timeout_s=60), flush=True)\n"
        + (
            "threading.Thread(target=box.call, args=('time:sleep', 600), kwargs={'timeout_s': 900}).start()\n"
            if busy
            else ""
        )
        + "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    time.sleep(1.0)  # the busy call reaches the child
    parent.kill()
    parent.wait()
    started = time.perf_counter()
    while time.perf_counter() - started < 30:
        if not _alive(child):
            return f"in {time.perf_counter() - started:4.2f} s"
        time.sleep(0.02)
    os.kill(child, signal.SIGKILL)
    return "NOT in 30 s"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return f.read().split(")")[-1].split()[0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


def images(files: int, passes: int) -> list[str]:
    import imagehash

    settings = Settings.from_env({})
    boxes = {kind: make(BUDGET) for kind, make in KINDS.items()}
    ways = ["naive imagehash", "in process", *boxes]
    best = dict.fromkeys(ways, float("inf"))
    pebble_over_ours = []
    with tempfile.TemporaryDirectory(prefix="tanba-sandbox-bench-") as tmp:
        paths = web_jpegs(files, Path(tmp))
        try:
            for box in boxes.values():  # warm: child started, page cache filled
                for p in paths[:5]:
                    fingerprint_file(p, "0" * 64, settings, sandbox=box)  # type: ignore[arg-type]
            for _ in range(passes):
                seconds, prints = _images_pass(paths, boxes, settings, imagehash.phash)
                for way in ways:
                    best[way] = min(best[way], seconds[way])
                pebble_over_ours.append(seconds["pebble"] / seconds["ours"])
        finally:
            for box in boxes.values():
                box.close()
    same = sum(a == b for a, b in zip(prints["ours"], prints["pebble"], strict=True))
    naive = best["naive imagehash"]
    lines = [
        f"IMAGE FINGERPRINTS: {len(paths)} web JPEGs of 1280 px, each file every way in turn, "
        f"best of {passes} passes"
    ]
    for way in ways:
        ratio = "" if way == "naive imagehash" else f"   {naive / best[way]:4.2f}× the naive rate"
        lines.append(f"  {way:16} {best[way] / len(paths) * 1000:6.2f} ms per file{ratio}")
    lines.append(
        "  pebble's time over ours, pass by pass: "
        + ", ".join(f"{r:5.3f}" for r in pebble_over_ours)
    )
    lines.append(f"  same fingerprints through both sandboxes: {same}/{len(paths)}")
    return lines


def _images_pass(
    paths: list[Path], boxes: dict[str, Box], settings: Settings, phash: Callable[..., Any]
) -> tuple[dict[str, float], dict[str, list[Any]]]:
    """One pass: each file every way in turn, the order rotated so that load changes hit all."""
    seconds: dict[str, float] = {}
    prints: dict[str, list[Any]] = {k: [] for k in boxes}
    for i, p in enumerate(paths):
        ways: list[tuple[str, Callable[[], Any]]] = [
            ("naive imagehash", lambda p=p: phash(Image.open(p))),
            ("in process", lambda p=p: image_print(p.read_bytes(), max_pixels=10**9)),
        ] + [
            (k, lambda p=p, b=b: fingerprint_file(p, "0" * 64, settings, sandbox=b))  # type: ignore[arg-type,misc]
            for k, b in boxes.items()
        ]
        shift = i % len(ways)
        for name, way in ways[shift:] + ways[:shift]:
            started = time.perf_counter()
            value = way()
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
            if name in prints:
                prints[name].append(value)
    return seconds, prints


def memory(tmp: Path) -> list[str]:
    bomb = tmp / "bomb.png"
    bomb.write_bytes(png_all_zero(12_000, 12_000))
    good = tmp / "good.png"
    good.write_bytes(png_all_zero(640, 480))
    lifted = Settings.from_env({}).with_(image_max_pixels=150_000_000)
    lines = ["MEMORY CAP: a 12,000² PNG bomb, 256 MB budget, then a good file"]
    for kind, box in started_boxes(256 << 20):
        started = time.perf_counter()
        try:
            fingerprint_file(bomb, "0" * 64, lifted, sandbox=box)  # type: ignore[arg-type]
            reason = "fingerprinted (not refused)"
        except Unfingerprintable as exc:
            reason = str(exc)
        refused = time.perf_counter() - started
        started = time.perf_counter()
        after = fingerprint_file(good, "0" * 64, lifted, sandbox=box).image is not None  # type: ignore[arg-type]
        next_s = time.perf_counter() - started
        lines.append(
            f"  {kind:6}  refused in {refused:5.2f} s; next file "
            f"{'fingerprinted' if after else 'FAILED'} in {next_s:5.2f} s (a fresh child)\n"
            f"          {reason}"
        )
    return lines


def time_limit() -> list[str]:
    lines = ["TIME LIMIT 1 s: seconds from the call to its refusal"]
    for kind, box in started_boxes():
        _, python_s = _refusal(box, "time:sleep", 60, timeout_s=1.0)
        box.call("bench.sandbox:block_sigterm", timeout_s=60)
        native, native_s = _refusal(box, "time:sleep", 60, timeout_s=1.0)
        lines.append(
            f"  {kind:6}  hang in Python {python_s:5.2f} s   hang in native code {native_s:5.2f} s"
        )
        lines.append(f"          {native}")
    return lines


def crashes(aborts: int) -> list[str]:
    lines = [f"CRASH (os:abort): refusal, replacement, and {aborts} crashes in a row"]
    for kind, box in started_boxes():
        reason, refused_s = _refusal(box, "os:abort", timeout_s=30)
        started = time.perf_counter()
        box.call("os:getpid", timeout_s=60)
        answer_s = time.perf_counter() - started
        exited, exited_s = _refusal(box, "os:_exit", 0, timeout_s=10)
        counts: dict[str, int] = {}
        for _ in range(aborts):
            outcome, _ = _refusal(box, "os:abort", timeout_s=30)
            key = outcome.split(":")[0]
            counts[key] = counts.get(key, 0) + 1
            if key != "DecoderRefused":
                lines.append(f"          {kind}: {outcome[:160]}")
        lines.append(
            f"  {kind:6}  refused, replaced and checked in {refused_s:5.2f} s; "
            f"next call {answer_s * 1000:5.1f} ms; in a row: {counts}\n          {reason}\n"
            f"          exit(0) mid-call, 10 s limit: {exited_s:5.2f} s  {exited}"
        )
    return lines


def stalling_seam(tmp: Path) -> list[str]:
    png = tmp / "interlaced.png"
    png.write_bytes(png_all_zero(64, 64, interlaced=True))
    lines = ["TEST SEAM: the stalling decoder, an interlaced PNG with a 2 s limit"]
    for kind, box in started_boxes(stalling=True):
        reason, seconds = _refusal(
            box, "tanba.fingerprint.sandbox_child:image_print_file", str(png), 10**6, "query",
            timeout_s=2.0,
        )  # fmt: skip
        lines.append(f"  {kind:6}  {seconds:5.2f} s  {reason}")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200, help="web JPEGs to fingerprint")
    parser.add_argument("--passes", type=int, default=3, help="passes over the JPEGs")
    parser.add_argument("--calls", type=int, default=1000, help="trivial calls per round")
    parser.add_argument("--aborts", type=int, default=40, help="crashes in a row")
    args = parser.parse_args(argv)
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs\n", flush=True)
    with tempfile.TemporaryDirectory(prefix="tanba-sandbox-bench-") as tmp:
        for section in (
            lambda: start_and_trivial(args.calls),
            lambda: images(args.files, args.passes),
            lambda: memory(Path(tmp)),
            time_limit,
            lambda: crashes(args.aborts),
            lambda: stalling_seam(Path(tmp)),
            threads_and_parent,
        ):
            print("\n".join(section()) + "\n", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
