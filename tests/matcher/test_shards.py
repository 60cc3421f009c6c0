"""Matcher shards: every work in exactly one shard, and a bad shard named with its syntax."""

from __future__ import annotations

import pytest

from tanba.core.exceptions import SettingsError
from tanba.core.settings import Settings
from tanba.core.shards import Shard


def test_every_work_lives_in_exactly_one_shard_and_always_the_same() -> None:
    ids = [f"work-{i}" for i in range(2000)]
    for count in (1, 2, 3, 7):
        shards = [Shard(i, count) for i in range(count)]
        owners = [[s for s in shards if s.holds(w)] for w in ids]
        assert all(len(o) == 1 for o in owners)
        sizes = [sum(1 for o in owners if o[0] == s) for s in shards]
        assert min(sizes) > len(ids) / count * 0.8  # spread evenly, not all in one
    # A stable hash, not Python's salted hash(): these are fixed for every process.
    assert [Shard(i, 2).holds("w0") for i in (0, 1)] == [True, False]
    assert [Shard(i, 2).holds("w3") for i in (0, 1)] == [False, True]


def test_each_shard_has_a_group_of_its_own_and_one_shard_keeps_the_old_group() -> None:
    assert Shard(0, 1).group("tanba-matcher") == "tanba-matcher"
    groups = {Shard(i, 3).group("tanba-matcher") for i in range(3)}
    assert len(groups) == 3 and "tanba-matcher" not in groups


@pytest.mark.parametrize("text", ["2/2", "1", "a/b", "-1/2", "0/0", "1/2/3"])
def test_a_bad_shard_is_refused_with_the_syntax(text: str) -> None:
    with pytest.raises(SettingsError, match="I/N"):
        Shard.parse(text)
    with pytest.raises(SettingsError, match="I/N"):
        Settings.from_env({"TANBA_MATCHER_SHARD": text})


def test_the_setting_and_its_text_round_trip() -> None:
    assert (
        str(Shard.parse(Settings.from_env({"TANBA_MATCHER_SHARD": "1/4"}).matcher_shard)) == "1/4"
    )
