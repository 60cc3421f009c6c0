"""Errors of Tanba's shared core; each message says what to do next."""


class TanbaError(Exception):
    """Base of every error Tanba raises on purpose; the CLI prints its message and exits 2."""


class SettingsError(TanbaError):
    """A setting or environment variable has a value Tanba cannot use."""


class InputError(TanbaError):
    """A file or argument given by the user is malformed; nothing was changed."""


class EventDecodeError(TanbaError):
    """A bus message is not a valid event of the expected schema and version."""


class TransientError(TanbaError):
    """A dependency (bus, store, disk) is unavailable for now; retry later, commit nothing."""


class NotFound(TanbaError):
    """A named object (work, alert, blob) does not exist."""


class DiskFull(TransientError):
    """A write failed because its file system is full; free space there and the stage resumes.

    A TransientError: workers retry without committing, so nothing is lost meanwhile.
    """


class Withheld(TanbaError):
    """The owner withholds this from the caller (an agency asking for a reference file).

    Unlike :class:`NotFound`, the caller may know the object exists: they may
    see the work, only not its reference file. The message names who can help.
    """


class TargetsError(InputError):
    """The targets file is malformed; nothing was crawled.

    Its message names the file, the target (by name, or by position when the name
    itself is missing or wrong) and the field, and says what to change. A subclass
    so that tests can tell a targets problem from other input errors.
    """
