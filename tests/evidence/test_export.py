"""End to end: real alerts on the loopback demo web, exported as packages, verified, tampered with.

``tanba works import`` and ``tanba run`` run as subprocesses (see conftest); the
exports and verifications go through ``tanba.evidence.cli``'s handlers on an App with
a fixed clock, exactly as ``tanba evidence ...`` calls them once registered.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from PIL import Image

from tanba.core.alerts import Alert
from tanba.core.clock import FixedClock
from tanba.evidence import manifest as mf
from tanba.evidence.exceptions import AccessDenied
from tanba.evidence.signing import SigningKey
from tests.support.evidence import alerts_by_path, private_pem, run_evidence

EXPORT_TIME = "2026-05-04T10:00:00Z"


def run(home: Path, *argv: str, key: SigningKey | None = None, tsa: str = "") -> tuple[int, str]:
    """Run ``tanba evidence ARGV`` in-process on ``home`` with a fixed clock; (status, stdout)."""
    env = {"TANBA_TSA_URL": tsa}
    if key is not None:
        env["TANBA_SIGNING_KEY"] = private_pem(key)
    return run_evidence(home, *argv, env=env, clock=FixedClock(EXPORT_TIME))


def alerts(case: Any) -> dict[str, Alert]:
    """Alerts by media path (e.g. "/img/a-small.jpg" on kino), read from the store."""
    return alerts_by_path(case.home, case.server.port)


def resolve_args(case: Any) -> list[str]:
    return [
        arg
        for host in case.demo.sites
        for arg in ("--resolve", f"{host}:{case.server.port}:127.0.0.1")
    ]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {name: z.read(name) for name in z.namelist()}


def rezip(source: dict[str, bytes], target: Path) -> Path:
    with zipfile.ZipFile(target, "w") as z:
        for name, data in source.items():
            z.writestr(name, data)
    return target


@pytest.fixture(scope="module")
def exported(
    demo_case: Any, signing_key: SigningKey, local_tsa, tmp_path_factory
) -> Iterator[tuple[Path, Alert]]:
    """The package of the poster copy on kino.example.kz, time-stamped by the local TSA."""
    alert = alerts(demo_case)["kino.example.kz/img/a-small.jpg"]
    out = tmp_path_factory.mktemp("pkg") / "case.zip"
    status, printed = run(
        demo_case.home,
        "export", alert.id, "-o", str(out), "--lang", "ru", *resolve_args(demo_case),
        key=signing_key, tsa=local_tsa.url,
    )  # fmt: skip
    assert status == 0 and "time-stamped" in printed
    yield out, alert


def test_the_package_holds_the_case_and_verifies(
    exported: tuple[Path, Alert], demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    path, alert = exported
    files = members(path)
    expected = {
        "README.txt", "report.pdf", "web-archive.wacz", "capture/capture.json",
        "capture/screenshot.png", "work/work.json", "work/reference.jpg", "found/media.jpg",
        "match/report.json", "match/overlay.png", "case/alert.json", "case/jurisdiction.json",
        "case/status-history.json", "case/custody-log.json", "notices/notice-to-host.txt",
        "manifest.json", "manifest.sig", "public-key.pem", "manifest.tsr",
    }  # fmt: skip
    assert set(files) == expected

    capture = json.loads(files["capture/capture.json"])
    assert capture["captured_at"] == "2026-05-04T10:00:00.000Z"
    assert capture["media_unchanged"] is True and not capture["problems"]
    page = capture["exchanges"][0]
    assert page["status"] == 200 and page["server_ip"] == "127.0.0.1"
    assert page["tls"] is None and "no TLS" in page["tls_note"]
    screenshot = Image.open(io.BytesIO(files["capture/screenshot.png"]))
    assert screenshot.width >= 1280 and len(np.unique(np.asarray(screenshot.convert("L")))) > 4

    assert (
        files["found/media.jpg"] == demo_case.demo.sites["kino.example.kz"]["/img/a-small.jpg"][0]
    )
    reference = Path(next(w["path"] for w in demo_case.demo.works if w["work_id"] == "photo-a"))
    assert files["work/reference.jpg"] == reference.read_bytes()
    report = json.loads(files["match/report.json"])
    assert report["found_fingerprint"]["image"]["hashes"] and report["score"] == alert.score
    assert report["image_region"]["share_of_reference"] > 0.9  # a resized copy shows it all
    custody = json.loads(files["case/custody-log.json"])
    assert [e["action"] for e in custody] == ["captured"]
    jurisdiction = json.loads(files["case/jurisdiction.json"])
    assert jurisdiction["code"] == "KZ" and jurisdiction["signals"]
    notice = files["notices/notice-to-host.txt"].decode()
    assert alert.page_url in notice and "ПРОЕКТ" in notice

    status, printed = run(demo_case.home, "verify", str(path), key=signing_key)
    assert status == 0, printed
    assert "OK" in printed and signing_key.fingerprint in printed and "time-stamped" in printed
    assert "this installation's signing key" in printed
    key_file = tmp_path / "key.pem"
    key_file.write_bytes(signing_key.public_pem())
    assert run(demo_case.home, "verify", str(path), "--public-key", str(key_file))[0] == 0
    pinned = run(demo_case.home, "verify", str(path), "--fingerprint", signing_key.fingerprint)
    assert pinned[0] == 0, pinned[1]

    other = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(32)), "other")
    key_file.write_bytes(other.public_pem())
    status, printed = run(demo_case.home, "verify", str(path), "--public-key", str(key_file))
    assert status == 1 and f"signed by an unknown key {signing_key.fingerprint}" in printed
    assert f"--public-key {key_file}" in printed  # what was trusted instead


def test_changing_removing_or_adding_any_member_fails_verification_naming_it(
    exported: tuple[Path, Alert], demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    path, _ = exported
    original = members(path)
    for name, data in original.items():
        tampered = dict(original)
        middle = bytearray(data)
        middle[len(middle) // 2] ^= 0x01
        tampered[name] = bytes(middle)
        status, printed = run(
            demo_case.home, "verify", str(rezip(tampered, tmp_path / "t.zip")), key=signing_key
        )
        assert status == 1 and "FAILED" in printed, f"changing {name} went unnoticed"
        assert name in printed, f"changing {name}: {printed}"

        removed = {k: v for k, v in original.items() if k != name}
        status, printed = run(
            demo_case.home, "verify", str(rezip(removed, tmp_path / "r.zip")), key=signing_key
        )
        assert status == 1 and name in printed and "missing" in printed, printed

    added = {**original, "case/extra.txt": b"planted later"}
    status, printed = run(
        demo_case.home, "verify", str(rezip(added, tmp_path / "a.zip")), key=signing_key
    )
    assert status == 1 and "case/extra.txt was added" in printed


def test_a_package_changed_rehashed_and_resigned_with_a_new_key_is_refused(
    exported: tuple[Path, Alert], demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    """The forgery of issue 14: the notice's owner changed, the manifest rehashed and re-signed."""
    path, alert = exported
    files = members(path)
    notice = "notices/notice-to-host.txt"
    files[notice] = files[notice].decode().replace(alert.owner, "Someone Else").encode()
    forger = SigningKey(Ed25519PrivateKey.from_private_bytes(bytes(range(7, 39))), "forger")
    manifest = mf.Manifest.model_validate_json(files[mf.MANIFEST])
    entries = [
        e.model_copy(
            update={
                "sha256": hashlib.sha256(files[notice]).hexdigest(),
                "bytes": len(files[notice]),
            }
        )
        if e.path == notice
        else e
        for e in manifest.files
    ]
    key_ref = mf.KeyRef(algorithm="Ed25519", fingerprint=forger.fingerprint)
    body = mf.manifest_bytes(
        manifest.model_copy(update={"files": entries, "public_key": key_ref, "timestamp": None})
    )
    files.pop(mf.TIMESTAMP)
    files[mf.MANIFEST] = body
    files[mf.SIGNATURE] = base64.b64encode(forger.sign(body)) + b"\n"
    files[mf.PUBLIC_KEY] = forger.public_pem()
    forged = rezip(files, tmp_path / "forged.zip")
    status, printed = run(demo_case.home, "verify", str(forged), key=signing_key)
    assert status == 1 and "FAILED" in printed
    assert f"signed by an unknown key {forger.fingerprint}" in printed
    assert "What to do" in printed and "tanba evidence trust add" in printed
    # The report names the genuine key and the command that checks against it.
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=members(path)["report.pdf"], capture_output=True,
        check=True, timeout=60,
    ).stdout.decode()  # fmt: skip
    assert f"tanba evidence verify ПАКЕТ.zip --fingerprint {signing_key.fingerprint}" in " ".join(
        text.split()
    )


