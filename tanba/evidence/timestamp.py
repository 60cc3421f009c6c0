"""RFC 3161 time-stamping: ask a TSA for a token over some bytes, and check a token later.

Contract: :class:`Rfc3161Client` sends a ``TimeStampReq`` (SHA-256 imprint, a
nonce, ``certReq`` true) by HTTP POST as ``application/timestamp-query`` and
returns the DER ``TimeStampToken`` (a CMS ``ContentInfo``) once
:func:`verify_token` accepts it for the same bytes and the nonce matches.

:func:`verify_token` checks, and names in plain words what fails: the token
parses strictly (no trailing bytes), is CMS SignedData v3 over a TSTInfo v1;
the imprint is the SHA-256 of the data; exactly one signer, whose certificate
is in the token, has the ``timeStamping`` extended key usage and was valid at
the token's time; the signed attributes carry the TSTInfo content type and its
digest, and (when present) the ESS signing-certificate hash of that
certificate; the signature over the signed attributes verifies; every
certificate in the token whose issuer is also in it verifies against that
issuer (a self-signed root against itself). It does not decide whether the
TSA is trustworthy: it reports the TSA's name and certificate fingerprint for
a person to judge.
"""

from __future__ import annotations

import hashlib
import secrets
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol

from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.utils import CryptographyDeprecationWarning

from tanba.core.clock import iso
from tanba.evidence.exceptions import TimestampError

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"
_HASHES: dict[str, type[hashes.HashAlgorithm]] = {
    "sha256": hashes.SHA256,
    "sha384": hashes.SHA384,
    "sha512": hashes.SHA512,
}


class TimestampAuthority(Protocol):
    """Something that returns an RFC 3161 token over ``data`` (raises TimestampError)."""

    @property
    def url(self) -> str: ...

    def stamp(self, data: bytes) -> bytes: ...


@dataclass(frozen=True)
class TimestampInfo:
    """What a verified token says: when, by whom, under which serial and policy."""

    gen_time: str  # ISO 8601, UTC
    tsa: str  # the signing certificate's subject
    tsa_certificate_sha256: str
    serial: int
    policy: str
    notes: tuple[str, ...] = ()  # limits of the check (e.g. an issuer not included)


class Rfc3161Client:
    """A TSA reached over HTTP(S) at ``url``."""

    def __init__(self, url: str, timeout_s: float = 30.0) -> None:
        self._url = url
        self.timeout_s = timeout_s

    @property
    def url(self) -> str:
        return self._url

    def stamp(self, data: bytes) -> bytes:
        nonce = secrets.randbits(63)
        request = tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": {"algorithm": "sha256"},
                    "hashed_message": hashlib.sha256(data).digest(),
                },
                "nonce": nonce,
                "cert_req": True,
            }
        )
        http_request = urllib.request.Request(
            self.url,
            data=request.dump(),
            headers={"Content-Type": CONTENT_TYPE_QUERY, "Accept": CONTENT_TYPE_REPLY},
            method="POST",
        )
        try:
            with urllib.request.urlopen(http_request, timeout=self.timeout_s) as reply:
                body = reply.read(1 << 20)
        except (urllib.error.URLError, OSError) as exc:
            raise TimestampError(
                f"the time-stamping authority {self.url} could not be reached ({exc}); "
                "check TANBA_TSA_URL, or unset it to export without a timestamp"
            ) from None
        token = _token_from_response(body, self.url)
        verify_token(token, data)
        got = _tst_info(_signed_data(cms.ContentInfo.load(token)))["nonce"].native
        if got != nonce:
            raise TimestampError(f"{self.url} answered with another request's nonce; try again")
        return token


class _TimeStampResp(core.Sequence):
    """RFC 3161's TimeStampResp, whose token is OPTIONAL (asn1crypto's class requires it)."""

    _fields: ClassVar[list[tuple[Any, ...]]] = [
        ("status", tsp.PKIStatusInfo),
        ("time_stamp_token", cms.ContentInfo, {"optional": True}),
    ]


