"""What packages say: only what they hold, and all of it in the reader's language and time zone.

Real alerts on the loopback demo web (conftest's ``demo_case``) are exported
with :func:`tanba.evidence.package.export` on an App with a fixed clock; the PDF is
read back with poppler's ``pdftotext``, the notices as text. Each fact a text
depends on (the recapture failed, there is no screenshot, there is no
timestamp) is changed and the texts are checked for it. The language check
walks every word: for Russian and Kazakh, a Latin word that the English
catalogue (or an English template, or one of Tanba's codes) uses and the
reader's catalogue does not is a leak, unless it is the case's own data
(names, addresses, file names, hashes, commands).
"""

from __future__ import annotations

import io
import json
import re
import subprocess
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tanba.core.access import Principal
from tanba.core.alerts import STATUSES, Alert, StatusChange
from tanba.core.clock import FixedClock
from tanba.core.settings import Settings
from tanba.core.signals.video import VARIANTS as VIDEO_VARIANTS
from tanba.core.wiring import App
from tanba.evidence import strings
from tanba.evidence.capturerecord import ERROR_KINDS, CaptureRecord, Exchange
from tanba.evidence.custody import ACTIONS, INTERFACES
from tanba.evidence.matchreport import AudioSpan, ImageRegion, alignment_captions, overlay_captions
from tanba.evidence.notices import PACKAGED
from tanba.evidence.package import ExportOptions, export
from tanba.evidence.report import verify_commands
from tanba.evidence.screenshot import ChromiumScreenshotter, NoScreenshots
from tanba.evidence.signing import SigningKey
from tanba.evidence.wording import recapture
from tests.support.evidence import alerts_by_path

EXPORT_TIME = "2026-05-04T21:30:00Z"  # 2026-05-05 00:30 in Moscow: the date differs by zone
# Whole words only: the letters inside a hex digest ("4be3") are not words.
LATIN = re.compile(r"(?<!\w)[A-Za-z][A-Za-z_]*(?!\w)")
CYRILLIC = re.compile(r"(?<!\w)[\u0400-\u04ff]+(?!\w)")
SIGNALS = ("target_override", "cctld", "server_ip", "page_language")
# Latin words every language writes the same: acronyms, protocols and proper names.
TECHNICAL = {
    "API", "Chromaprint", "DCT", "DNS", "HTTP", "IP", "PDF", "RFC", "SHA", "TLS", "Tanba",
    "UTC", "pHash", "http", "https",
}  # fmt: skip
EXPORTER = Principal("Иван Петров", "admin")  # Cyrillic: a person's name is data


def _words(value: str) -> set[str]:
    return {w.lower() for w in LATIN.findall(re.sub(r"{\w+}", " ", value))}


def _english_templates() -> str:
    """The English notice and request templates' own words (Jinja expressions left out)."""
    raw = "".join((PACKAGED / "default" / f"{k}.txt.j2").read_text() for k in ("notice", "request"))
    return re.sub(r"{[{%].*?[%}]}", " ", raw, flags=re.S)


def english_vocabulary() -> set[str]:
    """Words that betray English text or a raw code in a Russian or Kazakh document.

    Fixed, not read from the reader's catalogue: a phrase left in English there
    must not make its own words acceptable.
    """
    english = {w for v in strings.catalogue("en").values() for w in _words(v)}
    english |= _words(_english_templates())
    codes = {*STATUSES, *ACTIONS, *INTERFACES, *ERROR_KINDS, *SIGNALS, "image", "audio", "system"}
    return (english | codes) - {w.lower() for w in TECHNICAL}


def leaks(text: str, verbatim: Iterable[str], data: Iterable[str]) -> list[str]:
    """English or code words in ``text`` that are not the case's data.

    ``verbatim`` strings (file names, commands) are cut out whole first, so their
    words, which are often English ("report", "capture"), cannot hide a leak;
    ``data`` strings (names, addresses) allow their words anywhere.
    """
    flat = " ".join(text.split())
    for item in sorted(verbatim, key=len, reverse=True):
        flat = flat.replace(" ".join(item.split()), " ")
    allowed = {w.lower() for item in data for w in LATIN.findall(item)}
    vocabulary = english_vocabulary()
    return [w for w in LATIN.findall(flat) if w.lower() in vocabulary and w.lower() not in allowed]


def in_context(text: str, words: list[str]) -> list[str]:
    """Each leaked word with the text around it, for the failure message."""
    flat = " ".join(text.split())
    return [flat[max(0, m.start() - 40) : m.end() + 40] for w in dict.fromkeys(words)
            for m in re.finditer(rf"\b{re.escape(w)}\b", flat)][:10]  # fmt: skip


def cyrillic_leaks(text: str, data: Iterable[str]) -> list[str]:
    allowed = {w.lower() for item in data for w in CYRILLIC.findall(item)}
    return [w for w in CYRILLIC.findall(text) if w.lower() not in allowed]


