"""Blobs and WARC captures in an S3-compatible object store (``TANBA_BLOBS=s3://bucket/prefix``).

Layout: blobs at ``prefix/blobs/aa/bb/<sha256>`` (the file system's layout), crawl
captures at ``prefix/captures/<crawl_id>/<target>.warc.gz`` (see
:mod:`tanba.core.captures`). Nothing else is written there.

Contract: that of :class:`~tanba.core.blobs.BlobStore`. Content addressing makes the
same key the same bytes, so a put is idempotent and two writers racing write the same
object. A put of up to ``BLIND_PUT_BYTES`` (256 KiB, most web pictures) is sent at once,
one request; a larger one asks first (HEAD) and sends nothing when the blob is there,
as sending it again would cost more than the question (a crawl's pictures are mostly
new: asking first cost a second round trip for each, 7% of a crawler's CPU in
bench/pipeline_throughput.py).
A single PUT is atomic in S3; objects over ``TANBA_S3_PART_MB`` go as a multipart
upload (several parts at once), which is invisible until its completion, so a
writer killed mid-upload leaves no object, only parts that :meth:`S3BlobStore.sweep`
aborts (a bucket lifecycle rule "abort incomplete multipart uploads" does the same).
Each PUT carries its Content-MD5, so a body damaged on the way is refused.

Errors say what to do: an endpoint that does not answer, a bucket that does not
exist and credentials refused are :class:`~tanba.core.blobs.StoreUnavailable` (a
TransientError, so workers retry and crawls pause until the operator fixes it);
a blob that is not there is NotFound.

Two exceptions to boto3, when an endpoint is set: a small blob's PUT (the crawler's
every picture) and the checked copy :meth:`S3BlobStore.local_path` makes (the
fingerprint worker's read of a medium that did not travel inline) go through
:class:`SignedHttp`: pooled urllib3 connections and botocore's own SigV4 signer, the
blob's digest as the signed payload hash of a PUT (S3 checks it, as it checks the
Content-MD5), and the copy hashed as it is written instead of read a second time.
boto3's per-call machinery (endpoint rules, event hooks, parsing) cost twice the CPU
(``python -m bench.s3_cpu``: a 50 kB PUT 0.7 ms against 1.6, a 300 kB copy 1.2 against
2.0), which bench/pipeline_throughput.py saw as a crawler's and a fingerprint worker's
largest extra cost per medium in the distributed mode. Errors, retries (3 attempts on
a connection error, a 500 or a 503) and messages are those of the boto3 path; on AWS
itself (no endpoint set) boto3 resolves the endpoint and does everything.

Why boto3 (with s3transfer): it is the reference S3 client every S3-compatible
server is tested against, signs requests (SigV4) for any endpoint, retries with
back-off, and its managed transfer does multipart uploads and ranged parallel
downloads with threads, which we would otherwise write ourselves. minio-py does
multipart too but is tested mainly against MinIO; a hand-written HTTP client would
need its own signing. Its newer default of CRC checksums in aws-chunked trailers is
turned off ("when_required"): several S3-compatible servers (S3Proxy among them)
refuse it, and Content-MD5 covers what we need.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, NoReturn, TypeVar

from tanba.core.blobs import (
    CHUNK,
    BlobStore,
    StoreUnavailable,
    blob_key,
    sha256_of_file,
    temporary_copy,
)
from tanba.core.exceptions import NotFound, SettingsError
from tanba.core.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

T = TypeVar("T")
# How many stored digests a store remembers (64 bytes each: about 10 MB).
_KNOWN = 100_000
# Blobs up to this size are put without asking first whether they are there (a HEAD).
BLIND_PUT_BYTES = 256 << 10
# Error codes of a missing object (GET says NoSuchKey, HEAD only its status).
# A range past the end (InvalidRange) is a record the object does not hold.
_MISSING = {"NoSuchKey", "404", "NotFound", "InvalidRange", "416"}
_CREDENTIALS = {
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "403",
    "InvalidToken",
    "ExpiredToken",
    "AuthorizationHeaderMalformed",
}


@dataclass(frozen=True)
class S3Location:
    """A bucket and a key prefix ('' or ending without '/')."""

    bucket: str
    prefix: str = ""

    @staticmethod
    def parse(url: str) -> S3Location:
        """``s3://bucket[/prefix]``; SettingsError naming TANBA_BLOBS otherwise."""
        if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
            raise SettingsError(f"TANBA_BLOBS={url!r}: use 's3://BUCKET[/PREFIX]'")
        bucket, _, prefix = url[5:].partition("/")
        return S3Location(bucket, prefix.strip("/"))

    def child(self, name: str) -> S3Location:
        return S3Location(self.bucket, f"{self.prefix}/{name}" if self.prefix else name)

    def key(self, name: str) -> str:
        return f"{self.prefix}/{name}" if self.prefix else name

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")