def _token_from_response(body: bytes, url: str) -> bytes:
    try:
        response = _TimeStampResp.load(body, strict=True)
        status = response["status"]["status"].native
    except (ValueError, TypeError, KeyError) as exc:
        raise TimestampError(f"{url} did not answer with an RFC 3161 response ({exc})") from None
    if status not in ("granted", "granted_with_mods"):
        text = " ".join(response["status"]["status_string"].native or [])
        raise TimestampError(f"{url} refused the timestamp request: {status} {text}".strip())
    token = response["time_stamp_token"]
    if not isinstance(token, cms.ContentInfo):
        raise TimestampError(f"{url} granted the request but sent no token")
    return bytes(token.dump())


def verify_token(token: bytes, data: bytes) -> TimestampInfo:
    """Check ``token`` against ``data`` (see the module doc); TimestampError says what fails."""
    try:
        with warnings.catch_warnings():
            # cryptography warns (and will fail, in later releases) on damaged serial numbers.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return _verify(token, data)
    except TimestampError:
        raise
    except Exception as exc:  # asn1crypto and cryptography raise many kinds on damaged DER
        raise TimestampError(
            f"the timestamp token is damaged and cannot be read ({type(exc).__name__}: {exc})"
        ) from None


def _signed_data(info: cms.ContentInfo) -> cms.SignedData:
    if info["content_type"].native != "signed_data":
        raise TimestampError("the timestamp token is not CMS SignedData")
    content = info["content"]
    assert isinstance(content, cms.SignedData)
    return content


def _tst_info(signed: cms.SignedData) -> tsp.TSTInfo:
    parsed = signed["encap_content_info"]["content"].parsed
    assert isinstance(parsed, tsp.TSTInfo)
    return parsed


def _raw_parts(token: bytes) -> tuple[bytes, bytes, list[bytes]]:
    """TSTInfo, signed attributes (as the SET that was signed) and certificates, as bytes.

    Taken from a parse that reads no field's value: asn1crypto re-encodes
    structures once their values have been read, and a signature must be
    checked over the bytes that are in the token, which each part is checked to be.
    """
    signed = cms.ContentInfo.load(token, strict=True)["content"]
    tst_der = bytes(signed["encap_content_info"]["content"].contents)
    attrs = bytes(signed["signer_infos"][0]["signed_attrs"].dump())
    certs = [bytes(c.chosen.dump()) for c in signed["certificates"] or []]
    for part in (tst_der, attrs, *certs):
        _expect(part in token, "it is not encoded as it was signed")
    return tst_der, b"\x31" + attrs[1:], certs


