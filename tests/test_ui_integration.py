"""The editor with the real node types: viewer follows the selection, the painter opens on the
keyframe feeding a mask node, and reroute dots carry the type of what feeds them."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication
from ui_helpers import close_window, make_window, mouse

from studio.graph.commands import AddNode, Connect
from studio.graph.graph import Edge, new_id
from studio.graph.types import PortType


@pytest.fixture
def window(qtbot, tmp_path, registry):
    w = make_window(qtbot, tmp_path, registry)
    yield w
    close_window(w)


def _keyframe_and_mask(window) -> tuple[str, str]:
    image, mask = new_id(), new_id()
    for command in (
        AddNode("SampleImage", (0.0, 0.0), node_id=image),
        AddNode("RegionMask", (300.0, 0.0), node_id=mask),
        Connect(Edge(image, "image", mask, "image")),
    ):
        window.session.push(command)
    return image, mask


def test_viewer_follows_the_selection(window):
    if window.viewer is None:
        pytest.skip("the viewer is not part of this build")
    image, mask = _keyframe_and_mask(window)
    shown = []
    window.viewer.show_node = shown.append
    window.scene.select([mask])
    assert shown[-1] == mask


def test_double_click_on_a_mask_node_opens_the_painter_on_its_keyframe(qtbot, window):
    """Before any run: the painter renders the keyframe itself; a second double-click brings
    the open painter forward instead of opening another."""
    image, mask = _keyframe_and_mask(window)
    opened = []
    real_open = window.open_painter
    window.open_painter = lambda node_id: opened.append(real_open(node_id)) or opened[-1]
    body = window.scene.item_for(mask).scenePos() + QPointF(100, 60)
    mouse(window.view, "double", body)
    (painter,) = opened
    try:
        if not painter.has_keyframe:
            with qtbot.waitSignal(painter.keyframe_ready, timeout=30_000):
                pass
        expected = window.controller.engine.output(window.graph, image)["image"]
        assert np.array_equal(painter.keyframe, expected)
        mouse(window.view, "double", body)
        assert opened[-1] is painter and len(window.painter_windows) == 1
        window.activateWindow()
        qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
        mouse(window.view, "double", body)
        assert opened[-1] is painter
        qtbot.waitUntil(lambda: QApplication.activeWindow() is painter)  # brought forward
    finally:
        painter.close()
    qtbot.waitUntil(lambda: window.painter_windows == {})
    mouse(window.view, "double", body)  # once closed, a double-click opens a new one
    assert opened[-1] is not painter and list(window.painter_windows.values()) == [opened[-1]]
    opened[-1].close()


def test_reroute_dot_takes_the_type_of_what_feeds_it(window):
    image, reroute, mask = new_id(), new_id(), new_id()
    for command in (
        AddNode("SampleImage", (0.0, 0.0), node_id=image),
        AddNode("Reroute", (300.0, 40.0), node_id=reroute),
        AddNode("RegionMask", (500.0, 0.0), node_id=mask),
        Connect(Edge(image, "image", reroute, "in")),
        Connect(Edge(reroute, "out", mask, "image")),
    ):
        window.session.push(command)
    wire = window.scene.edge_item(Edge(reroute, "out", mask, "image"))
    assert wire.port_type is PortType.IMAGE


def test_a_motion_brush_finds_its_keyframe_behind_the_mask(qtbot, window):
    image, mask = _keyframe_and_mask(window)
    brush = new_id()
    window.session.push(AddNode("MotionBrush", (600.0, 0.0), node_id=brush))
    window.session.push(Connect(Edge(mask, "mask", brush, "mask")))
    assert window._keyframe_for(brush) is None  # nothing rendered yet
    window.graph.node(mask).set_param(
        "shapes", [{"kind": "rect", "op": "add", "points": [[0.3, 0.3], [0.6, 0.6]]}]
    )
    window.scene.select([mask])
    window.run_selected()
    with qtbot.waitSignal(
        window.controller.running_changed,
        timeout=30_000,
        check_params_cb=lambda running: not running,
    ):
        pass
    assert window.controller.last_status == "ok"
    expected = window.controller.engine.output(window.graph, image)["image"]
    assert np.array_equal(window._keyframe_for(brush), expected)
    if window.viewer is not None:  # the viewer titles nodes by name, not id
        assert window.viewer.panel.title_of(mask) == window.graph.node(mask).title


def test_the_editor_renders_with_the_model_manager_as_the_cli_does(qtbot, registry):
    from studio.engine import default_engine
    from studio.engine.models import ModelManager
    from studio.session import Session
    from studio.ui.run_controller import RunController

    assert isinstance(default_engine(registry).models, ModelManager)
    assert isinstance(RunController(Session(registry)).engine.models, ModelManager)
