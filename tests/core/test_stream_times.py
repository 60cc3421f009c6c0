"""A match found in a sampled stream says where in the stream, not where in the joined file."""

from __future__ import annotations

from tanba.core.alerts import MatchDetail, in_stream_time
from tanba.core.schemas.matches import MatchPosition
from tanba.core.schemas.stream import HLS, StreamPiece, StreamSample


def _stream() -> StreamSample:
    """Three 6 s segments taken at 0, 2,400 and 4,800 s of a two-hour film, joined."""
    pieces = [
        StreamPiece(stream_start_s=start, file_start_s=6.0 * k, duration_s=6.0, urls=[], bytes=1)
        for k, start in enumerate((0.0, 2400.0, 4800.0))
    ]
    return StreamSample(protocol=HLS, manifest_url="https://kino.example.kz/f.m3u8", pieces=pieces)


def test_copy_side_times_move_to_the_stream_and_work_side_times_stay() -> None:
    detail = MatchDetail(
        algorithm="pdq",
        offset_s=612.0,
        query_offset_s=7.5,
        duration_s=4.0,
        positions=[
            MatchPosition(offset_s=612.0, query_offset_s=7.5, duration_s=4.0, ber=0.1),
            MatchPosition(offset_s=30.0, query_offset_s=13.0, duration_s=4.0, ber=0.2),
        ],
    )
    moved = in_stream_time(detail, _stream())
    assert moved.query_offset_s == 2401.5  # 1.5 s into the second segment
    assert [s.query_offset_s for s in moved.positions] == [2401.5, 4801.0]
    assert (moved.offset_s, moved.duration_s) == (612.0, 4.0)  # in the work: unchanged


def test_a_time_outside_every_piece_and_a_file_that_is_no_stream_are_left_as_they_are() -> None:
    detail = MatchDetail(algorithm="pdq", query_offset_s=30.0)
    assert in_stream_time(detail, _stream()).query_offset_s == 30.0
    assert in_stream_time(detail, None) is detail
    assert in_stream_time(MatchDetail(algorithm="phash64"), _stream()).query_offset_s is None


def test_a_span_aligned_across_a_join_is_the_piece_holding_most_of_it() -> None:
    """0.1 s at the end of the second piece, 3.9 s into the third: the third's passage."""
    detail = MatchDetail(algorithm="pdq", offset_s=100.0, query_offset_s=11.9, duration_s=4.0)
    moved = in_stream_time(detail, _stream())
    assert (moved.query_offset_s, moved.offset_s, moved.duration_s) == (4800.0, 100.1, 3.9)
