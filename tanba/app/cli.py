"""The ``tanba`` command line: one sub-command per job, all on the same settings and home.

Errors Tanba raises on purpose (:class:`TanbaError`) print their message, which
says what to do, and exit with status 2; nothing else is printed for them. A reader
that closes the pipe early (``| head``) ends the command quietly. ``kill -USR1`` prints
every thread's stack to stderr and the process goes on: how an operator (and the
distributed tests, on a timeout) sees where a stuck worker waits. The sub-commands
live in :mod:`tanba.app.commands` and in the console's and evidence's ``cli`` modules.
"""

from __future__ import annotations

import argparse
import contextlib
import faulthandler
import io
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from tanba.app.commands import local, logs, stages, targets, works
from tanba.console import cli as console_cli
from tanba.core.exceptions import TanbaError
from tanba.core.hosts import for_people
from tanba.core.settings import Settings
from tanba.core.wiring import App
from tanba.evidence import cli as evidence_cli


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``tanba`` console script."""
    parser = _parser()
    args = parser.parse_args(argv)
    _configure_logging(args.verbose)
    _stacks_on_sigusr1()
    if not hasattr(args, "handler"):
        parser.print_help()
        return 2
    try:
        settings = Settings.from_env(home=args.home)
        app = App(settings)
        try:
            return int(args.handler(app, args))
        finally:
            app.close()
    except TanbaError as exc:
        print(f"tanba: {for_people(str(exc))}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader stopped reading (``tanba alerts list --json | head -1``): not a failure.
        # Point stdout at /dev/null so that Python's own flush at exit does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print(
            "tanba: interrupted; committed work is kept, run the command again to resume",
            file=sys.stderr,
        )
        return 130


def _stacks_on_sigusr1() -> None:
    """``kill -USR1`` prints every thread's stack to stderr (only a real file can take it:
    a caller that captured stderr in memory, as tests do, gets no handler)."""
    with contextlib.suppress(AttributeError, ValueError, io.UnsupportedOperation):
        faulthandler.register(signal.SIGUSR1, file=sys.stderr, all_threads=True)


def _configure_logging(verbose: bool) -> None:
    # The level sits on the handler, not on loggers: Scrapy resets its own loggers' levels.
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.INFO if verbose else logging.WARNING)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tanba", description=__doc__.splitlines()[0])
    p.add_argument("--home", type=Path, help="state directory (default: $TANBA_HOME or ./.tanba)")
    p.add_argument("-v", "--verbose", action="store_true", help="log one line per batch")
    sub = p.add_subparsers(metavar="COMMAND")

    for group in (works, targets, stages, local, logs, console_cli, evidence_cli):
        group.register(sub)
    return p


if __name__ == "__main__":
    sys.exit(main())
