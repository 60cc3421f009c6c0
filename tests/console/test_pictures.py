"""The alert list's sheet of pictures: cells stacked without decoding show each cell as it is.

The sheet's bytes are its cells' JPEG scans joined (tanba.console.pictures.stack); these
tests decode the sheet and compare every cell with the cell decoded alone, pixel for pixel
but for the row at each joint,
and check what happens to a cell kept by another encoder and to a file with no picture.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tanba.console.media import blank_cell, cell
from tanba.console.pictures import LIST_SIDE, MAX_CELLS, Cell, Sheet, same_encoding, stack
from tanba.core.blobs import BlobStore
from tanba.core.exceptions import InputError
from tanba.core.wiring import App


def _pixels(jpeg: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(jpeg)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.int16)


def _photo(seed: int, size: tuple[int, int]) -> bytes:
    """A noisy picture of ``size``: every cell of a sheet differs from the others."""
    rnd = np.random.default_rng(seed)
    out = io.BytesIO()
    pixels = rnd.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def _stored(blobs: BlobStore, sizes: list[tuple[int, int]]) -> list[str]:
    return [blobs.put(_photo(i, size)) for i, size in enumerate(sizes)]


def test_a_stacked_sheet_shows_each_cell_as_the_cell_alone(app: App, tmp_path: Path) -> None:
    # Wide, tall, square and tiny pictures: each centred on its square cell.
    shas = _stored(app.blobs, [(400, 300), (90, 500), (128, 128), (20, 10)])
    cells = [cell(app.blobs, sha, tmp_path, 10**8) for sha in shas]
    sheet = Sheet(tuple(Cell("alert", sha, "o") for sha in shas))
    stacked = stack(sheet, dict(zip(shas, cells, strict=True)).__getitem__, blank_cell())
    whole = _pixels(stacked)
    assert whole.shape == (LIST_SIDE * 4, LIST_SIDE, 3)
    for i, one in enumerate(cells):
        alone = _pixels(one)
        assert alone.shape == (LIST_SIDE, LIST_SIDE, 3)
        shown = whole[i * LIST_SIDE : (i + 1) * LIST_SIDE]
        # Exact inside; at a joint a decoder draws the colour of the edge row from both
        # cells (its chroma is upsampled across the join): a row a cell, shown at half.
        assert np.array_equal(shown[1:-1], alone[1:-1]), i
        assert np.abs(shown[[0, -1]] - alone[[0, -1]]).max() <= 40, i
    # ... and the cells differ, so a cell in the wrong place would be seen.
    assert not np.array_equal(whole[:LIST_SIDE], whole[LIST_SIDE : 2 * LIST_SIDE])


def test_blank_cells_and_files_without_a_picture_are_the_background(
    app: App, tmp_path: Path
) -> None:
    [photo] = _stored(app.blobs, [(300, 200)])
    text = app.blobs.put(b"<svg xmlns='http://www.w3.org/2000/svg'></svg>")

    def made(sha: str) -> bytes:
        return cell(app.blobs, sha, tmp_path, 10**8)

    cells = (Cell("alert", photo, "o"), Cell("alert", text, "o"), Cell("work", photo, "Withheld"))
    stacked = stack(Sheet(cells), made, blank_cell(), blank=lambda one: one.owner == "Withheld")
    whole = _pixels(stacked)
    empty = _pixels(blank_cell())
    assert not np.array_equal(whole[:LIST_SIDE], empty)
    assert np.array_equal(whole[LIST_SIDE : 2 * LIST_SIDE], empty)  # not an image
    assert np.array_equal(whole[2 * LIST_SIDE :], empty)  # withheld
    with pytest.raises(InputError, match="not an image"):
        made(text)


def test_a_cell_kept_by_another_encoder_is_made_again(app: App, tmp_path: Path) -> None:
    [photo] = _stored(app.blobs, [(300, 200)])
    first = cell(app.blobs, photo, tmp_path, 10**8)
    kept = tmp_path / photo[:2] / f"{photo}-cell{LIST_SIDE}.jpg"
    other = io.BytesIO()
    Image.open(io.BytesIO(first)).save(other, "JPEG", quality=95)  # other tables, no restarts
    kept.write_bytes(other.getvalue())
    assert not same_encoding(other.getvalue(), blank_cell())
    again = cell(app.blobs, photo, tmp_path, 10**8)
    assert same_encoding(again, blank_cell()) and kept.read_bytes() == again == first


def test_a_sheet_has_no_more_cells_than_a_jpeg_is_high() -> None:
    cells = tuple(Cell("alert", f"{i:064x}", "o") for i in range(MAX_CELLS + 1))
    with pytest.raises(ValueError, match="at most 511 cells"):
        stack(Sheet(cells), lambda sha: blank_cell(), blank_cell())
