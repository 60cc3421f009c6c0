"""A video alert's match report: the matched span and frame pairs, on real footage.

The work is one of Planet Blupi's cartoon movies (Debian's ``planetblupi-common``,
real footage with sound: ``bench.media.video_clips``); the copy is a mirrored 8 s
excerpt of it, matched by the real video signal, so the span in the report is the
matcher's own.
"""

from __future__ import annotations

import io
import json
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from warcio.archiveiterator import ArchiveIterator

from tanba.core.alerts import Alert
from tanba.core.schemas.common import VIDEO, CaptureRef
from tanba.core.schemas.works import Work
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence.contents import web_archive
from tanba.evidence.matchreport import MatchEvidence, build_match_report
from tanba.evidence.signing import SigningKey
from tanba.evidence.videoreport import FRAMES_PICTURE
from tanba.fingerprint.compute import fingerprint_file
from tanba.matcher.video_signal import VideoSignal
from tests.evidence.test_export import alerts, members, run
from tests.support.alerts import make_alert, with_page_capture
from tests.support.video import ALTERATIONS, excerpt

CARTOON = Path("/usr/share/planetblupi/movie/win005.mkv")  # 17.5 s, 320x240, with sound
START = 4.0


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Work, Alert, bytes, bytes]:
    """The work, the alert its mirrored excerpt raises, and the two files' bytes."""
    if not CARTOON.is_file():
        pytest.fail(f"{CARTOON} is missing: run bench/fetch-media (planetblupi-common)")
    directory = tmp_path_factory.mktemp("video-report")
    settings = Settings.from_env({"TANBA_HOME": str(directory / "home")})
    copy = excerpt(directory, CARTOON, "mirror", ALTERATIONS["mirror"], start=START, seconds=8)
    film = fingerprint_file(CARTOON, "a" * 64, settings, reference=True)
    found = fingerprint_file(copy, "b" * 64, settings)
    signal = VideoSignal(settings)
    signal.add("cartoon", film)
    [match] = signal.match(found)
    work = Work(
        work_id="cartoon",
        owner="Owner A",
        title="Planet Blupi: win005",
        media=VIDEO,
        sha256=film.sha256,
        registered_at="2026-12-06T00:00:00Z",
        fingerprint=film,
    )
    alert = make_alert(
        work_id="cartoon", media="video", match=match.detail, score=match.score,
        work_title=work.title, media_sha256=found.sha256, media_url="http://kino.example.kz/a.mp4",
    )  # fmt: skip
    return settings, work, alert, CARTOON.read_bytes(), copy.read_bytes()


def _report(
    case: tuple[Settings, Work, Alert, bytes, bytes], *, withhold: bool = False
) -> MatchEvidence:
    settings, work, alert, reference, found = case
    return build_match_report(
        settings, alert, work, reference, found, "en", withhold_reference=withhold
    )


