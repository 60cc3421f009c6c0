"""Property-based fuzzing (hypothesis) of every parser that reads outside input.

Bounded: the number of examples comes from the hypothesis profile (``ci`` by
default, ``report`` when ``python -m bench.reliability`` runs them,
selected by ``TANBA_FUZZ_PROFILE``), and no example has a deadline. Targets:

- media extraction from HTML (``tanba.crawlers.extract.extract``): structured pages
  of media-bearing tags with hostile attribute values, declared charsets and
  base URLs; never raises, yields only absolute http(s) URLs, and still finds the
  image each page shows first (extract answers a crash with an empty result);
- the targets file (``tanba.core.targets.parse_targets``): YAML text and
  structured documents near the real schema; a list of valid targets or
  :class:`TargetsError`, nothing else;
- the works CSV (``tanba.fingerprint.registration.read_manifest``): a list of specs or
  :class:`InputError`;
- event decoding (``tanba.core.schemas.base.decode``) with every event type:
  mutated real envelopes decode to the type or raise :class:`EventDecodeError`;
- evidence verification (``tanba.evidence.verify.verify_package``): any bytes, and
  real sealed packages with members changed, added or removed, or bytes
  flipped; never raises, and a package whose content changed never verifies.

Crashes found are kept as explicit regression examples (``@example``) or, when an
example cannot name the input stably, as a regression test beside the property.
"""

from __future__ import annotations

import functools
import io
import json
import os
import zipfile
from datetime import UTC, datetime

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tanba.core.exceptions import EventDecodeError, InputError, TargetsError
from tanba.core.schemas.base import Event, decode, encode
from tanba.core.targets import ALLOWED_KEYS, parse_targets
from tanba.crawlers.extract import extract
from tanba.fingerprint.registration import read_manifest

settings.register_profile(
    "ci", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "report", max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("TANBA_FUZZ_PROFILE", "ci"))

# -- HTML -----------------------------------------------------------------------------------

_TAGS = ("img", "source", "audio", "video", "a", "link", "meta", "div", "picture", "base", "style")
_ATTRS = (
    "src", "srcset", "data-src", "data-srcset", "href", "content", "property", "name",
    "style", "poster", "type", "data-original", "data-lazy-src",
)  # fmt: skip
_NASTY = st.sampled_from(
    [
        "", " ", "javascript:alert(1)", "data:image/png;base64,AAAA", "//cdn.example.ru/a.jpg",
        "http://[::1", "http://[", "http://a:99999/x.jpg", "http://a:-1/x.jpg", "mailto:x@y",
        "url(", "url('')", "url(\\", "background-image:url(x.jpg", "a.jpg 1x, , ,", ", 2x",
        "\x00", "\ud7ff", "%", "%zz", "../" * 50, "x.jpg" + " " * 500, "http://ex\u0430mple.kz/",
        "file:///etc/passwd", "http://169.254.169.254/", "og:image", "twitter:image",
    ]
)  # fmt: skip
_VALUE = st.one_of(_NASTY, st.text(max_size=60))
_ELEMENT = st.builds(
    lambda tag, attrs, inner: "<{}{}>{}</{}>".format(
        tag, "".join(f' {k}="{v}"' for k, v in attrs), inner, tag
    ),
    st.sampled_from(_TAGS),
    st.lists(st.tuples(st.sampled_from(_ATTRS), _VALUE), max_size=4),
    st.text(max_size=20),
)
_CHARSETS = st.sampled_from(["utf-8", "windows-1251", "koi8-r", "x-bogus", "utf-16", "", "latin1"])


