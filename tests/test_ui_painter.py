"""Painter: real mouse gestures become one undoable SetParam each; undo redraws at once.

The painter fetches its keyframe itself, through the engine (a Load Image upstream here), and
renders the node's own mask (GrabCut included) on a worker thread."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from studio.graph.commands import Connect
from studio.graph.graph import Edge, Graph
from studio.session.session import Session
from studio.ui.painter.camera_controls import camera_of, camera_outline
from studio.ui.painter.window import PainterWindow

W, H = 160, 120
LEFT = Qt.MouseButton.LeftButton
NONE = Qt.KeyboardModifier.NoModifier


def keyframe() -> np.ndarray:
    image = np.full((H, W, 3), 90, np.uint8)
    image[30:90, 50:110] = (220, 80, 60)  # a red "subject" on grey
    return image


class Stack:
    """The session's history, read the way these tests count undo steps."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def count(self) -> int:
        return self.session.history.count

    def undoText(self) -> str:  # noqa: N802 (reads like QUndoStack's)
        return self.session.history.undo_label()

    def undo(self) -> None:
        self.session.undo()

    def redo(self) -> None:
        self.session.redo()


@pytest.fixture
def engine(registry):
    from studio.engine.cache import Cache
    from studio.engine.scheduler import Engine

    return Engine(registry, Cache(disk=False), device="cpu")


@pytest.fixture
def keyframe_file(tmp_path):
    import cv2

    path = tmp_path / "keyframe.png"
    cv2.imwrite(str(path), cv2.cvtColor(keyframe(), cv2.COLOR_RGB2BGR))
    return path


def settle(qtbot, window: PainterWindow) -> None:
    """Wait until the renders the window started have been shown."""
    qtbot.waitUntil(lambda: window.wait_idle(30) and not window.tasks, timeout=30_000)


@pytest.fixture
def setup(qtbot, registry, engine, keyframe_file):
    session = Session(registry)
    graph = session.graph
    stack = Stack(session)
    image = graph.add("LoadImage", params={"path": str(keyframe_file)})

    def open_painter(type_id: str, **params) -> PainterWindow:
        node = graph.add(type_id, params=params or None)
        if type_id == "RegionMask":
            graph.connect(image.id, "image", node.id, "image")
        else:  # a Motion Brush's keyframe is what the Image to Video it steers animates
            video = graph.add("ImageToVideo")
            graph.connect(image.id, "image", video.id, "image")
            graph.connect(node.id, "motion", video.id, "motion")
        window = PainterWindow(session, node.id, engine)
        qtbot.addWidget(window)
        window.resize(900, 560)
        window.show()
        qtbot.waitExposed(window)
        if not window.has_keyframe:
            with qtbot.waitSignal(window.keyframe_ready, timeout=30_000):
                pass
        settle(qtbot, window)
        assert window.has_keyframe and np.array_equal(window.keyframe, keyframe())
        window.canvas.fit()
        return window

    return graph, stack, open_painter


def at(window: PainterWindow, x: float, y: float) -> QPoint:
    """The viewport position of keyframe pixel (x, y)."""
    return window.canvas.mapFromScene(QPointF(x, y))


def drag(
    window: PainterWindow, points: list[tuple[float, float]], modifiers: Qt.KeyboardModifier = NONE
) -> None:
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, LEFT, modifiers, at(window, *points[0]))
    for p in points[1:]:
        QTest.mouseMove(viewport, at(window, *p))
    QTest.mouseRelease(viewport, LEFT, modifiers, at(window, *points[-1]))


def params(window: PainterWindow) -> dict:
    return window.graph.node(window.node_id).params


