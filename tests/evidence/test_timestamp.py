"""RFC 3161 against a real (tiny) TSA on loopback: request, response, and a strict verifier."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from asn1crypto import parser, tsp
from rfc3161_client import HashAlgorithm, TimestampRequestBuilder

from tanba.evidence.exceptions import TimestampError
from tanba.evidence.timestamp import Rfc3161Client, verify_token


def test_a_token_is_obtained_and_verified(local_tsa: Any) -> None:
    token = Rfc3161Client(local_tsa.url).stamp(b"manifest bytes")
    info = verify_token(token, b"manifest bytes")
    assert info.tsa == "CN=Tanba Test TSA" and info.serial >= 1 and info.notes == ()
    assert info.policy == "1.3.6.1.4.1.55555.1.1" and info.gen_time.endswith("Z")
    with pytest.raises(TimestampError, match="for other data"):
        verify_token(token, b"other bytes")


def _field_offsets(der: bytes, offset: int = 0) -> set[int]:
    """Offsets of ``der`` that stand for every part of it: each byte of each DER header
    (tags and lengths), and the first, middle and last byte of each value. A value that
    is DER itself (the signed TSTInfo in its OCTET STRING, a signature in a BIT STRING) is
    walked the same way. The other bytes of a value (the rest of a hash, key or signature)
    are checked as a whole with the bytes beside them."""
    found: set[int] = set()
    pos = 0
    while pos < len(der):
        _, constructed, _, header, contents, trailer = parser.parse(der[pos:], strict=False)
        start = offset + pos + len(header)
        found.update(range(offset + pos, start))
        if constructed:
            found |= _field_offsets(contents, start)
        elif contents:
            found |= {start, start + len(contents) // 2, start + len(contents) - 1}
            for skip in (0, 1):  # a BIT STRING's value starts after its unused-bits byte
                with contextlib.suppress(ValueError):
                    parser.parse(contents[skip:], strict=True)
                    found |= _field_offsets(contents[skip:], start + skip)
        pos += len(header) + len(contents) + len(trailer)
    return found


def _unnoticed_changes(token: bytes, data: bytes) -> list[int]:
    """The offsets :func:`_field_offsets` picks in ``token`` where flipping one bit still verifies.

    Not every byte: each costs a whole verification, and the bytes inside one value fail
    together (a flip in a hash, a key or a signature breaks the same check wherever it is).
    """
    offsets = _field_offsets(token)
    assert {0, len(token) - 1} <= offsets  # the walk went from the first byte to the last
    missed = []
    for i in sorted(offsets):
        damaged = bytearray(token)
        damaged[i] ^= 0x01
        try:
            verify_token(bytes(damaged), data)
            missed.append(i)
        except TimestampError:
            pass
    return missed


def test_a_changed_byte_in_any_part_of_a_token_is_detected(local_tsa: Any) -> None:
    token = Rfc3161Client(local_tsa.url).stamp(b"manifest bytes")
    missed = _unnoticed_changes(token, b"manifest bytes")
    assert missed == [], f"changes at offsets {missed} of {len(token)} went unnoticed"
    with pytest.raises(TimestampError):
        verify_token(token + b"\x00", b"manifest bytes")  # trailing bytes
    with pytest.raises(TimestampError):
        verify_token(token[:-1], b"manifest bytes")


def test_a_refusal_and_an_unreachable_tsa_are_reported(tsa_class: Any) -> None:
    with tsa_class(refuse=True).serve() as refusing:
        with pytest.raises(TimestampError, match="refused the timestamp request: rejection"):
            Rfc3161Client(refusing.url).stamp(b"x")
        url = refusing.url
    with pytest.raises(TimestampError, match="could not be reached"):
        Rfc3161Client(url, timeout_s=2).stamp(b"x")


def test_a_token_without_its_root_is_verified_as_far_as_it_goes(tsa_class: Any) -> None:
    """Only the TSA's certificate: its signature is checked, and a note says what is not."""
    with tsa_class(include_root=False).serve() as tsa:
        token = Rfc3161Client(tsa.url).stamp(b"manifest bytes")
    info = verify_token(token, b"manifest bytes")
    assert info.tsa == "CN=Tanba Test TSA" and len(info.notes) == 1
    assert "issuer CN=Tanba Test Root is not in the token" in info.notes[0]
    with pytest.raises(TimestampError, match="for other data"):
        verify_token(token, b"other bytes")
    missed = _unnoticed_changes(token, b"manifest bytes")
    assert missed == [], f"changes at offsets {missed} of {len(token)} went unnoticed"


def test_a_signer_named_by_key_identifier_is_refused_with_the_reason(tsa_class: Any) -> None:
    tsa = tsa_class(signer_by_key_id=True)
    request = TimestampRequestBuilder().data(b"m").hash_algorithm(HashAlgorithm.SHA256).build()
    token = tsp.TimeStampResp.load(tsa.respond(request.as_bytes()))["time_stamp_token"].dump()
    with pytest.raises(TimestampError, match="names its signer by key identifier"):
        verify_token(token, b"m")
    with tsa.serve() as served, pytest.raises(TimestampError, match="this client can read"):
        Rfc3161Client(served.url).stamp(b"m")
