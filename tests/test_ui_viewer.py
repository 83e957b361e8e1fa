"""Viewer dock: frames from a bounded cache, scrubbing, keys, playback, pin, compare, plots."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from studio.graph.types import CameraPath, Video
from studio.ui.viewer.compare import compose
from studio.ui.viewer.dock import ViewerDock, overlay_mask
from studio.ui.viewer.frame_source import FrameSource
from studio.ui.viewer.timeline import timecode


def numbered_clip(count: int, height: int = 36, width: int = 48, seed: int = 0) -> np.ndarray:
    """Frames whose red channel at (0, 0) is the frame number, over random content."""
    frames = np.random.default_rng(seed).integers(0, 255, (count, height, width, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(count) % 256
    return frames


def memmap_clip(tmp_path: Path, frames: np.ndarray) -> np.ndarray:
    path = tmp_path / "clip.npy"
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=frames.shape)
    out[:] = frames
    out.flush()
    del out
    return np.load(path, mmap_mode="r")


@pytest.fixture
def outputs() -> dict[str, dict]:
    clip = numbered_clip(30)
    other = numbered_clip(30, seed=1)
    raw = np.cumsum(np.random.default_rng(2).normal(0, 1, (30, 4)), axis=0)
    path = CameraPath(
        raw=raw, smoothed=raw * 0.5, luma_before=np.full(30, 120.0), luma_after=np.full(30, 118.0)
    )
    still = numbered_clip(1, 40, 60)[0]
    mask = np.zeros((40, 60), np.float32)
    mask[10:30, 20:40] = 1.0
    return {
        "clip": {"video": Video(clip, 24.0)},
        "copy": {"video": Video(clip.copy(), 24.0)},
        "other": {"video": Video(other, 24.0)},
        "stab": {"video": Video(other, 24.0), "camera_path": path},
        "still": {"image": still},
        "mask": {"mask": mask},
        "bare_mask": {"mask": mask * 0.25},
    }


@pytest.fixture
def dock(qtbot, outputs):
    images = {"mask": outputs["still"]["image"]}
    dock = ViewerDock(outputs.get, image_for=images.get)
    qtbot.addWidget(dock)
    dock.resize(640, 520)
    dock.show()
    qtbot.waitExposed(dock)
    yield dock
    dock.shutdown()


def settle(qtbot, dock: ViewerDock, action, *args) -> None:
    """Do ``action`` and wait until the viewer shows what it loaded (off the UI thread)."""
    with qtbot.waitSignal(dock.panel.loaded, timeout=5000):
        action(*args)


def shown_number(dock: ViewerDock) -> int:
    return int(dock.panel.current_frame()[0, 0, 0])


def test_memmap_frames_come_through_a_bounded_cache(tmp_path: Path, qtbot) -> None:
    frames = numbered_clip(40)
    mapped = memmap_clip(tmp_path, frames)
    # One frame is 48*36*3 bytes: a budget of 6 frames keeps at most 6.
    source = FrameSource(Video(mapped[5:], 24.0), budget_bytes=6 * 48 * 36 * 3)
    try:
        assert source.capacity == 6
        for index in range(source.count):
            np.testing.assert_array_equal(source.frame(index), frames[5 + index])
        assert source.cached_count == 6
        source.prefetch(10)
        # Ahead of the playhead first, a little behind it, never more than fits.
        wanted = (11, 12, 13, 9, 8)
        qtbot.waitUntil(lambda: all(source.cached(i) is not None for i in wanted))
        assert source.cached_count == 6
        assert source.frame(99)[0, 0, 0] == frames[-1, 0, 0, 0]  # clamped to the last frame
    finally:
        source.close()


def test_selection_shows_video_image_and_mask_overlay(dock, outputs, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    np.testing.assert_array_equal(dock.panel.current_frame(), outputs["clip"]["video"].frames[0])
    assert dock.panel.timeline.count == 30
    settle(qtbot, dock, dock.show_node, "still")
    assert dock.panel.timeline.count == 1
    np.testing.assert_array_equal(dock.panel.current_frame(), outputs["still"]["image"])
    settle(qtbot, dock, dock.show_node, "mask")
    shown = dock.panel.current_frame().astype(int)
    image = outputs["still"]["image"].astype(int)
    inside = np.abs(shown - image)[10:30, 20:40].sum(axis=2)
    outside = np.abs(shown - image)[:10].sum()
    assert inside.min() > 0 and outside == 0
    np.testing.assert_array_equal(
        shown, overlay_mask(outputs["still"]["image"], outputs["mask"]["mask"])
    )


def test_node_without_output_says_so(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "not-run")
    assert dock.panel.stack.currentWidget() is dock.panel.message
    assert "run the graph" in dock.panel.message.text()


def test_scrub_by_dragging_the_bar(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    bar = dock.panel.timeline.bar
    y = bar.height() // 2
    QTest.mousePress(bar, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(2, y))
    QTest.mouseMove(bar, QPoint(int(bar.x_of(12)), y))
    QTest.mouseMove(bar, QPoint(int(round(bar.x_of(20))), y))
    QTest.mouseRelease(
        bar,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        QPoint(int(round(bar.x_of(20))), y),
    )
    assert dock.panel.timeline.frame == 20
    assert shown_number(dock) == 20
    assert dock.panel.timeline.timecode_label.text() == timecode(20, 24.0) == "00:00:00:20"


def test_keys_step_jump_and_set_the_loop_range(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    picture = dock.panel.picture
    picture.setFocus()
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Left):
        QTest.keyClick(picture, key)
    assert dock.panel.timeline.frame == 2 and shown_number(dock) == 2
    QTest.keyClick(picture, Qt.Key.Key_I)
    QTest.keyClick(picture, Qt.Key.Key_End)
    assert dock.panel.timeline.frame == 29
    for _ in range(19):
        QTest.keyClick(picture, Qt.Key.Key_Left)
    QTest.keyClick(picture, Qt.Key.Key_O)
    timeline = dock.panel.timeline
    assert (timeline.in_point, timeline.out_point) == (2, 10)
    QTest.keyClick(picture, Qt.Key.Key_Home)
    assert timeline.frame == 2  # the loop's in point first
    QTest.keyClick(picture, Qt.Key.Key_Home)
    assert timeline.frame == 0


def test_playback_advances_and_loops_within_the_range(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    timeline = dock.panel.timeline
    timeline.set_speed(4.0)  # 96 frames a second keeps the test short
    timeline.seek(5)
    timeline.set_in(5)
    timeline.set_out(9)
    QTest.keyClick(dock.panel.picture, Qt.Key.Key_Space)
    assert timeline.playing
    seen: set[int] = set()
    timeline.frame_changed.connect(seen.add)
    qtbot.waitUntil(lambda: {5, 9} <= seen and len(seen) >= 4, timeout=5000)
    QTest.keyClick(dock.panel.picture, Qt.Key.Key_Space)
    assert not timeline.playing
    assert seen <= set(range(5, 10))  # never left the loop range
    assert shown_number(dock) == timeline.frame


def test_pin_keeps_the_node_until_unpinned(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    dock.panel.pin_button.click()
    dock.show_node("still")  # pinned: nothing to load
    assert dock.panel.timeline.count == 30 and not dock.panel.loading
    settle(qtbot, dock, dock.panel.pin_button.click)
    assert dock.panel.timeline.count == 1  # caught up with the selection


def test_compare_identical_clips_difference_is_zero(dock, qtbot) -> None:
    settle(qtbot, dock, dock.compare, "clip", "copy")
    dock.panel.mode_box.setCurrentText("difference")
    for frame in (0, 7, 29):
        dock.panel.timeline.seek(frame)
        assert not dock.panel.current_frame().any()


def test_compare_is_frame_locked_and_wipe_splits(dock, outputs, qtbot) -> None:
    settle(qtbot, dock, dock.compare, "clip", "other")
    assert dock.panel.pinned
    dock.panel.timeline.seek(6)
    a = outputs["clip"]["video"].frames[6]
    b = outputs["other"]["video"].frames[6]
    np.testing.assert_array_equal(dock.panel.current_frame(), compose(a, b, "wipe", 0.5))
    # Dragging on the picture moves the wipe.
    view = dock.panel.picture
    at = view.mapFromScene(QPointF(12.0, 18.0))
    QTest.mousePress(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at)
    QTest.mouseRelease(
        view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at
    )
    assert dock.panel.wipe == pytest.approx(12 / 48, abs=0.05)
    split = round(dock.panel.wipe * 48)
    shown = dock.panel.current_frame()
    np.testing.assert_array_equal(shown[:, :split], a[:, :split])
    np.testing.assert_array_equal(shown[:, split:], b[:, split:])
    dock.panel.mode_box.setCurrentText("side by side")
    assert dock.panel.current_frame().shape[1] > 2 * 48


def test_zoom_fit_one_to_one_and_pixel_value(dock, outputs, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "still")
    view = dock.panel.picture
    assert view.zoom > 1.5  # 60x40 fitted into a large view
    view.one_to_one()
    assert view.zoom == pytest.approx(1.0)
    view.fit()
    at = view.mapFromScene(QPointF(7.5, 3.5))
    QTest.mouseMove(view.viewport(), at)
    r, g, b = outputs["still"]["image"][3, 7]
    assert "x 7 y 3" in dock.panel.status.text()
    assert f"R {r} G {g} B {b}" in dock.panel.status.text()


def test_camera_path_plots_follow_the_playhead(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    assert dock.panel.plots.isHidden()
    settle(qtbot, dock, dock.compare, "clip", "stab")
    assert not dock.panel.plots.isHidden()
    dock.panel.timeline.seek(17)
    assert all(line.value() == 17 for line in dock.panel.plots.playheads)
    dock.panel.plots.playheads[0].setValue(4.2)  # dragging a playhead seeks
    assert dock.panel.timeline.frame == 4


def test_refresh_picks_up_a_new_render(dock, outputs, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    dock.panel.timeline.seek(3)
    outputs["clip"] = {"video": Video(numbered_clip(10, seed=5), 24.0)}
    settle(qtbot, dock, dock.refresh)
    assert dock.panel.timeline.count == 10
    assert dock.panel.timeline.frame == 3
    np.testing.assert_array_equal(dock.panel.current_frame(), outputs["clip"]["video"].frames[3])


def test_wheel_zooms_about_the_cursor_and_closing_releases_frames(dock, outputs, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "still")
    view = dock.panel.picture
    before = view.zoom
    at = view.mapFromScene(QPointF(30, 20))
    QTest.mouseMove(view.viewport(), at)
    event = QWheelEvent(
        QPointF(at),
        QPointF(view.viewport().mapToGlobal(at)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom == pytest.approx(before * 1.25**2)
    dock.close()
    assert dock.panel.a.source is None and dock.panel.a.outputs is None
    settle(qtbot, dock, dock.show)  # reopening reads the cache again
    np.testing.assert_array_equal(dock.panel.current_frame(), outputs["still"]["image"])
    assert dock.panel.a.source is not None


def test_mask_without_its_image_shows_grey_with_its_value(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "bare_mask")
    frame = dock.panel.current_frame()
    assert frame[20, 30].tolist() == [64, 64, 64] and frame[0, 0].tolist() == [0, 0, 0]
    view = dock.panel.picture
    QTest.mouseMove(view.viewport(), view.mapFromScene(QPointF(30.5, 20.5)))
    assert "mask 0.250" in dock.panel.status.text()


def test_playback_without_loop_stops_on_the_last_frame(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    timeline = dock.panel.timeline
    timeline.loop_button.setChecked(False)
    timeline.set_speed(4.0)
    timeline.seek(26)
    timeline.play_button.click()
    qtbot.waitUntil(lambda: not timeline.playing, timeout=5000)
    assert timeline.frame == 29 and shown_number(dock) == 29
    timeline.play_button.click()  # playing again from the end starts over
    assert timeline.playing and timeline.frame == 0
    timeline.set_playing(False)


def test_pin_then_select_then_ab_compares_the_two(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "clip")
    assert not dock.panel.compare_button.isEnabled() and dock.panel.mode_box.isHidden()
    dock.panel.pin_button.click()
    dock.show_node("copy")  # pinned: nothing to load
    assert dock.panel.compare_button.isEnabled()
    settle(qtbot, dock, dock.panel.compare_button.click)
    assert (dock.panel.a.node_id, dock.panel.b.node_id) == ("clip", "copy")
    assert dock.panel.mode == "wipe" and not dock.panel.mode_box.isHidden()
    settle(qtbot, dock, dock.panel.compare_button.click)  # back to A alone, still pinned
    assert dock.panel.b.node_id is None and dock.panel.pinned and dock.panel.mode == "A"


class Gate:
    """An output source that holds some nodes until released, and notes the threads it ran on."""

    def __init__(self, outputs: dict[str, dict], held: tuple[str, ...]) -> None:
        self.outputs = outputs
        self.events = {node_id: threading.Event() for node_id in held}
        self.threads: set[threading.Thread] = set()
        self.calls: list[str] = []

    def __call__(self, node_id: str) -> dict | None:
        self.calls.append(node_id)
        self.threads.add(threading.current_thread())
        if node_id == "broken":
            raise OSError("the disk went away")
        if node_id in self.events:
            assert self.events[node_id].wait(10), "never released"
        return self.outputs.get(node_id)

    def image_for(self, node_id: str) -> np.ndarray | None:
        self.threads.add(threading.current_thread())
        return self.outputs["still"]["image"] if node_id == "mask" else None

    def release(self) -> None:
        for event in self.events.values():
            event.set()


@pytest.fixture
def gated(qtbot, outputs):
    gate = Gate(outputs, held=("clip", "other"))
    dock = ViewerDock(gate, image_for=gate.image_for)
    qtbot.addWidget(dock)
    dock.resize(640, 520)
    dock.show()
    qtbot.waitExposed(dock)
    yield dock, gate
    gate.release()
    dock.shutdown()


def test_a_slow_read_leaves_the_ui_thread_free(gated, outputs, qtbot) -> None:
    dock, gate = gated
    panel = dock.panel
    dock.show_node("clip")  # held on the worker until released
    assert panel.loading and not panel.timeline.isEnabled()
    assert panel.title_label.text() == "clip"
    ticks: list[int] = []
    heartbeat = QTimer()
    heartbeat.timeout.connect(lambda: ticks.append(1))
    heartbeat.start(1)
    qtbot.waitUntil(lambda: len(ticks) >= 5 and panel.message.text() == "Loading clip…")
    heartbeat.stop()
    assert panel.stack.currentWidget() is panel.message and panel.current_frame() is None
    assert panel.loading and not panel.timeline.isEnabled()
    QTest.keyClick(panel.picture, Qt.Key.Key_Right)  # transport keys wait for the clip
    assert panel.timeline.frame == 0
    with qtbot.waitSignal(panel.loaded, timeout=5000):
        gate.events["clip"].set()
    assert panel.stack.currentWidget() is panel.picture and panel.timeline.isEnabled()
    assert not panel.loading and panel.timeline.count == 30
    np.testing.assert_array_equal(panel.current_frame(), outputs["clip"]["video"].frames[0])
    # The keyframe under a mask is looked up off the UI thread as well.
    settle(qtbot, dock, dock.show_node, "mask")
    assert panel.a.overlay is not None
    assert gate.threads and threading.main_thread() not in gate.threads


def test_a_stale_load_never_shows(gated, outputs, qtbot) -> None:
    dock, gate = gated
    panel = dock.panel
    dock.show_node("clip")  # held
    settle(qtbot, dock, dock.show_node, "still")  # the artist moved on; this answers at once
    np.testing.assert_array_equal(panel.current_frame(), outputs["still"]["image"])
    shown: list[str | None] = []
    panel.loaded.connect(lambda: shown.append(panel.a.node_id))
    gate.events["clip"].set()
    qtbot.waitUntil(lambda: not panel.loader.busy)
    QApplication.processEvents()  # deliver anything the stale load might have sent
    assert shown == [] and panel.a.node_id == "still" and panel.timeline.count == 1
    # Two slow loads finishing out of order: the older one is dropped.
    dock.show_node("other")  # held
    stale = panel.loader.token
    settle(qtbot, dock, dock.show_node, "clip")  # released above
    gate.events["other"].set()
    qtbot.waitUntil(lambda: not panel.loader.busy)
    QApplication.processEvents()
    assert panel.a.node_id == "clip" and shown == ["clip"]
    # A result that was already on its way when the selection moved is ignored too.
    panel.loader.finished.emit(stale, [None, None])
    assert panel.a.node_id == "clip" and panel.current_frame() is not None


def test_switching_ports_reuses_what_was_read(gated, outputs, qtbot) -> None:
    dock, gate = gated
    outputs["both"] = {"video": outputs["other"]["video"], "mask": outputs["mask"]["mask"]}
    gate.events["other"].set()
    settle(qtbot, dock, dock.show_node, "both")
    panel = dock.panel
    assert [panel.port_box.itemText(i) for i in range(panel.port_box.count())] == [
        "video",
        "mask",
    ]
    settle(qtbot, dock, panel.port_box.setCurrentText, "mask")
    assert panel.a.port == "mask" and panel.timeline.count == 1
    assert gate.calls.count("both") == 1


def test_a_failed_read_says_why(gated, qtbot) -> None:
    dock, _ = gated
    settle(qtbot, dock, dock.show_node, "broken")
    assert dock.panel.stack.currentWidget() is dock.panel.message
    assert "the disk went away" in dock.panel.message.text()
    assert not dock.panel.timeline.isEnabled()


def test_the_editor_viewer_reads_a_snapshot_off_the_ui_thread(qtbot, tmp_path) -> None:
    from ui_helpers import close_window, make_window

    from studio.graph.commands import AddNode
    from studio.graph.graph import new_id

    window = make_window(qtbot, tmp_path)
    try:
        if window.viewer is None:
            pytest.skip("the viewer is not part of this build")
        panel = window.viewer.panel
        source = new_id()
        window.session.push(AddNode("Source", (0.0, 0.0), node_id=source))
        threads: set[threading.Thread] = set()
        real_output = window.controller.engine.output

        def output(graph, node_id, **options):
            threads.add(threading.current_thread())
            assert graph is not window.graph  # a snapshot: the artist may edit meanwhile
            return real_output(graph, node_id, **options)

        window.controller.engine.output = output
        with qtbot.waitSignal(panel.loaded, timeout=5000):
            window.scene.select([source])
        assert "run the graph" in panel.message.text()
        with qtbot.waitSignal(panel.loaded, timeout=30_000):  # the run ends with a refresh
            window.run_selected()
        expected = real_output(window.graph, source)["image"]
        np.testing.assert_array_equal(panel.current_frame(), expected)
        assert threads and threading.main_thread() not in threads
    finally:
        close_window(window)
