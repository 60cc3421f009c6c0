"""A match detail stored by an earlier version reads as the current one (positions)."""

from __future__ import annotations

import json

from tanba.core.alerts import Alert
from tanba.core.schemas.matches import MATCH_DETAIL_VERSION, MatchDetail, MatchPosition
from tests.support.alerts import make_alert


def test_a_version_1_detail_with_spans_reads_its_spans_as_positions() -> None:
    stored = {
        "algorithm": "chromaprint2-raw",
        "ber": 0.05,
        "offset_s": 20.0,
        "query_offset_s": 0.0,
        "duration_s": 8.0,
        "spans": [
            {"offset_s": 20.0, "query_offset_s": 0.0, "duration_s": 8.0, "ber": 0.05},
            {"offset_s": 52.0, "query_offset_s": 0.0, "duration_s": 8.0, "ber": 0.02},
        ],
    }
    detail = MatchDetail.model_validate(stored)
    assert detail.version == MATCH_DETAIL_VERSION == 2
    assert [p.offset_s for p in detail.positions] == [20.0, 52.0]
    assert [p.score for p in detail.positions] == [None, None]  # not recorded then


def test_a_version_1_audio_detail_without_spans_has_its_one_position() -> None:
    detail = MatchDetail.model_validate_json(
        json.dumps(
            {"algorithm": "chromaprint2-raw", "ber": 0.1, "offset_s": 99.5, "duration_s": 10}
        )
    )
    assert detail.positions == [
        MatchPosition(offset_s=99.5, query_offset_s=0.0, duration_s=10.0, ber=0.1)
    ]


def test_an_image_detail_has_no_positions_and_a_new_one_round_trips() -> None:
    assert MatchDetail.model_validate({"algorithm": "phash64", "distance": 3}).positions == []
    detail = MatchDetail(
        algorithm="chromaprint2-raw",
        ber=0.05,
        offset_s=20.0,
        positions=[
            MatchPosition(offset_s=20.0, query_offset_s=0.0, duration_s=8.0, ber=0.05, score=0.9),
            MatchPosition(offset_s=52.0, query_offset_s=0.0, duration_s=8.0, ber=0.02, score=0.8),
        ],
    )
    again = MatchDetail.model_validate_json(detail.model_dump_json())
    assert again == detail


def test_an_alert_stored_before_positions_reads() -> None:
    alert = make_alert(media="audio")
    stored = json.loads(alert.model_dump_json())
    stored["match"].pop("positions")
    stored["match"].pop("version")
    stored["match"]["spans"] = [
        {"offset_s": 1.0, "query_offset_s": 0.0, "duration_s": 5.0, "ber": 0.1},
        {"offset_s": 30.0, "query_offset_s": 0.0, "duration_s": 5.0, "ber": 0.12},
    ]
    read = Alert.model_validate_json(json.dumps(stored))
    assert [p.offset_s for p in read.match.positions] == [1.0, 30.0]
