"""tanba.core.targets: a valid file, defaults, and an error naming the field for each mistake."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.exceptions import InputError, TargetsError
from tanba.core.hosts import unicode_host
from tanba.core.resolve import parse_resolve
from tanba.core.targets import (
    ALLOWED_KEYS,
    LIMITS,
    Target,
    TargetInvalid,
    check_target,
    load_targets,
    parse_targets,
    target_fields,
)

VALID = """
targets:
  - name: kino-site
    seeds: ["http://kino.example.kz:8081/"]
    allowed_domains: ["kino.example.kz"]
    max_depth: 3
    max_pages: 500
    jurisdiction: KZ
  - name: muz_2
    seeds: ["https://muz.example.ru/", "https://www.muz.example.ru/top"]
    jurisdiction: ru
    delay_s: 1.5
    allow_private_addresses: true
    paused: true
"""


def test_valid_file(tmp_path: Path) -> None:
    path = tmp_path / "targets.yaml"
    path.write_text(VALID, encoding="utf-8")
    kino, muz = load_targets(path)
    assert kino == Target(
        name="kino-site",
        seeds=("http://kino.example.kz:8081/",),
        allowed_domains=("kino.example.kz",),
        max_depth=3,
        max_pages=500,
        jurisdiction="KZ",
    )
    assert muz.allowed_domains == ("muz.example.ru", "www.muz.example.ru")  # seeds' hosts
    assert muz.jurisdiction == "RU"  # upper-cased
    assert muz.delay_s == 1.5
    assert muz.allow_private_addresses and muz.paused


def test_defaults() -> None:
    (t,) = parse_targets('targets: [{name: a, seeds: ["http://Example.KZ:81/x"]}]')
    assert t.allowed_domains == ("example.kz",)
    assert (t.max_depth, t.max_pages, t.jurisdiction) == (3, 500, "")
    assert (t.allow_private_addresses, t.delay_s, t.paused) == (False, None, False)


def test_targets_error_is_an_input_error() -> None:
    assert issubclass(TargetsError, InputError)


def error(text: str) -> str:
    with pytest.raises(TargetsError) as caught:
        parse_targets(text, source="t.yaml")
    message = str(caught.value)
    assert message.startswith("t.yaml:")
    return message


def one(extra: str, name: str = "a") -> str:
    return f'targets:\n  - name: {name}\n    seeds: ["https://a.example.kz/"]\n{extra}'


@pytest.mark.parametrize(
    ("text", "field", "hint"),
    [
        (one("    max_dept: 2\n"), "max_dept", "allowed keys are name, seeds"),
        (one("    max_depth: -1\n"), "max_depth", "from 0 to 1,000"),
        (one("    max_depth: yes\n"), "max_depth", "whole number"),
        (one("    max_pages: 0\n"), "max_pages", "from 1 to 1,000,000"),
        (one("    max_pages: '10'\n"), "max_pages", "whole number"),
        (one("    jurisdiction: FR\n"), "jurisdiction", "one of AM"),
        (one("    jurisdiction: 7\n"), "jurisdiction", "one of AM"),
        (one("    allow_private_addresses: 'no'\n"), "allow_private_addresses", "true or false"),
        (one("    paused: 1\n"), "paused", "true or false"),
        (one("    delay_s: -1\n"), "delay_s", "from 0 to 60"),
        (one("    allowed_domains: example.kz\n"), "allowed_domains", "list of host names"),
        (one("    allowed_domains: ['https://a.example.kz/']\n"), "allowed_domains", "bare host"),
        (one("    allowed_domains: ['other.kz']\n"), "allowed_domains", "add 'a.example.kz'"),
        (one("", name="Kino Site"), "name", "lower-case letters"),
        ("targets:\n  - seeds: ['https://a.kz/']\n", "name", "required"),
        ("targets:\n  - name: a\n", "seeds", "at least one"),
        ("targets:\n  - name: a\n    seeds: []\n", "seeds", "at least one"),
        ("targets:\n  - name: a\n    seeds: https://a.kz/\n", "seeds", "must be a list"),
        ("targets:\n  - name: a\n    seeds: ['ftp://a.kz/']\n", "seeds", "http:// or https://"),
        ("targets:\n  - name: a\n    seeds: ['a.kz']\n", "seeds", "http:// or https://"),
        ("targets:\n  - name: a\n    seeds: ['http://a.kz:x/']\n", "seeds", "http:// or https://"),
    ],
)
def test_each_error_names_the_target_and_field(text: str, field: str, hint: str) -> None:
    message = error(text)
    assert f"field '{field}'" in message
    assert "target " in message
    assert hint in message


def test_error_names_the_target_by_name_or_position() -> None:
    assert "target 'a' (#1)" in error(one("    max_pages: 0\n"))
    assert "target #1" in error("targets:\n  - seeds: ['https://a.kz/']\n")
    second = "targets:\n  - {name: a, seeds: ['https://a.kz/']}\n  - {name: b, max_depth: x}\n"
    assert "target 'b' (#2), field 'seeds'" in error(second)


def test_duplicate_names() -> None:
    text = "targets:\n  - {name: a, seeds: ['https://a.kz/']}\n  - {name: a, seeds: ['https://b.kz/']}\n"
    message = error(text)
    assert "target 'a' (#2), field 'name'" in message and "target #1" in message


def test_bad_yaml_names_the_line() -> None:
    message = error("targets:\n  - name: a\n    seeds: [unclosed\n  - name: b\n")
    assert "not valid YAML at line" in message


@pytest.mark.parametrize(
    ("text", "hint"),
    [
        ("", "'targets' list"),
        ("- name: a\n", "'targets' list"),
        ("targets: []\n", "non-empty list"),
        ("targets: {name: a}\n", "non-empty list"),
        ("targets:\n  - just-a-string\n", "expected a mapping"),
        ("targets: [{name: a, seeds: ['https://a.kz/']}]\ntarget: []\n", "unknown top-level"),
    ],
)
def test_file_shape_errors(text: str, hint: str) -> None:
    assert hint in error(text)


def test_unreadable_file_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(TargetsError, match=r"missing\.yaml"):
        load_targets(tmp_path / "missing.yaml")


def test_allowed_keys_are_the_target_fields_but_the_registry_id() -> None:
    assert set(ALLOWED_KEYS) == set(Target.__dataclass_fields__) - {"id"}


def test_allowed_networks_and_pattern_budget() -> None:
    (target,) = parse_targets(
        'targets:\n  - name: intra\n    seeds: ["http://intra.example.kz/"]\n'
        '    allowed_networks: ["10.20.0.0/16", "192.168.1.5", "fd00::/8"]\n'
        "    max_pages_per_pattern: 7\n"
    )
    assert target.allowed_networks == ("10.20.0.0/16", "192.168.1.5/32", "fd00::/8")
    assert target.pattern_budget == 7
    assert Target(name="t", seeds=("http://a.kz/",), max_pages=500).pattern_budget == 250
    assert Target(name="t", seeds=("http://a.kz/",), max_pages=10).pattern_budget == 50


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("allowed_networks", '"10.0.0.0/8"'),
        ("allowed_networks", '["10.0.0.0/33"]'),
        ("allowed_networks", '["intranet"]'),
        ("max_pages_per_pattern", "-1"),
        ("max_pages_per_pattern", "many"),
    ],
)
def test_bad_network_or_pattern_budget_names_the_field(field: str, value: str) -> None:
    text = f'targets:\n  - name: t\n    seeds: ["http://a.kz/"]\n    {field}: {value}\n'
    with pytest.raises(TargetsError, match=f"field '{field}'"):
        parse_targets(text)


def test_internationalised_hosts_are_accepted_and_kept_in_their_ascii_form(tmp_path: Path) -> None:
    """Users write Cyrillic and Kazakh domains as they read them (issue: 'фильмы.рф' refused)."""
    path = tmp_path / "t.yaml"
    path.write_text(
        "targets:\n"
        "  - name: kino-rf\n"
        '    seeds: ["https://ФИЛЬМЫ.рф/новинки"]\n'
        '    allowed_domains: ["фильмы.рф", "мысал.қаз"]\n',
        encoding="utf-8",
    )
    (target,) = load_targets(path)
    assert target.allowed_domains == ("xn--h1agd3a1be.xn--p1ai", "xn--80awbu3c.xn--80ao21a")
    assert target.seeds == (
        "https://xn--h1agd3a1be.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%B8%D0%BD%D0%BA%D0%B8",
    )
    assert unicode_host(target.allowed_domains[1]) == "мысал.қаз"
    assert parse_resolve(["мысал.қаз:443:127.0.0.1"]) == {"xn--80awbu3c.xn--80ao21a": "127.0.0.1"}
    with pytest.raises(TargetsError, match="not a bare host name"):
        parse_targets(
            'targets: [{name: bad, seeds: ["https://a.kz/"], allowed_domains: ["a..kz"]}]', "t"
        )


# -- limits: one validation for the file, `tanba targets` and the console ------------------


@pytest.mark.parametrize(
    ("extra", "field", "hint"),
    [
        ("    max_pages: 1000001\n", "max_pages", "from 1 to 1,000,000"),
        ("    max_pages: 999999999999\n", "max_pages", "from 1 to 1,000,000"),
        ("    max_depth: 1001\n", "max_depth", "from 0 to 1,000"),
        ("    max_pages_per_pattern: 1000001\n", "max_pages_per_pattern", "to 1,000,000"),
        ("    delay_s: 61\n", "delay_s", "from 0 to 60"),
        ("    delay_s: .nan\n", "delay_s", "from 0 to 60"),
        ("    schedule_hours: 0.0001\n", "schedule_hours", "(5 minutes)"),
        ("    schedule_hours: 0.08\n", "schedule_hours", "(5 minutes)"),
        ("    schedule_hours: 8761\n", "schedule_hours", "to 8,760"),
        ("    schedule_hours: -1\n", "schedule_hours", "0 (crawl only when started)"),
        ("    schedule_hours: .inf\n", "schedule_hours", "0 (crawl only when started)"),
        ("    schedule_hours: daily\n", "schedule_hours", "0 (crawl only when started)"),
    ],
)
def test_every_number_has_a_bound_and_the_error_says_it(extra: str, field: str, hint: str) -> None:
    message = error(one(extra))
    assert f"field '{field}'" in message and hint in message


def test_the_bounds_themselves_are_accepted() -> None:
    (t,) = parse_targets(
        one(
            "    max_pages: 1000000\n    max_depth: 1000\n    delay_s: 60\n"
            "    schedule_hours: 0.0833\n    max_pages_per_pattern: 1000000\n"
        )
    )
    assert (t.max_pages, t.max_depth, t.delay_s) == (1_000_000, 1000, 60.0)
    assert t.schedule_hours == 0.0833  # five minutes, as people write it in hours
    (daily,) = parse_targets(one("    schedule_hours: 8760\n"))
    assert daily.schedule_hours == LIMITS.schedule_max_hours


def test_a_long_name_or_too_many_seeds_are_refused_with_the_limit() -> None:
    long_name = "k" * (LIMITS.name_length + 1)
    message = error(f'targets:\n  - name: {long_name}\n    seeds: ["https://a.kz/"]\n')
    assert "field 'name'" in message and f"is {LIMITS.name_length + 1} characters long" in message
    assert f"use at most {LIMITS.name_length}" in message
    assert "k" * 80 not in message  # the label is cut, so the message stays readable
    (ok,) = parse_targets(f'targets: [{{name: {"k" * 100}, seeds: ["https://a.kz/"]}}]')
    assert len(ok.name) == LIMITS.name_length
    seeds = ", ".join(f'"https://a.kz/{i}"' for i in range(LIMITS.list_length + 1))
    message = error(f"targets:\n  - name: a\n    seeds: [{seeds}]\n")
    assert "field 'seeds'" in message and "at most 100 are allowed" in message
    long_url = "https://a.kz/" + "x" * LIMITS.url_length
    assert "use at most 2083" in error(f'targets:\n  - name: a\n    seeds: ["{long_url}"]\n')


def test_every_problem_of_every_target_is_reported_at_once() -> None:
    text = (
        "targets:\n"
        "  - {name: Bad Name, seeds: ['https://a.kz/'], max_pages: 0, schedule_hours: 0.001}\n"
        "  - {name: good, seeds: ['https://b.kz/']}\n"
        "  - {name: c, seeds: ['ftp://c.kz/'], delay_s: 99}\n"
    )
    with pytest.raises(TargetInvalid) as caught:
        parse_targets(text, source="t.yaml")
    fields = [(p.field, p.code) for p in caught.value.problems]
    assert fields == [
        ("name", "name_chars"),
        ("max_pages", "whole_number"),
        ("schedule_hours", "schedule"),
        ("seeds", "not_http_url"),
        ("delay_s", "delay"),
    ]
    lines = str(caught.value).splitlines()
    assert len(lines) == 5 and all(line.startswith("t.yaml: target ") for line in lines)
    assert "target 'c' (#3), field 'delay_s'" in lines[-1]


def test_check_target_is_the_one_validation_and_target_fields_its_inverse() -> None:
    target = check_target(
        {
            "name": "kino",
            "seeds": ["https://ФИЛЬМЫ.рф/"],
            "max_pages": 10,
            "schedule_hours": 24,
            "jurisdiction": "ru",
        },
        target_id="kino-2",
    )
    assert (target.id, target.key, target.jurisdiction) == ("kino-2", "kino-2", "RU")
    assert check_target(target_fields(target)) == Target(**{**target.__dict__, "id": ""})
    short = target_fields(target, all_fields=False)
    assert short == {
        "name": "kino",
        "seeds": ["https://xn--h1agd3a1be.xn--p1ai/"],
        "max_pages": 10,
        "jurisdiction": "RU",
        "schedule_hours": 24.0,
    }
    with pytest.raises(TargetInvalid) as caught:
        check_target({"name": "", "seeds": "x", "max_depth": True, "paused": "no"})
    assert {p.field: p.code for p in caught.value.problems} == {
        "name": "name_required",
        "seeds": "seeds_not_list",
        "max_depth": "whole_number",
        "paused": "true_false",
    }
    assert all(p.message for p in caught.value.problems)  # English text for the CLI
