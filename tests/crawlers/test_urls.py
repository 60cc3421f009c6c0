"""tanba.crawlers.urls: one canonical spelling per page."""

from __future__ import annotations

import pytest

from tanba.crawlers.urls import (
    canonicalize,
    host_of,
    in_domains,
    is_tracking_param,
    pattern_of,
    trap_reason,
)


@pytest.mark.parametrize(
    ("url", "canonical"),
    [
        ("HTTP://Kino.Example.KZ/Films", "http://kino.example.kz/Films"),
        ("http://kino.example.kz:80/a", "http://kino.example.kz/a"),
        ("https://kino.example.kz:443/a", "https://kino.example.kz/a"),
        ("http://kino.example.kz:8081/a", "http://kino.example.kz:8081/a"),
        ("https://kino.example.kz:80/a", "https://kino.example.kz:80/a"),
        ("http://kino.example.kz", "http://kino.example.kz/"),
        ("http://kino.example.kz./a", "http://kino.example.kz/a"),
        ("http://kino.example.kz/a#part", "http://kino.example.kz/a"),
        ("http://kino.example.kz/a?b=2&a=1", "http://kino.example.kz/a?a=1&b=2"),
        ("http://kino.example.kz/a?PHPSESSID=x&b=2", "http://kino.example.kz/a?b=2"),
        ("http://kino.example.kz/a?sid=1&sessionid=2&jsessionid=3", "http://kino.example.kz/a"),
        (
            "http://kino.example.kz/a?utm_source=tg&utm_medium=x&id=5",
            "http://kino.example.kz/a?id=5",
        ),
        ("http://kino.example.kz/a;jsessionid=ABC?x=1", "http://kino.example.kz/a?x=1"),
        ("http://kino.example.kz/a?flag", "http://kino.example.kz/a?flag="),
        ("http://[::1]:8080/a", "http://[::1]:8080/a"),
        ("http://user:pw@Kino.example.kz/", "http://user:pw@kino.example.kz/"),
        # Dot segments and click ids are folded.
        ("http://a.kz/x/../x/./p.html", "http://a.kz/x/p.html"),
        ("http://a.kz/../../p.html", "http://a.kz/p.html"),
        ("http://a.kz/a/b/..", "http://a.kz/a/"),
        ("http://a.kz/a/./", "http://a.kz/a/"),
        ("http://a.kz/p?yclid=1&fbclid=2&gclid=3&id=4", "http://a.kz/p?id=4"),
        ("http://a.kz/p?session_id=x&zenid=y", "http://a.kz/p"),
    ],
)
def test_canonicalize(url: str, canonical: str) -> None:
    assert canonicalize(url) == canonical


def test_equivalent_urls_share_one_key() -> None:
    variants = [
        "http://kino.example.kz/list?page=2&sort=new",
        "HTTP://KINO.EXAMPLE.KZ:80/list?sort=new&page=2#top",
        "http://kino.example.kz/list?sort=new&utm_campaign=x&page=2&PHPSESSID=abc",
    ]
    assert len({canonicalize(v) for v in variants}) == 1


def test_path_case_and_distinct_pages_are_kept() -> None:
    assert canonicalize("http://a.kz/A") != canonicalize("http://a.kz/a")
    assert canonicalize("http://a.kz/?page=1") != canonicalize("http://a.kz/?page=2")


@pytest.mark.parametrize("junk", ["", "not a url", "http://[bad", "http://a.kz:99999/", "mailto:x"])
def test_unparseable_urls_come_back_unchanged(junk: str) -> None:
    assert canonicalize(junk) == junk


def test_helpers() -> None:
    assert is_tracking_param("UTM_Source") and is_tracking_param("JSESSIONID")
    assert not is_tracking_param("id")
    assert host_of("http://Kino.Example.kz:8081/a") == "kino.example.kz"
    assert host_of("http://[bad") == ""
    assert in_domains("www.kino.example.kz", ("kino.example.kz",))
    assert in_domains("kino.example.kz", ["kino.example.kz"])
    assert not in_domains("evilkino.example.kz", ("kino.example.kz",))
    assert not in_domains("example.kz", ("kino.example.kz",))


@pytest.mark.parametrize(
    ("path", "resolved"),
    # RFC 3986 section 5.2.4's examples, as paths of absolute URLs.
    [("/b/c/./../../g", "/g"), ("/a/b/c/./../../g", "/a/g"), ("/no/dots", "/no/dots")],
)
def test_dot_segments_follow_rfc_3986(path: str, resolved: str) -> None:
    assert canonicalize(f"http://a.kz{path}") == f"http://a.kz{resolved}"


@pytest.mark.parametrize(
    ("variants", "same"),
    [
        (("http://a.kz/%7euser", "http://a.kz/~user"), True),
        (("http://a.kz/a%2fb", "http://a.kz/a%2Fb"), True),
        (("http://a.kz/фильм?q=ж", "http://a.kz/%D1%84%D0%B8%D0%BB%D1%8C%D0%BC?q=%D0%B6"), True),
        (("http://a.kz/a%2Fb", "http://a.kz/a/b"), False),  # an encoded slash is not a slash
        (("http://a.kz/a%3Fb", "http://a.kz/a?b"), False),
    ],
)
def test_equivalent_percent_encodings_fold_and_reserved_ones_do_not(
    variants: tuple[str, str], same: bool
) -> None:
    assert (canonicalize(variants[0]) == canonicalize(variants[1])) is same


def test_canonical_form_is_a_fixed_point() -> None:
    for url in ("HTTP://A.kz.:80/x/../%7e?utm_a=1&b=2&a=1#f", "https://a.kz:8443/фильм;sid=1?x"):
        once = canonicalize(url)
        assert canonicalize(once) == once != url


def test_pattern_of_names_the_shape_of_a_url() -> None:
    assert pattern_of("http://K.kz/calendar?month=2026-03") == pattern_of(
        "http://k.kz/calendar?month=1999-12"
    )
    assert pattern_of("http://k.kz/news/2026/03/05/") == "k.kz/news/N/N/N/"
    assert pattern_of("http://k.kz/a?x=1&b=2") == "k.kz/a?b&x"
    assert pattern_of("http://k.kz/a?sid=9") == "k.kz/a"  # session ids do not make a shape
    assert pattern_of("http://k.kz/film/12.html") != pattern_of("http://k.kz/films/12.html")
    # Percent-escapes are decoded first: /в and /г (%D0%B2, %D0%B3) are two shapes, not "%DN%BN".
    assert pattern_of("http://k.kz/в") != pattern_of("http://k.kz/г")
    assert pattern_of("http://k.kz/%D0%B2/7") == "k.kz/в/N"


def test_trap_reason() -> None:
    assert trap_reason("http://k.kz/a/a/a/a/") is not None
    assert trap_reason("http://k.kz/a/b/a/b/a/b/a/b/") is not None
    assert trap_reason("http://k.kz/a/a/a/") is None
    assert trap_reason("http://k.kz/?" + "&".join(f"p{i}=1" for i in range(40))) is not None
    assert trap_reason("http://k.kz/films/2026/hit.html") is None
