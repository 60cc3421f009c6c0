"""The human-readable PDF of a case: what was found, where, how it matched, and who handled it.

Contract: :func:`render_report` lays out a :class:`ReportInput` as an A4 PDF
entirely in English, Russian or Kazakh (every phrase from :mod:`tanba.evidence.strings`,
every statement worded from the package's facts by :mod:`tanba.evidence.wording`),
with DejaVu fonts (Debian's fonts-dejavu-core) so Cyrillic and Kazakh letters
print. Times are shown in the reader's time zone with their UTC offset. It
embeds the screenshot and the match picture, lists every other file of the
package with its SHA-256, and ends with the signing key's fingerprint and the
exact commands that check the package against a key the reader trusts
(:func:`verify_commands`). reportlab runs in invariant mode (no random
document id) and the PDF's creation date is the export time, so the same input
gives the same bytes.

Why a PDF: a lawyer or a judge reads it without any tool, and it prints.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

from PIL import Image as PilImage
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    Flowable,
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from tanba.core.alerts import Alert
from tanba.core.hosts import readable_and_exact
from tanba.core.jurisdictions.attribution import alert_confidence
from tanba.core.jurisdictions.model import Jurisdiction
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.evidence import wording
from tanba.evidence.capturerecord import CaptureRecord
from tanba.evidence.custody import CustodyEntry
from tanba.evidence.dates import local, pdf_date
from tanba.evidence.exceptions import EvidenceError
from tanba.evidence.matchreport import MatchReport
from tanba.evidence.strings import localized, text

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
}
_WIDTH = A4[0] - 36 * mm


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows; built by :mod:`tanba.evidence.assembly`."""

    lang: str
    tz: ZoneInfo
    alert: Alert
    jurisdiction: Jurisdiction
    owner_home: Jurisdiction | None
    registry: JurisdictionRegistry  # names the states the jurisdiction signals point to
    capture: CaptureRecord | None
    match: MatchReport
    custody: Sequence[CustodyEntry]
    files: Sequence[tuple[str, str]]  # (path, sha256) of the package's other files
    screenshot: bytes
    picture: bytes
    reference_withheld: bool
    key_fingerprint: str
    tsa_url: str  # "" when the package carries no timestamp token
    exported_at: str
    exported_by: str


def verify_commands(fingerprint: str, lang: str) -> tuple[str, str, str, str]:
    """The commands the report gives: verify; verify pinning the key; take out and trust the key."""
    package = f"{text(lang, 'package_word')}.zip"
    return (
        f"tanba evidence verify {package}",
        f"tanba evidence verify {package} --fingerprint {fingerprint}",
        f"unzip -p {package} public-key.pem > key.pem",
        f"tanba evidence trust add key.pem --fingerprint {fingerprint}",
    )


def _register_fonts() -> None:
    for name, file in FONTS.items():
        if name in pdfmetrics.getRegisteredFontNames():
            continue
        path = FONT_DIR / file
        if not path.exists():
            raise EvidenceError(
                f"the font {path} is missing; install it with 'apt-get install fonts-dejavu-core'"
            )
        pdfmetrics.registerFont(TTFont(name, str(path)))


