"""Draft letters from templates: per-jurisdiction choice, agencies' own copies, broken templates."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tanba.core.alerts import Alert, MatchDetail
from tanba.core.jurisdictions.registry import JurisdictionRegistry
from tanba.evidence.exceptions import EvidenceError
from tanba.evidence.notices import NoticeContext, render_notices

REGISTRY = JurisdictionRegistry.load()


def _context(lang: str, *, cross_border: bool) -> NoticeContext:
    alert = Alert(
        id="a1", work_id="w1", owner="Qazaq Pictures", work_title="Steppe", media="image",
        score=0.97, match=MatchDetail(algorithm="phash64", distance=2),
        page_url="http://kino.example.kz/1.html", media_url="http://kino.example.kz/a.jpg",
        media_sha256="0" * 64, site="kino.example.kz", jurisdiction="KZ",
        first_seen="2026-03-01T00:00:00.000Z", last_seen="2026-03-02T00:00:00.000Z",
        cross_border=cross_border, owner_home="RU" if cross_border else "",
    )  # fmt: skip
    return NoticeContext(
        alert=alert, work=None, jurisdiction=REGISTRY.get("KZ"),
        owner_home=REGISTRY.get("RU") if cross_border else None, capture=None, lang=lang,
        exported_at="2026-03-03T10:00:00.000Z", package="evidence-a1",
        paths=("web-archive.wacz", "report.pdf", "manifest.json"), tz=ZoneInfo("UTC"),
    )  # fmt: skip


def test_templates_are_chosen_by_jurisdiction_and_language() -> None:
    kk = render_notices(_context("kk", cross_border=False))
    assert list(kk) == ["notice-to-host.txt"]
    assert "Құқық" in kk["notice-to-host.txt"] or "құқық" in kk["notice-to-host.txt"]
    en = render_notices(_context("en", cross_border=True))
    assert sorted(en) == ["notice-to-host.txt", "request-RU-to-KZ.txt"]
    assert "http://kino.example.kz/a.jpg" in en["notice-to-host.txt"]
    request = en["request-RU-to-KZ.txt"]
    assert "Russia" in request and "Kazakhstan" in request and "Qazaq Pictures" in request


def test_an_agency_copy_wins_and_a_broken_template_names_itself(tmp_path: Path) -> None:
    (tmp_path / "KZ").mkdir()
    (tmp_path / "KZ" / "notice.txt.j2").write_text("Agency wording for {{ alert.site }}\n")
    out = render_notices(_context("en", cross_border=False), tmp_path)
    assert out["notice-to-host.txt"] == "Agency wording for kino.example.kz\n"
    (tmp_path / "KZ" / "notice.txt.j2").write_text("{{ alert.sight }}\n")
    with pytest.raises(EvidenceError, match=r"notice template for KZ .* broken: .*sight"):
        render_notices(_context("en", cross_border=False), tmp_path)


def test_an_internationalised_site_is_named_as_read_and_as_crawled() -> None:
    context = _context("ru", cross_border=True)
    idn = context.alert.model_copy(
        update={
            "site": "xn--h1agd3a1be.xn--p1ai",
            "page_url": "http://xn--h1agd3a1be.xn--p1ai/1.html",
        }
    )
    letters = render_notices(replace(context, alert=idn))
    for letter in letters.values():
        assert "фильмы.рф (xn--h1agd3a1be.xn--p1ai)" in letter
        assert "http://xn--h1agd3a1be.xn--p1ai/1.html" in letter  # the URL exactly as crawled