def test_the_checker_catches_an_untranslated_phrase_and_a_raw_code() -> None:
    english = strings.text("en", "screenshot_failed")  # "... the browser failed ..."
    found = leaks(f"Статус: new. {english}", [], [])
    assert found[0] == "new" and "browser" in found
    assert leaks("Признак: cctld", [], []) == ["cctld"]
    # Words of a verbatim string or of the case's data are not leaks; the same words elsewhere are.
    assert leaks("Файл case/custody-log.json", ["case/custody-log.json"], []) == []
    assert leaks("custody", ["case/custody-log.json"], []) == ["custody"]
    assert leaks("Steppe poster", [], ["Steppe poster"]) == []


def test_every_catalogue_has_every_key_with_the_same_placeholders() -> None:
    en = strings.catalogue("en")
    for lang in ("ru", "kk"):
        other = strings.catalogue(lang)
        assert set(other) == set(en), lang
        for key, phrase in en.items():
            assert set(re.findall(r"{(\w+)}", other[key])) == set(re.findall(r"{(\w+)}", phrase))
    # Every code a document words has a phrase in every language.
    for lang in strings.LANGUAGES:
        for family, codes in (
            ("status", STATUSES),
            ("signal", SIGNALS),
            ("error", ERROR_KINDS),
            ("interface", INTERFACES),
            ("custody", [a for a in ACTIONS if a != "exported"] + ["exported"]),
        ):
            for code in codes:
                assert strings.has(lang, f"{family}.{code}"), (lang, family, code)
        # Each way a video copy's frames were hashed is worded apart (the report once called
        # every one "mirrored").
        worded = {strings.text(lang, f"variant.video_{v}") for v in VIDEO_VARIANTS}
        assert len(worded) == len(VIDEO_VARIANTS), lang


# --- the texts of real packages --------------------------------------------------------------


