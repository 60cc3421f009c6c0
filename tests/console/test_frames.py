"""A video alert's page: players at the span, and the span's frames, the copy's beside the work's."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from tanba.console.frames import BOX, MOMENTS, file_time, span_moments
from tanba.core.alerts import Alert
from tanba.core.schemas.matches import MatchDetail
from tanba.core.schemas.stream import StreamPiece, StreamSample
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, register
from tanba.fingerprint.video import pdq_bits
from tests.support.video import ALTERATIONS, excerpt, film

# The excerpt starts 20 s into the film; the matcher aligned its first 8 s with the work.
SPAN = MatchDetail(
    algorithm="pdq-frames",
    evidence="both",
    offset_s=20.0,
    query_offset_s=0.0,
    duration_s=8.0,
    scale=1.0,
)


@pytest.fixture
def video_alert(
    app: App, tmp_path: Path, tracks: list[Path], alert_factory: Callable[..., Alert]
) -> Alert:
    """An alert of a mirrored excerpt of a registered film (Owner A's), both files stored."""
    work_file = film(tmp_path, tracks[0])
    [work] = register(app, [WorkSpec(path=work_file, owner="Owner A", work_id="w-a")])
    copy = excerpt(tmp_path, work_file, "mirror", ALTERATIONS["mirror"])
    alert = alert_factory(
        media="video",
        match=SPAN,
        media_sha256=app.blobs.put(copy.read_bytes()),
        work_id=work.work_id,
    )
    app.store.upsert([alert])
    return alert


def _rows(sheet: bytes) -> list[tuple[np.ndarray, np.ndarray]]:
    """The sheet's (copy, work) boxes, row by row, in grey."""
    picture = np.asarray(Image.open(io.BytesIO(sheet)).convert("L"))
    width, height = BOX
    rows = []
    for row in range(MOMENTS):
        top = row * (height + 4)
        left = picture[top : top + height, :width]
        right = picture[top : top + height, width + 4 : 2 * width + 4]
        rows.append((left, right))
    return rows


def _apart(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.unpackbits(np.bitwise_xor(pdq_bits(a)[0], pdq_bits(b)[0])).sum())


def test_the_span_is_shown_as_frame_pairs_that_agree(
    video_alert: Alert, login: Callable[[str], Any]
) -> None:
    alert = video_alert
    owner = login("alice")
    page = owner.client.get(f"/alerts/{alert.id}").text
    said = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page)).split())
    assert "The copy matches the work from 20.0 s for 8.0 s, by its picture and its sound" in said
    times = re.search(r'<table id="frame-times">.*?<tbody>(.*?)</tbody>', page, re.S)
    assert times is not None
    assert re.findall(r"<td class=\"num\">([\d.]+) s</td>", times.group(1)) == [
        "1.0", "21.0", "3.0", "23.0", "5.0", "25.0", "7.0", "27.0",
    ]  # fmt: skip
    assert 'id="frame-pairs"' in page and "<video" in page

    answer = owner.client.get(f"/api/alerts/{alert.id}/frames")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/jpeg"
    rows = _rows(answer.content)
    for copy, work in rows:
        # The copy is mirrored: its frame is the work's, flipped back.
        assert _apart(np.ascontiguousarray(copy[:, ::-1]), work) < 60
    # And each instant is its own: the first row's copy is not the last row's work.
    assert _apart(np.ascontiguousarray(rows[0][0][:, ::-1]), rows[-1][1]) > 80


def test_an_agency_denied_the_reference_sees_the_copys_frames_only(
    video_alert: Alert, login: Callable[[str], Any]
) -> None:
    alert = video_alert
    alice = login("alice")
    withhold = {"csrf_token": alice.csrf, "withhold_references": "1"}
    done = alice.client.post("/organisations/Owner A", data=withhold, follow_redirects=False)
    assert done.status_code == 303
    agency = login("kz-agency")
    answer = agency.client.get(f"/api/alerts/{alert.id}/frames")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    for copy, work in _rows(answer.content):
        assert copy.std() > 10 and work.std() < 1  # the work's side is plain grey


def test_a_picture_alert_has_no_frames_and_a_streams_instants_are_found_in_its_file(
    alert_factory: Callable[..., Alert], login: Callable[[str], Any], app: App
) -> None:
    picture = alert_factory()
    app.store.upsert([picture])
    assert span_moments(picture) == []
    assert login("admin").client.get(f"/api/alerts/{picture.id}/frames").status_code == 404
    stream = StreamSample(
        protocol="hls",
        manifest_url="http://kino.example.kz/film.m3u8",
        pieces=[
            StreamPiece(stream_start_s=0.0, file_start_s=0.0, duration_s=6.0, urls=["a"], bytes=1),
            StreamPiece(
                stream_start_s=600.0, file_start_s=6.0, duration_s=6.0, urls=["b"], bytes=1
            ),
        ],
    )
    assert file_time(stream, 603.5) == 9.5  # 3.5 s into the second piece
    assert file_time(stream, 2.0) == 2.0
    assert file_time(None, 603.5) == 603.5
