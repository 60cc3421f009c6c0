"""Errors of the alert stores; each message says what to do next."""

from __future__ import annotations

from tanba.core.exceptions import InputError


class BadCursor(InputError):
    """A paging cursor that this list did not give out, or gave out for another sort order."""
