"""The web archive of a case as a WACZ 1.1.1 file, built deterministically.

Contract: :func:`build_wacz` takes named WARC files (gzip per record) and the
pages to list, and returns a WACZ: ``archive/<name>.warc.gz`` (stored, not
deflated, so replay tools can seek), ``indexes/index.cdx`` (CDXJ, sorted, made
with the same indexer as py-wacz, so ReplayWeb.page finds every record),
``pages/pages.jsonl``, ``datapackage.json`` (every file's SHA-256 and size)
and ``datapackage-digest.json`` (the SHA-256 of datapackage.json). Page ids are
derived from URL and time, ``created`` is the given time, and the zip is
written by :func:`tanba.evidence.archive.write_zip`: the same inputs give the same
bytes. :func:`wacz_problems` lists, in plain words, which inner files do not
match the datapackage, for the verifier's diagnosis.

The signature and timestamp of a case live in the package's manifest, not in
``datapackage-digest.json``: WACZ's own signing needs a domain certificate or
a signing server, and one signature over the whole package says more.
"""

from __future__ import annotations

import hashlib
import io
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cdxj_indexer.main import CDXJIndexer

from tanba.core.clock import parse_iso
from tanba.evidence.archive import read_zip, write_zip, zip_time

WACZ_VERSION = "1.1.1"
SOFTWARE = "Tanba evidence export"


@dataclass(frozen=True)
class WarcFile:
    """A WARC file to put under ``archive/``; ``name`` ends in ``.warc.gz``."""

    name: str
    data: bytes


@dataclass(frozen=True)
class Page:
    """An entry of pages.jsonl: a URL as it was at ``ts`` (ISO 8601)."""

    url: str
    ts: str
    title: str = ""


def build_wacz(
    warcs: Sequence[WarcFile], pages: Sequence[Page], *, created: str, title: str
) -> bytes:
    """A WACZ 1.1.1 of ``warcs`` listing ``pages`` (see the module doc)."""
    files: dict[str, bytes] = {f"archive/{w.name}": w.data for w in warcs}
    files["indexes/index.cdx"] = _index(warcs)
    header = {"format": "json-pages-1.0", "id": "pages", "title": "All Pages"}
    lines = [json.dumps(header, sort_keys=True)]
    for page in pages:
        ident = hashlib.sha256(f"{page.url}\x1f{page.ts}".encode()).hexdigest()[:32]
        entry = {"id": ident, "url": page.url, "ts": page.ts, "title": page.title or page.url}
        lines.append(json.dumps(entry, sort_keys=True, ensure_ascii=False))
    files["pages/pages.jsonl"] = ("\n".join(lines) + "\n").encode()
    created_at = parse_iso(created).strftime("%Y-%m-%dT%H:%M:%SZ")
    package = {
        "profile": "data-package",
        "resources": [
            {
                "name": Path(path).name.lower(),
                "path": path,
                "hash": "sha256:" + hashlib.sha256(data).hexdigest(),
                "bytes": len(data),
            }
            for path, data in sorted(files.items())
        ],
        "title": title,
        "created": created_at,
        "wacz_version": WACZ_VERSION,
        "software": SOFTWARE,
    }
    if pages:
        package["mainPageURL"] = pages[0].url
        package["mainPageDate"] = pages[0].ts
    datapackage = (json.dumps(package, indent=2, ensure_ascii=False) + "\n").encode()
    digest = {
        "path": "datapackage.json",
        "hash": "sha256:" + hashlib.sha256(datapackage).hexdigest(),
    }
    files["datapackage.json"] = datapackage
    files["datapackage-digest.json"] = (json.dumps(digest, indent=2) + "\n").encode()
    stored = {name for name in files if name.startswith("archive/")}
    return write_zip(files, when=zip_time(parse_iso(created)), stored=stored)


def _index(warcs: Sequence[WarcFile]) -> bytes:
    """CDXJ lines for every response, resource and metadata record (not warc-fields), sorted."""
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="tanba-wacz-") as tmp:
        for warc in warcs:
            path = Path(tmp) / warc.name
            path.write_bytes(warc.data)
            out = io.StringIO()
            CDXJIndexer(out, [str(path)], filename=warc.name).process_all()
            lines += out.getvalue().splitlines()
    return ("\n".join(sorted(lines)) + "\n").encode() if lines else b""


def wacz_problems(data: bytes) -> list[str]:
    """What inside a WACZ disagrees with its datapackage (empty when everything matches)."""
    members, damaged = read_zip(data, "the WACZ")
    problems = [f"{name} is damaged ({why})" for name, why in sorted(damaged.items())]
    try:
        package = json.loads(members["datapackage.json"])
        listed = {r["path"]: r["hash"].removeprefix("sha256:") for r in package["resources"]}
    except (KeyError, ValueError, TypeError):
        return [*problems, "datapackage.json is missing or unreadable"]
    for path, expected in sorted(listed.items()):
        if path not in members:
            if path not in damaged:
                problems.append(f"{path} is missing")
        elif hashlib.sha256(members[path]).hexdigest() != expected:
            problems.append(f"{path} was changed")
    extra = set(members) - set(listed) - {"datapackage.json", "datapackage-digest.json"}
    problems += [f"{path} was added" for path in sorted(extra)]
    try:
        digest = json.loads(members["datapackage-digest.json"])["hash"].removeprefix("sha256:")
        if digest != hashlib.sha256(members["datapackage.json"]).hexdigest():
            problems.append("datapackage.json does not match datapackage-digest.json")
    except (KeyError, ValueError, TypeError, AttributeError):
        problems.append("datapackage-digest.json is missing or unreadable")
    return problems
