"""Errors of the jurisdiction registry; each message says what to fix.

Contract: ``JurisdictionDataError`` means the data file cannot be used as it is; its
message names the file, the entry and the fix, because the person who reads it is
often an agency editor correcting ``jurisdictions.yaml``, not a developer.
``UnknownJurisdiction`` means a code was asked for that the registry does not hold.
Both are ``ValueError``s (a bad value was given) and Tanba errors (the CLI reports them).
"""

from __future__ import annotations

from collections.abc import Iterable

from tanba.core.exceptions import InputError, NotFound


class JurisdictionDataError(InputError, ValueError):
    """The jurisdiction data file is malformed or inconsistent; nothing was loaded."""

    def __init__(self, path: str, problem: str, *, entry: str | None = None, fix: str = "") -> None:
        self.path = path
        self.entry = entry
        self.problem = problem
        self.fix = fix
        where = f"{path}: {entry}" if entry else path
        message = f"{where}: {problem}"
        if fix:
            message += f". Fix: {fix}"
        super().__init__(message)


class UnknownJurisdiction(NotFound, ValueError):
    """No jurisdiction with this code is in the registry."""

    def __init__(self, code: str, known: Iterable[str]) -> None:
        self.code = code
        self.known = tuple(known)
        super().__init__(
            f"unknown jurisdiction code {code!r}; known codes: {', '.join(self.known)}"
        )
