"""Files dropped on the canvas, with real drag-and-drop events: a picture becomes a Load Image
node where it lands, a clip a Load Video node, a workflow (or a Studio render) opens."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication
from ui_helpers import close_window, make_window

from studio.graph import fileformat
from studio.graph.graph import Graph


@pytest.fixture
def window(qtbot, tmp_path, registry):
    w = make_window(qtbot, tmp_path, registry)
    yield w
    close_window(w)


def drop(widget, paths, local: QPointF) -> bool:
    """Drag ``paths`` in from outside and drop them at ``local`` (widget coordinates)."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    copy, left, none = (
        Qt.DropAction.CopyAction,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    point = local.toPoint()
    enter = QDragEnterEvent(point, copy, mime, left, none)
    QApplication.sendEvent(widget, enter)
    QApplication.sendEvent(widget, QDragMoveEvent(point, copy, mime, left, none))
    dropped = QDropEvent(local, copy, mime, left, none)
    QApplication.sendEvent(widget, dropped)
    return dropped.isAccepted()


def _png(path, colour=(200, 40, 40)):
    image = np.zeros((48, 64, 3), np.uint8)
    image[:] = colour
    cv2.imwrite(str(path), image)
    return path


def test_a_dropped_picture_becomes_a_load_image_node_where_it_lands(window, tmp_path):
    view = window.view
    png = _png(tmp_path / "plate.png")
    where = view.mapToScene(view.viewport().rect().center() + QPointF(-200, -100).toPoint())
    assert drop(view.viewport(), [png], QPointF(view.mapFromScene(where)))
    (node,) = window.graph.nodes
    assert node.type_id == "LoadImage" and node.params["path"] == str(png)
    assert abs(node.position[0] - where.x()) <= 10 and abs(node.position[1] - where.y()) <= 10
    assert window.scene.selected_node_ids() == [node.id]
    assert window.session.history.count == 1
    assert not any("decode" in m or "UTF-8" in m for m in window.messages)
    # Two more (a picture and a clip folder) at once: one undo step, stacked, clear of the first.
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(3):
        _png(frames / f"frame_{i:04d}.png", (i * 40, 90, 90))
    assert drop(
        view.viewport(), [_png(tmp_path / "b.jpg"), frames], QPointF(view.mapFromScene(where))
    )
    assert sorted(n.type_id for n in window.graph.nodes) == ["LoadImage", "LoadImage", "LoadVideo"]
    rects = [i.sceneBoundingRect() for i in window.scene.node_items().values()]
    assert not any(a.intersects(b) for k, a in enumerate(rects) for b in rects[k + 1 :])
    window.session.undo()
    assert [n.type_id for n in window.graph.nodes] == ["LoadImage"]


def test_a_dropped_clip_becomes_a_load_video_node(window, tmp_path):
    import imageio.v3 as iio

    clip = tmp_path / "take.mp4"
    frames = np.zeros((4, 64, 64, 3), np.uint8)
    iio.imwrite(clip, frames, fps=8, codec="libx264")
    view = window.view
    assert drop(view.viewport(), [clip], QPointF(view.viewport().rect().center()))
    (node,) = window.graph.nodes
    assert node.type_id == "LoadVideo" and node.params["path"] == str(clip)


def test_a_dropped_workflow_opens_and_a_stray_file_is_refused_politely(window, tmp_path, registry):
    other = Graph(registry)
    other.add("SampleImage")
    path = tmp_path / "shot.json"
    fileformat.save(other, path)
    view = window.view
    assert drop(view.viewport(), [path], QPointF(200, 200))
    assert [n.type_id for n in window.graph.nodes] == ["SampleImage"]
    assert window.session.path == path
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    assert not drop(view.viewport(), [notes], QPointF(200, 200))
    assert "Cannot open notes.txt" in window.messages[-1]
    assert [n.type_id for n in window.graph.nodes] == ["SampleImage"]


def test_a_picture_dropped_beside_the_canvas_still_becomes_a_node(window, tmp_path):
    png = _png(tmp_path / "plate.png")
    inspector = window.inspector
    drop(window, [png], QPointF(inspector.mapTo(window, inspector.rect().center())))
    assert [n.type_id for n in window.graph.nodes] == ["LoadImage"]


def test_a_dropped_studio_render_reopens_its_workflow(window, tmp_path, registry, monkeypatch):
    import nodes.io

    other = Graph(registry)
    other.add("SampleImage")
    monkeypatch.setattr(nodes.io, "read_embedded_workflow", lambda path: fileformat.dumps(other))
    render = tmp_path / "render.mp4"
    render.write_bytes(b"not really a movie")
    assert drop(window.view.viewport(), [render], QPointF(300, 200))
    assert [n.type_id for n in window.graph.nodes] == ["SampleImage"]
    assert window.session.path is None  # saving must not overwrite the video
