"""The contact sheet's Qt-free part: tiles, labels, PNG and mp4 export, a batch's files."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from studio.queue.contact_sheet import (
    GAP,
    LABEL_HEIGHT,
    SheetError,
    SheetItem,
    batch_entries,
    compose,
    export_mp4,
    export_png,
    grid_shape,
    read_item,
)
from studio.queue.jobs import Job, JobState

COLOURS = [(200, 30, 30), (30, 200, 30), (30, 30, 200), (220, 220, 40), (200, 40, 200)]


def clip(
    colour: tuple[int, int, int], length: int, width: int = 64, height: int = 48
) -> np.ndarray:
    frames = np.empty((length, height, width, 3), np.uint8)
    frames[:] = colour
    for t in range(length):  # a white bar that walks right: frames differ
        frames[t, :, 4 * t : 4 * t + 4] = 255
    return frames


def items(count: int = 5) -> list[SheetItem]:
    return [SheetItem(f"seed={n + 1}", clip(COLOURS[n], 6 if n else 3), 8.0) for n in range(count)]


def tile_centre(sheet: np.ndarray, n: int, columns: int, tile=(64, 48)) -> np.ndarray:
    tw, th = tile
    x = GAP + (n % columns) * (tw + GAP) + tw * 3 // 4
    y = GAP + (n // columns) * (th + LABEL_HEIGHT + GAP) + th // 2
    return sheet[y, x].astype(int)


def test_grid_shape():
    assert [grid_shape(n) for n in (1, 2, 3, 4, 5, 8, 9, 10)] == [
        (1, 1), (2, 1), (2, 2), (2, 2), (3, 2), (3, 3), (3, 3), (4, 3),
    ]  # fmt: skip
    with pytest.raises(SheetError):
        grid_shape(0)


def test_compose_places_each_variant_with_its_label():
    sheet_items = items()
    sheet = compose(sheet_items, 0, (64, 48))
    columns, rows = grid_shape(5)
    assert sheet.shape[0] >= rows * (48 + LABEL_HEIGHT) and sheet.shape[1] >= columns * 64
    for n in range(5):
        assert np.abs(tile_centre(sheet, n, columns) - COLOURS[n]).max() <= 2
        # The label strip under the tile holds light text pixels.
        x = GAP + (n % columns) * (64 + GAP)
        y = GAP + (n // columns) * (48 + LABEL_HEIGHT + GAP) + 48
        assert sheet[y : y + LABEL_HEIGHT, x : x + 64].max() > 150
    # A shorter clip holds its last frame while the others go on.
    later = compose(sheet_items, 5, (64, 48))
    np.testing.assert_array_equal(later[GAP : GAP + 48, GAP : GAP + 64], sheet_items[0].frames[-1])


def test_export_png_and_mp4_round_trip(tmp_path):
    sheet_items = items(4)
    png = export_png(sheet_items, tmp_path / "sheet.png", frame=2)
    image = cv2.cvtColor(cv2.imread(str(png)), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(image, compose(sheet_items, 2, (64, 48)))
    mp4 = export_mp4(sheet_items, tmp_path / "sub" / "sheet.mp4")
    played = read_item(mp4, "sheet")
    assert len(played.frames) == 6 and played.fps == pytest.approx(8.0)
    for t in (0, 5):
        expected = compose(sheet_items, t, (64, 48)).astype(int)
        assert np.abs(played.frames[t].astype(int) - expected).mean() < 4  # H.264, not lossless
    assert sorted(p.name for p in (tmp_path / "sub").iterdir()) == ["sheet.mp4"]  # no temp left


def test_read_item_downscales_and_refuses_other_files(tmp_path):
    path = export_png(items(1), tmp_path / "one.png")
    item = read_item(path, "x", max_side=40)
    assert max(item.size) == 40 and len(item.frames) == 1
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(SheetError, match="not '.txt'"):
        read_item(tmp_path / "notes.txt", "x")
    (tmp_path / "bad.mp4").write_bytes(b"no video here")
    with pytest.raises(SheetError, match="cannot read bad.mp4"):
        read_item(tmp_path / "bad.mp4", "x")


def test_batch_entries_take_done_variants_in_order(tmp_path):
    files = [export_png(items(1), tmp_path / f"v{n}.png") for n in range(3)]

    def job(n: int, state: JobState) -> Job:
        return Job(
            id=f"j{n}",
            name="shot",
            workflow="{}",
            output_dir=tmp_path,
            overrides={"Image to Video.seed": n + 1},
            state=state,
            variant=n,
            result={"files": [str(files[n]), str(tmp_path / "sidecar.json")]},
        )

    jobs = [job(2, JobState.DONE), job(0, JobState.DONE), job(1, JobState.FAILED)]
    assert batch_entries(jobs) == [("seed=1", files[0]), ("seed=3", files[2])]
