"""The editor's layout: viewer first at 1600×960, workspace presets, Reset Layout, Stabilize's
plots in readable tabs, a failed node explained in the viewer, readable Frame All, and keys
that follow focus -- each driven by real mouse and key events."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QFontInfo
from PySide6.QtWidgets import QTabBar
from ui_helpers import STUB_SPECS, chain, close_window, make_window

from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.commands import AddNode, Connect, Macro, SetParam
from studio.graph.graph import Edge, new_id
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Port, RunContext
from studio.graph.types import CameraPath, PortType, Video
from studio.ui.canvas.node_item import TITLE_FONT
from studio.ui.workspace import Preset

WIDTH, HEIGHT = 1600, 960


def _shaky(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    frames = np.repeat(inputs["image"][None], 24, axis=0)
    t = np.linspace(0, 1, 24)
    raw = np.stack([np.sin(9 * t) * 4, np.cos(7 * t) * 3, t, 1 + 0.02 * t], axis=1)
    smooth = np.stack([t * 0.5, t * 0.2, t * 0.1, np.ones_like(t)], axis=1)
    return {"video": Video(frames, 24.0), "camera_path": CameraPath(raw, smooth)}


SHAKY = NodeSpec(
    "Shaky",
    "Shaky",
    "Video",
    _shaky,
    help="A clip with a measured camera path.",
    inputs=(Port("image", PortType.IMAGE),),
    outputs=(Port("video", PortType.VIDEO), Port("camera_path", PortType.CAMERA_PATH)),
)


@pytest.fixture
def window(qtbot, tmp_path):
    registry = NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS, SHAKY))
    w = make_window(qtbot, tmp_path, registry)
    w.resize(WIDTH, HEIGHT)
    w.workspace.apply()
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def run(qtbot, window) -> None:
    finished = window.controller.running_changed
    with qtbot.waitSignal(finished, timeout=20_000, check_params_cb=lambda on: not on):
        assert window.run_all()


def wait_loaded(qtbot, window) -> None:
    panel = window.viewer.panel
    qtbot.waitUntil(lambda: not panel.loading, timeout=10_000)


def in_window(window, widget) -> QRect:
    return QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())


def test_default_layout_is_viewer_first(window):
    ws, viewer = window.workspace, window.viewer
    picture = viewer.panel.stack
    assert picture.height() >= 0.45 * HEIGHT
    graph, seen = in_window(window, window.view), in_window(window, viewer)
    assert graph.top() > seen.bottom()  # the graph below the viewer
    assert in_window(window, ws.inspector).left() > seen.right()  # inspector at the side
    assert ws.run in window.tabifiedDockWidgets(ws.inspector)  # the run log is a tab
    assert ws.graph is window.view


def test_presets_and_reset_layout_by_keys_and_menu(window, qtbot):
    ws = window.workspace
    viewer_before = window.viewer.height()
    window.view.setFocus()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)  # Review
    assert ws.preset is Preset.REVIEW and window.viewer.height() > viewer_before
    qtbot.keyClick(window, Qt.Key.Key_3, Qt.KeyboardModifier.ControlModifier)  # Paint
    assert ws.preset is Preset.PAINT
    graph, seen = in_window(window, window.view), in_window(window, window.viewer)
    assert graph.right() < seen.left()  # the graph beside the viewer
    assert in_window(window, ws.inspector).left() > seen.right()
    # The artist closes the inspector; View → Reset Layout puts everything back.
    ws.inspector.close()
    assert not ws.inspector.isVisible()
    menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    assert window.act_reset_layout in menu.actions()
    window.act_reset_layout.trigger()
    assert ws.inspector.isVisible() and ws.preset is Preset.PAINT
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)  # Compose
    assert in_window(window, window.view).top() > in_window(window, window.viewer).bottom()
    qtbot.waitUntil(lambda: window.viewer.panel.stack.height() >= 0.45 * HEIGHT, timeout=3000)


def test_stabilize_plots_one_at_a_time_each_readable(window, qtbot):
    src, shaky = new_id(), new_id()
    window.session.push(
        Macro(
            [
                AddNode("Source", (0.0, 0.0), node_id=src),
                AddNode("Shaky", (300.0, 0.0), node_id=shaky),
                Connect(Edge(src, "image", shaky, "image")),
            ]
        )
    )
    run(qtbot, window)
    window.scene.select([shaky])
    wait_loaded(qtbot, window)
    panel = window.viewer.panel
    qtbot.waitUntil(lambda: panel.plots.isVisible(), timeout=10_000)
    tabs = panel.plots.tabs
    assert tabs.count() == 5
    assert panel.stack.height() >= 0.45 * HEIGHT  # the plots sit beside the picture
    bar: QTabBar = tabs.tabBar()
    for index in range(tabs.count()):
        qtbot.mouseClick(bar, Qt.MouseButton.LeftButton, pos=bar.tabRect(index).center())
        assert tabs.currentIndex() == index
        assert tabs.currentWidget().height() >= 120
    # Seeking on the plot's playhead still drives the timeline.
    panel.plots.playheads[0].setValue(5)
    assert panel.timeline.frame == 5


def test_viewer_on_a_failed_node_says_why_and_shows_the_error(window, qtbot):
    src, blur, anim = chain(window.graph, window.session)
    window.session.push(SetParam(blur, "radius", 45.0))
    run(qtbot, window)
    window.scene.select([blur])
    wait_loaded(qtbot, window)
    panel = window.viewer.panel
    assert "failed" in panel.message.text() and "too large" in panel.message.text()
    assert "run the graph" not in panel.message.text()
    assert panel.error_button.isVisible()
    window.workspace.inspector.raise_()
    qtbot.waitUntil(lambda: window.run_panel.visibleRegion().isEmpty(), timeout=3000)
    qtbot.mouseClick(panel.error_button, Qt.MouseButton.LeftButton)
    # The run log's tab came to the front.
    qtbot.waitUntil(lambda: not window.run_panel.visibleRegion().isEmpty(), timeout=3000)
    item = window.run_panel.log.currentItem()
    assert item is not None and "too large" in item.text()
    assert window.scene.selected_node_ids() == [blur]


def test_frame_all_keeps_titles_readable_and_home_again_shows_everything(window, qtbot):
    steps, previous = [], None
    for i in range(12):
        node_id = new_id()
        steps.append(AddNode("Blur" if i else "Source", (i * 300.0, 0.0), node_id=node_id))
        if previous is not None:
            steps.append(Connect(Edge(previous, "image", node_id, "image")))
        previous = node_id
    window.session.push(Macro(steps))
    view = window.view
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    title_px = QFontInfo(TITLE_FONT).pixelSize() * view.zoom()
    assert title_px >= 11
    first = window.scene.item_for(window.graph.nodes[0].id).sceneBoundingRect()
    assert view.mapToScene(view.viewport().rect()).boundingRect().contains(first)
    qtbot.keyClick(view, Qt.Key.Key_Home)  # again: the whole graph, however small
    visible = view.mapToScene(view.viewport().rect()).boundingRect()
    assert visible.contains(window.scene.items_bounds()) and view.zoom() < 0.8


def test_home_in_the_viewer_goes_to_the_loop_start_not_the_canvas(window, qtbot):
    src, blur, anim = chain(window.graph, window.session)
    run(qtbot, window)
    window.scene.select([anim])
    wait_loaded(qtbot, window)
    panel = window.viewer.panel
    assert panel.timeline.count == 4
    panel.timeline.seek(3)
    view = window.view
    view.pan_by_scene(QPointF(2000, 900))  # the artist has scrolled the canvas away

    def centre() -> QPointF:
        return view.mapToScene(view.viewport().rect().center())

    away = centre()
    panel.picture.setFocus()
    qtbot.keyClick(panel.picture, Qt.Key.Key_Home)
    assert panel.timeline.frame == 0
    assert centre() == away  # the canvas did not re-frame
    view.setFocus()
    qtbot.keyClick(view, Qt.Key.Key_Home)
    assert (centre() - away).manhattanLength() > 500  # Home on the canvas frames the graph


def test_shortcut_sheet_lists_the_actions_by_where_they_work(window, qtbot):
    from studio.ui.shortcut_sheet import shortcut_rows

    rows = shortcut_rows(window)
    graph_keys = dict((text, keys) for keys, text in rows["Node graph"])
    assert graph_keys["Frame All"] == "Home" and "Backspace" in graph_keys["Delete"]
    viewer = dict((text, keys) for keys, text in rows["Viewer"])
    assert viewer["Loop start (again: first frame)"] == "Home"
    anywhere = dict((text, keys) for keys, text in rows["Anywhere"])
    assert "F1" in anywhere["Keyboard Shortcuts"]
    # F1 opens it (closed again by the test once it is up).
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialog

    seen = []

    def close_it() -> None:
        dialog = QApplication.activeModalWidget()
        seen.append(dialog)
        if isinstance(dialog, QDialog):
            dialog.reject()

    QTimer.singleShot(0, close_it)
    qtbot.keyClick(window, Qt.Key.Key_F1)
    assert seen and isinstance(seen[0], QDialog) and seen[0].windowTitle() == "Keyboard Shortcuts"
