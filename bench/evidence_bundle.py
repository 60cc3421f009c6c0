"""Benchmark: one evidence archive of the most cases an export holds (the list's bulk export).

Usage::

    .venv/bin/python bench/evidence_bundle.py [--cases 200] [--home DIR]

A fresh embedded home registers one real photo (Debian's wallpapers, as the demo) as
a work and stores ``--cases`` alerts on copies of it, each with the copy's file in
the blob store and a crawl capture of its page, as a crawl leaves them. Then one
:func:`tanba.evidence.bundle.export_bundle` (what ``POST /alerts/evidence`` runs,
without a timestamping authority) is timed, and the archive is verified whole as
``tanba evidence verify`` does. Prints the time, the time a case and the size.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tanba.app.demo import media
from tanba.app.demo.alerts import make_alert, with_page_capture
from tanba.core.access import Principal
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence.bundle import MAX_BUNDLE, export_bundle, verify_bundle
from tanba.evidence.package import ExportOptions
from tanba.evidence.signing import load_signing_key
from tanba.evidence.trust import TrustedKey
from tanba.fingerprint.registration import WorkSpec, register


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=MAX_BUNDLE)
    parser.add_argument("--home", type=Path, default=None)
    args = parser.parse_args()
    os.environ["TANBA_TSA_URL"] = ""
    home = args.home or Path(tempfile.mkdtemp(prefix="tanba-bundle-")) / "home"
    app = App(Settings.from_env({}, home=home))
    try:
        photo = media.photos()[0]
        register(app, [WorkSpec(path=photo, owner="Owner A", title="Steppe", work_id="steppe")])
        copy = app.blobs.put(media.web_jpeg(photo, width=640, quality=70, crop=0.05))
        alerts = [
            with_page_capture(
                make_alert(work_id="steppe", page=f"http://kino.example.kz/{i}", media_sha256=copy),
                app.captures_dir,
                app.clock,
            )
            for i in range(args.cases)
        ]
        app.store.upsert(alerts)
        options = ExportOptions(lang="ru", recapture="never", interface="console")
        admin = Principal("admin", "admin")
        started = time.perf_counter()
        done = export_bundle(app, [a.id for a in alerts], home / "archive.zip", admin, options)
        took = time.perf_counter() - started
        size = done.path.stat().st_size
        print(
            f"{len(done.packages)} cases: {took:.1f} s ({took / len(done.packages) * 1000:.0f} ms"
            f" a case), {size / 1e6:.1f} MB"
        )
        key = load_signing_key(home)
        started = time.perf_counter()
        verified = verify_bundle(
            done.path.read_bytes(), [TrustedKey(key.fingerprint, "this home", key.public)]
        )
        print(f"verified whole: {verified.ok} in {time.perf_counter() - started:.1f} s")
    finally:
        app.close()


if __name__ == "__main__":
    main()
