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

The protocol is Trail of Bits' ``rfc3161-client``: it builds the request,
parses the response and the token (strict DER) and reads the TSTInfo and the
SignedData's version, digest algorithms, certificates and signer. When the
token carries its chain up to a self-signed root, the library's verifier
(OpenSSL's PKCS7_verify at the token's time, for the time-stamping purpose)
checks the signature and the chain, anchored on that root. Ours, and why:

* the signer's attributes, algorithms and signature
  (:mod:`tanba.evidence.timestamp_signer`, asn1crypto): the library exposes
  none of them, so the ESS certificate hash and the agreement of the signature
  algorithm with the digest algorithm can only be checked there;
* the signature of a token without its root: the library's verifier needs a
  self-signed root to anchor on (OpenSSL without partial chains), many TSAs
  send only their own certificate, and this verifier decides no trust, so such
  a token's signature is checked with cryptography and its chain as far as it
  goes, with a note;
* the chain walk (:func:`_check_certificates`): it gives that note, refuses a
  certificate off the signer's chain and checks the root's own signature,
  which OpenSSL does not check for an anchor; with the unused-bits count of
  certificate signatures and the versions, it makes any single changed byte
  of a token fail (no signature covers those bytes).

The library reads only signers named by issuer and serial number (as RFC 3161
TSAs name them); a token naming its signer by key identifier is refused with
that reason.
"""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
import warnings
from dataclasses import dataclass
from datetime import UTC
from typing import Protocol

from asn1crypto import core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.utils import CryptographyDeprecationWarning
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)

from tanba.core.clock import iso
from tanba.evidence.exceptions import TimestampError
from tanba.evidence.timestamp_signer import (
    HASHES,
    check_attributes,
    check_signature,
    expect,
    read_signer,
)

CONTENT_TYPE_QUERY = "application/timestamp-query"
CONTENT_TYPE_REPLY = "application/timestamp-reply"
_GRANTED_STATUS = b"\x30\x03\x02\x01\x00"  # PKIStatusInfo { status granted }, DER


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
        request = (
            TimestampRequestBuilder()
            .data(data)
            .hash_algorithm(HashAlgorithm.SHA256)
            .nonce(nonce=True)
            .cert_request(cert_request=True)
            .build()
        )
        http_request = urllib.request.Request(
            self.url,
            data=request.as_bytes(),
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
        response = _granted(body, self.url)
        token = response.time_stamp_token()
        verify_token(token, data)
        if response.tst_info.nonce != request.nonce:
            raise TimestampError(f"{self.url} answered with another request's nonce; try again")
        return token


def _granted(body: bytes, url: str) -> TimeStampResponse:
    """The TimeStampResp in ``body``, which must grant the request and carry a token."""
    try:
        response = decode_timestamp_response(body)
        status = PKIStatus(response.status)
    except ValueError as exc:
        raise TimestampError(
            f"{url} did not answer with an RFC 3161 response this client can read ({exc}); "
            "check TANBA_TSA_URL, or unset it to export without a timestamp"
        ) from None
    if status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        text = " ".join(response.status_string)
        raise TimestampError(
            f"{url} refused the timestamp request: {status.name.lower()} {text}".strip()
        )
    token = response.time_stamp_token()
    if not token:
        raise TimestampError(f"{url} granted the request but sent no token")
    if not body.endswith(token):  # the library re-encodes; the token kept must be the one sent
        raise TimestampError(f"{url} sent a token that is not in DER; ask the TSA's operator")
    return response


def verify_token(token: bytes, data: bytes) -> TimestampInfo:
    """Check ``token`` against ``data`` (see the module doc); TimestampError says what fails."""
    try:
        with warnings.catch_warnings():
            # cryptography warns (and will fail, in later releases) on damaged serial numbers.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            return _verify(token, data)
    except TimestampError:
        raise
    except Exception as exc:  # the parsers raise many kinds on damaged DER
        raise TimestampError(
            f"the timestamp token is damaged and cannot be read ({type(exc).__name__}: {exc})"
        ) from None


def _read(token: bytes) -> TimeStampResponse:
    """``token`` parsed by the library, which reads a token only inside a TimeStampResp."""
    response = decode_timestamp_response(core.Sequence(contents=_GRANTED_STATUS + token).dump())
    response.tst_info  # noqa: B018 (parse it all now: the library parses on access)
    response.signed_data  # noqa: B018
    return response


def _verify(token: bytes, data: bytes) -> TimestampInfo:
    signer = read_signer(token)
    response = _read(token)
    signed, tst = response.signed_data, response.tst_info
    expect(signed.version == 3, "its SignedData version is not 3")
    expect(tst.version == 1, "its TSTInfo version is not 1")
    imprint = tst.message_imprint
    algorithm = imprint.hash_algorithm.dotted_string
    expect(algorithm in HASHES, f"it uses the unsupported hash {algorithm}")
    digest = hashlib.new(HASHES[algorithm][0], data).digest()
    if imprint.message != digest:
        raise TimestampError(
            "the timestamp token is for other data: its imprint is not the hash of manifest.json"
        )

    # The library drops a SignerInfo that is not encoded as it is in the token.
    infos = list(signed.signer_infos)
    expect(len(infos) == 1, "its signer is not encoded as it was signed")
    expect(infos[0].version == 1, "its SignerInfo version does not match its signer identifier")
    cert_ders = sorted(signed.certificates)
    expect(all(der in token for der in cert_ders), "a certificate is not encoded as it was signed")
    cert_der = next(
        (
            der
            for der in cert_ders
            if (c := x509.load_der_x509_certificate(der)).issuer == infos[0].issuer
            and c.serial_number == infos[0].serial_number
        ),
        None,
    )
    if cert_der is None:
        raise TimestampError(
            "the timestamp token is not valid: the TSA's certificate is not in it, so its "
            "signature cannot be checked"
        )
    cert = x509.load_der_x509_certificate(cert_der)
    check_attributes(signer, cert_der, {o.dotted_string for o in signed.digest_algorithms})

    expect(
        x509.oid.ExtendedKeyUsageOID.TIME_STAMPING in _extended_key_usage(cert),
        "its signing certificate is not for time-stamping (extended key usage)",
    )
    when = tst.gen_time.astimezone(UTC)
    expect(
        cert.not_valid_before_utc <= when <= cert.not_valid_after_utc,
        "its time lies outside the validity of the TSA certificate",
    )
    chain, notes = _check_certificates(cert_ders, cert_der)
    if notes:  # no root to anchor the library's verifier on
        check_signature(cert, signer)
    else:
        _verify_anchored(response, chain, digest)
    return TimestampInfo(
        gen_time=iso(when),
        tsa=cert.subject.rfc4514_string(),
        tsa_certificate_sha256=hashlib.sha256(cert_der).hexdigest(),
        serial=int(tst.serial_number),
        policy=tst.policy.dotted_string,
        notes=tuple(notes),
    )


def _verify_anchored(
    response: TimeStampResponse, chain: list[x509.Certificate], digest: bytes
) -> None:
    """The library's verifier: signature and chain up to ``chain``'s self-signed root."""
    builder = VerifierBuilder(roots=[chain[-1]], intermediates=chain[1:-1])
    try:
        builder.build().verify(response, digest)
    except VerificationError as exc:
        raise TimestampError(
            f"the timestamp token is not valid: its signature or certificate chain fails ({exc})"
        ) from None


def _extended_key_usage(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def _check_certificates(
    certificates: list[bytes], signer_der: bytes
) -> tuple[list[x509.Certificate], list[str]]:
    """The signer's chain as the token carries it, verified link by link, and its notes.

    Every certificate must lie on the signer's chain (an unrelated one means the
    token was altered); each link whose issuer is present must verify, and a
    self-issued top must verify against itself. When the top's issuer is not in
    the token, nothing here can check the top's own signature: that is a note,
    and the person judging the TSA compares its fingerprint.
    """
    for der in certificates:
        # The signature BIT STRING ends a certificate and is byte-aligned; a non-zero
        # "unused bits" count before it is damage that no signature covers.
        signature = x509.load_der_x509_certificate(der).signature
        expect(der[-len(signature) - 1] == 0, "a certificate is damaged")
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
    return chain, notes


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