def test_brush_stroke_is_one_command_and_undo_redraws(setup) -> None:
    graph, stack, open_painter = setup
    window = open_painter("RegionMask")
    drag(window, [(40, 60), (60, 62), (80, 64), (100, 60)])
    assert stack.count() == 1
    (shape,) = params(window)["shapes"]
    assert shape["kind"] == "stroke" and shape["op"] == "add"
    assert shape["radius"] == pytest.approx(window.canvas.brush.radius)
    points = np.array(shape["points"]) * (W, H)
    assert np.allclose(points[0], (40, 60), atol=1.5) and np.allclose(
        points[-1], (100, 60), atol=1.5
    )
    overlay = window.canvas.overlay.pixmap().toImage()
    assert overlay.pixelColor(70, 63).alpha() > 0 and overlay.pixelColor(70, 10).alpha() == 0
    stack.undo()
    assert params(window)["shapes"] == []
    assert window.canvas.overlay.pixmap().toImage().pixelColor(70, 63).alpha() == 0
    stack.redo()
    assert params(window)["shapes"] == [shape]


def test_eraser_rect_ellipse_and_polygon(setup) -> None:
    graph, stack, open_painter = setup
    window = open_painter("RegionMask")
    window.set_tool("rect")
    drag(window, [(20, 20), (50, 40), (80, 70)])
    window.set_tool("ellipse")
    drag(window, [(90, 10), (130, 50)], Qt.KeyboardModifier.AltModifier)
    window.set_tool("eraser")
    drag(window, [(30, 30), (40, 30)])
    window.set_tool("polygon")
    viewport = window.canvas.viewport()
    for corner in ((100, 80), (140, 80), (120, 110)):
        QTest.mouseClick(viewport, LEFT, NONE, at(window, *corner))
    QTest.mouseDClick(viewport, LEFT, NONE, at(window, 120, 110))
    shapes = params(window)["shapes"]
    assert [(s["kind"], s["op"]) for s in shapes] == [
        ("rect", "add"),
        ("ellipse", "subtract"),
        ("stroke", "subtract"),
        ("polygon", "add"),
    ]
    assert np.allclose(np.array(shapes[0]["points"]) * (W, H), [(20, 20), (80, 70)], atol=1.5)
    assert len(shapes[3]["points"]) == 3
    assert stack.count() == 4


def test_bracket_keys_resize_the_brush(setup) -> None:
    _, _, open_painter = setup
    window = open_painter("RegionMask")
    radius = window.canvas.brush.radius
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketRight)
    assert window.canvas.brush.radius > radius
    assert window.size_box.value() == pytest.approx(window.canvas.brush.radius * 100, abs=0.05)
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    QTest.keyClick(window.canvas, Qt.Key.Key_BracketLeft)
    assert window.canvas.brush.radius < radius


def test_box_to_subject_sets_shapes_and_grabcut_in_one_step(setup, qtbot) -> None:
    _, stack, open_painter = setup
    window = open_painter("RegionMask")
    window.set_tool("subject")
    drag(window, [(40, 20), (120, 100)])
    assert stack.count() == 1
    assert params(window)["subject"] is True
    assert params(window)["shapes"][0]["kind"] == "rect"
    assert window.shape_count.text() == "1 shape: rect"
    # GrabCut runs on a worker: meanwhile the box shows, with a busy cursor and a Cancel.
    assert window.busy.isVisible() and "GrabCut" in window.busy.label.text()
    assert window.canvas.viewport().cursor().shape() == Qt.CursorShape.BusyCursor
    assert window.canvas.overlay.pixmap().toImage().pixelColor(44, 24).alpha() > 0
    with qtbot.waitSignal(window.overlay_ready, timeout=30_000):
        pass
    assert not window.busy.isVisible()
    assert window.canvas.viewport().cursor().shape() != Qt.CursorShape.BusyCursor
    overlay = window.canvas.overlay.pixmap().toImage()
    assert overlay.pixelColor(80, 60).alpha() > 0  # the red square was cut out
    assert overlay.pixelColor(44, 24).alpha() == 0  # grey inside the box is background
    stack.undo()
    assert params(window)["subject"] is False and params(window)["shapes"] == []