def test_a_changed_wacz_is_opened_to_say_which_file_inside_changed(
    exported: tuple[Path, Alert], demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    path, _ = exported
    original = members(path)
    with zipfile.ZipFile(io.BytesIO(original["web-archive.wacz"])) as z:
        wacz = {n: z.read(n) for n in z.namelist()}
    wacz["pages/pages.jsonl"] = wacz["pages/pages.jsonl"].replace(b"Main", b"Mainx")
    wacz["pages/pages.jsonl"] += b'{"id": "x", "url": "http://evil.example/"}\n'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        for n, d in wacz.items():
            z.writestr(n, d)
    status, printed = run(
        demo_case.home,
        "verify",
        str(rezip({**original, "web-archive.wacz": buffer.getvalue()}, tmp_path / "w.zip")),
        key=signing_key,
    )
    assert status == 1 and "web-archive.wacz was changed" in printed
    assert "pages/pages.jsonl was changed" in printed


def test_the_wacz_passes_py_wacz_validation_and_indexes_page_media_and_screenshot(
    exported: tuple[Path, Alert], tmp_path: Path
) -> None:
    path, alert = exported
    wacz = tmp_path / "web-archive.wacz"
    wacz.write_bytes(members(path)["web-archive.wacz"])
    done = subprocess.run(
        [sys.executable, "-m", "wacz", "validate", "-f", str(wacz)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Validation succeeded" in done.stdout
    inside = members(wacz)
    assert sorted(n for n in inside if n.startswith("archive/")) == [
        "archive/capture.warc.gz",
        "archive/crawl.warc.gz",
    ]
    index = [
        json.loads(line.split(" ", 2)[2])
        for line in inside["indexes/index.cdx"].decode().splitlines()
    ]
    urls = [(row["url"], row["filename"]) for row in index]
    for url in (alert.page_url, alert.media_url):
        assert (url, "crawl.warc.gz") in urls and (url, "capture.warc.gz") in urls
    assert ("urn:screenshot:" + alert.page_url, "capture.warc.gz") in urls
    with zipfile.ZipFile(wacz) as z:
        assert z.getinfo("archive/capture.warc.gz").compress_type == zipfile.ZIP_STORED


def test_the_pdf_renders_in_russian_and_kazakh(
    exported: tuple[Path, Alert], demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    path, alert = exported
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(members(path)["report.pdf"])
    subprocess.run(
        ["pdftoppm", "-r", "40", "-f", "1", "-l", "1", "-png", str(pdf), str(tmp_path / "page")],
        check=True,
        timeout=60,
    )
    page = Image.open(next(tmp_path.glob("page*.png"))).convert("L")
    dark = int((np.asarray(page) < 128).sum())
    assert dark > 0.005 * page.width * page.height, "the first page is blank"
    text = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert (
        "Отчёт о доказательствах" in text and alert.id in text and signing_key.fingerprint in text
    )

    out = tmp_path / "kk.zip"
    status, _ = run(
        demo_case.home, "export", alert.id, "-o", str(out), "--lang", "kk", "--no-recapture",
        key=signing_key,
    )  # fmt: skip
    assert status == 0
    pdf.write_bytes(members(out)["report.pdf"])
    kazakh = subprocess.run(
        ["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert "Дәлелдемелер туралы есеп" in kazakh and "Құқық иеленуші" in kazakh


def test_exports_are_deterministic_apart_from_the_timestamp_token(
    demo_case: Any, signing_key: SigningKey, local_tsa, tmp_path: Path
) -> None:
    alert = alerts(demo_case)["muzyka.example.ru/bg/city.jpg"]
    common = ("--lang", "en", *resolve_args(demo_case))
    first = tmp_path / "first.zip"  # recaptures the page; every export below reuses it
    assert (
        run(demo_case.home, "export", alert.id, "-o", str(first), *common, key=signing_key)[0] == 0
    )

    # Two installations in the same state (copies of one home) export the same bytes.
    twins = [tmp_path / "a", tmp_path / "b"]
    for twin in twins:
        shutil.copytree(demo_case.home, twin / "home")
    one, two = (twin / "1.zip" for twin in twins)
    for twin, out in zip(twins, (one, two), strict=True):
        assert (
            run(twin / "home", "export", alert.id, "-o", str(out), *common, key=signing_key)[0] == 0
        )
    assert one.read_bytes() == two.read_bytes()
    # The package's custody log holds the earlier export: who, when, its digest, the interface.
    log = json.loads(members(one)["case/custody-log.json"])
    earlier = [e for e in log if e["action"] == "exported"]
    assert [(e["package_sha256"], e["interface"], e["at"]) for e in earlier] == [
        (hashlib.sha256(first.read_bytes()).hexdigest(), "cli", "2026-05-04T10:00:00.000Z")
    ]

    # Both now hold one more (identical) export; time-stamped exports differ only in the token.
    three, four = (twin / "2.zip" for twin in twins)
    for twin, out in zip(twins, (three, four), strict=True):
        status, _ = run(
            twin / "home", "export", alert.id, "-o", str(out), *common,
            key=signing_key, tsa=local_tsa.url,
        )  # fmt: skip
        assert status == 0
    a, b = members(three), members(four)
    assert sorted(n for n in a if a[n] != b[n]) == ["manifest.tsr"]
    assert set(a) - set(members(one)) == {"manifest.tsr"}
    assert "RFC 3161" in a["README.txt"].decode()  # the TSA is recorded in what is signed
    assert "RFC 3161" not in members(one)["README.txt"].decode()


def test_audio_and_cross_border_cases(
    demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    by_path = alerts(demo_case)
    clip = by_path["kino.example.kz/audio/clip.mp3"]
    out = tmp_path / "clip.zip"
    assert (
        run(
            demo_case.home,
            "export",
            clip.id,
            "-o",
            str(out),
            *resolve_args(demo_case),
            key=signing_key,
        )[0]
        == 0
    )
    files = members(out)
    span = json.loads(files["match/report.json"])["audio_span"]
    assert abs(span["work_offset_s"] - 60) <= 1.0 and span["duration_s"] > 5
    assert Image.open(io.BytesIO(files["match/alignment.png"])).width == 900
    assert "notices/request-RU-to-KZ.txt" not in files  # Bubble Records has no home state

    crop = by_path["kino.example.kz/img/b-crop.jpg"]  # photo-b: owner at home in RU
    assert crop.cross_border and crop.owner_home == "RU"
    out = tmp_path / "crop.zip"
    status, _ = run(
        demo_case.home, "export", crop.id, "-o", str(out), "--lang", "en",
        "--withhold-reference", *resolve_args(demo_case), key=signing_key,
    )  # fmt: skip
    assert status == 0
    files = members(out)
    request = files["notices/request-RU-to-KZ.txt"].decode()
    assert crop.page_url in request and "Russia" in request and "Kazakhstan" in request
    assert "work/reference.jpg" not in files
    withheld = json.loads(files["work/reference-withheld.json"])
    assert len(withheld["sha256"]) == 64 and "work/thumbnail.png" in files
    region = json.loads(files["match/report.json"])["image_region"]
    # The copy is the photo cropped by 3 % on each side: about 88 % of its area.
    assert 0.8 <= region["share_of_reference"] <= 0.95


def test_agencies_and_rights_holders_export_only_their_cases(
    demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    by_path = alerts(demo_case)
    kz = by_path["kino.example.kz/img/a-small.jpg"]  # Qazaq Pictures, KZ
    ru = by_path["muzyka.example.ru/bg/city.jpg"]  # Moscow Arts, RU
    both = tmp_path / "both"
    with pytest.raises(AccessDenied, match="may not export alert " + ru.id):
        run(demo_case.home, "export", kz.id, ru.id, "-o", str(both), "--no-recapture",
            "--as-jurisdiction", "KZ", key=signing_key)  # fmt: skip
    assert not both.exists()  # refused before anything was written
    status, _ = run(demo_case.home, "export", kz.id, "-o", str(tmp_path / "kz.zip"),
                    "--no-recapture", "--as-jurisdiction", "KZ", key=signing_key)  # fmt: skip
    assert status == 0

    with pytest.raises(AccessDenied, match="Moscow Arts"):
        run(demo_case.home, "export", kz.id, "-o", str(tmp_path / "x.zip"), "--no-recapture",
            "--as-owner", "Moscow Arts", key=signing_key)  # fmt: skip
    status, printed = run(demo_case.home, "export", ru.id, kz.id, "-o", str(both), "--no-recapture",
                          "--as-owner", "Moscow Arts", "--as-owner", "Qazaq Pictures",
                          key=signing_key)  # fmt: skip
    assert status == 0 and printed.count(".zip (") == 2
    assert sorted(p.name for p in both.iterdir()) == sorted([f"{kz.id}.zip", f"{ru.id}.zip"])


def test_a_site_gone_at_export_time_still_gives_a_verifiable_package_that_says_so(
    demo_case: Any, signing_key: SigningKey, tmp_path: Path
) -> None:
    alert = alerts(demo_case)["news.example.com/media/b.jpg"]
    gone = [f"news.example.com:{demo_case.server.port}:127.0.0.2"]  # nothing listens there
    out = tmp_path / "gone.zip"
    status, _ = run(
        demo_case.home, "export", alert.id, "-o", str(out), "--recapture", "--lang", "en",
        "--resolve", gone[0], key=signing_key,
    )  # fmt: skip
    assert status == 0
    files = members(out)
    capture = json.loads(files["capture/capture.json"])
    assert len(capture["problems"]) >= 2 and "could not be fetched" in capture["problems"][0]
    assert "capture/screenshot.png" not in files
    custody = json.loads(files["case/custody-log.json"])
    assert custody[-1]["action"] == "capture_failed"
    with zipfile.ZipFile(io.BytesIO(files["web-archive.wacz"])) as z:
        assert [n for n in z.namelist() if n.startswith("archive/")] == ["archive/crawl.warc.gz"]
    assert run(demo_case.home, "verify", str(out), key=signing_key)[0] == 0

    status, printed = run(demo_case.home, "key", key=signing_key)
    assert status == 0 and signing_key.fingerprint in printed and "BEGIN PUBLIC KEY" in printed
