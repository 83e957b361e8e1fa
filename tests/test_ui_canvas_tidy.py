"""Canvas hygiene: node search by alias/tag, Tidy, overlap-free adds, refused wires, reroute
drags and backdrops that follow their nodes -- each driven by real mouse and key events."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from studio.graph.graph import Graph
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.view import NodeView
from studio.ui.undo import UndoStack


@pytest.fixture
def real_canvas(qtbot, registry):
    graph = Graph(registry)
    undo = UndoStack(graph)
    scene = NodeScene(graph, undo)
    view = NodeView(scene)
    view.resize(1400, 800)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    view.centerOn(QPointF(500, 100))
    scene.view = view
    return scene


@pytest.mark.parametrize(
    ("typed", "type_id"),
    [
        ("i2v", "ImageToVideo"),
        ("img2vid", "ImageToVideo"),
        ("wan", "ImageToVideo"),
        ("ltx", "ImageToVideo"),
        ("sharpen", "Upscale"),
        ("realesrgan", "Upscale"),
        ("fps", None),
    ],
)
def test_search_finds_nodes_by_alias_tag_and_model(real_canvas, qtbot, typed, type_id):
    view = real_canvas.view
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Tab)
    popup = view.popup
    assert popup is not None and popup.isVisible()
    QTest.keyClicks(popup.field, typed)
    offered = [popup.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(popup.list.count())]
    if type_id is None:  # "fps": every node with a frame rate, clips first
        assert {"LoadVideo", "SaveVideo", "ImageToVideo"} <= set(offered)
        return
    assert offered[0] == type_id
    QTest.keyClick(popup.field, Qt.Key.Key_Return)
    assert [n.type_id for n in real_canvas.graph.nodes] == [type_id]