def test_grabcut_can_be_cancelled_from_the_busy_bar(setup, qtbot) -> None:
    _, stack, open_painter = setup
    window = open_painter("RegionMask")
    window.set_tool("subject")
    drag(window, [(40, 20), (120, 100)])
    task = window.tasks["mask"]
    shown: list[int] = []
    window.overlay_ready.connect(lambda: shown.append(1))
    QTest.mouseClick(window.busy.cancel, LEFT)
    assert task.token.cancelled and "mask" not in window.tasks
    assert not window.busy.isVisible() and "cancelled" in window.status.text()
    assert window.canvas.viewport().cursor().shape() != Qt.CursorShape.BusyCursor
    assert task.wait(30)
    qtbot.wait(50)  # let anything the worker still sent arrive: it must be ignored
    assert shown == []
    assert window.canvas.overlay.pixmap().toImage().pixelColor(44, 24).alpha() > 0  # the box
    assert params(window)["subject"] is True  # cancelling stops the render, not the edit


def test_draw_a_path_then_edit_a_point(setup) -> None:
    _, stack, open_painter = setup
    window = open_painter("MotionBrush")
    window.set_tool("brush")
    drag(window, [(60, 50), (90, 60)])  # paints the region of a new brush
    window.set_tool("path")
    drag(window, [(75, 55), (95, 50), (115, 45), (140, 40)])
    assert stack.count() == 2
    (brush,) = params(window)["brushes"]
    assert brush["region"][0]["kind"] == "stroke"
    trajectory = np.array(brush["trajectory"]) * (W, H)
    assert 2 <= len(trajectory) <= 4
    assert np.allclose(trajectory[0], (75, 55), atol=1.5)
    assert np.allclose(trajectory[-1], (140, 40), atol=1.5)
    assert window.canvas.paths.paths[0].points[-1] == pytest.approx(
        (brush["trajectory"][-1][0] * W, brush["trajectory"][-1][1] * H)
    )
    viewport = window.canvas.viewport()
    QTest.mousePress(viewport, LEFT, NONE, at(window, 140, 40))  # grabs the end point
    QTest.mouseMove(viewport, at(window, 130, 90))
    # The graph follows while the mouse is still down (live draft feedback re-renders from it)
    mid = np.array(params(window)["brushes"][0]["trajectory"][-1]) * (W, H)
    assert np.allclose(mid, (130, 90), atol=1.5)
    QTest.mouseMove(viewport, at(window, 120, 100))
    QTest.mouseRelease(viewport, LEFT, NONE, at(window, 120, 100))
    assert stack.count() == 3  # the whole drag is one undo step
    moved = np.array(params(window)["brushes"][0]["trajectory"][-1]) * (W, H)
    assert np.allclose(moved, (120, 100), atol=1.5)
    stack.undo()
    end = np.array(params(window)["brushes"][0]["trajectory"][-1]) * (W, H)
    assert np.allclose(end, (140, 40), atol=1.5)
    assert np.allclose(window.canvas.paths.paths[0].points[-1], (140, 40), atol=1.5)
    stack.undo()
    stack.undo()
    assert params(window)["brushes"] == []
    assert window.canvas.paths.paths == []


def test_brush_panel_timing_static_and_limit(setup) -> None:
    _, stack, open_painter = setup
    window = open_painter("MotionBrush")
    panel = window.brush_panel
    for _ in range(8):
        panel.add_button.click()
    assert len(params(window)["brushes"]) == 8 and not panel.add_button.isEnabled()
    assert window.current_brush == 7
    panel.list.setCurrentRow(2)
    panel.end.setValue(0.6)
    panel.ease.activated.emit(panel.ease.findText("ease-out"))
    panel.static.setChecked(True)
    brush = params(window)["brushes"][2]
    assert (brush["end"], brush["ease"], brush["static"]) == (0.6, "ease-out", True)
    assert stack.count() == 8 + 3  # eight adds, then one command per edit
    stack.undo()
    assert params(window)["brushes"][2]["static"] is False
    assert not panel.static.isChecked()  # the panel redrew from the undo


