"""The blob store contract, the same cases on the file system and on a real S3 server.

The S3 cases run against scripts/services' S3Proxy (``s3_url``), each under a
prefix of its own. The kill cases kill a child process by construction (it kills
itself at a chosen point of the upload), never after a delay.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tanba.core.blobs import BlobStore, FileBlobStore, StoreUnavailable, open_blobs
from tanba.core.blobs.s3 import BLIND_PUT_BYTES, S3BlobStore, SignedHttp
from tanba.core.captures import Captures, FileCaptures, ObjectCaptures, open_captures
from tanba.core.exceptions import NotFound, TransientError
from tanba.core.schemas.common import CaptureRef
from tanba.core.settings import Settings
from tests.services import drop_s3_prefix, s3_environment, s3_url  # noqa: F401 - fixture

PART = 5 << 20  # S3's smallest part: a store with this part size uploads 12 MiB in 3 parts


@dataclass
class Subject:
    """One store under test, with how to build it again (in a child) and count its writes."""

    store: BlobStore
    environ: dict[str, str]
    writes: Callable[[], int]  # objects written so far (files renamed into place, PUTs)
    multipart: Callable[[], int]  # multipart uploads started so far (0 for files)


def _settings(environ: dict[str, str]) -> Settings:
    return Settings.from_env(environ)


@pytest.fixture(
    params=[
        "files",
        pytest.param("s3", marks=pytest.mark.services),
        # The reference path: every request through boto3 (no fast PUT of small blobs).
        pytest.param("s3-boto3", marks=pytest.mark.services),
    ]
)
def subject(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Subject]:
    environ = {"TANBA_HOME": str(tmp_path / "home"), "TANBA_S3_PART_MB": str(PART >> 20)}
    if request.param == "files":
        store = open_blobs(_settings(environ))
        assert isinstance(store, FileBlobStore)
        root = store.root

        def file_writes() -> int:
            return sum(1 for p in root.glob("*/*/*") if not p.name.startswith(".tmp-"))

        yield Subject(store, environ, file_writes, lambda: 0)
        return
    request.getfixturevalue("s3_url")
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    request.addfinalizer(lambda: drop_s3_prefix(prefix))
    environ |= s3_environment(prefix)
    store = open_blobs(_settings(environ))
    assert isinstance(store, S3BlobStore)
    assert store.objects.fast is not None  # an endpoint is set: small PUTs go fast
    if request.param == "s3-boto3":
        store.objects.fast = None
    calls = {"PutObject": 0, "CreateMultipartUpload": 0}

    def count(model: object, **_: object) -> None:
        calls[model.name] += 1  # type: ignore[attr-defined]

    events = store.objects.client.meta.events
    events.register("before-call.s3.PutObject", count)
    events.register("before-call.s3.CreateMultipartUpload", count)
    fast = store.objects.fast
    yield Subject(
        store,
        environ,
        lambda: calls["PutObject"] + calls["CreateMultipartUpload"] + (fast.puts if fast else 0),
        lambda: calls["CreateMultipartUpload"],
    )


def test_put_get_exists(subject: Subject) -> None:
    store = subject.store
    digest = store.put(b"a found copy")
    assert digest == hashlib.sha256(b"a found copy").hexdigest()
    assert store.exists(digest)
    assert store.get(digest) == b"a found copy"
    assert store.put(b"") == hashlib.sha256(b"").hexdigest()
    assert store.get(hashlib.sha256(b"").hexdigest()) == b""


def test_put_is_idempotent(subject: Subject, tmp_path: Path) -> None:
    store = subject.store
    first = store.put(b"same bytes")
    written = subject.writes()
    assert written == 1
    assert store.put(b"same bytes") == first
    source = tmp_path / "same.bin"
    source.write_bytes(b"same bytes")
    assert store.put_file(source) == first
    assert subject.writes() == written  # nothing sent or written the second and third time
    assert store.get(first) == b"same bytes"


@pytest.mark.services
def test_s3_puts_a_small_blob_in_one_request_and_asks_before_a_large_one(
    tmp_path: Path,
    s3_url: str,  # noqa: F811
) -> None:
    prefix = f"test-{uuid.uuid4().hex[:12]}"
    environ = {"TANBA_HOME": str(tmp_path / "home"), **s3_environment(prefix)}
    try:
        writer, other = (open_blobs(_settings(environ)) for _ in range(2))
        assert isinstance(writer, S3BlobStore) and isinstance(other, S3BlobStore)
        calls: list[str] = []
        for store in (writer, other):
            for call in ("HeadObject", "PutObject"):
                store.objects.client.meta.events.register(
                    f"before-call.s3.{call}", lambda model, **_: calls.append(model.name)
                )
            store.objects.fast = _Counted(store.objects.fast, calls)
        small, large = b"s" * BLIND_PUT_BYTES, b"L" * (BLIND_PUT_BYTES + 1)
        writer.put(small)
        writer.put(large)
        assert calls == ["PutObject", "HeadObject", "PutObject"]
        calls.clear()
        # Another process (not knowing them): the small one sent again, the large one not.
        assert other.put(small) == writer.put(small)
        other.put(large)
        assert calls == ["PutObject", "HeadObject"]
        assert other.get(other.put(large)) == large
    finally:
        drop_s3_prefix(prefix)


def test_large_file_goes_in_parts_and_comes_back_whole(subject: Subject, tmp_path: Path) -> None:
    source = tmp_path / "film.bin"
    data = os.urandom(12 << 20)  # more than two parts
    source.write_bytes(data)
    digest = subject.store.put_file(source)
    assert digest == hashlib.sha256(data).hexdigest()
    assert subject.store.get(digest) == data
    if isinstance(subject.store, S3BlobStore):
        assert subject.multipart() == 1
    big = os.urandom(6 << 20)  # bytes over a part go in parts too
    assert subject.store.get(subject.store.put(big)) == big


def test_missing_blob_is_not_found(subject: Subject) -> None:
    store = subject.store
    absent = hashlib.sha256(b"never stored").hexdigest()
    assert not store.exists(absent)
    with pytest.raises(NotFound, match=absent):
        store.get(absent)
    with pytest.raises(NotFound):
        store.open(absent)
    with pytest.raises(NotFound, match="not a SHA-256"):
        store.get("../../etc/passwd")


def test_streaming_and_local_copies(subject: Subject, tmp_path: Path) -> None:
    store = subject.store
    data = os.urandom(3 << 20)
    digest = store.put(data)
    with store.open(digest) as stream:
        chunks = list(iter(lambda: stream.read(1 << 16), b""))
    assert b"".join(chunks) == data and len(chunks) == 48
    spool = tmp_path / "spool"
    with store.local_path(digest, spool) as path:
        assert path.read_bytes() == data
    if store.file(digest) is None:  # a copy: gone afterwards, nothing left in the spool
        assert not path.exists()
        assert list(spool.iterdir()) == []
    else:
        assert path == store.file(digest) and path.exists()


def test_a_damaged_remote_blob_is_never_handed_on_as_a_file(
    subject: Subject, tmp_path: Path
) -> None:
    store = subject.store
    if not isinstance(store, S3BlobStore):
        return  # a file store hands on its own file (written whole, by rename)
    digest = hashlib.sha256(b"the blob as it was put").hexdigest()
    key = store.location.key(f"{digest[:2]}/{digest[2:4]}/{digest}")
    store.objects.client.put_object(Bucket=store.location.bucket, Key=key, Body=b"damaged")
    spool = tmp_path / "spool"
    damaged = pytest.raises(StoreUnavailable, match="does not match its digest")
    with damaged, store.local_path(digest, spool):
        pass
    assert list(spool.iterdir()) == []
    missing = hashlib.sha256(b"never put").hexdigest()
    with pytest.raises(NotFound, match="is not in"), store.local_path(missing, spool):
        pass


def test_copies_a_killed_reader_left_are_swept_once_old(tmp_path: Path) -> None:
    from tanba.core.blobs import sweep_copies

    old, fresh = tmp_path / ".blob-aaaa-1", tmp_path / ".blob-bbbb-2"
    old.write_bytes(b"x")
    fresh.write_bytes(b"y")
    os.utime(old, (0, 0))  # from 1970: no live reader still has it
    assert sweep_copies(tmp_path) == 1
    assert not old.exists() and fresh.exists()
    assert sweep_copies(tmp_path / "absent") == 0


# The child puts a 12 MiB file and kills itself part-way: after the first part is sent
# (S3), or when the data is written but before it is renamed into place (files).
_CHILD = """
import json, os, signal, sys, threading
from pathlib import Path
from tanba.core.blobs import open_blobs
from tanba.core.settings import Settings

