"""Errors of the console; each maps to one HTTP status and its message says what to do next."""

from __future__ import annotations

from tanba.exceptions import TanbaError


class ConsoleError(TanbaError):
    """Base of the console's own errors."""

    status_code = 400


class Unauthorized(ConsoleError):
    """No valid session or API token came with the request."""

    status_code = 401


class Forbidden(ConsoleError):
    """The caller is known but their role may not do this."""

    status_code = 403


class CsrfRefused(Forbidden):
    """A state-changing request from a browser session came without its CSRF token."""


class Conflict(ConsoleError):
    """The request clashes with what exists (a name taken, a crawl already running)."""

    status_code = 409


class EvidenceUnavailable(ConsoleError):
    """Evidence export is not installed in this Tanba."""

    status_code = 501
