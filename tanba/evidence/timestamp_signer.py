"""The signer of an RFC 3161 token, read and checked here because rfc3161-client shows none of it.

rfc3161-client exposes of a SignerInfo only its version, issuer and serial
number. The signed attributes, the digest and signature algorithms and the
signature itself are read here with asn1crypto, and checked: the attributes name
the TSTInfo content type and carry its digest and (when present) the ESS
signing-certificate hash of the signer's certificate; the signature algorithm
names no other hash than the digest algorithm; and, for a token whose chain
carries no root the library could anchor on, the signature over the signed
attributes is verified with the certificate's key (:func:`check_signature`).

Contract: :func:`read_signer` returns the :class:`SignerParts` of a token with
exactly one signer, named by issuer and serial number, or raises TimestampError
saying what is wrong; the other functions raise TimestampError or return nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from asn1crypto import algos, cms
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from tanba.evidence.exceptions import TimestampError

# The hashes a token may use, by OID: hashlib's name and cryptography's class.
HASHES: dict[str, tuple[str, type[hashes.HashAlgorithm]]] = {
    "2.16.840.1.101.3.4.2.1": ("sha256", hashes.SHA256),
    "2.16.840.1.101.3.4.2.2": ("sha384", hashes.SHA384),
    "2.16.840.1.101.3.4.2.3": ("sha512", hashes.SHA512),
}


def expect(condition: bool, problem: str) -> None:
    """Raise TimestampError "the timestamp token is not valid: <problem>" unless ``condition``."""
    if not condition:
        raise TimestampError(f"the timestamp token is not valid: {problem}")


@dataclass(frozen=True)
class SignerParts:
    """The token's signer: the bytes it signed, as they are in the token, and how it signed."""

    tst_der: bytes  # the encapsulated TSTInfo
    signed_attrs: bytes  # the signed attributes, tagged as the SET that was signed
    attributes: dict[str, Any]  # asn1crypto values of the signed attributes, by type name
    digest_oid: str
    signature_kind: str  # asn1crypto's name: rsassa_pkcs1v15, rsassa_pss, ecdsa, ed25519
    signature_hash: str | None  # the hash the signature algorithm names (None: it names none)
    signature: bytes


def read_signer(token: bytes) -> SignerParts:
    """The one signer of ``token`` (a DER ContentInfo); TimestampError when it cannot be read."""
    # Bytes first, from a parse that reads no field's value: asn1crypto re-encodes a
    # structure once its values have been read, and a signature covers the token's bytes.
    untouched = cms.ContentInfo.load(token, strict=True)["content"]
    tst_der = bytes(untouched["encap_content_info"]["content"].contents)
    attrs_der = bytes(untouched["signer_infos"][0]["signed_attrs"].dump())
    for part in (tst_der, attrs_der):
        expect(part in token, "it is not encoded as it was signed")

    info = cms.ContentInfo.load(token, strict=True)
    expect(info["content_type"].native == "signed_data", "it is not CMS SignedData")
    signed = info["content"]
    expect(
        signed["encap_content_info"]["content_type"].native == "tst_info",
        "it does not hold a TSTInfo",
    )
    signers = list(signed["signer_infos"])
    expect(len(signers) == 1, f"it has {len(signers)} signers, not one")
    signer = signers[0]
    if signer["sid"].name != "issuer_and_serial_number":
        raise TimestampError(
            "the timestamp token names its signer by key identifier, which this verifier "
            "(rfc3161-client) cannot read; ask the TSA for tokens that name the signer by "
            "issuer and serial number"
        )
    # Fields no signature covers, parsed in full so damage there surfaces (asn1crypto is lazy).
    for field_value in (signer["digest_algorithm"], signer["unsigned_attrs"]):
        field_value.native  # noqa: B018
    attrs = signer["signed_attrs"]
    expect(bool(attrs) and attrs.native is not None, "it has no signed attributes")
    algorithm: algos.SignedDigestAlgorithm = signer["signature_algorithm"]
    try:
        signature_hash: str | None = algorithm.hash_algo
    except ValueError:  # algorithms such as plain "ecdsa" or "rsassa_pss" name no hash here
        signature_hash = None
    return SignerParts(
        tst_der=tst_der,
        signed_attrs=b"\x31" + attrs_der[1:],
        attributes={a["type"].native: a["values"] for a in attrs},
        digest_oid=signer["digest_algorithm"]["algorithm"].dotted,
        signature_kind=algorithm.signature_algo,
        signature_hash=signature_hash,
        signature=signer["signature"].native,
    )


def check_attributes(parts: SignerParts, cert_der: bytes, listed_digests: set[str]) -> None:
    """The signed attributes fit the TSTInfo and the signer's certificate ``cert_der``.

    ``listed_digests`` are the OIDs of the SignedData's digest algorithms, which must
    include the signer's.
    """
    expect(parts.digest_oid in HASHES, f"its signer uses the unsupported hash {parts.digest_oid}")
    expect(parts.digest_oid in listed_digests, "its digest algorithms do not list the signer's")
    name = HASHES[parts.digest_oid][0]
    expect(parts.signature_hash in (None, name), "its signature algorithm names another hash")
    values = parts.attributes
    expect(
        values.get("content_type") is not None and values["content_type"][0].native == "tst_info",
        "its signed content type is not TSTInfo",
    )
    expect(
        values.get("message_digest") is not None
        and values["message_digest"][0].native == hashlib.new(name, parts.tst_der).digest(),
        "the TSTInfo does not match the digest its signer signed",
    )
    _check_ess(values, cert_der)


def _check_ess(values: dict[str, Any], cert_der: bytes) -> None:
    """The ESS signing-certificate attribute, when present, must name this certificate."""
    if "signing_certificate_v2" in values:
        ids = values["signing_certificate_v2"][0]["certs"]
        hashed = [(c["hash_algorithm"]["algorithm"].native, c["cert_hash"].native) for c in ids]
    elif "signing_certificate" in values:
        hashed = [
            ("sha1", c["cert_hash"].native) for c in values["signing_certificate"][0]["certs"]
        ]
    else:
        return
    expect(
        any(digest == hashlib.new(name, cert_der).digest() for name, digest in hashed),
        "its signed certificate hash does not match the TSA certificate it carries",
    )


def check_signature(cert: x509.Certificate, parts: SignerParts) -> None:
    """The signature over the signed attributes verifies with ``cert``'s public key."""
    key = cert.public_key()
    chosen = HASHES[parts.digest_oid][1]()
    kind, signature, signed = parts.signature_kind, parts.signature, parts.signed_attrs
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, signed, padding.PKCS1v15(), chosen)
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            pss = padding.PSS(padding.MGF1(chosen), padding.PSS.AUTO)
            key.verify(signature, signed, pss, chosen)
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, signed, ec.ECDSA(chosen))
        elif isinstance(key, ed25519.Ed25519PublicKey) and kind == "ed25519":
            key.verify(signature, signed)
        else:
            raise TimestampError(
                f"the timestamp token uses {kind} with a {type(key).__name__}, "
                "which this verifier does not support"
            )
    except InvalidSignature:
        raise TimestampError(
            "the timestamp token is not valid: the TSA's signature does not match its content"
        ) from None
