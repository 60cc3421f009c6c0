"""Errors of the fingerprint stage."""

from tanba.exceptions import TanbaError


class Unfingerprintable(TanbaError):
    """A media file cannot be fingerprinted; the message is the quarantine reason.

    It is an outcome, not a fault: the worker quarantines the file and goes on.
    """
