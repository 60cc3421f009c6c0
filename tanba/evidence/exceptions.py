"""Errors of the evidence package; each message says what to do next."""

from tanba.core.exceptions import InputError, NotFound, SettingsError, TanbaError


class EvidenceError(TanbaError):
    """Base of the errors raised on purpose by :mod:`evidence`."""


class AccessDenied(EvidenceError):
    """The principal may not see (and so may not export) this alert."""


class UnknownAlert(EvidenceError, NotFound):
    """No alert has this id."""


class CaptureFailed(EvidenceError):
    """The page or its media could not be fetched again; the reason says which and why."""


class SigningKeyError(EvidenceError, SettingsError):
    """The signing key (TANBA_SIGNING_KEY or the installation key file) cannot be used."""


class TimestampError(EvidenceError):
    """The time-stamping authority could not be reached or answered something unusable."""


class PackageError(EvidenceError, InputError):
    """A file given as an evidence package cannot be read as one."""
