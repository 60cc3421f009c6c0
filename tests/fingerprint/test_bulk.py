"""Bulk registration: every core, per-file errors that do not stop it, and a resume after kill -9."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tanba.app.demo.media import web_jpeg
from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.fingerprint.bulk import import_specs
from tanba.fingerprint.registration import read_manifest

HEADER = "path,work_id,owner,title,territories,licensees"


def _catalogue(folder: Path, photos: list[Path], count: int) -> list[Path]:
    """``count`` distinct real pictures, 480 px wide: ``photos`` and crops of them."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for i in range(count):
        path = folder / f"p{i:03d}.jpg"
        crop = (i // len(photos)) * 0.03
        path.write_bytes(web_jpeg(photos[i % len(photos)], width=480, crop=crop))
        files.append(path)
    return files


def _manifest(path: Path, rows: list[str]) -> Path:
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_catalogue_registers_on_two_workers_and_bad_files_are_named_not_fatal(
    app: App, tmp_path: Path, small_photos: list[Path]
) -> None:
    files = _catalogue(tmp_path / "c", small_photos, 6)
    (tmp_path / "c" / "notes.jpg").write_text("<html>not a picture</html>")
    rows = [f"{f},w{i},Studio,,KZ," for i, f in enumerate(files)]
    rows.insert(2, f"{tmp_path / 'c' / 'notes.jpg'},notes,Studio,,,")
    rows.insert(5, f"{tmp_path / 'c' / 'gone.jpg'},gone,Studio,,,")
    manifest = _manifest(tmp_path / "works.csv", rows)
    seen: list[int] = []
    works, tally = import_specs(
        app,
        read_manifest(manifest),
        tmp_path / "journal",
        workers=2,
        batch=2,
        progress=lambda t: seen.append(t.done),
    )
    assert sorted(w.work_id for w in works) == sorted(f"w{i}" for i in range(6))
    assert set(app.works.all()) == {f"w{i}" for i in range(6)}
    assert all(app.works.all()[f"w{i}"].territories == ["KZ"] for i in range(6))
    assert len(tally.failed) == 2
    assert "line 4" in tally.failed[0] and "an HTML page" in tally.failed[0]
    assert "line 7" in tally.failed[1] and "is not a file" in tally.failed[1]
    assert seen == sorted(seen) and seen[-1] == 8  # progress after each batch, then at the end


def test_a_typo_in_the_manifest_stops_the_import_before_any_file_is_read(
    app: App, tmp_path: Path, small_photos: list[Path]
) -> None:
    files = _catalogue(tmp_path / "c", small_photos, 3)
    rows = [f"{files[0]},a,Studio,,,", f"{files[1]},b,,,,", f"{files[2]},c,Studio,,QQ,"]
    with pytest.raises(InputError) as err:
        import_specs(app, read_manifest(_manifest(tmp_path / "w.csv", rows)), tmp_path / "j")
    assert "nothing was registered" in str(err.value)
    assert "line 3: an owner is required" in str(
        err.value
    ) and "line 4: unknown territory QQ" in str(err.value)
    assert app.works.all() == {} and not (tmp_path / "j").exists()


@pytest.mark.integration  # the real command in a child process, killed with SIGKILL
def test_an_import_killed_midway_resumes_where_its_journal_ends(
    tmp_path: Path, photos: list[Path]
) -> None:
    files = _catalogue(tmp_path / "c", photos, 30)
    manifest = _manifest(
        tmp_path / "works.csv", [f"{f},w{i},Studio,,," for i, f in enumerate(files)]
    )
    home = tmp_path / "home"
    command = [sys.executable, "-m", "tanba.app.cli", "--home", str(home), "works", "import"]
    command += [str(manifest), "--workers", "2", "--batch", "1"]
    first = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    journal: Path | None = None
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        journals = list((home / "imports").glob("*.done")) if (home / "imports").is_dir() else []
        if journals and journals[0].read_text().count("\n") >= 3:
            journal = journals[0]
            break
        time.sleep(0.01)
    # Thirty reference prints take seconds on any machine; three are done: it is midway.
    assert journal is not None and first.poll() is None, "the import was not caught midway"
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=30)
    done_before = journal.read_text().count("\n")
    assert 3 <= done_before < 30

    second = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    assert second.returncode == 0, second.stderr[-2000:]
    assert f"{done_before} already done" in second.stderr
    listed = subprocess.run(
        [sys.executable, "-m", "tanba.app.cli", "--home", str(home), "works", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    ids = [line.split('"work_id": "')[1].split('"')[0] for line in listed.stdout.splitlines()]
    assert sorted(ids) == sorted(f"w{i}" for i in range(30))
    assert journal.read_text().count("\n") == 30
