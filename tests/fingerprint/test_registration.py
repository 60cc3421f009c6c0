"""Registering works: one bad row registers nothing and every problem is reported with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tanba.core.exceptions import InputError
from tanba.core.wiring import App
from tanba.fingerprint.registration import WorkSpec, read_manifest, register


def manifest(
    tmp_path: Path, rows: list[str], header: str = "path,work_id,owner,title,territories,licensees"
) -> Path:
    path = tmp_path / "works.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_import_registers_every_row_with_lists_and_relative_paths(
    app: App, tmp_path: Path, small_photos: list[Path]
) -> None:
    (tmp_path / "a.jpg").write_bytes(small_photos[0].read_bytes())
    rows = [
        "a.jpg,w-a,Studio,Poster,KZ;RU,partner.kz;other.ru:2026-01-01:2026-12-31",
        f"{small_photos[1]},,Studio,,,",
    ]
    works = register(app, read_manifest(manifest(tmp_path, rows)))
    assert works[0].work_id == "w-a"
    a = app.works.get("w-a")
    assert a.territories == ["KZ", "RU"]
    assert [(lic.domain, lic.valid_from, lic.valid_until) for lic in a.licences] == [
        ("partner.kz", "", ""),
        ("other.ru", "2026-01-01", "2026-12-31"),
    ]
    assert works[1].work_id == works[1].sha256[:16] and works[1].title == small_photos[1].stem
    assert app.blobs.exists(a.sha256)


def test_one_bad_row_registers_nothing_and_names_every_problem(
    app: App, tmp_path: Path, small_photos: list[Path]
) -> None:
    rows = [
        f"{small_photos[0]},ok,Studio,,,",
        f"{small_photos[1]},bad-territory,Studio,,QQ,",
        f"{tmp_path / 'missing.jpg'},missing,Studio,,,",
        f"{small_photos[2]},bad-licence,Studio,,,partner.kz:2026-13-01",
    ]
    with pytest.raises(InputError) as err:
        register(app, read_manifest(manifest(tmp_path, rows)))
    text = str(err.value)
    assert "nothing was registered" in text
    assert "line 3: unknown territory QQ" in text and "line 4" in text and "line 5" in text
    assert app.works.all() == {}


def test_a_file_that_is_not_media_cannot_be_registered(app: App, tmp_path: Path) -> None:
    bogus = tmp_path / "notes.jpg"
    bogus.write_text("<html>hello</html>")
    with pytest.raises(InputError, match="cannot be registered: an HTML page"):
        register(app, [WorkSpec(path=bogus, owner="x")])


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("path,owner", "first line must be the header"),
        ("path,work_id,owner,title,territories,licensees,colour", "first line"),
    ],
)
def test_a_wrong_header_is_refused(tmp_path: Path, header: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        read_manifest(manifest(tmp_path, [], header=header))


def test_duplicate_work_ids_are_refused(app: App, small_photos: list[Path]) -> None:
    specs = [
        WorkSpec(path=small_photos[0], owner="x", work_id="same"),
        WorkSpec(path=small_photos[1], owner="x", work_id="same"),
    ]
    with pytest.raises(InputError, match="appears twice"):
        register(app, specs)


def test_registering_again_replaces_the_work(app: App, small_photos: list[Path]) -> None:
    register(app, [WorkSpec(path=small_photos[0], owner="x", work_id="w", territories=("KZ",))])
    register(app, [WorkSpec(path=small_photos[0], owner="x", work_id="w", territories=("RU",))])
    assert app.works.get("w").territories == ["RU"]
    assert len(app.works.all()) == 1