environ, source = json.loads(sys.argv[1]), Path(sys.argv[2])
store = open_blobs(Settings.from_env(environ))

# Parts go up on several threads: two may finish together, and only the first may speak.
first = threading.Lock()

def die(*args, **kwargs):
    first.acquire()  # never released: a second part's thread waits here for the kill
    sys.stdout.write("killed\\n"); sys.stdout.flush()
    os.kill(os.getpid(), signal.SIGKILL)

if hasattr(store, "objects"):
    store.objects.client.meta.events.register("after-call.s3.UploadPart", die)
else:
    os.fsync = die
store.put_file(source)
"""


def test_a_writer_killed_mid_upload_leaves_nothing_visible(
    subject: Subject, tmp_path: Path
) -> None:
    store = subject.store
    source = tmp_path / "film.bin"
    data = os.urandom(12 << 20)
    source.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, json.dumps(subject.environ), str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr
    assert child.stdout == "killed\n"
    assert not store.exists(digest)
    with pytest.raises(NotFound):
        store.get(digest)
    assert store.sweep(older_than_s=3600) == 0  # a fresh leftover may be a live writer's
    assert store.sweep(older_than_s=-1) == 1  # the abandoned temporary file or upload
    assert store.put_file(source) == digest
    assert store.get(digest) == data


def test_s3_errors_say_what_to_fix(tmp_path: Path, s3_url: str) -> None:  # noqa: F811
    base = {"TANBA_HOME": str(tmp_path), **s3_environment("errors")}
    digest = hashlib.sha256(b"x").hexdigest()
    cases = [
        ({"TANBA_S3_SECRET_KEY": "wrong"}, "refused the credentials.*TANBA_S3_SECRET_KEY"),
        ({"TANBA_BLOBS": "s3://no-such-bucket"}, "bucket 'no-such-bucket' does not exist"),
        ({"TANBA_S3_ENDPOINT": f"http://127.0.0.1:{_free_port()}"}, "does not answer.*start it"),
    ]
    for change, message in cases:
        store = open_blobs(_settings(base | change))
        with pytest.raises(StoreUnavailable, match=message) as raised:
            store.exists(digest)
        assert isinstance(raised.value, TransientError)  # workers retry, crawls pause


class _Counted(SignedHttp):
    """A fast PUT that notes each request as boto3's event hooks do."""

    def __init__(self, inner: SignedHttp | None, calls: list[str]) -> None:
        assert inner is not None
        self.__dict__.update(inner.__dict__)
        self._calls = calls

    def put(self, bucket: str, key: str, data: bytes, sha256: str, md5: str) -> tuple[int, str]:
        self._calls.append("PutObject")
        return super().put(bucket, key, data, sha256, md5)


