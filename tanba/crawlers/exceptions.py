"""Errors of the crawler package.

Contract: :class:`TargetsError` is an :class:`~tanba.core.exceptions.InputError`
(the CLI prints it and exits 2); its message names the file, the target (by
name, or by position when the name itself is missing or wrong) and the field,
and says what to change.

Why a subclass: callers that only care about "the user gave a bad file" catch
``InputError``; tests can still tell a targets problem from other input errors.
"""

from __future__ import annotations

from tanba.core.exceptions import InputError


class TargetsError(InputError):
    """The targets file is malformed; nothing was crawled."""