def render_report(data: ReportInput) -> bytes:
    """The PDF bytes of the report (see the module doc)."""
    _register_fonts()
    lang, tz = data.lang, data.tz
    t = _Words(lang)
    k = _Layout()
    p, pairs, table = k.p, k.pairs, k.table
    body, small, mono, h1, h2 = k.body, k.small, k.mono, k.h1, k.h2
    a = data.alert

    zone_name = str(tz.key)
    story: list[Flowable] = [
        p(t("title"), h1),
        p(f"{t('case')} {a.id}", body),
        Spacer(1, 4),
        p(t("intro"), body),
        p(t("times", zone=zone_name), small),
        p(t("summary"), h2),
    ]
    jur = data.jurisdiction
    summary = [
        (t("work"), f"{a.work_title} ({t('media.' + a.media)})"),
        (t("work_id"), a.work_id),
        (t("owner"), a.owner),
        (t("page"), a.page_url),
        (t("media_url"), a.media_url),
        (t("site"), readable_and_exact(a.site)),
        (t("server_ip"), a.server_ip or t("unknown")),
        (t("jurisdiction"), f"{localized(jur.names, lang)} ({jur.code})"),
        (t("confidence"), f"{alert_confidence(a):.2f}"),
        (t("first_seen"), local(a.first_seen, tz)),
        (t("last_seen"), local(a.last_seen, tz)),
        (t("status"), wording.status_name(a.status, lang)),
        (t("score"), f"{a.score:.3f}"),
        (t("exported"), local(data.exported_at, tz)),
        (t("exported_by"), wording.actor_name(data.exported_by, lang)),
    ]
    if a.cross_border and data.owner_home is not None:
        home = data.owner_home
        summary.append((t("cross_border"), f"{localized(home.names, lang)} ({home.code})"))
    story.append(pairs(summary))
    story += _capture_section(data, k)
    story += _match_section(data, k)

    story.append(p(t("signals"), h2))
    signal_rows: list[Sequence[object]] = [
        (t("signal"), t("value"), t("weight"), t("detail")),
        *(wording.signal_row(s, a, data.registry, lang) for s in a.signals),
    ]
    story.append(table(signal_rows, (35 * mm, 35 * mm, 15 * mm, _WIDTH - 85 * mm), header=True))
    authority = jur.authority
    story.append(Spacer(1, 4))
    named = (
        localized(authority.names, lang) + (f" ({authority.website})" if authority.website else "")
        if authority
        else t("unknown")
    )
    story.append(pairs([(t("authority"), named)]))

    story.append(p(t("custody"), h2))
    custody_rows: list[Sequence[object]] = [(t("when"), t("who"), t("what"))]
    for e in data.custody:
        what = escape(wording.custody_line(e, lang))
        if e.package_sha256:
            what += f'<br/>SHA-256 <font name="DejaVuSansMono" size="6">{e.package_sha256}</font>'
        custody_rows.append(
            (local(e.at, tz), wording.actor_name(e.actor, lang), Paragraph(what, small))
        )
    story.append(table(custody_rows, (38 * mm, 30 * mm, _WIDTH - 68 * mm), header=True))

    story.append(p(t("files"), h2))
    file_rows: list[Sequence[object]] = [
        (t("file"), "SHA-256"),
        *((path, p(sha, mono)) for path, sha in data.files),
    ]
    story.append(table(file_rows, (62 * mm, _WIDTH - 62 * mm), header=True))
    verify, pinned, take, trust = verify_commands(data.key_fingerprint, lang)
    signing = [
        p(t("signing"), h2),
        p(t("signing_text", fingerprint=data.key_fingerprint)),
        p(verify, mono),
        Spacer(1, 3),
        p(t("signing_unknown")),
        p(pinned, mono),
        p(take, mono),
        p(trust, mono),
        Spacer(1, 3),
        p(t("timestamp_text", tsa=data.tsa_url) if data.tsa_url else t("no_timestamp")),
    ]
    story.append(KeepTogether(signing))

    out = io.BytesIO()
    footer = f"{t('title')} · {a.id}"
    created = pdf_date(data.exported_at, tz)

    def first(canvas: object, doc: object) -> None:
        # The info dictionary is written at the end; its dates are the export time, not
        # reportlab's invariant 2000-01-01 (the document id stays invariant).
        canvas.setDateFormatter(lambda *_: created)  # type: ignore[attr-defined]
        decorate(canvas, doc)

    def decorate(canvas: object, doc: object) -> None:
        canvas.setFont("DejaVuSans", 7)  # type: ignore[attr-defined]
        number = canvas.getPageNumber()  # type: ignore[attr-defined]
        canvas.drawString(18 * mm, 10 * mm, f"{footer} · {t('page_of')} {number}")  # type: ignore[attr-defined]

    doc = SimpleDocTemplate(
        out,
        pagesize=A4,
        leftMargin=18 * mm,
        rightMargin=18 * mm,
        topMargin=16 * mm,
        bottomMargin=16 * mm,
        title=f"{t('title')} {a.id}",
        author="Tanba",
        creator="Tanba",
        lang=lang,
        invariant=1,
    )
    doc.build(story, onFirstPage=first, onLaterPages=decorate)
    return out.getvalue()