def s3_client(settings: Settings) -> S3Client:
    """A boto3 S3 client for the settings' endpoint, region and credentials."""
    import boto3
    from botocore.config import Config

    secret = settings.s3_secret_key.get_secret_value()
    return boto3.client(
        "s3",
        endpoint_url=settings.s3_endpoint or None,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key or None,
        aws_secret_access_key=secret or None,
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},  # works without wildcard DNS for buckets
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
            max_pool_connections=32,
        ),
    )


class SignedHttp:
    """PUT and GET of one object on pooled connections, signed with botocore's SigV4 (see
    the module doc). :meth:`put` answers the HTTP status and S3's error code ('' on
    success); :meth:`get` a stream of the body or the status and code of the refusal. A
    connection that fails three times raises OSError (the caller turns it into
    StoreUnavailable).
    """

    _ATTEMPTS = 3
    _RETRY = (500, 503)
    # The payload hash of a request without a body (SigV4).
    _EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()

    def __init__(
        self,
        endpoint: str,
        region: str,
        credentials: Callable[[], Any],
        *,
        pool_size: int = 32,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``credentials``: botocore credentials (their frozen copy is taken at each call,
        so refreshed ones are used)."""
        import urllib3

        self.endpoint = endpoint.rstrip("/")
        self.region = region
        self._credentials = credentials
        self._pool = urllib3.PoolManager(
            maxsize=pool_size,
            timeout=urllib3.Timeout(connect=5, read=60),
            retries=False,
        )
        self._sleep = sleep
        #: PUT and GET calls, and requests sent in all (retries included); tests count them.
        self.puts = 0
        self.gets = 0
        self.sent = 0

    def put(self, bucket: str, key: str, data: bytes, sha256: str, md5: str) -> tuple[int, str]:
        """PUT ``data`` (whose SHA-256 hex is ``sha256``, MD5 base64 ``md5``) at ``bucket/key``."""
        self.puts += 1
        answer = self._request(
            "PUT", bucket, key, data, {"Content-MD5": md5, "X-Amz-Content-SHA256": sha256}
        )
        try:
            return answer.status, "" if answer.status < 300 else _error_code(answer.data)
        finally:
            answer.release_conn()

    def get(self, bucket: str, key: str) -> tuple[int, str, Any]:
        """GET ``bucket/key``: (200, '', a stream to read and close) or (status, code, None)."""
        self.gets += 1
        answer = self._request(
            "GET", bucket, key, None, {"X-Amz-Content-SHA256": self._EMPTY_SHA256}, stream=True
        )
        if answer.status == 200:
            return 200, "", answer
        try:
            return answer.status, _error_code(answer.read()), None
        finally:
            answer.release_conn()

    def _request(
        self,
        method: str,
        bucket: str,
        key: str,
        data: bytes | None,
        headers: dict[str, str],
        stream: bool = False,
    ) -> Any:
        """Send one signed request, again on a failed connection, a 500 or a 503."""
        from urllib.parse import quote

        from botocore.awsrequest import AWSRequest

        url = f"{self.endpoint}/{quote(bucket)}/{quote(key)}"
        delay = 0.1
        for attempt in range(self._ATTEMPTS):
            last = attempt + 1 == self._ATTEMPTS
            request = AWSRequest(method, url, data=data, headers=headers)
            credentials = self._credentials().get_frozen_credentials()
            # The payload hash is the one given (a blob's digest), not computed again.
            _known_payload_signer()(
                credentials, "s3", self.region, headers["X-Amz-Content-SHA256"]
            ).add_auth(request)
            self.sent += 1
            try:
                answer = self._pool.request(
                    method,
                    url,
                    body=data,
                    headers=dict(request.headers.items()),
                    preload_content=not stream,
                )
            except Exception as exc:  # urllib3's HTTPError and friends: the server is not there
                if last:
                    raise OSError(str(exc)) from exc
            else:
                if answer.status not in self._RETRY or last:
                    return answer
                answer.drain_conn()
                answer.release_conn()
            self._sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")  # pragma: no cover


@functools.cache
def _known_payload_signer() -> type:
    """botocore's S3 SigV4 signer told the payload's SHA-256 instead of hashing the body
    again (for a blob the digest is its name: hashing it once more cost a PUT a third of
    its CPU)."""
    from botocore.auth import S3SigV4Auth

    class KnownPayloadSigner(S3SigV4Auth):
        def __init__(self, credentials: Any, service: str, region: str, sha256: str) -> None:
            super().__init__(credentials, service, region)
            self._payload_sha256 = sha256

        def payload(self, request: Any) -> str:
            return self._payload_sha256

    return KnownPayloadSigner


def _error_code(body: bytes) -> str:
    """S3's ``<Code>`` of an error document, '' when there is none."""
    start = body.find(b"<Code>")
    end = body.find(b"</Code>", start)
    return body[start + 6 : end].decode("ascii", "replace") if start >= 0 and end > start else ""


def signed_http(settings: Settings) -> SignedHttp | None:
    """The fast PUT and GET for the settings' endpoint; None on AWS itself (no endpoint: boto3's)."""
    if not settings.s3_endpoint:
        return None
    import botocore.session
    from botocore.credentials import Credentials

    secret = settings.s3_secret_key.get_secret_value()
    if settings.s3_access_key and secret:
        fixed = Credentials(settings.s3_access_key, secret)
        return SignedHttp(settings.s3_endpoint, settings.s3_region, lambda: fixed)
    chain = botocore.session.get_session().get_credentials()
    if chain is None:
        return None  # boto3's path then says which credentials are missing
    return SignedHttp(settings.s3_endpoint, settings.s3_region, lambda: chain)


class S3Objects:
    """Named objects in one bucket with errors turned into Tanba's (shared by blobs and captures)."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        part_bytes: int = 16 << 20,
        fast: SignedHttp | None = None,
    ) -> None:
        self.client = client
        self.bucket = bucket
        self.part_bytes = part_bytes
        self.fast = fast
        self._bucket_checked = False
        self.endpoint = str(client.meta.endpoint_url)

    def transfer_config(self) -> Any:
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(
            multipart_threshold=self.part_bytes,
            multipart_chunksize=self.part_bytes,
            max_concurrency=4,
            use_threads=True,
        )

    def call(self, what: str, action: Callable[[], T]) -> T:
        """Run one request, turning S3's and the network's errors into Tanba's."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        self._check_bucket()
        try:
            return action()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in _MISSING:
                raise NotFound(f"{what}: not in s3://{self.bucket} at {self.endpoint}") from None
            self._fail(what, code, exc)
        except NoCredentialsError as exc:
            self._fail(what, "NoCredentials", exc)
        except BotoCoreError as exc:
            raise self._down(what, exc) from exc

    def _check_bucket(self) -> None:
        """Once per store: is the bucket there and are we let in? (Says which it is.)"""
        if self._bucket_checked:
            return
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            self._fail("checking the bucket", "NoSuchBucket" if code in _MISSING else code, exc)
        except NoCredentialsError as exc:
            self._fail("checking the bucket", "NoCredentials", exc)
        except BotoCoreError as exc:
            raise self._down("checking the bucket", exc) from exc
        self._bucket_checked = True

    def _fail(self, what: str, code: str, exc: Exception) -> NoReturn:
        if code == "NoSuchBucket":
            raise StoreUnavailable(
                f"{what}: bucket {self.bucket!r} does not exist at {self.endpoint}: create it "
                "(e.g. 'aws s3 mb s3://BUCKET --endpoint-url URL'; scripts/services creates "
                "'tanba' for development) or fix the bucket in TANBA_BLOBS"
            ) from exc
        if code in _CREDENTIALS or code == "NoCredentials":
            raise StoreUnavailable(
                f"{what}: the object store at {self.endpoint} refused the credentials ({code}): "
                "set TANBA_S3_ACCESS_KEY and TANBA_S3_SECRET_KEY (or AWS_ACCESS_KEY_ID and "
                f"AWS_SECRET_ACCESS_KEY) to a key that may read and write bucket {self.bucket!r}"
            ) from exc
        raise StoreUnavailable(
            f"{what}: the object store at {self.endpoint} answered {code or exc}; "
            "it is retried (see the server's log if it persists)"
        ) from exc

    def _down(self, what: str, exc: Exception) -> StoreUnavailable:
        return StoreUnavailable(
            f"{what}: the object store at {self.endpoint} does not answer ({exc}); start it "
            "('scripts/services start s3' in development) or fix TANBA_S3_ENDPOINT; "
            "workers retry and crawls pause meanwhile"
        )

    def exists(self, key: str) -> bool:
        try:
            self.call(key, lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except NotFound:
            return False
        return True

    def size(self, key: str) -> int | None:
        """The object's size in bytes, None when it is not there."""
        try:
            head = self.call(key, lambda: self.client.head_object(Bucket=self.bucket, Key=key))
        except NotFound:
            return None
        return int(head["ContentLength"])

    def put_bytes(self, key: str, data: bytes, sha256: str | None = None) -> None:
        """Store ``data`` at ``key`` (``sha256``: its digest, when known: the fast PUT)."""
        if len(data) > self.part_bytes:
            self.put_stream(key, io.BytesIO(data))
            return
        md5 = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
        if self.fast is not None and sha256 is not None:
            self._check_bucket()
            try:
                status, code = self.fast.put(self.bucket, key, data, sha256, md5)
            except OSError as exc:
                raise self._down(key, exc) from exc
            if status >= 300:
                self._fail(key, code or str(status), OSError(code))
            return
        self.call(
            key,
            lambda: self.client.put_object(Bucket=self.bucket, Key=key, Body=data, ContentMD5=md5),
        )

    def put_stream(self, key: str, source: IO[bytes]) -> None:
        """Upload a stream, in parts when it is large (managed transfer)."""
        config = self.transfer_config()
        self.call(key, lambda: self.client.upload_fileobj(source, self.bucket, key, Config=config))

    def put_file(self, key: str, source: Path) -> None:
        config = self.transfer_config()
        self.call(
            key, lambda: self.client.upload_file(str(source), self.bucket, key, Config=config)
        )

    def open(self, key: str, first: int | None = None, last: int | None = None) -> IO[bytes]:
        """A stream of the object (bytes ``first``..``last`` inclusive when given)."""
        extra: dict[str, Any] = {}
        if first is not None:
            extra["Range"] = f"bytes={first}-{'' if last is None else last}"
        answer = self.call(
            key, lambda: self.client.get_object(Bucket=self.bucket, Key=key, **extra)
        )
        return io.BufferedReader(_BodyReader(answer["Body"], self, key), CHUNK)

    def copy_checked(self, key: str, sha256: str, target: IO[bytes]) -> None:
        """Write the object to ``target``, hashing as it goes; StoreUnavailable when its
        SHA-256 is not ``sha256`` (a transfer cut short, a damaged object), NotFound when
        it is not there. Over the fast path when there is one, else boto3's stream."""
        digest = hashlib.sha256()
        if self.fast is None:
            with self.open(key) as source:
                for chunk in iter(lambda: source.read(CHUNK), b""):
                    digest.update(chunk)
                    target.write(chunk)
        else:
            self._check_bucket()
            try:
                status, code, body = self.fast.get(self.bucket, key)
                if status == 404 or code in _MISSING:
                    raise NotFound(f"{key}: not in s3://{self.bucket} at {self.endpoint}")
                if body is None:
                    self._fail(key, code or str(status), OSError(code))
                try:
                    for chunk in body.stream(CHUNK):
                        digest.update(chunk)
                        target.write(chunk)
                finally:
                    body.release_conn()
            except OSError as exc:
                raise self._down(f"reading {key}", exc) from exc
            except Exception as exc:  # urllib3's read errors (a connection cut mid-body)
                if isinstance(exc, (NotFound, StoreUnavailable)):
                    raise
                raise self._down(f"reading {key}", exc) from exc
        if digest.hexdigest() != sha256:
            raise StoreUnavailable(
                f"blob {sha256} read from s3://{self.bucket} at {self.endpoint} does not match "
                "its digest (a transfer cut short or a damaged object); it is retried"
            )

    def download(self, key: str, target: Path) -> None:
        config = self.transfer_config()
        self.call(
            key, lambda: self.client.download_file(self.bucket, key, str(target), Config=config)
        )

    def abort_stale_uploads(self, prefix: str, older_than_s: float) -> int:
        """Abort multipart uploads under ``prefix`` started more than ``older_than_s`` ago."""
        cutoff = time.time() - older_than_s
        aborted = 0
        pages = self.call(
            prefix,
            lambda: list(
                self.client.get_paginator("list_multipart_uploads").paginate(
                    Bucket=self.bucket, Prefix=prefix
                )
            ),
        )
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() >= cutoff:
                    continue
                key, upload_id = upload["Key"], upload["UploadId"]
                try:
                    self.call(
                        key,
                        lambda k=key, u=upload_id: self.client.abort_multipart_upload(  # type: ignore[misc]
                            Bucket=self.bucket, Key=k, UploadId=u
                        ),
                    )
                    aborted += 1
                except NotFound:
                    pass  # completed or aborted by another process meanwhile
        return aborted


class _BodyReader(io.RawIOBase):
    """botocore's streaming body as a raw stream, its read errors turned into Tanba's."""

    def __init__(self, body: Any, objects: S3Objects, key: str) -> None:
        self._body = body
        self._objects = objects
        self._key = key

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        from botocore.exceptions import BotoCoreError

        try:
            data = self._body.read(len(buffer))
        except (BotoCoreError, OSError) as exc:
            raise self._objects._down(f"reading {self._key}", exc) from exc
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._body.close()
        super().close()


class S3BlobStore(BlobStore):
    """Blobs as objects ``prefix/aa/bb/<sha256>`` in an S3 bucket (see the module doc).

    Safe to use from several threads (boto3's client is; the memory of stored digests
    has a lock).
    """

    remote = True

    def __init__(
        self,
        location: S3Location,
        client: S3Client,
        part_bytes: int = 16 << 20,
        fast: SignedHttp | None = None,
    ) -> None:
        """``fast``: small blobs' PUTs go through it (see the module doc); None: boto3's."""
        self.location = location
        self.objects = S3Objects(client, location.bucket, part_bytes, fast)
        self.where = str(location)
        # Digests known to be stored: blobs are never changed, so once seen, always there
        # (the same picture on a thousand pages costs one HEAD, a list page's pictures none).
        self._known: OrderedDict[str, None] = OrderedDict()
        self._lock = threading.Lock()

    def _key(self, sha256: str) -> str:
        return self.location.key(blob_key(sha256))

    def _remember(self, sha256: str) -> None:
        with self._lock:
            self._known[sha256] = None
            self._known.move_to_end(sha256)
            if len(self._known) > _KNOWN:
                self._known.popitem(last=False)

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        if len(data) <= BLIND_PUT_BYTES:  # one PUT, not HEAD then PUT (see the module doc)
            with self._lock:
                known = digest in self._known
            if not known:
                self.objects.put_bytes(self._key(digest), data, digest)
                self._remember(digest)
        elif not self.exists(digest):
            self.objects.put_bytes(self._key(digest), data, digest)
            self._remember(digest)
        return digest

    def put_file(self, source: Path) -> str:
        digest = sha256_of_file(source)
        if not self.exists(digest):
            self.objects.put_file(self._key(digest), source)
            self._remember(digest)
        return digest

    def open(self, sha256: str) -> IO[bytes]:
        key = self._key(sha256)
        try:
            return self.objects.open(key)
        except NotFound:
            raise NotFound(f"blob {sha256} is not in {self.where}") from None

    @contextmanager
    def local_path(self, sha256: str, tmp_dir: Path | None = None) -> Iterator[Path]:
        """A checked temporary copy, hashed as it is written (one pass, not a second read)."""

        def fill(out: IO[bytes]) -> None:
            try:
                self.objects.copy_checked(self._key(sha256), sha256, out)
            except NotFound:
                raise NotFound(f"blob {sha256} is not in {self.where}") from None

        with temporary_copy(sha256, tmp_dir, fill) as copy:
            yield copy

    def exists(self, sha256: str) -> bool:
        with self._lock:
            if sha256 in self._known:
                return True
        if self.objects.exists(self._key(sha256)):
            self._remember(sha256)
            return True
        return False

    def sweep(self, older_than_s: float = 3600.0) -> int:
        """Abort multipart uploads a killed writer left (older than ``older_than_s``)."""
        return self.objects.abort_stale_uploads(self.location.key(""), older_than_s)

    def keys(self) -> Iterator[str]:
        """Every stored digest (for tests and audits; lists the whole prefix)."""
        paginator = self.objects.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.location.bucket, Prefix=self.location.key("")):
            for item in page.get("Contents", []):
                yield item["Key"].rsplit("/", 1)[-1]
