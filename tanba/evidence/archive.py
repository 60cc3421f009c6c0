"""Deterministic zip files: same members, same bytes, whenever and wherever they are written.

Contract: :func:`write_zip` writes members in sorted name order, each with the
given timestamp, Unix permissions 0644, no extra fields and no comment;
members named in ``stored`` are kept uncompressed (WACZ wants its WARC files
seekable), the rest are deflated. :func:`read_zip` returns name → bytes and
refuses archives with duplicate names or paths that escape (``..``, absolute),
since a verifier must not be fooled by two members of the same name.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Collection, Mapping
from datetime import datetime

from tanba.evidence.exceptions import PackageError

# Zip cannot store times before 1980; every member of a package carries the export time.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def zip_time(moment: datetime) -> tuple[int, int, int, int, int, int]:
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    return max(stamp, _ZIP_EPOCH)


def write_zip(
    members: Mapping[str, bytes],
    *,
    when: tuple[int, int, int, int, int, int],
    stored: Collection[str] = (),
) -> bytes:
    """The zip of ``members`` (see the module doc)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=when)
            info.compress_type = zipfile.ZIP_STORED if name in stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o100644 << 16
            info.create_system = 3  # Unix, whatever the platform writing it
            archive.writestr(info, members[name], compresslevel=9)
    return out.getvalue()


def read_zip(data: bytes, what: str) -> tuple[dict[str, bytes], dict[str, str]]:
    """Members of the zip ``data`` by name, and members that cannot be read with the reason.

    Raises PackageError naming ``what`` when the archive as a whole is unreadable,
    holds two members of one name, or a path that escapes.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = [i.filename for i in archive.infolist() if not i.is_dir()]
    # NotImplementedError: a version or compression field zipfile does not know (a flipped
    # byte in the central directory is enough; found by tests/reliability/test_fuzz.py).
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        OSError,
        EOFError,
        ValueError,
        NotImplementedError,
    ) as exc:
        raise PackageError(f"{what} is not a readable zip archive ({exc})") from None
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise PackageError(
            f"{what} holds two members named {duplicates[0]!r}: it was tampered with"
        )
    for name in names:
        if name.startswith("/") or ".." in name.split("/"):
            raise PackageError(f"{what} holds a member with an unsafe path {name!r}")
    members: dict[str, bytes] = {}
    damaged: dict[str, str] = {}
    for name in names:
        try:
            members[name] = archive.read(name)
        except Exception as exc:  # zlib.error, bad CRC, truncation: all mean "damaged"
            damaged[name] = str(exc) or type(exc).__name__
    return members, damaged