def _capture_section(data: ReportInput, k: _Layout) -> list[Flowable]:
    """The recapture: when, by whom, each exchange, whether the file is still there, screenshot."""
    lang, t, p, pairs, h2 = data.lang, _Words(data.lang), k.p, k.pairs, k.h2
    story: list[Flowable] = [p(t("capture"), h2)]
    c = data.capture
    if c is None:
        return [*story, p(t("no_capture"))]
    outcome = wording.recapture(c, lang, data.tz)
    rows: list[tuple[str, object]] = [
        (t("attempted_at" if outcome.state == "failed" else "captured_at"), outcome.at),
        (t("captured_by"), wording.actor_name(c.actor, lang)),
    ]
    roles = (t("recapture_page"), t("recapture_media"))
    for role, chain in zip(roles, wording.chains(c), strict=False):
        for exchange in chain:
            line = escape(exchange.url) + "<br/>" + escape(wording.exchange_line(exchange, lang))
            rows.append((role, Paragraph(line, k.small)))
    if outcome.state == "failed":
        story.append(p(t("recapture_failed")))
    story.append(pairs(rows))
    sentence = wording.media_sentence(outcome, c, lang)
    if sentence:
        story.append(p(sentence))
    if data.screenshot:
        shot: Flowable = _image(data.screenshot, _WIDTH, 150 * mm)
    elif outcome.state == "failed":
        shot = p(t("screenshot_not_tried"))
    else:
        shot = p(t(f"screenshot_{wording.screenshot_state(c)}"))
    story.append(KeepTogether([p(t("screenshot"), h2), shot]))
    return story