def test_camera_controls_push_one_command_and_draw_the_outline(setup) -> None:
    _, stack, open_painter = setup
    window = open_painter("MotionBrush")
    assert window.canvas.camera.outlines == []
    window.camera_controls.boxes["zoom"].setValue(2.0)
    assert stack.count() == 1 and params(window)["zoom"] == 2.0
    end = window.canvas.camera.outlines[-1]
    # Pushing in 2x: the end frame is the middle half of the keyframe.
    assert np.allclose(end, [(40, 30), (120, 30), (120, 90), (40, 90)], atol=0.5)
    stack.undo()
    assert window.camera_controls.boxes["zoom"].value() == 1.0
    assert window.canvas.camera.outlines == []
    stack.redo()
    window.camera_controls.boxes["pan"].setValue(0.2)
    (reset,) = [
        b
        for b in window.camera_controls.findChildren(QPushButton)
        if b.text() == "Reset camera move"
    ]
    QTest.mouseClick(reset, LEFT)
    assert (params(window)["zoom"], params(window)["pan"]) == (1.0, 0.0)
    assert stack.undoText() == "Reset camera move" and window.canvas.camera.outlines == []


def test_camera_outline_follows_pan() -> None:
    camera = camera_of(
        {"pan": 0.25, "tilt": 0.0, "zoom": 1.0, "roll": 0.0, "camera_ease": "linear"}
    )
    corners = camera_outline(camera, 1.0, 200, 100)
    assert np.allclose(corners[0], (50, 0), atol=0.5)  # the camera moved a quarter width right


def _wire_a_region_mask(graph: Graph, window: PainterWindow) -> str:
    (image,) = [n.id for n in graph.nodes if n.type_id == "LoadImage"]
    region = graph.add(
        "RegionMask", params={"shapes": [{"kind": "rect", "points": [[0.25, 0.25], [0.75, 0.75]]}]}
    )
    graph.connect(image, "image", region.id, "image")
    Connect(Edge(region.id, "mask", window.node_id, "mask")).apply(graph)
    return region.id


def test_input_region_uses_the_wired_region_mask(setup, qtbot) -> None:
    graph, _, open_painter = setup
    window = open_painter(
        "MotionBrush",
        brushes=[{"name": "a", "region": "input", "trajectory": [[0.5, 0.5], [0.6, 0.5]]}],
    )
    assert window.canvas.overlay.pixmap().toImage().pixelColor(80, 60).alpha() == 0
    with qtbot.waitSignal(window.overlay_ready, timeout=30_000):  # rendered by the engine
        _wire_a_region_mask(graph, window)
    overlay = window.canvas.overlay.pixmap().toImage()
    assert overlay.pixelColor(80, 60).alpha() > 0 and overlay.pixelColor(10, 10).alpha() == 0


def test_a_new_brush_on_a_wired_mask_moves_that_mask(setup, qtbot) -> None:
    graph, stack, open_painter = setup
    window = open_painter("MotionBrush")
    panel = window.brush_panel
    # Before any brush exists the fields show a new brush's values, not zeros.
    assert not panel.details.isEnabled()
    assert (panel.end.value(), panel.scale.value(), panel.start.value()) == (1.0, 1.0, 0.0)
    assert panel.region.currentText() == "painted here"
    with qtbot.waitSignal(window.overlay_ready, timeout=30_000):
        _wire_a_region_mask(graph, window)
        assert panel.region.currentText() == "node's mask input"  # what a new brush takes
        QTest.mouseClick(panel.add_button, LEFT)
    (brush,) = params(window)["brushes"]
    assert brush["region"] == "input"
    assert window.canvas.overlay.pixmap().toImage().pixelColor(80, 60).alpha() > 0
    # A path drawn with no brush at all also starts an "input" brush.
    stack.undo()
    window.set_tool("path")
    drag(window, [(80, 60), (100, 60), (130, 50)])
    assert params(window)["brushes"][0]["region"] == "input"