def pdf_text(pdf: bytes, tmp: Path) -> str:
    path = tmp / "report.pdf"
    path.write_bytes(pdf)
    done = subprocess.run(
        ["pdftotext", str(path), "-"], capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def pdf_info(pdf: bytes, tmp: Path) -> str:
    path = tmp / "info.pdf"
    path.write_bytes(pdf)
    return subprocess.run(
        ["pdfinfo", "-isodates", str(path)], capture_output=True, text=True, check=True, timeout=60
    ).stdout


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.fixture(scope="module")
def cases(demo_case: Any) -> dict[str, Alert]:
    return alerts_by_path(demo_case.home, demo_case.server.port)


class Exporter:
    """Exports packages of the demo case in-process with a fixed clock, key and options."""

    def __init__(self, case: Any, key: SigningKey, tmp: Path) -> None:
        self.case, self.key, self.tmp = case, key, tmp
        self.count = 0
        self.names: list[str] = []  # file names written, in order (the notices cite them)

    def __call__(self, alert: Alert, **options: Any) -> dict[str, bytes]:
        self.count += 1
        app = App(Settings.from_env({}, home=self.case.home), FixedClock(EXPORT_TIME))
        try:
            out = self.tmp / f"{alert.id}-{self.count}.zip"
            self.names.append(out.name)
            opts = ExportOptions(signing_key=self.key, **options)
            export(app, [alert.id], out, EXPORTER, opts)
            return members(out.read_bytes())
        finally:
            app.close()

    def confirm(self, alert: Alert, comment: str) -> None:
        app = App(Settings.from_env({}, home=self.case.home), FixedClock("2026-05-04T09:00:00Z"))
        try:
            change = StatusChange(
                status="confirmed",
                actor=EXPORTER.name,
                at="2026-05-04T09:00:00.000Z",
                comment=comment,
            )
            app.store.change_status(alert.id, change)
        finally:
            app.close()


@pytest.fixture(scope="module")
def exporter(
    demo_case: Any, signing_key: SigningKey, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Exporter]:
    yield Exporter(demo_case, signing_key, tmp_path_factory.mktemp("texts"))


def gone(case: Any) -> dict[str, str]:
    """A --resolve map that sends every demo site to an address where nothing listens."""
    return {host: "127.0.0.2" for host in case.demo.sites}


def test_a_failed_recapture_without_screenshot_or_timestamp_is_described_as_such(
    exporter: Exporter, cases: dict[str, Alert], demo_case: Any, tmp_path: Path
) -> None:
    alert = cases["news.example.com/media/b.jpg"]
    files = exporter(
        alert, lang="ru", recapture="always", resolve=gone(demo_case), screenshotter=NoScreenshots()
    )
    assert "capture/screenshot.png" not in files and "manifest.tsr" not in files
    report = " ".join(pdf_text(files["report.pdf"], tmp_path).split())
    t = lambda key, **v: strings.text("ru", key, **v)  # noqa: E731
    assert t("recapture_failed") in report
    assert t("error.refused", host="news.example.com") in report
    assert t("media_changed") not in report and t("media_same") not in report
    assert t("captured_at") not in report and t("attempted_at") in report
    assert t("screenshot_not_tried") in report
    assert t("no_timestamp") in report and "RFC 3161" not in report
    notice = files["notices/notice-to-host.txt"].decode()
    assert "не удалась" in notice and "отказал в соединении" in notice
    assert "повторно зафиксирована" not in notice
    assert t("item.screenshot") not in notice and t("item.timestamp") not in notice
    assert t("item.web_archive") in notice and t("item.manifest") in notice


def test_a_recapture_with_screenshot_and_timestamp_is_described_as_such(
    exporter: Exporter, cases: dict[str, Alert], demo_case: Any, local_tsa: Any, tmp_path: Path
) -> None:
    from tanba.evidence.timestamp import Rfc3161Client

    alert = cases["kino.example.kz/img/a-small.jpg"]
    files = exporter(
        alert,
        lang="ru",
        recapture="always",
        resolve=demo_case.resolve(),
        screenshotter=ChromiumScreenshotter(),
        tsa=Rfc3161Client(local_tsa.url),
    )
    assert "capture/screenshot.png" in files and "manifest.tsr" in files
    report = " ".join(pdf_text(files["report.pdf"], tmp_path).split())
    t = lambda key, **v: strings.text("ru", key, **v)  # noqa: E731
    assert t("recapture_failed") not in report and t("captured_at") in report
    assert t("media_same") in report
    assert t("timestamp_text", tsa=local_tsa.url) in report and t("no_timestamp") not in report
    notice = files["notices/notice-to-host.txt"].decode()
    assert "повторно зафиксирована" in notice and "тот же файл по-прежнему доступен" in notice
    assert t("item.screenshot") in notice and t("item.timestamp") in notice

    # The same page recaptured where no browser is: the screenshot is neither shown nor claimed.
    files = exporter(
        alert, lang="ru", recapture="always", resolve=demo_case.resolve(),
        screenshotter=NoScreenshots("no browser here"),
    )  # fmt: skip
    report = " ".join(pdf_text(files["report.pdf"], tmp_path).split())
    assert "capture/screenshot.png" not in files
    assert t("screenshot_unavailable") in report
    assert t("item.screenshot") not in files["notices/notice-to-host.txt"].decode()


def test_the_file_s_fate_is_worded_from_what_the_recapture_fetched() -> None:
    """Changed, gone and unknown come from the exchanges, for records made by any version."""
    base = dict(
        alert_id="a", page_url="http://x.kz/", media_url="http://x.kz/a.jpg",
        captured_at="2026-05-04T21:30:00.000Z", actor="system", user_agent="ua",
        warc_sha256="0" * 64, warc_bytes=1,
    )  # fmt: skip
    page = Exchange(url="http://x.kz/", status=200, content_type="text/html")
    utc = ZoneInfo("UTC")
    cases = {
        "changed": Exchange(url="http://x.kz/a.jpg", status=200, payload_sha256="1" * 64),
        "gone": Exchange(url="http://x.kz/a.jpg", status=404),
        "unknown": Exchange(url="http://x.kz/a.jpg", error="timed out", error_kind="timeout"),
    }
    for fate, media in cases.items():
        outcome = recapture(CaptureRecord(**base, exchanges=[page, media]), "kk", utc)
        assert (outcome.state, outcome.media) == ("ok", fate)
    dns = Exchange(url="http://x.kz/", error="x.kz does not resolve", error_kind="dns")
    old = Exchange(url="http://x.kz/a.jpg", error="OSError: whatever")  # before error_kind
    failed = recapture(CaptureRecord(**base, exchanges=[dns, old]), "ru", ZoneInfo("Europe/Moscow"))
    assert failed.state == "failed" and failed.at == "2026-05-05 00:30:00 UTC+03:00"
    assert failed.reason == strings.text("ru", "error.dns", host="x.kz")


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_a_match_scored_at_its_best_alignment_says_so_and_what_it_scored_before(
    lang: str, exporter: Exporter, cases: dict[str, Alert], demo_case: Any, tmp_path: Path
) -> None:
    """The demo's crop, stored for a moment as if its pair had been re-scored at its best
    alignment (the store's copy put back after), and as it is."""
    crop = cases["kino.example.kz/img/b-crop.jpg"]
    aligned = crop.model_copy(update={"match": crop.match.model_copy(update={"unaligned": 0.8812})})
    words = " ".join(strings.text(lang, "unaligned").split())
    for alert, shown in ((aligned, True), (crop, False)):
        _stored(demo_case, alert)
        try:
            files = exporter(alert, lang=lang, timezone="Europe/Moscow", recapture="never",
                             resolve=demo_case.resolve(), screenshotter=NoScreenshots())  # fmt: skip
        finally:
            _stored(demo_case, crop)
        report = " ".join(pdf_text(files["report.pdf"], tmp_path).split())
        assert (words[:40] in report and "0.881" in report) is shown
        unaligned = json.loads(files["case/alert.json"])["match"].get("unaligned")
        assert unaligned == (0.8812 if shown else None)


def _stored(case: Any, alert: Alert) -> None:
    app = App(Settings.from_env({}, home=case.home), FixedClock(EXPORT_TIME))
    try:
        app.store.upsert([alert])
    finally:
        app.close()


@pytest.mark.parametrize("lang", ["ru", "kk", "en"])
def test_every_word_of_a_package_is_in_the_chosen_language(
    lang: str, exporter: Exporter, cases: dict[str, Alert], demo_case: Any, tmp_path: Path
) -> None:
    crop = cases["kino.example.kz/img/b-crop.jpg"]  # cross-border: a request as well
    clip = cases["kino.example.kz/audio/clip.mp3"]
    if lang == "ru":
        exporter.confirm(crop, "Проверено вручную")
    packages = [
        exporter(crop, lang=lang, timezone="Europe/Moscow", recapture="always",
                 resolve=demo_case.resolve(), screenshotter=NoScreenshots()),
        exporter(clip, lang=lang, timezone="Asia/Almaty", recapture="always",
                 resolve=gone(demo_case), screenshotter=NoScreenshots()),
    ]  # fmt: skip
    for alert, files, zone in zip(
        (crop, clip), packages, ("Europe/Moscow", "Asia/Almaty"), strict=True
    ):
        fingerprint = json.loads(files["manifest.json"])["public_key"]["fingerprint"]
        capture = json.loads(files["capture/capture.json"])
        custody = json.loads(files["case/custody-log.json"])
        package_file = f"{strings.text(lang, 'package_word')}.zip"
        verbatim = [
            *files, *verify_commands(fingerprint, lang), "manifest.tsr", package_file,
            *exporter.names,
        ]  # fmt: skip
        data = [
            alert.id, alert.work_id, alert.work_title, alert.owner, alert.page_url,
            alert.media_url, alert.site, alert.target, fingerprint, zone, EXPORTER.name,
            *(e["comment"] for e in custody), *(e["package_sha256"] for e in custody),
            *(x["content_type"] for x in capture["exchanges"]),
        ]  # fmt: skip
        report = pdf_text(files["report.pdf"], tmp_path)
        notices = [files[n].decode() for n in files if n.startswith("notices/")]
        assert len(notices) == (2 if alert is crop else 1)
        for text in (report, *notices):
            found = cyrillic_leaks(text, data) if lang == "en" else leaks(text, verbatim, data)
            assert found == [], in_context(text, found)
        # Signal codes, statuses and actions are worded; times are in the reader's zone.
        assert strings.text(lang, "signal.cctld") in " ".join(report.split())
        status = json.loads(files["case/alert.json"])["status"]
        assert strings.text(lang, f"status.{status}") in report
        exported = {"Europe/Moscow": "00:30:00 UTC+03:00", "Asia/Almaty": "02:30:00 UTC+05:00"}
        assert f"2026-05-05 {exported[zone]}" in report
        assert all("2026-05-05" in n for n in notices)  # in UTC it is still the 4th
    # The captions drawn on the pictures.
    region = ImageRegion(x=1, y=2, width=30, height=40, share_of_reference=0.5, mean_abs_diff=1.0)
    span = AudioSpan(work_offset_s=60, copy_offset_s=0, duration_s=19.8, bit_error_rate=0.1,
                     work_duration_s=200, copy_duration_s=20)  # fmt: skip
    captions = [
        *overlay_captions((100, 80), (50, 40), region, False, lang),
        *overlay_captions((100, 80), (50, 40), region, True, lang),
        *alignment_captions(span, clip.work_title, lang),
    ]
    for caption in captions:
        if lang == "en":
            assert cyrillic_leaks(caption, [clip.work_title]) == [], caption
        else:
            assert leaks(caption, [], [clip.work_title]) == [], caption


def test_the_pdf_is_dated_by_the_export_time(
    exporter: Exporter, cases: dict[str, Alert], tmp_path: Path
) -> None:
    files = exporter(
        cases["muzyka.example.ru/share/a.jpg"], lang="en", timezone="Europe/Moscow",
        recapture="never",
    )  # fmt: skip
    info = pdf_info(files["report.pdf"], tmp_path)
    assert re.search(r"CreationDate:\s+2026-05-05T00:30:00\+03(:00)?", info), info
    assert "2000-01-01" not in info