def test_the_fast_path_says_what_to_fix_as_boto3_does(
    tmp_path: Path,
    s3_url: str,  # noqa: F811
) -> None:
    from botocore.credentials import Credentials

    settings = _settings({"TANBA_HOME": str(tmp_path), **s3_environment("errors")})
    wrong = Credentials(settings.s3_access_key, "wrong")
    cases = [
        (SignedHttp(s3_url, settings.s3_region, lambda: wrong), "refused the credentials"),
        (
            SignedHttp(
                f"http://127.0.0.1:{_free_port()}", "us-east-1", lambda: wrong, sleep=_no_wait
            ),
            "does not answer.*start it",
        ),
    ]
    for fast, message in cases:
        store = open_blobs(settings)
        assert isinstance(store, S3BlobStore)
        store.objects.fast = fast
        with pytest.raises(StoreUnavailable, match=message) as raised:
            store.put(b"a blob never stored")
        assert isinstance(raised.value, TransientError)
    assert cases[1][0].sent == 3  # a connection refused is tried three times


def _no_wait(seconds: float) -> None:
    pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------- captures


@pytest.fixture(params=["files", pytest.param("s3", marks=pytest.mark.services)])
def captures_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    environ = {"TANBA_HOME": str(tmp_path / "home")}
    if request.param == "s3":
        request.getfixturevalue("s3_url")
        prefix = f"test-{uuid.uuid4().hex[:12]}"
        request.addfinalizer(lambda: drop_s3_prefix(prefix))
        environ |= s3_environment(prefix)
    return environ


def _append(captures: Captures, name: str, data: bytes) -> CaptureRef:
    """What a crawl does: prepare, append a record to the spool file, publish."""
    captures.prepare(name)
    path = captures.spool / name
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as f:
        offset = f.tell()
        f.write(data)
    captures.publish(name)
    return CaptureRef(warc=name, offset=offset, length=len(data))