@given(
    elements=st.lists(_ELEMENT, max_size=12),
    charset=_CHARSETS,
    base=st.sampled_from(
        ["http://kino.example.kz/a/b.html", "https://kino.example.kz", "http://[::1]:8080/"]
    ),
    as_bytes=st.booleans(),
    garbage=st.binary(max_size=40),
)
def test_extract_never_raises_and_yields_only_absolute_http_urls(
    elements: list[str], charset: str, base: str, as_bytes: bool, garbage: bytes
) -> None:
    head = f'<meta charset="{charset}">' if charset else ""
    # extract() answers any failure with an empty result, so an image every page shows
    # first must come out: a crash on every input would otherwise pass unseen.
    body = f'<img src="/fuzz-sentinel.jpg">{"".join(elements)}'
    html = f"<html><head>{head}</head><body>{body}</body></html>"
    found = extract(html.encode("utf-8", "surrogatepass") + garbage if as_bytes else html, base)
    for url in [m.url for m in found.media] + list(found.links):
        assert url.startswith(("http://", "https://")), url
    if not (as_bytes and charset == "utf-16"):  # UTF-8 bytes read as UTF-16 are other text
        assert any(m.url.endswith("/fuzz-sentinel.jpg") for m in found.media)


# -- targets --------------------------------------------------------------------------------

_SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=30),
)
_FIELD_VALUE = st.one_of(
    _SCALAR,
    st.lists(st.one_of(_SCALAR, st.sampled_from(["http://kino.example.kz/", "kino.example.kz"]))),
    st.dictionaries(st.text(max_size=5), _SCALAR, max_size=3),
)
_TARGET = st.dictionaries(
    st.one_of(st.sampled_from(ALLOWED_KEYS), st.text(max_size=8)), _FIELD_VALUE, max_size=8
)


@given(
    document=st.one_of(_SCALAR, st.dictionaries(st.just("targets"), st.lists(_TARGET, max_size=3)))
)
@example(document={"targets": [{"name": "a", "seeds": ["http://a:0/"]}]})
@example(document={"targets": [{"name": "a", "seeds": ["http://a/"], "allowed_networks": [7]}]})
def test_targets_are_valid_or_refused_with_a_targets_error(document: object) -> None:
    _valid_or_refused(yaml.safe_dump(document, allow_unicode=True))


@given(text=st.text(max_size=400))
@example(text="targets:\n  - name: [unclosed\n")
@example(text="targets: !!python/object:os.system ls\n")
@example(text="targets:\n  - {name: a, seeds: ['http://a.kz/']}\n")
def test_any_targets_text_is_valid_or_refused_with_a_targets_error(text: str) -> None:
    _valid_or_refused(text)


def _valid_or_refused(text: str) -> None:
    """Targets that can be crawled, or a TargetsError that names the file; nothing else."""
    try:
        targets = parse_targets(text, source="fuzz.yaml")
    except TargetsError as exc:
        assert "fuzz.yaml" in str(exc)
        return
    for target in targets:
        assert target.seeds and all(s.startswith(("http://", "https://")) for s in target.seeds)
        assert target.max_pages >= 1 and target.pattern_budget >= 1


# -- works CSV ------------------------------------------------------------------------------

_HEADER = "path,work_id,owner,title,territories,licensees"
_CELL = st.one_of(
    st.text(max_size=15), st.sampled_from(['"', '""', ",", "\n", "KZ;RU", ";;", "a.jpg"])
)


@given(
    header=st.one_of(st.just(_HEADER), st.text(max_size=60)),
    rows=st.lists(st.lists(_CELL, max_size=8), max_size=5),
    raw=st.binary(max_size=30),
)
@example(header=_HEADER, rows=[["a.jpg", "w", "o", "t", "", "x:2020-13-45"]], raw=b"")
def test_manifest_is_parsed_or_refused_with_an_input_error(
    tmp_path_factory: pytest.TempPathFactory, header: str, rows: list[list[str]], raw: bytes
) -> None:
    out = io.StringIO()
    out.write(header + "\n")
    for row in rows:
        out.write(",".join(f'"{c}"' if i % 2 else c for i, c in enumerate(row)) + "\n")
    path = tmp_path_factory.mktemp("csv") / "works.csv"
    path.write_bytes(out.getvalue().encode("utf-8", "surrogatepass") + raw)
    try:
        specs = read_manifest(path)
    except InputError:
        return
    for spec in specs:
        assert spec.path.is_absolute() or spec.path.parent == path.parent


# -- events ---------------------------------------------------------------------------------