def test_quick_preview_renders_on_a_worker_and_plays(setup, qtbot) -> None:
    _, _, open_painter = setup
    window = open_painter(
        "MotionBrush",
        brushes=[
            {
                "name": "box",
                "region": [{"kind": "rect", "points": [[0.3, 0.25], [0.7, 0.75]]}],
                "trajectory": [[0.5, 0.5], [0.8, 0.5]],
            }
        ],
    )
    assert not window.preview.player.isVisible()
    with qtbot.waitSignal(window.preview.clip_ready, timeout=30_000):
        QTest.mouseClick(window.preview.button, LEFT)
        assert window.preview.busy and window.preview.bar.isVisible()
    clip = window.preview.clip
    assert len(clip) == 25 and clip.width >= W // 2 and clip.height >= H // 2  # half size+
    assert not np.array_equal(clip.frames[0], clip.frames[-1])  # the box moved
    # Shown below the canvas, as wide as it and at least half as tall.
    player, canvas = window.preview.player, window.canvas
    assert player.isVisible() and player.width() >= canvas.width()
    assert player.height() >= canvas.height() // 2
    first = window.preview.frame
    qtbot.waitUntil(lambda: window.preview.frame != first, timeout=5000)


def test_quick_preview_reports_a_bad_brush(setup, qtbot) -> None:
    _, _, open_painter = setup
    window = open_painter("MotionBrush", brushes=[{"name": "empty", "region": []}])
    window.preview.button.click()
    qtbot.waitUntil(lambda: not window.preview.busy, timeout=30_000)
    assert "empty" in window.preview.status.text()
    assert window.preview.clip is None


def test_removing_the_node_detaches_the_window(setup) -> None:
    graph, _, open_painter = setup
    window = open_painter("RegionMask")
    graph.remove(window.node_id)
    assert window._unsubscribe is None and not window.isVisible()
    other = open_painter("MotionBrush")
    graph.clear()
    assert other._unsubscribe is None and not other.isVisible()


def test_a_new_workflow_closes_the_painter_and_an_upstream_edit_refetches(
    setup, qtbot, tmp_path
) -> None:
    import cv2

    graph, stack, open_painter = setup
    window = open_painter("RegionMask")
    (image,) = [n for n in graph.nodes if n.type_id == "LoadImage"]
    other = np.full((H, W, 3), 30, np.uint8)
    cv2.imwrite(str(tmp_path / "other.png"), other)
    with qtbot.waitSignal(window.keyframe_ready, timeout=30_000):
        graph.node(image.id).set_param("path", str(tmp_path / "other.png"))
    assert np.array_equal(window.keyframe, other)
    window.session.new()  # the session replaced its workflow: this node is gone
    assert window._unsubscribe_session is None and not window.isVisible()


def test_lasso_drag_makes_a_polygon(setup) -> None:
    _, stack, open_painter = setup
    window = open_painter("RegionMask")
    window.set_tool("polygon")
    drag(window, [(40, 40), (80, 30), (110, 60), (80, 95), (45, 80), (40, 45)])
    (shape,) = window.graph.node(window.node_id).params["shapes"]
    assert shape["kind"] == "polygon" and len(shape["points"]) >= 4
    assert stack.count() == 1


def test_no_picture_wired_paints_on_a_blank_frame(qtbot, registry, engine) -> None:
    session = Session(registry)
    node = session.graph.add("RegionMask")
    window = PainterWindow(session, node.id, engine)
    qtbot.addWidget(window)
    assert window.canvas.image_size == (1024, 576)
    assert "no picture is wired" in window.status.text()
    assert not window.busy.isVisible()
    with pytest.raises(ValueError, match="uint8"):
        window.set_keyframe(np.zeros((8, 8), np.float32))


def test_opens_before_a_run_and_fetches_the_keyframe_itself(
    qtbot, registry, engine, keyframe_file
) -> None:
    """Nothing rendered yet: the painter renders the upstream branch (here Load Image ->
    a reroute dot) through the engine, showing progress; the second time it is cached."""
    session = Session(registry)
    graph = session.graph
    image = graph.add("LoadImage", params={"path": str(keyframe_file)})
    dot = graph.add("Reroute")
    mask = graph.add("RegionMask")
    graph.connect(image.id, "image", dot.id, "in")
    graph.connect(dot.id, "out", mask.id, "image")
    window = PainterWindow(session, mask.id, engine)
    qtbot.addWidget(window)
    window.resize(900, 560)
    window.show()
    assert window.busy.isVisible() and "Reroute" in window.busy.label.text()
    assert "fetching" in window.status.text()
    with qtbot.waitSignal(window.keyframe_ready, timeout=30_000):
        pass
    assert window.has_keyframe and np.array_equal(window.keyframe, keyframe())
    assert window.canvas.image_size == (W, H)
    assert not window.busy.isVisible()
    again = PainterWindow(session, mask.id, engine)
    qtbot.addWidget(again)
    with qtbot.waitSignal(again.keyframe_ready, timeout=30_000):
        pass
    assert np.array_equal(again.keyframe, window.keyframe)
    assert engine.state(graph)[image.id] == "cached"
    window.grab().save("/tmp/painter/painter_fetched.png")