def test_captures_are_read_back_by_reference(captures_env: dict[str, str]) -> None:
    captures = open_captures(_settings(captures_env))
    first = _append(captures, "crawl-1/site.warc.gz", b"request+response 1")
    second = _append(captures, "crawl-1/site.warc.gz", b"request+response 2")
    assert captures.read(first) == b"request+response 1"
    assert captures.read(second) == b"request+response 2"
    with pytest.raises(NotFound):
        captures.read(CaptureRef(warc="crawl-1/other.warc.gz", offset=0, length=4))
    with pytest.raises(NotFound):
        captures.read(CaptureRef(warc="../escape.warc.gz", offset=0, length=4))
    if isinstance(captures, ObjectCaptures):
        # Another machine (an empty spool) reads the same records from the store...
        elsewhere = ObjectCaptures(captures.spool.parent / "elsewhere", *_parts(captures))
        assert elsewhere.read(second) == b"request+response 2"
        # ...and a crawl that appends there again first gets back what is stored.
        third = _append(elsewhere, "crawl-1/site.warc.gz", b"request+response 3")
        assert third.offset == second.offset + second.length
        assert captures.read(first) == b"request+response 1"
    else:
        assert isinstance(captures, FileCaptures)


def test_a_new_capture_name_is_not_fetched_first(captures_env: dict[str, str]) -> None:
    """A run's own WARC name (new=True) was never stored: prepare asks the store nothing."""
    captures = open_captures(_settings(captures_env))
    asked: list[str] = []
    if isinstance(captures, ObjectCaptures):
        captures.objects.client.meta.events.register(
            "before-call.s3.GetObject", lambda model, **_: asked.append(model.name)
        )
    captures.prepare("crawl-3/site.1a2b3c4d.warc.gz", new=True)
    captures.prepare("crawl-3/site.warc.gz")
    assert asked == (["GetObject"] if isinstance(captures, ObjectCaptures) else [])
    for name in ("crawl-3/site.1a2b3c4d.warc.gz", "crawl-3/site.warc.gz"):
        captures.publish(name)


def _parts(captures: ObjectCaptures) -> tuple:
    return captures.objects, captures.location


def test_captures_a_killed_crawl_left_are_published_later(
    captures_env: dict[str, str],
) -> None:
    settings = _settings(captures_env)
    live = open_captures(settings)
    live.prepare("crawl-2/live.warc.gz")
    (live.spool / "crawl-2").mkdir(parents=True, exist_ok=True)
    (live.spool / "crawl-2/live.warc.gz").write_bytes(b"still being written")
    # A crawl killed after writing a record: its file is marked, its lock released.
    killed = open_captures(settings)
    killed.prepare("crawl-2/killed.warc.gz")
    (killed.spool / "crawl-2/killed.warc.gz").write_bytes(b"referenced record")
    if isinstance(killed, ObjectCaptures):
        os.close(killed._locks.pop("crawl-2/killed.warc.gz"))  # what the kernel does on death
    next_crawl = open_captures(settings)
    published = next_crawl.publish_pending()
    ref = CaptureRef(warc="crawl-2/killed.warc.gz", offset=0, length=17)
    if isinstance(next_crawl, ObjectCaptures):
        assert published == 1  # the live crawl's file is left to it
        (next_crawl.spool / ref.warc).unlink()
        assert next_crawl.read(ref) == b"referenced record"  # from the store
        assert not next_crawl.objects.exists(next_crawl.location.key("crawl-2/live.warc.gz"))
        live.publish("crawl-2/live.warc.gz")
        assert next_crawl.objects.exists(next_crawl.location.key("crawl-2/live.warc.gz"))
        assert next_crawl.publish_pending() == 0
    else:
        assert published == 0
        assert next_crawl.read(ref) == b"referenced record"


# ---------------------------------------------------------------- settings


def test_s3_settings_are_checked_and_the_secret_is_printed_masked(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tanba.app.commands.logs import _settings
    from tanba.core.exceptions import SettingsError
    from tanba.core.wiring import App

    for wrong, message in (
        ({"TANBA_BLOBS": "/mnt/nfs/blobs"}, "TANBA_BLOBS='/mnt/nfs/blobs' is not understood"),
        ({"TANBA_BLOBS": "s3://b", "TANBA_S3_PART_MB": "4"}, "at least 5"),
        ({"TANBA_S3_ACCESS_KEY": "id"}, "set TANBA_S3_SECRET_KEY too"),
    ):
        with pytest.raises(SettingsError, match=message):
            Settings.from_env(wrong)
    settings = Settings.from_env(
        {"TANBA_HOME": str(tmp_path), **s3_environment("x"), "TANBA_S3_SECRET_KEY": "hush-42"}
    )
    # A child process gets the secret (the console's crawls); a reader never sees it.
    assert settings.variables()["TANBA_S3_SECRET_KEY"] == "hush-42"
    assert "hush-42" not in repr(settings)
    _settings(App(settings), None)  # type: ignore[arg-type]
    printed = capsys.readouterr().out
    assert "TANBA_S3_SECRET_KEY=**********" in printed and "hush-42" not in printed
    assert "TANBA_BLOBS=s3://tanba/x" in printed