def _event_types() -> list[type[Event]]:
    import tanba.core.schemas  # noqa: F401 - every schema module, so subclasses are defined
    from tanba.core.schemas import (  # noqa: F401
        crawls,
        custody,
        deadletter,
        fingerprints,
        gather,
        media,
        quarantine,
        suppressions,
        works,
    )

    found: list[type[Event]] = []
    stack = list(Event.__subclasses__())
    while stack:
        kind = stack.pop()
        stack.extend(kind.__subclasses__())
        if hasattr(kind, "SCHEMA"):
            found.append(kind)
    return sorted(found, key=lambda k: k.SCHEMA)


EVENT_TYPES = _event_types()


def _mutate(value: object, data: st.DataObject) -> object:
    """A JSON value with some parts replaced, dropped or retyped."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            choice = data.draw(st.integers(0, 9))
            if choice == 0:
                continue  # drop the field
            out[k] = data.draw(_SCALAR) if choice == 1 else _mutate(v, data)
        return out
    if isinstance(value, list):
        return [_mutate(v, data) for v in value if data.draw(st.integers(0, 5))]
    return data.draw(_SCALAR) if data.draw(st.integers(0, 5)) == 0 else value


def _sample(kind: type[Event]) -> dict[str, object]:
    """A plausible envelope for ``kind`` built from its JSON schema's required fields."""
    return json.loads(_sample_json(kind))


@functools.cache
def _sample_json(kind: type[Event]) -> str:
    """:func:`_sample` as JSON, made once per event type.

    pydantic takes milliseconds to build a schema, and the mutation test asks for a
    sample once per example; each example gets its own copy to mutate.
    """
    schema = kind.model_json_schema()
    envelope = {"schema": kind.SCHEMA, "version": kind.VERSION, "data": _instance(schema, schema)}
    return json.dumps(envelope)


def _instance(node: dict, root: dict) -> object:
    if "$ref" in node:
        return _instance(root["$defs"][node["$ref"].rsplit("/", 1)[1]], root)
    for combined in ("anyOf", "oneOf", "allOf"):
        if combined in node:
            return _instance(node[combined][0], root)
    kind = node.get("type")
    if "enum" in node:
        return node["enum"][0]
    if "const" in node:
        return node["const"]
    if node.get("contentEncoding") == "base64":
        return "eA=="  # b"x"
    if kind == "object":
        props = node.get("properties", {})
        return {k: _instance(v, root) for k, v in props.items()}
    if kind == "array":
        return [_instance(node.get("items", {}), root)]
    return {"string": "x", "integer": 1, "number": 1.0, "boolean": True, "null": None}.get(
        str(kind), "x"
    )


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.SCHEMA)
def test_every_event_type_round_trips(kind: type[Event]) -> None:
    event = decode(json.dumps(_sample(kind)).encode(), kind)
    assert decode(encode(event), kind) == event


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.SCHEMA)
@given(data=st.data())
def test_mutated_events_decode_or_raise_event_decode_error(
    kind: type[Event], data: st.DataObject
) -> None:
    envelope = _mutate(_sample(kind), data)
    raw = json.dumps(envelope).encode()
    if data.draw(st.booleans()):
        cut = data.draw(st.integers(0, len(raw)))
        raw = raw[:cut] + data.draw(st.binary(max_size=8)) + raw[cut:]
    try:
        event = decode(raw, *EVENT_TYPES)
    except EventDecodeError as exc:
        assert str(exc)  # says what is wrong
        return
    # What was accepted is a whole event: it encodes and decodes to itself.
    assert isinstance(event, tuple(EVENT_TYPES))
    assert decode(encode(event), type(event)) == event


# -- evidence verification ------------------------------------------------------------------


