"""The request dependencies every route declares: who calls, with which role, over which console.

Pages and API authorise callers the same way, through these.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from tanba.console.alerts import AlertFilters
from tanba.console.auth import Caller, caller, require
from tanba.console.context import Console, console_of

AnyUser = Annotated[Caller, Depends(caller)]
Operator = Annotated[Caller, Depends(require("operator", "admin"))]
Admin = Annotated[Caller, Depends(require("admin"))]
Filters = Annotated[AlertFilters, Query()]


def _console(request: Request) -> Console:
    return console_of(request)


ConsoleDep = Annotated[Console, Depends(_console)]
