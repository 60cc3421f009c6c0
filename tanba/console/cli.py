"""``tanba users ...`` and ``tanba console``: register with ``tanba.console.cli.register(sub)``.

``tanba users add NAME --role R [--org ORG] [--jurisdiction CC] [--language L]
[--password-stdin]`` creates a user (the password is asked for twice on a
terminal, or read as one line from standard input); ``tanba users list`` and
``tanba users token NAME`` (prints a new API token), ``tanba users edit NAME
[--role R] [--org ORG] [--jurisdiction CC] [--language L] [--password-stdin]`` and
``tanba users disable|enable NAME`` go with it.
``tanba console [--host H] [--port P]`` serves the web console with uvicorn.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import threading
from typing import Any

from tanba.console import users as user_rules
from tanba.console.disk_cache import frames_dir, keep_pruning, thumbnails_dir
from tanba.core.access import ROLES
from tanba.core.exceptions import InputError
from tanba.core.wiring import App


def register(sub: Any) -> None:
    """Add the ``users`` and ``console`` commands to ``tanba``'s sub-parsers."""
    users = sub.add_parser("users", help="console users: add, list, API tokens")
    actions = users.add_subparsers(metavar="ACTION")
    add = actions.add_parser("add", help="create a console user")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--org", default="", help="rights holders: the owner name of their works")
    add.add_argument("--jurisdiction", default="", metavar="CC", help="agencies: their state")
    add.add_argument("--language", default="ru", choices=("ru", "en", "kk"))
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    add.set_defaults(handler=_users_add)
    edit = actions.add_parser("edit", help="change a user's role, scope, language or password")
    edit.add_argument("name")
    edit.add_argument("--role", choices=ROLES)
    edit.add_argument("--org", help="rights holders: the owner name of their works")
    edit.add_argument("--jurisdiction", metavar="CC", help="agencies: their state")
    edit.add_argument("--language", choices=("ru", "en", "kk"))
    edit.add_argument(
        "--password-stdin", action="store_true", help="set a new password, read from standard input"
    )
    edit.set_defaults(handler=_users_edit)
    for verb, helptext in (
        ("disable", "refuse a user's logins and tokens"),
        ("enable", "allow them again"),
    ):
        toggle = actions.add_parser(verb, help=helptext)
        toggle.add_argument("name")
        toggle.set_defaults(handler=_users_edit, disabled=verb == "disable")
    ls = actions.add_parser("list", help="list console users")
    ls.set_defaults(handler=_users_list)
    token = actions.add_parser("token", help="print a new API token for a user")
    token.add_argument("name")
    token.add_argument("--label", default="cli")
    token.set_defaults(handler=_users_token)

    console = sub.add_parser("console", help="serve the web console and its HTTP API")
    console.add_argument("--host", default="127.0.0.1")
    console.add_argument("--port", type=int, default=8080)
    console.add_argument(
        "--no-scheduler", action="store_true", help="do not start scheduled crawls from here"
    )
    console.set_defaults(handler=_console)


def _stores(app: App) -> Any:
    from tanba.console.context import build_console

    return build_console(app, launcher=_NoLauncher())


class _NoLauncher:
    """The user commands start no crawls."""

    def start(self, record: Any, actor: str) -> Any:
        raise InputError("crawls are started from 'tanba console'")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    if not sys.stdin.isatty():
        raise InputError("no terminal to ask for the password: pipe it in with --password-stdin")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Password again: "):
        raise InputError("the two passwords differ; nothing was created")
    return first


def _users_add(app: App, args: argparse.Namespace) -> int:
    console = _stores(app)
    user = console.users.add(
        args.name,
        _read_password(args.password_stdin),
        args.role,
        org=args.org,
        jurisdiction=args.jurisdiction,
        language=args.language,
    )
    _warn_unknown_org(app, console, user)
    scope = user.org or user.jurisdiction
    print(f"user {user.username}: {user.role}{f' ({scope})' if scope else ''}")
    return 0


def _users_edit(app: App, args: argparse.Namespace) -> int:
    """``users edit|disable|enable``: sessions end when the scope or the password changes."""
    console = _stores(app)
    changes: dict[str, Any] = {
        name: getattr(args, name, None) for name in ("role", "org", "jurisdiction", "language")
    }
    if getattr(args, "password_stdin", False):
        changes["password"] = _read_password(True)
    if getattr(args, "disabled", None) is not None:
        changes["disabled"] = args.disabled
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        raise InputError(
            "say what to change: --role, --org, --jurisdiction, --language or --password-stdin"
        )
    user = user_rules.change(console.users, console.sessions, "cli", args.name, **changes)
    if "org" in changes or "role" in changes:  # said once when set, not on every change
        _warn_unknown_org(app, console, user)
    scope = user.org or user.jurisdiction
    flags = " (disabled)" if user.disabled else ""
    print(f"user {user.username}: {user.role}{f' ({scope})' if scope else ''}{flags}")
    return 0


def _warn_unknown_org(app: App, console: Any, user: Any) -> None:
    """A rights holder's organisation that no work names is most likely a typo: say so."""
    if user.role != "rights_holder" or not user.org:
        return
    if user.org not in app.works.catalog.owners():
        print(
            f"tanba: warning: no registered work has the owner {user.org!r}, so {user.username}"
            " sees no works or alerts yet; check the spelling against 'tanba works list'",
            file=sys.stderr,
        )


def _users_list(app: App, args: argparse.Namespace) -> int:
    for u in _stores(app).users.all():
        flags = " disabled" if u.disabled else ""
        print(f"{u.username}\t{u.role}\t{u.org or u.jurisdiction or '-'}\t{u.language}{flags}")
    return 0


def _users_token(app: App, args: argparse.Namespace) -> int:
    console = _stores(app)
    user = console.users.require(args.name)
    _, raw = console.sessions.issue_token(user.username, args.label)
    print(raw)
    return 0


def _console(app: App, args: argparse.Namespace) -> int:
    import uvicorn

    from tanba.console.crawls import Scheduler
    from tanba.console.web import create_app

    web = create_app(app)
    stop = threading.Event()
    if app.settings.console_scheduler and not args.no_scheduler:
        c = web.state.console
        scheduler = Scheduler(c.targets, c.runs, c.launcher, app.clock)
        threading.Thread(target=scheduler.run_forever, args=(stop,), daemon=True).start()
    if app.settings.console_cache_mb:
        home = app.settings.home
        threading.Thread(
            target=keep_pruning,
            args=(
                [thumbnails_dir(home), frames_dir(home)],
                app.settings.console_cache_mb << 20,
                stop,
            ),
            daemon=True,
        ).start()
    print(f"console on http://{args.host}:{args.port}/ (Ctrl-C stops it)", file=sys.stderr)
    try:
        uvicorn.run(web, host=args.host, port=args.port, log_level="warning")
    finally:
        stop.set()
    return 0
