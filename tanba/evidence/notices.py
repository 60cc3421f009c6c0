"""Draft letters of a case from editable Jinja2 templates: a notice to the site, a request between authorities.

Contract: :func:`render_notices` returns file name → text for the case: always
``notice-to-host.txt`` (to the site or its host), and for a cross-border case
``request-<FROM>-to-<TO>.txt`` (from the authority of the rights holder's state
to the authority of the state the copy is attributed to). Templates are looked
up, first match wins, in the directory ``TANBA_EVIDENCE_TEMPLATES`` (when set)
and then in ``tanba/evidence/templates``, as ``<CC>/<kind>.<lang>.txt.j2``,
``<CC>/<kind>.txt.j2``, ``default/<kind>.<lang>.txt.j2``,
``default/<kind>.txt.j2`` (``<CC>`` is the jurisdiction of the copy for a
notice, of the sender for a request). Undefined variables are errors, so a
mistyped template fails at export instead of printing an empty field.
``templates/README.txt`` lists the variables.

What a letter states about the evidence comes from the package itself:
``recapture`` says whether the page was recaptured, failed (with the reason, in
the letter's language) or was not attempted, and ``evidence`` names only what
the package holds (no screenshot or timestamp that is not in it); dates are in
the reader's time zone (:mod:`tanba.evidence.wording`, :mod:`tanba.evidence.dates`).

Why templates: the wording of a notice is the agencies' business and changes
with their practice; they edit text files, not code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2

from tanba.core.alerts import Alert
from tanba.core.hosts import readable_and_exact
from tanba.core.jurisdictions.model import Jurisdiction
from tanba.core.schemas.works import Work
from tanba.evidence import wording
from tanba.evidence.capturerecord import CaptureRecord
from tanba.evidence.dates import local, local_date
from tanba.evidence.exceptions import EvidenceError
from tanba.evidence.strings import localized

PACKAGED = Path(__file__).parent / "templates"
NOTICE = "notice"
REQUEST = "request"


@dataclass(frozen=True)
class NoticeContext:
    """What a template may use (see templates/README.txt)."""

    alert: Alert
    work: Work | None
    jurisdiction: Jurisdiction  # where the copy is
    owner_home: Jurisdiction | None  # where the rights holder is (cross-border cases)
    capture: CaptureRecord | None
    lang: str
    exported_at: str  # ISO 8601, UTC
    package: str  # the package's file name
    paths: tuple[str, ...]  # the package's members, so the letter names only what it holds
    tz: ZoneInfo  # the reader's time zone


def render_notices(context: NoticeContext, templates_dir: Path | None = None) -> dict[str, str]:
    """The draft letters of the case (see the module doc)."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(d) for d in (templates_dir, PACKAGED) if d]),
        undefined=jinja2.StrictUndefined,
        autoescape=False,  # plain text letters, never HTML
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["site"] = readable_and_exact  # фильмы.рф (xn--h1agd3a1be.xn--p1ai)
    values = {
        "alert": context.alert,
        "work": context.work,
        "jurisdiction": context.jurisdiction,
        "owner_home": context.owner_home,
        "capture": context.capture,
        "recapture": wording.recapture(context.capture, context.lang, context.tz),
        "evidence": wording.evidence_items(context.paths, context.lang),
        "lang": context.lang,
        "date": local_date(context.exported_at, context.tz),
        "first_seen": local(context.alert.first_seen, context.tz),
        "last_seen": local(context.alert.last_seen, context.tz),
        "package": context.package,
        "jurisdiction_name": localized(context.jurisdiction.names, context.lang),
        "owner_home_name": localized(context.owner_home.names, context.lang)
        if context.owner_home
        else "",
        "authority_name": _authority_name(context.jurisdiction, context.lang),
        "sender_authority_name": _authority_name(context.owner_home, context.lang)
        if context.owner_home
        else "",
    }
    out = {
        "notice-to-host.txt": _render(env, NOTICE, context.jurisdiction.code, context.lang, values)
    }
    a = context.alert
    if a.cross_border and context.owner_home is not None:
        name = f"request-{context.owner_home.code}-to-{context.jurisdiction.code}.txt"
        out[name] = _render(env, REQUEST, context.owner_home.code, context.lang, values)
    return out


def _authority_name(jurisdiction: Jurisdiction | None, lang: str) -> str:
    if jurisdiction is None or jurisdiction.authority is None:
        return ""
    return localized(jurisdiction.authority.names, lang)


def _render(env: jinja2.Environment, kind: str, code: str, lang: str, values: dict) -> str:
    candidates = [
        f"{code}/{kind}.{lang}.txt.j2",
        f"{code}/{kind}.txt.j2",
        f"default/{kind}.{lang}.txt.j2",
        f"default/{kind}.txt.j2",
    ]
    try:
        template = env.select_template(candidates)
        return template.render(**values)
    except jinja2.TemplatesNotFound:
        raise EvidenceError(
            f"no {kind} template: looked for {', '.join(candidates)}; restore "
            f"tanba/evidence/templates/default/{kind}.txt.j2"
        ) from None
    except jinja2.TemplateError as exc:
        raise EvidenceError(
            f"the {kind} template for {code} ({lang}) is broken: {exc}; fix the template "
            "(see tanba/evidence/templates/README.txt for the variables)"
        ) from None
