"""Hostile media through the real fingerprint stage: refused or bounded, never fatal.

The worker test publishes every file of :mod:`bench.harness.hostile_media`
between real photos on the embedded bus and runs the real ``FingerprintStage``
in the real ``Worker``: each hostile file must end in ``tanba.quarantine`` with
its reason (or be fingerprinted within bounds), every photo after it must be
fingerprinted, and nothing may be dead-lettered. The sandbox's own limits
(memory, crash, a hang, its parent's death) are tested directly.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from bench.harness.hostile_media import (
    STALLING_DECODER,
    HostileFile,
    build,
    png_all_zero,
    run_through_worker,
)
from tanba.app.demo import media
from tanba.core.settings import Settings
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import DecoderRefused, Unfingerprintable
from tanba.fingerprint.sandbox import Sandbox
from tanba.fingerprint.sniff import sniff


@pytest.fixture(scope="module")
def hostile_files(tmp_path_factory: pytest.TempPathFactory) -> list[HostileFile]:
    return build(tmp_path_factory.mktemp("hostile-media"))


def test_each_hostile_file_is_quarantined_with_its_reason_and_the_queue_moves(
    tmp_path: Path, hostile_files: list[HostileFile]
) -> None:
    # The interlaced PNG's decode never ends in this child, so it runs past the time limit
    # on any machine (the real file's decoding time is the report's to print); the limit is
    # far above what every other file needs, so none of them can run past it on a slow one.
    run = run_through_worker(
        hostile_files, tmp_path / "home", decoder=STALLING_DECODER, decode_timeout_s=5.0
    )
    assert run.dead_letters == 0 and run.stats.dead_lettered == 0
    assert run.stats.messages == len(hostile_files) + len(run.photos)
    assert len(run.photos) >= 3 and set(run.photos) <= set(run.prints)  # the queue kept moving
    for h in hostile_files:
        expected, what = run.outcome(h)
        assert expected, f"{h.name}: {what}"


def test_a_decode_past_the_memory_limit_is_refused_and_the_sandbox_recovers(
    tmp_path: Path, settings: Settings, photos: list[Path]
) -> None:
    # 12,000² pixels, one byte each as decoded plus a grey copy: over a 256 MB budget.
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_all_zero(12_000, 12_000))
    sandbox = Sandbox(256 << 20)
    lifted = settings.with_(image_max_pixels=150_000_000)
    try:
        with pytest.raises(DecoderRefused, match="more memory than the decoder's limit of 256 MB"):
            fingerprint_file(bomb, "0" * 64, lifted, sandbox=sandbox)
        good = tmp_path / "good.jpg"
        good.write_bytes(media.web_jpeg(photos[0], width=320))
        assert fingerprint_file(good, "0" * 64, lifted, sandbox=sandbox).image is not None
        assert sandbox.outcomes == {"memory": 1, "ok": 1}
    finally:
        sandbox.close()


def test_a_hanging_or_crashing_decoder_is_stopped_and_replaced() -> None:
    sandbox = Sandbox(256 << 20)
    try:
        first = sandbox.pid
        with pytest.raises(DecoderRefused, match="took longer than 1 s"):
            sandbox.call("time:sleep", 60, timeout_s=1.0)
        with pytest.raises(DecoderRefused, match=r"crashed the decoder \(killed by SIGABRT"):
            sandbox.call("os:abort", timeout_s=30)
        with pytest.raises(Unfingerprintable):
            sandbox.call(
                "tanba.fingerprint.sandbox_child:image_print_file",
                "/nonexistent",
                10,
                ["full"],
                timeout_s=30,
            )
        assert sandbox.call("os:getpid", timeout_s=30) == sandbox.pid != first
        assert sandbox.started >= 3  # the first, after the hang, after the crash
    finally:
        sandbox.close()


def test_the_decoder_dies_with_its_parent(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from tanba.fingerprint.sandbox import Sandbox\n"
        "box = Sandbox(256 << 20)\n"
        "print(box.call('os:getpid', timeout_s=60), flush=True)\n"
        "time.sleep(600)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.05)
    assert not _alive(child)


def test_the_decoder_outlives_the_thread_that_started_it() -> None:
    """A web server starts the sandbox from a worker thread that ends while the process lives on."""
    sandbox = Sandbox(256 << 20)
    try:
        pids: list[int] = []
        starter = threading.Thread(
            target=lambda: pids.append(sandbox.call("os:getpid", timeout_s=60))
        )
        starter.start()
        starter.join()
        time.sleep(0.5)  # Linux's parent-death signal, were it used, is sent as the thread exits
        assert _alive(pids[0])
        assert sandbox.call("os:getpid", timeout_s=60) == pids[0] and sandbox.started == 1
    finally:
        sandbox.close()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited; it only waits for its (new) parent to reap it.
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().split(")")[-1].split()[0] != "Z"


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"#EXTM3U\n#EXTINF:10,\n/etc/passwd\n", "playlist"),
        (b"  #EXT-X-VERSION:3\n", "playlist"),
        (b"ffconcat version 1.0\nfile a.mp3\n", "playlist"),
        (b'<?xml version="1.0"?><MPD xmlns="urn:mpeg:dash:schema:mpd:2011">', "playlist"),
        (b"[playlist]\nFile1=http://10.0.0.1/a.mp3\n", "playlist"),
        ("Поток временно недоступен\n".encode() * 100, "text"),
        ("текст".encode()[:-1], "text"),  # cut inside a character: still text
        (b"#!AMR\n" + bytes(range(256)), "unknown"),  # binary after a text-like start
        (b"\xff\xfb\x90\x00" + bytes(64), "audio"),
        (b"<!doctype html><html>", "html"),
    ],
    ids=[
        "hls",
        "hls-tag-only",
        "ffconcat",
        "dash",
        "pls",
        "cyrillic-text",
        "text-cut-mid-char",
        "amr",
        "mp3-frame",
        "html",
    ],
)
def test_playlists_and_text_are_told_apart_from_media(head: bytes, kind: str) -> None:
    assert sniff(head) == kind


def test_a_playlist_naming_a_local_file_is_refused_before_any_decoder_opens_it(
    tmp_path: Path, settings: Settings, tracks: list[Path]
) -> None:
    # ffmpeg would follow it and fingerprint the local file (or fetch an intranet URL).
    playlist = tmp_path / "list.mp3"
    playlist.write_text(f"#EXTM3U\n#EXTINF:60,\n{tracks[0]}\n#EXT-X-ENDLIST\n")
    with pytest.raises(Unfingerprintable, match="playlist or manifest"):
        fingerprint_file(playlist, "0" * 64, settings, claimed_type="audio/mpeg")