def _verify(token: bytes, data: bytes) -> TimestampInfo:
    tst_der, signed_bytes, cert_ders = _raw_parts(token)
    info = cms.ContentInfo.load(token, strict=True)
    signed = _signed_data(info)
    _expect(signed["version"].native == "v3", "its SignedData version is not 3")
    encap = signed["encap_content_info"]
    _expect(encap["content_type"].native == "tst_info", "it does not hold a TSTInfo")
    tst = tsp.TSTInfo.load(tst_der, strict=True)
    _expect(tst["version"].native == "v1", "its TSTInfo version is not 1")
    imprint = tst["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    _expect(algorithm in _HASHES, f"it uses the unsupported hash {algorithm}")
    digest = hashlib.new(algorithm, data).digest()
    if imprint["hashed_message"].native != digest:
        raise TimestampError(
            "the timestamp token is for other data: its imprint is not the hash of manifest.json"
        )
    gen_time: datetime = tst["gen_time"].native

    signers = list(signed["signer_infos"])
    _expect(len(signers) == 1, f"it has {len(signers)} signers, not one")
    signer = signers[0]
    # Fields no signature covers, parsed in full so damage there surfaces (asn1crypto is lazy).
    for field_value in (
        signed["digest_algorithms"],
        signer["digest_algorithm"],
        signer["signature_algorithm"],
        signer["unsigned_attrs"],
    ):
        field_value.native  # noqa: B018
    sid_kind = signer["sid"].name
    _expect(
        signer["version"].native == ("v1" if sid_kind == "issuer_and_serial_number" else "v3"),
        "its SignerInfo version does not match its signer identifier",
    )
    certificates = [c.chosen for c in signed["certificates"] or []]
    _expect(
        all(c.name == "certificate" for c in signed["certificates"] or []),
        "it holds certificates of an unknown kind",
    )
    cert_der = cert_ders[_find_signer_certificate(signer, certificates)]
    cert = x509.load_der_x509_certificate(cert_der)

    digest_algorithm = signer["digest_algorithm"]["algorithm"].native
    _expect(digest_algorithm in _HASHES, f"its signer uses the unsupported hash {digest_algorithm}")
    listed = {a["algorithm"].native for a in signed["digest_algorithms"]}
    _expect(digest_algorithm in listed, "its digest algorithms do not list the signer's")
    attrs = signer["signed_attrs"]
    _expect(bool(attrs) and attrs.native is not None, "it has no signed attributes")
    values = {a["type"].native: a["values"] for a in attrs}
    _expect(
        values.get("content_type") is not None and values["content_type"][0].native == "tst_info",
        "its signed content type is not TSTInfo",
    )
    expected = hashlib.new(digest_algorithm, tst_der).digest()
    _expect(
        values.get("message_digest") is not None and values["message_digest"][0].native == expected,
        "the TSTInfo does not match the digest its signer signed",
    )
    _check_ess(values, cert_der)
    _check_signature(cert, signer, signed_bytes, digest_algorithm)

    usage = _extended_key_usage(cert)
    _expect(
        x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in usage,
        "its signing certificate is not for time-stamping (extended key usage)",
    )
    when = gen_time.astimezone(UTC)
    _expect(
        cert.not_valid_before_utc <= when <= cert.not_valid_after_utc,
        "its time lies outside the validity of the TSA certificate",
    )
    notes = _check_certificates(cert_ders, cert_der)
    return TimestampInfo(
        gen_time=iso(when),
        tsa=cert.subject.rfc4514_string(),
        tsa_certificate_sha256=hashlib.sha256(cert_der).hexdigest(),
        serial=int(tst["serial_number"].native),
        policy=str(tst["policy"].native),
        notes=tuple(notes),
    )


def _expect(condition: bool, problem: str) -> None:
    if not condition:
        raise TimestampError(f"the timestamp token is not valid: {problem}")


def _find_signer_certificate(signer: cms.SignerInfo, certificates: list[Any]) -> int:
    """The index of the signer's certificate among ``certificates``."""
    sid = signer["sid"]
    for index, cert in enumerate(certificates):
        if sid.name == "issuer_and_serial_number":
            wanted = sid.chosen
            if (
                cert.issuer == wanted["issuer"]
                and cert.serial_number == wanted["serial_number"].native
            ):
                return index
        elif sid.name == "subject_key_identifier" and cert.key_identifier == sid.chosen.native:
            return index
    raise TimestampError(
        "the timestamp token is not valid: the TSA's certificate is not in it, so its "
        "signature cannot be checked"
    )


def _check_ess(values: dict[str, Any], cert_der: bytes) -> None:
    """The ESS signing-certificate attribute, when present, must name this certificate."""
    if "signing_certificate_v2" in values:
        for cert_id in values["signing_certificate_v2"][0]["certs"]:
            name = cert_id["hash_algorithm"]["algorithm"].native
            if cert_id["cert_hash"].native == hashlib.new(name, cert_der).digest():
                return
        raise TimestampError(
            "the timestamp token is not valid: its signed certificate hash does not match "
            "the TSA certificate it carries"
        )
    if "signing_certificate" in values:
        for cert_id in values["signing_certificate"][0]["certs"]:
            if cert_id["cert_hash"].native == hashlib.sha1(cert_der).digest():
                return
        raise TimestampError(
            "the timestamp token is not valid: its signed certificate hash does not match "
            "the TSA certificate it carries"
        )


def _check_signature(
    cert: x509.Certificate, signer: cms.SignerInfo, signed_bytes: bytes, digest_algorithm: str
) -> None:
    key = cert.public_key()
    signature = signer["signature"].native
    algo: algos.SignedDigestAlgorithm = signer["signature_algorithm"]
    kind = algo.signature_algo
    try:
        named_hash = algo.hash_algo
    except ValueError:  # algorithms such as plain "ecdsa" or "rsassa_pss" name no hash here
        named_hash = digest_algorithm
    _expect(named_hash == digest_algorithm, "its signature algorithm names another hash")
    chosen = _HASHES[digest_algorithm]()
    try:
        if isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pkcs1v15":
            key.verify(signature, signed_bytes, padding.PKCS1v15(), chosen)
        elif isinstance(key, rsa.RSAPublicKey) and kind == "rsassa_pss":
            key.verify(
                signature,
                signed_bytes,
                padding.PSS(padding.MGF1(chosen), padding.PSS.AUTO),
                chosen,
            )
        elif isinstance(key, ec.EllipticCurvePublicKey) and kind == "ecdsa":
            key.verify(signature, signed_bytes, ec.ECDSA(chosen))
        elif isinstance(key, ed25519.Ed25519PublicKey) and kind == "ed25519":
            key.verify(signature, signed_bytes)
        else:
            raise TimestampError(
                f"the timestamp token uses {kind} with a {type(key).__name__}, "
                "which this verifier does not support"
            )
    except InvalidSignature:
        raise TimestampError(
            "the timestamp token is not valid: the TSA's signature does not match its content"
        ) from None


def _extended_key_usage(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def _check_certificates(certificates: list[bytes], signer_der: bytes) -> list[str]:
    """Verify the chain the token carries, from the signer up; notes what stays unchecked.

    Every certificate must lie on the signer's chain (an unrelated one means the
    token was altered); each link whose issuer is present must verify, and a
    self-issued top must verify against itself. When the top's issuer is not in
    the token, nothing here can check the top's own signature: that is a note,
    and the person judging the TSA compares its fingerprint.
    """
    for der in certificates:
        # A certificate's signature BIT STRING is byte-aligned; a non-zero "unused bits" count
        # is damage that no signature covers (the parsers accept it).
        value = asn1_x509.Certificate.load(der)["signature_value"]
        _expect(bytes(value.contents)[:1] == b"\x00", "a certificate is damaged")
    loaded = [x509.load_der_x509_certificate(der) for der in certificates]
    current = x509.load_der_x509_certificate(signer_der)
    chain = [current]
    notes: list[str] = []
    while True:
        if _self_signed(current):
            if not _issued_by(current, current):
                raise TimestampError(
                    "the timestamp token is not valid: the root certificate "
                    f"{current.subject.rfc4514_string()} does not verify against itself"
                )
            break
        issuers = [c for c in loaded if c.subject == current.issuer and c not in chain]
        if not issuers:
            notes.append(
                f"the TSA's chain ends at {current.subject.rfc4514_string()}, whose issuer "
                f"{current.issuer.rfc4514_string()} is not in the token; judge the TSA by "
                "its certificate fingerprint"
            )
            break
        issuer = next((c for c in issuers if _issued_by(current, c)), None)
        if issuer is None:
            raise TimestampError(
                "the timestamp token is not valid: the certificate "
                f"{current.subject.rfc4514_string()} does not verify against its issuer"
            )
        chain.append(issuer)
        current = issuer
    unrelated = [c for c in loaded if c not in chain]
    if unrelated:
        raise TimestampError(
            "the timestamp token is not valid: it holds a certificate that is not on its "
            f"signer's chain ({unrelated[0].subject.rfc4514_string()})"
        )
    return notes


def _self_signed(cert: x509.Certificate) -> bool:
    """Self-issued names, or an authority key id equal to the subject key id (names may lie)."""
    if cert.issuer == cert.subject:
        return True
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        return False
    return aki.key_identifier == ski


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True
