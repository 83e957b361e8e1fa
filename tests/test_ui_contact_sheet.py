"""The contact sheet window: tiles in a grid, one clock for all, click for full size, export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from test_contact_sheet import COLOURS, clip

from studio.cli.media import write_mp4
from studio.queue.contact_sheet import SheetItem, read_item
from studio.ui.contact_sheet import ContactSheet


@pytest.fixture
def sheet(qtbot) -> ContactSheet:
    widget = ContactSheet()
    qtbot.addWidget(widget)
    widget.resize(720, 520)
    widget.show()
    qtbot.waitExposed(widget)
    return widget


def variant_files(folder: Path, count: int = 5) -> list[tuple[str, Path]]:
    entries = []
    for n in range(count):
        path = folder / f"v{n}.mp4"
        write_mp4(path, clip(COLOURS[n], 6 + n), 8.0)
        entries.append((f"seed={n + 1}", path))
    return entries


def centre_colour(sheet: ContactSheet, index: int) -> np.ndarray:
    tile = sheet.tiles[index]
    image = sheet.grab().toImage()
    rect = tile.picture_rect()
    point = tile.mapTo(sheet, QPoint(int(rect.x() + rect.width() * 0.75), int(rect.center().y())))
    colour = image.pixelColor(point)
    return np.array([colour.red(), colour.green(), colour.blue()])


def test_loads_a_batch_into_a_grid_that_plays_in_sync(qtbot, sheet, tmp_path):
    entries = variant_files(tmp_path)
    with qtbot.waitSignal(sheet.loaded, timeout=30_000):
        sheet.load(entries)
    assert [t.item.label for t in sheet.tiles] == [label for label, _ in entries]
    positions = [sheet.grid.getItemPosition(sheet.grid.indexOf(t))[:2] for t in sheet.tiles]
    assert positions == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]  # 3 columns for 5
    for n in range(5):  # each tile shows its own variant (H.264: near, not equal)
        assert np.abs(centre_colour(sheet, n) - COLOURS[n]).max() < 30
    assert sheet.length == 10  # the longest clip; shorter ones hold their last frame

    seen: list[int] = []
    sheet.frame_changed.connect(seen.append)
    qtbot.mouseClick(sheet.play_button, Qt.MouseButton.LeftButton)
    assert sheet.playing and sheet.play_button.text() == "Pause"
    qtbot.waitUntil(lambda: len(seen) >= 3, timeout=10_000)
    qtbot.mouseClick(sheet.play_button, Qt.MouseButton.LeftButton)
    assert not sheet.playing
    assert seen[:3] == [1, 2, 3]
    frame = sheet.frame
    assert [t.frame_index for t in sheet.tiles] == [min(frame, 5 + n) for n in range(5)]

    sheet.slider.setValue(8)  # scrubbing moves every tile
    assert sheet.frame == 8 and [t.frame_index for t in sheet.tiles] == [5, 6, 7, 8, 8]


def test_click_opens_the_variant_full_size(qtbot, sheet, tmp_path):
    entries = variant_files(tmp_path, 3)
    with qtbot.waitSignal(sheet.loaded, timeout=30_000):
        sheet.load(entries)
    sheet.seek(2)
    with qtbot.waitSignal(sheet.open_requested) as opened:
        qtbot.mouseClick(sheet.tiles[1], Qt.MouseButton.LeftButton)
    assert opened.args == [1]
    player = sheet._full
    assert player is not None and player.isVisible()
    qtbot.addWidget(player)
    assert player.windowTitle() == "seed=2" and player.item.size == (64, 48)
    assert player.frame == 2
    player.close()


def test_a_bad_file_says_so_and_export_writes_the_sheet(qtbot, sheet, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"nope")
    with qtbot.waitSignal(sheet.loaded, timeout=30_000):
        sheet.load([("x", bad)])
    assert "cannot read bad.mp4" in sheet.status.text() and not sheet.tiles
    assert not sheet.export_button.isEnabled()

    sheet.set_items([SheetItem(f"seed={n}", clip(COLOURS[n], 4), 8.0) for n in range(4)])
    sheet.seek(1)
    png = sheet.export(tmp_path / "sheet.png")
    mp4 = sheet.export(tmp_path / "sheet.mp4")
    assert read_item(png, "p").frames.shape[0] == 1
    assert read_item(mp4, "m").frames.shape[0] == 4


def test_screenshot(qtbot, sheet, tmp_path):
    sheet.set_items(
        [SheetItem(f"seed={n + 1}, smoothing=10", clip(COLOURS[n], 6), 8.0) for n in range(5)]
    )
    sheet.seek(3)
    path = tmp_path / "contact_sheet.png"
    assert sheet.grab().save(str(path))
    assert path.stat().st_size > 1000
