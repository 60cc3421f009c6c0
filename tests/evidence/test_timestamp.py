"""RFC 3161 against a real (tiny) TSA on loopback: request, response, and a strict verifier."""

from __future__ import annotations

from typing import Any

import pytest

from tanba.evidence.exceptions import TimestampError
from tanba.evidence.timestamp import Rfc3161Client, verify_token


def test_a_token_is_obtained_and_verified(local_tsa: Any) -> None:
    token = Rfc3161Client(local_tsa.url).stamp(b"manifest bytes")
    info = verify_token(token, b"manifest bytes")
    assert info.tsa == "CN=Tanba Test TSA" and info.serial >= 1 and info.notes == ()
    assert info.policy == "1.3.6.1.4.1.55555.1.1" and info.gen_time.endswith("Z")
    with pytest.raises(TimestampError, match="for other data"):
        verify_token(token, b"other bytes")


def test_every_single_byte_change_of_a_token_is_detected(local_tsa: Any) -> None:
    token = Rfc3161Client(local_tsa.url).stamp(b"manifest bytes")
    missed = []
    for i in range(len(token)):
        damaged = bytearray(token)
        damaged[i] ^= 0x01
        try:
            verify_token(bytes(damaged), b"manifest bytes")
            missed.append(i)
        except TimestampError:
            pass
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