def test_undo_keys_work_in_the_painter_window(setup, qtbot) -> None:
    _, stack, open_painter = setup
    window = open_painter("RegionMask")
    window.windowHandle().requestActivate()  # shortcuts only fire in the active window
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window)
    drag(window, [(40, 60), (100, 60)])
    assert len(params(window)["shapes"]) == 1
    QTest.keyClick(window.canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert params(window)["shapes"] == []
    redo = QKeySequence(QKeySequence.StandardKey.Redo)[0]  # Ctrl+Y or Ctrl+Shift+Z
    QTest.keyClick(window.canvas, redo.key(), redo.keyboardModifiers())
    assert len(params(window)["shapes"]) == 1


def test_clicking_a_region_with_the_path_tool_selects_its_brush(setup) -> None:
    _, stack, open_painter = setup
    left = [{"kind": "rect", "points": [[0.05, 0.1], [0.4, 0.9]]}]
    right = [{"kind": "rect", "points": [[0.6, 0.1], [0.95, 0.9]]}]
    window = open_painter(
        "MotionBrush",
        brushes=[
            {"name": "left", "region": left, "static": True},
            {"name": "right", "region": right, "static": True},
        ],
    )
    window.set_tool("path")
    QTest.mouseClick(window.canvas.viewport(), LEFT, NONE, at(window, 130, 60))
    assert window.current_brush == 1 and window.brush_panel.current == 1
    QTest.mouseClick(window.canvas.viewport(), LEFT, NONE, at(window, 20, 60))
    assert window.current_brush == 0
    assert stack.count() == 0  # selecting is not an edit


def test_redraws_only_for_what_it_paints(setup, monkeypatch) -> None:
    graph, _, open_painter = setup
    window = open_painter(
        "MotionBrush",
        brushes=[{"name": "a", "region": "input", "trajectory": [[0.5, 0.5], [0.6, 0.5]]}],
    )
    region = graph.add(
        "RegionMask", params={"shapes": [{"kind": "rect", "points": [[0.25, 0.25], [0.75, 0.75]]}]}
    )
    Connect(Edge(region.id, "mask", window.node_id, "mask")).apply(graph)
    reloads: list[int] = []
    monkeypatch.setattr(window, "reload", lambda: reloads.append(1))
    graph.node(window.node_id).position = (300.0, 40.0)
    graph.add("RegionMask")
    assert reloads == []
    graph.node(region.id).set_param("invert", True)  # the wired mask changed
    graph.node(window.node_id).set_param("zoom", 1.5)
    assert len(reloads) == 2


def test_brush_list_selection_leaves_the_colour_swatch_visible(setup) -> None:
    from PySide6.QtGui import QColor

    from studio.ui.painter.brush_editor import new_brush
    from studio.ui.painter.mask_tools import region_colour

    _, _, open_painter = setup
    window = open_painter("MotionBrush", brushes=[new_brush(0)])
    listing = window.brush_panel.list
    assert listing.currentRow() == 0
    image = listing.viewport().grab().toImage()
    row = listing.visualItemRect(listing.item(0))
    swatch = QColor(region_colour(0))
    background = image.pixelColor(row.right() - 4, row.center().y())
    pairs = zip(background.getRgb()[:3], swatch.getRgb()[:3], strict=True)
    distance = sum(abs(a - b) for a, b in pairs)
    assert distance > 120  # the selection no longer paints the swatch's own blue