def _sealed_package() -> tuple[bytes, dict[str, bytes], bytes]:
    """A small real package: (zip bytes, its members, the signer's public key PEM)."""
    import hashlib

    from tanba.evidence import manifest as mf
    from tanba.evidence.archive import write_zip, zip_time
    from tanba.evidence.signing import ALGORITHM, SigningKey

    key = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(32))), "fuzz key")
    files = {
        "case/alert.json": b'{"id": "a1", "work_id": "photo-a"}\n',
        "found/media.jpg": bytes(range(256)) * 8,
        "README.txt": "Пакет доказательств / evidence package\n".encode(),
    }
    manifest = mf.Manifest(
        alert_id="a1",
        created_at="2026-03-01T12:00:00Z",
        created_by="fuzz",
        software="tanba",
        language="ru",
        public_key=mf.KeyRef(algorithm=ALGORITHM, fingerprint=key.fingerprint),
        files=[
            mf.FileEntry(path=p, sha256=hashlib.sha256(d).hexdigest(), bytes=len(d))
            for p, d in sorted(files.items())
        ],
    )
    manifest_json = mf.manifest_bytes(manifest)
    import base64

    members = dict(files)
    members[mf.MANIFEST] = manifest_json
    members[mf.SIGNATURE] = base64.b64encode(key.sign(manifest_json)) + b"\n"
    members[mf.PUBLIC_KEY] = key.public_pem()
    when = zip_time(datetime(2026, 3, 1, 12, tzinfo=UTC))
    return write_zip(members, when=when, stored={"found/media.jpg"}), members, key.public_pem()


def _verify(data: bytes, pem: bytes):  # type: ignore[no-untyped-def]
    from tanba.evidence.signing import fingerprint, load_public_key
    from tanba.evidence.trust import TrustedKey
    from tanba.evidence.verify import verify_package

    key = load_public_key(pem, "fuzz key")
    return verify_package(data, [TrustedKey(fingerprint(key), "fuzz key", key)], name="fuzz.zip")


def _members(data: bytes) -> dict[str, bytes] | None:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            return {i.filename: archive.read(i.filename) for i in archive.infolist()}
    except Exception:  # unreadable: not equal to anything
        return None


PACKAGE, MEMBERS, PEM = _sealed_package()


def test_the_sealed_package_verifies() -> None:
    result = _verify(PACKAGE, PEM)
    assert result.ok, result.problems


@given(data=st.binary(max_size=3000))
@example(data=b"PK\x05\x06" + b"\0" * 18)
def test_any_bytes_are_verified_without_crashing(data: bytes) -> None:
    assert not _verify(data, PEM).ok


@given(
    flips=st.lists(st.tuples(st.integers(0, len(PACKAGE) - 1), st.integers(1, 255)), max_size=4),
    cut=st.one_of(st.none(), st.integers(0, len(PACKAGE))),
)
def test_damaged_packages_never_crash_and_never_pass_with_changed_content(
    flips: list[tuple[int, int]], cut: int | None
) -> None:
    data = bytearray(PACKAGE)
    for at, xor in flips:
        data[at] ^= xor
    damaged = bytes(data[:cut] if cut is not None else data)
    result = _verify(damaged, PEM)
    if result.ok:
        assert _members(damaged) == MEMBERS  # only bytes no reader looks at were changed


def test_regression_a_zip_version_zipfile_does_not_know_is_reported_not_raised() -> None:
    # Found by the fuzz test above: one flipped byte in the central directory's
    # "version needed to extract" made zipfile raise NotImplementedError out of the verifier.
    data = bytearray(PACKAGE)
    central = data.find(b"PK\x01\x02")
    data[central + 6] = 84  # version 8.4
    result = _verify(bytes(data), PEM)
    assert not result.ok and "not a readable zip archive" in result.problems[0]


@given(
    changed=st.dictionaries(
        st.sampled_from([*sorted(MEMBERS), "extra.txt", "case/../../x"]),
        st.one_of(st.none(), st.binary(max_size=50)),
        min_size=1,
        max_size=3,
    )
)
def test_changed_added_or_removed_members_are_reported(changed: dict[str, bytes | None]) -> None:
    from tanba.evidence.archive import write_zip

    members = dict(MEMBERS)
    for name, content in changed.items():
        if content is None:
            members.pop(name, None)
        else:
            members[name] = content
    result = _verify(write_zip(members, when=(2026, 3, 1, 12, 0, 0)), PEM)
    assert result.ok == (members == MEMBERS)
    if not result.ok:
        assert result.problems and all(isinstance(p, str) and p for p in result.problems)