def _match_section(data: ReportInput, k: _Layout) -> list[Flowable]:
    """How the copy matched: method, score, the part of the work, region or aligned span."""
    lang, t, p, pairs, h2 = data.lang, _Words(data.lang), k.p, k.pairs, k.h2
    m = data.match
    rows: list[tuple[str, object]] = [
        (t("algorithm"), wording.algorithm_name(m.match.algorithm, lang)),
        (t("score"), f"{m.score:.3f}"),
    ]
    if m.match.distance is not None:
        rows.append((t("distance"), m.match.distance))
    if m.match.variant and m.video_span is not None:
        # A video's variant says how the copy's frames were hashed: "mirrored", "inset"
        # (the picture inside its picture) or "unmarked" (a still logo painted over).
        rows.append((t("variant"), t(f"variant.video_{m.match.variant}")))
    elif m.match.variant:
        rows.append((t("variant"), wording.variant_name(m.match.variant, lang)))
    if m.match.unaligned is not None:
        rows.append((t("unaligned"), f"{m.match.unaligned:.3f}"))
    if m.match.detail is not None:
        rows.append((t("fine_detail"), f"{m.match.detail:.3f}"))
    if m.image_region is not None:
        r = m.image_region
        share = f"{r.share_of_reference:.0%}"
        value = t("region_value", x=r.x, y=r.y, width=r.width, height=r.height, share=share)
        rows.append((t("region"), value))
    if m.audio_span is not None:
        s = m.audio_span
        rows += [
            (t("ber"), f"{s.bit_error_rate:.3f}"),
            (t("work_offset"), t("seconds", value=f"{s.work_offset_s:.2f}")),
            (t("copy_offset"), t("seconds", value=f"{s.copy_offset_s:.2f}")),
            (t("duration"), t("seconds", value=f"{s.duration_s:.2f}")),
        ]
    if m.video_span is not None:
        v = m.video_span
        rows += [
            (t("evidence"), t(f"evidence.{v.evidence}")),
            (t("work_offset"), t("seconds", value=f"{v.work_offset_s:.2f}")),
            (t("copy_offset"), t("seconds", value=f"{v.copy_offset_s:.2f}")),
            (t("duration"), t("seconds", value=f"{v.duration_s:.2f}")),
        ]
        if abs(v.scale - 1.0) > 1e-3:
            rows.append((t("speed"), f"{v.scale:.4f}"))
        for pair in m.frame_pairs:  # shown side by side in the picture below
            at = t(
                "frame_pair",
                copy=t("seconds", value=f"{pair.copy_s:.1f}"),
                work=t("seconds", value=f"{pair.work_s:.1f}"),
            )
            alike = (
                t("frame_missing")
                if pair.distance is None
                else t("frame_distance", distance=pair.distance)
            )
            rows.append((at, alike))
        if len(m.match.positions) > 1:  # a repeated picture (or passage): every place, ranked
            for rank, pos in enumerate(m.match.positions[1:], start=2):
                at = t("seconds", value=f"{pos.offset_s:.2f}")
                score = "" if pos.score is None else f" ({t('score')} {pos.score:.2f})"
                how = (
                    t("frame_distance", distance=pos.distance)
                    if pos.distance is not None
                    else f"{t('ber')} {pos.ber:.3f}"
                    if pos.ber is not None
                    else ""
                )
                rows.append((t("also_at", rank=rank), f"{at}{score}" + (f", {how}" if how else "")))
    if len(m.audio_positions) > 1:  # the work repeats the passage: every position, ranked
        for rank, o in enumerate(m.audio_positions[1:], start=2):
            at = t("seconds", value=f"{o.work_offset_s:.2f}")
            score = "" if o.score is None else f" ({t('score')} {o.score:.2f})"
            rows.append((t("also_at", rank=rank), f"{at}{score}"))
    if data.reference_withheld:
        rows.append(("", t("reference_withheld")))
    story: list[Flowable] = [p(t("match"), h2), pairs(rows)]
    if data.picture:
        story += [Spacer(1, 6), _image(data.picture, _WIDTH, 90 * mm)]
    return story


class _Layout:
    """The report's paragraph styles, and paragraphs and tables made with them."""

    def __init__(self) -> None:
        self.body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9, leading=12)
        self.small = ParagraphStyle("small", parent=self.body, fontSize=7.5, leading=9.5)
        self.mono = ParagraphStyle(
            "mono", parent=self.small, fontName="DejaVuSansMono", fontSize=6.5
        )
        self.h1 = ParagraphStyle(
            "h1", parent=self.body, fontName="DejaVuSans-Bold", fontSize=16, leading=20
        )
        self.h2 = ParagraphStyle(
            "h2",
            parent=self.body,
            fontName="DejaVuSans-Bold",
            fontSize=11.5,
            leading=15,
            spaceBefore=10,
        )

    def p(self, value: object, style: ParagraphStyle | None = None) -> Paragraph:
        return Paragraph(escape(str(value)), style or self.body)

    def table(
        self, rows: Sequence[Sequence[object]], widths: Sequence[float], header: bool
    ) -> Table:
        cells = [
            [c if isinstance(c, Flowable) else self.p(c, self.small) for c in row] for row in rows
        ]
        tbl = Table(cells, colWidths=list(widths), repeatRows=1 if header else 0)
        style = [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
        tbl.setStyle(TableStyle(style))
        return tbl

    def pairs(self, rows: Sequence[tuple[str, object]]) -> Table:
        return self.table([(k, v) for k, v in rows], (55 * mm, _WIDTH - 55 * mm), header=False)


class _Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: object) -> str:
        return text(self.lang, key, **values)


def _image(png: bytes, max_width: float, max_height: float) -> Image:
    with PilImage.open(io.BytesIO(png)) as im:
        width, height = im.size
    scale = min(max_width / width, max_height / height)
    return Image(io.BytesIO(png), width=width * scale, height=height * scale)
