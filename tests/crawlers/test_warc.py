"""tanba.crawlers.warc: records readable at their offsets, durable per exchange, deterministic."""

from __future__ import annotations

import errno
import io
import ipaddress
import itertools
import os
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse, Request, Response
from warcio.archiveiterator import ArchiveIterator

from tanba.core.clock import FixedClock
from tanba.core.exceptions import DiskFull
from tanba.core.schemas.common import CaptureRef
from tanba.crawlers.warc import WarcWriter

JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes\xff\xd9"


def exchange(url: str = "http://cdn.example.ru:8081/img/a.jpg", body: bytes = JPEG) -> Response:
    request = Request(
        url, headers={"User-Agent": "TanbaBot/0.1", "Referer": "http://kino.example.kz/"}
    )
    return Response(
        url,
        status=200,
        headers={
            "Content-Type": "image/jpeg",
            "Transfer-Encoding": "chunked",  # Twisted already de-chunked the body
            "Content-Encoding": "gzip",  # ...and Scrapy already decoded it
            "X-Served-By": "edge-1",
        },
        body=body,
        request=request,
        ip_address=ipaddress.ip_address("127.0.0.1"),
        protocol="HTTP/1.1",
    )


def fixed_writer(captures: Path) -> WarcWriter:
    ids = (f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>" for n in itertools.count())
    return WarcWriter(
        captures,
        "c1/kino.warc.gz",
        clock=FixedClock("2026-01-01T00:00:00Z"),
        record_ids=ids.__next__,
    )


def read_at(captures: Path, ref: CaptureRef):  # type: ignore[no-untyped-def]
    with open(captures / ref.warc, "rb") as f:
        f.seek(ref.offset)
        record = next(iter(ArchiveIterator(f)))
        return record, record.content_stream().read()


def test_records_are_readable_at_their_offsets(tmp_path: Path) -> None:
    page = HtmlResponse(
        "http://kino.example.kz/",
        body=b"<html>hi</html>",
        request=Request("http://kino.example.kz/"),
    )
    with WarcWriter(tmp_path, "c1/kino.warc.gz") as writer:
        page_ref = writer.write(page)
        media_ref = writer.write(exchange())
    assert page_ref.warc == media_ref.warc == "c1/kino.warc.gz"
    assert media_ref.offset > page_ref.offset

    record, body = read_at(tmp_path, media_ref)
    assert record.rec_type == "response"
    assert (
        record.rec_headers.get_header("WARC-Target-URI") == "http://cdn.example.ru:8081/img/a.jpg"
    )
    assert record.rec_headers.get_header("WARC-IP-Address") == "127.0.0.1"
    assert record.rec_headers.get_header("WARC-Payload-Digest").startswith("sha1:")
    assert body == JPEG
    assert record.http_headers.get_statuscode() == "200"
    assert record.http_headers.get_header("Content-Length") == str(len(JPEG))
    assert record.http_headers.get_header("Transfer-Encoding") is None
    assert record.http_headers.get_header("Content-Encoding") is None
    assert record.http_headers.get_header("X-Served-By") == "edge-1"

    record, body = read_at(tmp_path, page_ref)
    assert (record.rec_type, body) == ("response", b"<html>hi</html>")
    assert record.rec_headers.get_header("WARC-IP-Address") is None  # unknown for this response


def test_length_spans_exactly_the_response_record(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "c1/kino.warc.gz") as writer:
        ref = writer.write(exchange())
        writer.write(exchange("http://cdn.example.ru:8081/img/b.jpg"))
    data = (tmp_path / ref.warc).read_bytes()[ref.offset : ref.offset + ref.length]
    records = list(ArchiveIterator(io.BytesIO(data)))
    assert [r.rec_type for r in records] == ["response"]


def test_file_layout_warcinfo_then_request_response_pairs(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "c1/kino.warc.gz") as writer:
        writer.write(exchange())
    with open(tmp_path / "c1/kino.warc.gz", "rb") as f:
        records = [
            (r.rec_type, r.rec_headers.get_header("WARC-Record-ID"), r.rec_headers, r.http_headers)
            for r in ArchiveIterator(f)
        ]
    assert [r[0] for r in records] == ["warcinfo", "request", "response"]
    assert all(r[2].protocol == "WARC/1.1" for r in records)
    _, request_id, _, request_http = records[1]
    assert records[2][2].get_header("WARC-Concurrent-To") == request_id
    assert request_http.protocol == "GET"
    assert request_http.get_header("Host") == "cdn.example.ru:8081"
    assert request_http.get_header("User-Agent") == "TanbaBot/0.1"


def test_each_exchange_is_on_disk_before_write_returns(tmp_path: Path) -> None:
    writer = WarcWriter(tmp_path, "c1/kino.warc.gz")
    ref = writer.write(exchange())
    # Read through another file object while the writer is still open.
    _, body = read_at(tmp_path, ref)
    assert body == JPEG
    writer.close()


def test_reopening_appends_without_a_second_warcinfo(tmp_path: Path) -> None:
    with WarcWriter(tmp_path, "c1/kino.warc.gz") as writer:
        first = writer.write(exchange())
    with WarcWriter(tmp_path, "c1/kino.warc.gz") as writer:
        second = writer.write(exchange("http://cdn.example.ru:8081/img/b.jpg"))
    assert read_at(tmp_path, first)[1] == JPEG
    assert second.offset > first.offset
    with open(tmp_path / "c1/kino.warc.gz", "rb") as f:
        assert [r.rec_type for r in ArchiveIterator(f)].count("warcinfo") == 1


def test_same_exchange_same_clock_and_ids_same_bytes(tmp_path: Path) -> None:
    refs = []
    for run in ("one", "two"):
        with fixed_writer(tmp_path / run) as writer:
            refs.append(writer.write(exchange()))
    assert refs[0] == refs[1]
    one = (tmp_path / "one/c1/kino.warc.gz").read_bytes()
    assert one == (tmp_path / "two/c1/kino.warc.gz").read_bytes()

    with open(tmp_path / "one/c1/kino.warc.gz", "rb") as f:
        headers = [r.rec_headers for r in ArchiveIterator(f)]
    # Every record's id and date come from the seams, the warcinfo's too.
    assert [h.get_header("WARC-Record-ID") for h in headers] == [
        f"<urn:uuid:00000000-0000-0000-0000-{n:012d}>" for n in range(3)
    ]
    assert {h.get_header("WARC-Date") for h in headers} == {"2026-01-01T00:00:00Z"}


def test_a_record_cut_by_a_crash_is_dropped_when_the_file_is_reopened(tmp_path: Path) -> None:
    with fixed_writer(tmp_path) as writer:
        first = writer.write(exchange())
    path = tmp_path / first.warc
    whole = path.read_bytes()
    with fixed_writer(tmp_path) as writer:
        writer.write(exchange("http://cdn.example.ru:8081/img/b.jpg", body=bytes(range(256)) * 64))
    grown = path.read_bytes()
    # kill -9 in the middle of the response record: its request record is whole, and stays.
    path.write_bytes(grown[: len(grown) - 100])

    with fixed_writer(tmp_path) as writer:
        assert len(whole) < path.stat().st_size < len(grown) - 100  # the cut record is gone
        third = writer.write(exchange("http://cdn.example.ru:8081/img/c.jpg"))
    with open(path, "rb") as f:
        records = [
            (r.rec_type, r.rec_headers.get_header("WARC-Target-URI")) for r in ArchiveIterator(f)
        ]
    uris = [uri for _, uri in records]
    assert ("response", "http://cdn.example.ru:8081/img/b.jpg") not in records
    assert uris.count("http://cdn.example.ru:8081/img/c.jpg") == 2
    assert read_at(tmp_path, first)[1] == JPEG and read_at(tmp_path, third)[1] == JPEG


def test_a_failed_write_is_cut_back_and_reported_as_disk_full(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = fixed_writer(tmp_path)
    first = writer.write(exchange())
    size = writer.path.stat().st_size

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(DiskFull, match="disk full: cannot write the WARC capture"):
        writer.write(exchange("http://cdn.example.ru:8081/img/b.jpg"))
    assert writer.path.stat().st_size == size
    monkeypatch.undo()
    second = writer.write(exchange("http://cdn.example.ru:8081/img/c.jpg"))
    writer.close()
    assert second.offset > first.offset and read_at(tmp_path, second)[1] == JPEG
