"""Errors of the fingerprint stage."""

from tanba.core.exceptions import TanbaError


class Unfingerprintable(TanbaError):
    """A media file cannot be fingerprinted; the message is the quarantine reason.

    It is an outcome, not a fault: the worker quarantines the file and goes on.
    """


class DecoderRefused(Unfingerprintable):
    """The decoder subprocess ran out of time or memory, crashed, or rejected the file's bytes.

    Raised by :mod:`tanba.fingerprint.sandbox`; the message is the quarantine reason.
    """


class DecoderUnavailable(TanbaError):
    """The decoder subprocess cannot start or dies on a trivial call: fix the installation.

    Not the file's fault, so the worker retries (and dead-letters) instead of quarantining.
    """