def _boxes(png: bytes, rows: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """The (copy, work) frames of each row of frames.png, in grey (the layout's boxes)."""
    from tanba.evidence.videoreport import _BOX, _CAPTION, _PAD

    picture = np.asarray(Image.open(io.BytesIO(png)).convert("L"))
    width, height = _BOX
    found = []
    for row in range(rows):
        top = _PAD + _CAPTION + row * (_CAPTION + height + _PAD) + _CAPTION - 4
        left = picture[top : top + height, _PAD : _PAD + width]
        right = picture[top : top + height, 2 * _PAD + width : 2 * _PAD + 2 * width]
        found.append((left, right))
    return found


def test_the_report_holds_the_span_and_frame_pairs_that_agree(
    case: tuple[Settings, Work, Alert, bytes, bytes],
) -> None:
    evidence = _report(case)
    report = evidence.report
    span = report.video_span
    assert span is not None and span.variant == "mirrored" and span.scale == 1.0
    # Where the excerpt was cut: START in the work, plus where the span starts in the copy.
    assert abs(span.work_offset_s - (START + span.copy_offset_s)) <= 1.0
    assert span.duration_s >= 5.0 and span.work_duration_s > 17 and 7 < span.copy_duration_s < 9
    pairs = report.frame_pairs
    assert len(pairs) == 4 and report.picture == FRAMES_PICTURE
    assert len({p.copy_s for p in pairs}) == 4
    for pair in pairs:
        assert pair.copy_frame and pair.work_frame
        # Each pair is where the span puts it, at the span's speed (the copy's own: the
        # excerpt is of a 4-s loop, which the PAL speed-up fits as closely: PictureMatch.key).
        in_copy = pair.copy_s - span.copy_offset_s
        assert abs(pair.work_s - (span.work_offset_s + span.scale * in_copy)) < 0.02
        assert pair.distance is not None and pair.distance < 64, pair  # alike, once flipped back
    # The picture shows those frames: each row's copy, flipped back, is its work frame.
    picture = Image.open(io.BytesIO(evidence.picture))
    assert picture.format == "PNG"
    for copy, work in _boxes(evidence.picture, 4):
        assert copy.std() > 10 and work.std() > 10
        assert np.abs(copy[:, ::-1].astype(int) - work.astype(int)).mean() < 40
    # And in report.json, as a reader's tools see it.
    again = type(report).model_validate_json(report.model_dump_json())
    assert again.frame_pairs == pairs


def test_a_withheld_reference_leaves_the_works_side_grey(
    case: tuple[Settings, Work, Alert, bytes, bytes],
) -> None:
    evidence = _report(case, withhold=True)
    pairs = evidence.report.frame_pairs
    assert [(p.copy_frame, p.work_frame, p.distance) for p in pairs] == [(True, False, None)] * 4
    for copy, work in _boxes(evidence.picture, 4):
        assert copy.std() > 10 and work.std() < 1


def test_the_web_archive_keeps_a_streams_manifest_and_sampled_segments(
    app: App, tmp_path: Path
) -> None:
    """A stream's media capture spans its manifest and the segments the crawler sampled
    (tanba.crawlers); the package's WACZ carries all of them, after the page."""
    from scrapy.http import Request, Response

    from tanba.crawlers.warc import WarcWriter

    base = "http://kino.example.kz/hls/"
    alert = with_page_capture(
        make_alert(media="video", media_url=base + "index.m3u8"), app.captures_dir,
        app.clock,
    )  # fmt: skip
    exchanges = [("index.m3u8", b"#EXTM3U\n#EXTINF:4,\ns3.ts\n#EXTINF:4,\ns9.ts\n")]
    exchanges += [(f"s{n}.ts", bytes([0x47]) * 188 * 4) for n in (3, 9)]
    writer = WarcWriter(app.captures_dir, "test/stream.warc.gz", clock=app.clock)
    try:
        refs = [
            writer.write(Response(base + name, body=body, request=Request(base + name)))
            for name, body in exchanges
        ]
    finally:
        writer.close()
    span = CaptureRef(
        warc=refs[0].warc,
        offset=refs[0].offset,
        length=refs[-1].offset + refs[-1].length - refs[0].offset,
    )
    wacz = web_archive(app, alert.model_copy(update={"media_capture": span}), None, "2026-12-07")
    uris = []
    with zipfile.ZipFile(io.BytesIO(wacz)) as z:
        for name in sorted(n for n in z.namelist() if n.endswith(".warc.gz")):
            for record in ArchiveIterator(io.BytesIO(z.read(name))):
                if record.rec_type == "response":
                    uris.append(record.rec_headers.get_header("WARC-Target-URI"))
    assert uris == [alert.page_url] + [base + name for name, _ in exchanges]


def test_the_demo_films_package_shows_its_frame_pairs_in_the_report(
    demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    """The demo's film excerpt, exported: report.json, frames.png and the PDF's rows."""
    alert = alerts(demo_case)["kino.example.kz/video/blupi.mp4"]
    out = tmp_path / "film.zip"
    status, _ = run(
        demo_case.home, "export", alert.id, "-o", str(out), "--lang", "en", "--no-recapture",
        key=signing_key,
    )  # fmt: skip
    assert status == 0
    files = members(out)
    assert {"match/frames.png", "found/media.mp4", "work/reference.mkv"} <= set(files)
    report = json.loads(files["match/report.json"])
    assert report["picture"] == "frames.png" and report["video_span"]["evidence"] == "both"
    assert abs(report["video_span"]["work_offset_s"] - 5.0) <= 1.0
    pairs = report["frame_pairs"]
    assert len(pairs) == 4 and all(p["copy_frame"] and p["work_frame"] for p in pairs)
    assert all(p["distance"] < 64 for p in pairs), pairs
    manifest = json.loads(files["manifest.json"])
    assert "match/frames.png" in {f["path"] for f in manifest["files"]}
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=files["report.pdf"], capture_output=True, check=True,
        timeout=60,
    ).stdout.decode()  # fmt: skip
    said = " ".join(text.split())
    assert "What agreed the picture and the sound" in said
    assert said.count("Frames at") == 4 and said.count("of 256 bits") == 4


def test_a_muted_copy_of_a_looping_cartoon_lists_every_position_in_the_report(
    case: tuple[Settings, Work, Alert, bytes, bytes], tmp_path: Path
) -> None:
    """win005's picture repeats every 4.0 s: a muted excerpt has as many right positions, and
    the report (report.json's match) lists each with the frames that made it."""
    settings, work, _alert, reference, _found = case
    copy = excerpt(tmp_path, CARTOON, "muted", ["-an"], start=START, seconds=8)
    found = fingerprint_file(copy, "c" * 64, settings)
    signal = VideoSignal(settings)
    signal.add("cartoon", work.fingerprint)
    [match] = signal.match(found)
    alert = make_alert(
        work_id="cartoon", media="video", match=match.detail, score=match.score,
        work_title=work.title, media_sha256=found.sha256, media_url="http://kino.example.kz/m.mp4",
    )  # fmt: skip
    report = build_match_report(settings, alert, work, reference, copy.read_bytes(), "en").report
    again = type(report).model_validate_json(report.model_dump_json())
    positions = again.match.positions
    assert again.match.evidence == "picture" and len(positions) >= 2
    starts = [p.offset_s - p.query_offset_s for p in positions]
    assert any(abs(s - START) <= 1.0 for s in starts), starts  # where it was cut is listed
    for s in starts:  # and every other is a whole number of loops away
        assert abs((s - START) / 4.0 - round((s - START) / 4.0)) * 4.0 <= 1.0, starts
    assert all(p.evidence == "picture" and p.frames and p.ber is None for p in positions)
