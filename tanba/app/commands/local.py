"""``tanba match`` and ``tanba fingerprint``: local files against the registry, or their prints."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tanba.app.output import emit
from tanba.core.print_blobs import with_print
from tanba.core.schemas.common import VIDEO
from tanba.core.wiring import App
from tanba.fingerprint.compute import fingerprint_file
from tanba.fingerprint.exceptions import Unfingerprintable
from tanba.matcher.match import Matcher


def register(sub: Any) -> None:
    """Add these commands to the ``tanba`` parser's sub-commands."""
    match = sub.add_parser("match", help="match local files against the registry")
    match.add_argument("files", nargs="+", type=Path, metavar="FILE")
    match.add_argument("--json", action="store_true")
    match.set_defaults(handler=_match)

    fp = sub.add_parser("fingerprint", help="print the fingerprints of local files")
    fp.add_argument("files", nargs="+", type=Path, metavar="FILE")
    fp.add_argument("--json", action="store_true")
    fp.set_defaults(handler=_fingerprint)


def _local_fingerprints(app: App, files: list[Path]) -> Iterator[tuple[Path, Any]]:
    """Fingerprint local files, printing why for those that cannot be (they are skipped)."""

    for f in files:
        try:
            with open(f, "rb") as opened:
                digest = hashlib.file_digest(opened, "sha256").hexdigest()
            yield f, fingerprint_file(f, digest, app.settings)
        except (Unfingerprintable, OSError) as exc:
            print(f"tanba: {f}: {exc}", file=sys.stderr)


def _match(app: App, args: argparse.Namespace) -> int:

    matcher = Matcher(app.settings)
    for work in app.works.all().values():
        matcher.add(with_print(work, app.blobs))
    done = 0
    for f, fingerprint in _local_fingerprints(app, args.files):
        done += 1
        rows = []
        for m in matcher.match(fingerprint):
            row: dict[str, Any] = {"file": str(f), "work_id": m.work.work_id, "media": m.work.media}
            row |= {"score": m.score, "title": m.work.title, "owner": m.work.owner}
            if m.detail.offset_s is not None:
                row["offset_s"] = m.detail.offset_s
            if m.work.media == VIDEO:  # where the copy is in the work, and what agreed
                row["query_offset_s"] = m.detail.query_offset_s
                row["duration_s"] = m.detail.duration_s
                row["evidence"] = m.detail.evidence
                if m.detail.variant:
                    row["variant"] = m.detail.variant
                if m.detail.scale not in (None, 1.0):
                    row["scale"] = m.detail.scale
            if m.detail.positions:  # every position of the passage in the work, best first
                row["positions"] = [p.model_dump() for p in m.detail.positions]
            rows.append(row)
        if args.json:
            emit(rows, True, ())
        else:
            found = ", ".join(f"{r['work_id']} ({r['score']:.2f})" for r in rows)
            print(f"{f}: {found or 'no match'}")
    return 0 if done == len(args.files) else 1


def _fingerprint(app: App, args: argparse.Namespace) -> int:
    done = 0
    for f, fp in _local_fingerprints(app, args.files):
        done += 1
        if args.json:
            row = {"file": str(f), **fp.model_dump(mode="json", exclude_none=True)}
            print(json.dumps(row, ensure_ascii=False, sort_keys=True))
        elif fp.video is not None:
            v = fp.video
            sound = f", soundtrack {fp.audio.duration_s:.1f} s" if fp.audio is not None else ""
            print(
                f"{f}: video {v.width}x{v.height} {v.duration_s:.1f} s, "
                f"{v.frames} frame hashes ({v.algorithm}){sound}"
            )
        elif fp.image is not None:
            hashes = " ".join(f"{h.algorithm}/{h.variant}={h.value}" for h in fp.image.hashes)
            print(f"{f}: image {fp.image.width}x{fp.image.height} {hashes}")
        elif fp.audio is not None:
            items = len(fp.audio.items())
            print(f"{f}: audio {fp.audio.duration_s:.1f} s, {items} Chromaprint items")
    return 0 if done == len(args.files) else 1
