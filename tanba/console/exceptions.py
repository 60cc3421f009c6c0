"""Errors of the console; each maps to one HTTP status and its message says what to do next."""

from __future__ import annotations

import math

from tanba.core.exceptions import TanbaError


class ConsoleError(TanbaError):
    """Base of the console's own errors."""

    status_code = 400


class PageTooDeep(ConsoleError):
    """A page number past the deepest a list goes by number; page with the cursors instead."""


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


class BulkRefused(ConsoleError):
    """A bulk action or export refused before anything changed (none selected, too many,
    some not notifiable).

    ``code`` names the reason and ``values`` fill its text, so the list page can say it
    in the user's language beside the bulk form (``bulk.error.<code>``); the message is
    the same in English, for the API and the CLI.
    """

    def __init__(self, message: str, code: str, status_code: int = 400, **values: object):
        super().__init__(message)
        self.code = code
        self.status_code = status_code
        self.values = values


class EvidenceUnavailable(ConsoleError):
    """Evidence export is not installed in this Tanba."""

    status_code = 501


class TooManyLogins(ConsoleError):
    """Too many failed logins for this user name or from this address; wait, then try again."""

    status_code = 429

    def __init__(self, retry_after_s: float) -> None:
        self.retry_after_s = retry_after_s
        super().__init__(
            f"too many failed logins for this user name or from this address; try again in "
            f"{self.minutes} min (or ask an administrator to set a new password)"
        )

    @property
    def minutes(self) -> int:
        return max(1, math.ceil(self.retry_after_s / 60))
