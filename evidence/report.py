"""The human-readable PDF of a case: what was found, where, how it matched, and who handled it.

Contract: :func:`render_report` lays out a :class:`ReportInput` as an A4 PDF in
English, Russian or Kazakh (:mod:`evidence.strings`), with DejaVu fonts
(Debian's fonts-dejavu-core) so Cyrillic and Kazakh letters print. It embeds
the screenshot and the match picture and lists every other file of the
package with its SHA-256. reportlab runs in invariant mode: no creation date,
no random document id, so the same input gives the same bytes.

Why a PDF: a lawyer or a judge reads it without any tool, and it prints.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

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

from evidence.capture import CaptureRecord
from evidence.custody import CustodyEntry
from evidence.exceptions import EvidenceError
from evidence.matchreport import MatchReport
from evidence.strings import text
from tanba.alerts import Alert
from tanba.jurisdictions.registry import Jurisdiction

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONTS = {
    "DejaVuSans": "DejaVuSans.ttf",
    "DejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "DejaVuSansMono": "DejaVuSansMono.ttf",
}
_WIDTH = A4[0] - 36 * mm


@dataclass(frozen=True)
class ReportInput:
    """Everything the report shows; built by :mod:`evidence.package`."""

    lang: str
    alert: Alert
    jurisdiction: Jurisdiction
    owner_home: Jurisdiction | None
    capture: CaptureRecord | None
    match: MatchReport
    custody: Sequence[CustodyEntry]
    files: Sequence[tuple[str, str]]  # (path, sha256) of the package's other files
    screenshot: bytes
    picture: bytes
    reference_withheld: bool
    key_fingerprint: str
    tsa_url: str
    exported_at: str
    exported_by: str


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
    lang = data.lang
    t = _Words(lang)
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9, leading=12)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=9.5)
    mono = ParagraphStyle("mono", parent=small, fontName="DejaVuSansMono", fontSize=6.5)
    h1 = ParagraphStyle("h1", parent=body, fontName="DejaVuSans-Bold", fontSize=16, leading=20)
    h2 = ParagraphStyle(
        "h2", parent=body, fontName="DejaVuSans-Bold", fontSize=11.5, leading=15, spaceBefore=10
    )
    a = data.alert

    def p(value: object, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(escape(str(value)), style)

    def table(rows: Sequence[Sequence[object]], widths: Sequence[float], header: bool) -> Table:
        cells = [[c if isinstance(c, Flowable) else p(c, small) for c in row] for row in rows]
        tbl = Table(cells, colWidths=list(widths), repeatRows=1 if header else 0)
        style = [
            ("GRID", (0, 0), (-1, -1), 0.3, colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ]
        if header:
            style.append(("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)))
        tbl.setStyle(TableStyle(style))
        return tbl

    def pairs(rows: Sequence[tuple[str, object]]) -> Table:
        return table([(k, v) for k, v in rows], (55 * mm, _WIDTH - 55 * mm), header=False)

    story: list[Flowable] = [
        p(t("title"), h1),
        p(f"{t('case')} {a.id}", body),
        Spacer(1, 4),
        p(t("intro"), body),
        p(t("summary"), h2),
    ]
    jur = data.jurisdiction
    summary = [
        (t("work"), f"{a.work_title} ({a.media})"),
        (t("work_id"), a.work_id),
        (t("owner"), a.owner),
        (t("page"), a.page_url),
        (t("media_url"), a.media_url),
        (t("site"), a.site),
        (t("server_ip"), a.server_ip or t("unknown")),
        (t("jurisdiction"), f"{jur.name(lang)} ({jur.code})"),
        (t("confidence"), f"{a.jurisdiction_confidence:.2f}"),
        (t("first_seen"), a.first_seen),
        (t("last_seen"), a.last_seen),
        (t("status"), a.status),
        (t("score"), f"{a.score:.3f}"),
        (t("exported"), data.exported_at),
        (t("exported_by"), data.exported_by),
    ]
    if a.cross_border and data.owner_home is not None:
        summary.append((t("cross_border"), f"{data.owner_home.name(lang)} ({a.owner_home})"))
    story.append(pairs(summary))

    story.append(p(t("capture"), h2))
    c = data.capture
    if c is None:
        story.append(p(t("no_capture")))
    else:
        rows: list[tuple[str, object]] = [
            (t("captured_at"), c.captured_at),
            (t("captured_by"), c.actor),
        ]
        for ex in c.exchanges:
            if ex.error:
                rows.append((ex.url, ex.error))
                continue
            if ex.tls is None:
                cert = t("tls_none")
            else:
                leaf = ex.tls.chain[0] if ex.tls.chain else None
                state = t("verified") if ex.tls.verified else t("not_verified")
                cert = f"{ex.tls.version}, {state}" + (
                    f"; {leaf.subject} / {leaf.issuer}; SHA-256 {leaf.sha256}" if leaf else ""
                )
                if ex.tls.verify_error:
                    cert += f" ({ex.tls.verify_error})"
            rows.append(
                (
                    ex.url,
                    f"HTTP {ex.status} {ex.reason}; {ex.content_type}; {ex.payload_bytes} B; "
                    f"IP {ex.server_ip}:{ex.server_port}; {t('tls')}: {cert}",
                )
            )
        rows.append(("", t("media_same") if c.media_unchanged else t("media_changed")))
        if c.problems:
            rows.append((t("problems"), "; ".join(c.problems)))
        story.append(pairs(rows))
        shot = (
            _image(data.screenshot, _WIDTH, 150 * mm)
            if data.screenshot
            else p(f"{t('no_screenshot')}: {c.screenshot_note}")
        )
        story.append(KeepTogether([p(t("screenshot"), h2), shot]))

    m = data.match
    story.append(p(t("match"), h2))
    rows = [(t("algorithm"), m.match.algorithm), (t("score"), f"{m.score:.3f}")]
    if m.match.distance is not None:
        rows.append((t("distance"), m.match.distance))
    if m.match.variant:
        rows.append((t("variant"), m.match.variant))
    if m.image_region is not None:
        r = m.image_region
        rows.append(
            (t("region"), f"x {r.x}, y {r.y}, {r.width}x{r.height} ({r.share_of_reference:.0%})")
        )
    if m.audio_span is not None:
        s = m.audio_span
        rows += [
            (t("ber"), f"{s.bit_error_rate:.3f}"),
            (t("work_offset"), f"{s.work_offset_s:.2f} s"),
            (t("copy_offset"), f"{s.copy_offset_s:.2f} s"),
            (t("duration"), f"{s.duration_s:.2f} s"),
        ]
    if data.reference_withheld:
        rows.append(("", t("reference_withheld")))
    story.append(pairs(rows))
    if data.picture:
        story += [Spacer(1, 6), _image(data.picture, _WIDTH, 90 * mm)]

    story.append(p(t("signals"), h2))
    signal_rows: list[Sequence[object]] = [
        (t("signal"), t("value"), t("weight"), t("detail")),
        *((s.name, s.value, f"{s.weight:.2f}", s.detail) for s in a.signals),
    ]
    story.append(table(signal_rows, (35 * mm, 20 * mm, 15 * mm, _WIDTH - 70 * mm), header=True))
    authority = jur.authority
    story.append(Spacer(1, 4))
    story.append(
        pairs(
            [
                (
                    t("authority"),
                    (
                        authority.names.get(lang)
                        or authority.names.get("ru")
                        or authority.names["en"]
                    )
                    + (f" ({authority.website})" if authority.website else "")
                    if authority
                    else t("unknown"),
                )
            ]
        )
    )

    story.append(p(t("custody"), h2))
    custody_rows: list[Sequence[object]] = [
        (t("when"), t("who"), t("what")),
        *(
            (
                e.at,
                e.actor,
                f"{e.action}: {e.detail}" + (f" [{e.subject[:16]}…]" if e.subject else ""),
            )
            for e in data.custody
        ),
    ]
    story.append(table(custody_rows, (38 * mm, 30 * mm, _WIDTH - 68 * mm), header=True))

    story.append(p(t("files"), h2))
    file_rows: list[Sequence[object]] = [
        (t("file"), "SHA-256"),
        *((path, p(sha, mono)) for path, sha in data.files),
    ]
    story.append(table(file_rows, (62 * mm, _WIDTH - 62 * mm), header=True))
    signing = [p(t("signing"), h2), p(t("signing_text", fingerprint=data.key_fingerprint))]
    if data.tsa_url:
        signing.append(p(t("timestamp_text", tsa=data.tsa_url)))
    story.append(KeepTogether(signing))

    out = io.BytesIO()
    footer = f"{t('title')} · {a.id}"

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
        creator="Tanba evidence export",
        invariant=1,
    )
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate)
    return out.getvalue()


class _Words:
    def __init__(self, lang: str) -> None:
        self.lang = lang

    def __call__(self, key: str, **values: str) -> str:
        return text(self.lang, key, **values)


def _image(png: bytes, max_width: float, max_height: float) -> Image:
    with PilImage.open(io.BytesIO(png)) as im:
        width, height = im.size
    scale = min(max_width / width, max_height / height)
    return Image(io.BytesIO(png), width=width * scale, height=height * scale)
