"""Helpers of the evidence tests: run ``tanba evidence ...`` in-process, find the demo's alerts.

Contract: :func:`run_evidence` parses ``evidence ARGV`` with the real
``tanba.evidence.cli`` parser and calls its handler on an App over ``home`` (with
``clock`` when given), with ``env`` set in the process environment for the call
only (the commands read TANBA_SIGNING_KEY and the evidence settings from it);
it returns the exit status and what was printed. :func:`alerts_by_path` names
the alerts of a demo home by site and path ("kino.example.kz/img/a-small.jpg").
:func:`private_pem` is a key as TANBA_SIGNING_KEY holds it.
"""

from __future__ import annotations

import argparse
import io
import os
from contextlib import redirect_stdout
from pathlib import Path

from cryptography.hazmat.primitives import serialization

from tanba.core.alerts import Alert
from tanba.core.clock import Clock
from tanba.core.settings import Settings
from tanba.core.store import AlertQuery
from tanba.core.wiring import App
from tanba.evidence import cli
from tanba.evidence.signing import SigningKey


def run_evidence(
    home: Path, *argv: str, env: dict[str, str] | None = None, clock: Clock | None = None
) -> tuple[int, str]:
    """``tanba --home HOME evidence ARGV`` in this process; (exit status, stdout)."""
    parser = argparse.ArgumentParser(prog="tanba")
    cli.register(parser.add_subparsers())
    args = parser.parse_args(["evidence", *argv])
    env = env or {}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    app = App(Settings.from_env({}, home=home), clock)
    out = io.StringIO()
    try:
        with redirect_stdout(out):
            status = args.handler(app, args)
    finally:
        app.close()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return status, out.getvalue()


def alerts_by_path(home: Path, port: int) -> dict[str, Alert]:
    """The alerts of a demo home by site and media path (the port left out)."""
    app = App(Settings.from_env({}, home=home))
    try:
        found = app.store.search(AlertQuery(limit=100)).alerts
    finally:
        app.close()
    return {f"{a.site}{a.media_url.split(str(port), 1)[1]}": a for a in found}


def private_pem(key: SigningKey) -> str:
    """The private key in unencrypted PKCS#8 PEM, as TANBA_SIGNING_KEY holds it."""
    return key.private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
