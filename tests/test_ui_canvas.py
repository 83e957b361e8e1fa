"""The canvas follows the model, and gestures on it become model edits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from ui_helpers import canonical, chain, drag, mouse, stub_registry

from studio.graph import fileformat
from studio.graph.graph import Edge
from studio.session import Session
from studio.ui.canvas.search_popup import rank
from studio.ui.canvas.view import NodeView


@pytest.fixture
def canvas(qtbot):
    from studio.ui.canvas.scene import NodeScene

    session = Session(stub_registry())
    scene = NodeScene(session)
    view = NodeView(scene)
    view.resize(1400, 800)
    qtbot.addWidget(view)
    view.show()
    view.centerOn(QPointF(500, 100))
    scene.view = view  # keep the view alive for the test
    scene.messages = []
    scene.status_message.connect(scene.messages.append)
    return scene


def _port(scene, node_id: str, side: str, name: str) -> QPointF:
    return scene.item_for(node_id).port_scene_pos(side, name)


def test_node_title_follows_model(canvas):
    node = canvas.graph.add("Blur")
    node.title = "Final upscale"
    assert canvas.item_for(node).title_text() == "Final upscale"


def test_items_follow_model_adds_moves_and_removals(canvas):
    src, blur, anim = chain(canvas.graph)
    assert set(canvas.node_items()) == {src, blur, anim}
    canvas.graph.node(blur).position = (420.0, 40.0)
    assert canvas.item_for(blur).pos() == QPointF(420, 40)
    # The wire's end followed the node it enters.
    edge = canvas.graph.edge_into(blur, "image")
    path = canvas.edge_item(edge).path()
    assert path.pointAtPercent(1.0) == _port(canvas, blur, "in", "image")
    canvas.graph.remove(blur)
    assert blur not in canvas.node_items()
    assert edge not in [e for e in canvas.graph.edges]


def test_param_change_marks_downstream_stale_at_once(canvas):
    src, blur, anim = chain(canvas.graph)
    for node_id in (src, blur, anim):
        canvas.session.apply_cache_states({node_id: "cached"}, canvas.session.state_token)
    canvas.graph.node(blur).set_param("radius", 5.0)
    assert [canvas.status(n) for n in (src, blur, anim)] == ["cached", "stale", "stale"]
    assert "Radius: 5" in canvas.item_for(blur)._summary


def test_drag_from_output_to_input_connects(canvas):
    graph = canvas.graph
    src = graph.add("Source", position=(0, 0))
    blur = graph.add("Blur", position=(400, 0))
    drag(canvas.view, _port(canvas, src.id, "out", "image"), _port(canvas, blur.id, "in", "image"))
    assert graph.edges == [Edge(src.id, "image", blur.id, "image")]
    canvas.session.undo()
    assert graph.edges == []


def test_wrong_type_connection_is_refused_with_reason(canvas):
    graph = canvas.graph
    src = graph.add("Source", position=(0, 0))
    anim = graph.add("Animate", position=(400, 0))
    view = canvas.view
    mouse(view, "press", _port(canvas, src.id, "out", "image"))
    mouse(view, "move", QPointF(200, 40))
    # While dragging, the ports that accept the wire are marked (image yes, mask no).
    item = canvas.item_for(anim)
    assert item.accepting[("in", "image")] is True
    assert item.accepting[("in", "mask")] is False
    mouse(view, "move", _port(canvas, anim.id, "in", "mask"))
    mouse(view, "release", _port(canvas, anim.id, "in", "mask"))
    assert graph.edges == []
    assert item.accepting is None
    assert "types differ" in canvas.messages[-1]
    assert "IMAGE" in canvas.messages[-1] and "MASK" in canvas.messages[-1]


def test_picking_a_wire_off_an_input_and_dropping_it_in_space_disconnects(canvas):
    src, blur, _ = chain(canvas.graph)
    drag(canvas.view, _port(canvas, blur, "in", "image"), QPointF(150, 400))
    assert canvas.graph.edge_into(blur, "image") is None
    canvas.session.undo()
    assert canvas.graph.edge_into(blur, "image") == Edge(src, "image", blur, "image")


def test_wire_dropped_in_space_offers_only_compatible_types_and_connects(canvas):
    src = canvas.graph.add("Source", position=(0, 0))
    drag(canvas.view, _port(canvas, src.id, "out", "image"), QPointF(500, 300))
    popup = canvas.view.popup
    offered = {popup.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(popup.list.count())}
    assert offered == {"Blur", "Animate", "Spin", "MaskOf", "Reroute"}
    popup.field.setText("anim")
    popup.accept_current()
    (new,) = [n for n in canvas.graph.nodes if n.type_id == "Animate"]
    assert canvas.graph.edges == [Edge(src.id, "image", new.id, "image")]
    assert canvas.selected_node_ids() == [new.id]
    canvas.session.undo()  # node and wire were one step
    assert [n.type_id for n in canvas.graph.nodes] == ["Source"]


def test_fuzzy_search_ranks_title_matches_first():
    specs = list(stub_registry())
    assert rank("blr", specs)[0].type_id == "Blur"
    assert rank("anim", specs)[0].type_id == "Animate"
    assert [s.type_id for s in rank("zzz", specs)] == []


def test_moving_nodes_is_one_undo_step_and_snaps_to_grid(canvas):
    src, blur, _ = chain(canvas.graph)
    canvas.select([src, blur])
    start = canvas.item_for(blur).scenePos() + QPointF(60, 10)
    before = canonical(canvas.graph)
    drag(canvas.view, start, start + QPointF(73, 38))
    assert canvas.graph.node(src).position == (70.0, 40.0)
    assert canvas.graph.node(blur).position == (370.0, 40.0)
    assert canvas.session.history.count == 1
    canvas.session.undo()
    assert canonical(canvas.graph) == before


def test_dropping_a_node_onto_a_wire_splices_it_in(canvas):
    graph = canvas.graph
    src = graph.add("Source", position=(0, 0))
    anim = graph.add("Animate", position=(800, 0))
    graph.connect(src.id, "image", anim.id, "image")
    blur = graph.add("Blur", position=(400, 400))
    grab = canvas.item_for(blur.id).scenePos() + QPointF(100, 10)
    drag(canvas.view, grab, grab + QPointF(0, -400))
    assert set(graph.edges) == {
        Edge(src.id, "image", blur.id, "image"),
        Edge(blur.id, "image", anim.id, "image"),
    }
    canvas.session.undo()
    assert graph.edges == [Edge(src.id, "image", anim.id, "image")]
    assert graph.node(blur.id).position == (400.0, 400.0)


def test_backdrop_carries_the_nodes_on_it(canvas):
    from studio.graph import edits as editing

    src, blur, _ = chain(canvas.graph)
    canvas.session.push(editing.new_group("backdrop", (-50.0, -80.0, 640.0, 300.0)))
    (group,) = canvas.graph.groups
    title_bar = QPointF(100, -65)
    drag(canvas.view, title_bar, title_bar + QPointF(0, 200))
    assert canvas.graph.group(group.id).rect == (-50.0, 120.0, 640.0, 300.0)
    assert canvas.graph.node(src).position == (0.0, 200.0)
    assert canvas.graph.node(blur).position == (300.0, 200.0)
    canvas.session.undo()
    assert canvas.graph.node(src).position == (0.0, 0.0)


def test_placeholder_nodes_are_drawn_red_with_their_type(canvas):
    text = fileformat.dumps(canvas.graph)
    data = fileformat.json.loads(text)
    data["nodes"]["abc"] = {
        "type": "FutureNode",
        "title": "Future",
        "position": [0, 0],
        "params": {"x": 1},
    }
    loaded = fileformat.from_dict(data, canvas.graph.registry)
    canvas.session.set_graph(loaded.graph)
    item = canvas.item_for("abc")
    assert item.node.is_placeholder
    assert "FutureNode" in item._summary[0]
    assert item._status_label() == ("missing", "placeholder")
    image = canvas.view.grab().toImage()
    view = canvas.view
    header = view.mapFromScene(item.scenePos() + QPointF(140, 14))  # header, clear of text
    color = image.pixelColor(header)
    assert color.red() > 2 * color.green()


def test_many_void_calls_do_not_corrupt_the_interpreter(canvas):
    # PySide6 6.12.0 on Python 3.11 aborted with none_dealloc after a few thousand void calls.
    node = canvas.graph.add("Blur")
    item = canvas.item_for(node)
    for i in range(100_000):
        item.setPos(float(i % 300), 0.0)
    assert item.pos().x() == float(99_999 % 300)


def test_wheel_zoom_keeps_the_point_under_the_cursor(canvas, qtbot):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    view = canvas.view
    at = QPoint(300, 200)
    before = view.mapToScene(at)
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
    assert view.zoom() == pytest.approx(1.15**2)
    after = view.mapToScene(at)
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2


def test_tab_opens_the_node_search_and_enter_adds_the_best_match(canvas, qtbot):
    canvas.view.setFocus()
    qtbot.keyClick(canvas.view, Qt.Key.Key_Tab)
    popup = canvas.view.popup
    assert popup is not None and popup.isVisible()
    popup.field.setText("mask")
    qtbot.keyClick(popup.field, Qt.Key.Key_Return)
    assert [n.type_id for n in canvas.graph.nodes] == ["MaskOf"]
    assert not popup.isVisible()


def test_shift_click_adds_to_the_selection(canvas):
    src, blur, _ = chain(canvas.graph)
    canvas.select([src])
    body = canvas.item_for(blur).scenePos() + QPointF(100, 60)
    mouse(canvas.view, "press", body, modifiers=Qt.KeyboardModifier.ShiftModifier)
    mouse(canvas.view, "release", body, modifiers=Qt.KeyboardModifier.ShiftModifier)
    assert sorted(canvas.selected_node_ids()) == sorted([src, blur])


def test_renaming_changes_no_pixels_so_nothing_goes_stale(canvas):
    src, blur, anim = chain(canvas.graph)
    for node_id in (src, blur, anim):
        canvas.session.apply_cache_states({node_id: "cached"}, canvas.session.state_token)
    canvas.graph.node(blur).title = "Soften"
    assert [canvas.status(n) for n in (src, blur, anim)] == ["cached"] * 3


def test_middle_drag_pans_the_view(canvas):
    view = canvas.view
    middle = Qt.MouseButton.MiddleButton
    center = view.mapToScene(view.viewport().rect().center())
    start = QPointF(center)
    mouse(view, "press", start, button=middle)
    mouse(view, "move", start + QPointF(-100, -50), button=middle, buttons=middle)
    mouse(view, "release", start + QPointF(-100, -50), button=middle)
    moved = view.mapToScene(view.viewport().rect().center()) - center
    assert abs(moved.x() - 100) < 2 and abs(moved.y() - 50) < 2
    assert canvas.graph.nodes == []  # panning edits nothing


def test_selected_wire_is_deleted_as_one_step(canvas):
    from studio.graph import edits as editing

    src, blur, anim = chain(canvas.graph)
    edge = canvas.graph.edge_into(anim, "image")
    canvas.edge_item(edge).setSelected(True)
    command = editing.delete(
        canvas.graph,
        canvas.selected_node_ids(),
        canvas.selected_group_ids(),
        canvas.selected_edges(),
    )
    canvas.session.push(command)
    assert canvas.graph.edge_into(anim, "image") is None and len(canvas.graph.nodes) == 3
    canvas.session.undo()
    assert canvas.graph.edge_into(anim, "image") == edge


def test_zoomed_out_a_failed_node_shows_a_red_dot_clear_of_its_title(canvas):
    # Between block mode and full detail the badge's text is unreadable: a big status dot
    # replaces the pill, so the title no longer runs under it.
    node = canvas.graph.add("Blur")
    item = canvas.item_for(node)
    item.set_status("failed")
    view = canvas.view
    view.zoom_by(0.35 / view.zoom())
    view.centerOn(item.sceneBoundingRect().center())
    image = view.grab().toImage()
    from studio.ui.canvas.node_item import HEADER, WIDTH

    dot = image.pixelColor(view.mapFromScene(item.scenePos() + QPointF(WIDTH - 16, HEADER / 2)))
    assert dot.red() > 150 and dot.red() > 2 * dot.green()


def test_node_search_lists_titles_with_their_category_apart(canvas):
    from studio.ui.canvas.search_popup import CATEGORY_ROLE

    popup = canvas.view.open_search(QPointF(0, 0))
    item = popup.list.item(0)
    spec = canvas.graph.registry[item.data(Qt.ItemDataRole.UserRole)]
    assert item.text() == spec.title
    assert item.data(CATEGORY_ROLE) == spec.category
    popup.close()


def test_a_failed_node_is_outlined_in_red(canvas):
    from PySide6.QtCore import QPoint

    node = canvas.graph.add("Blur")
    item = canvas.item_for(node)
    view = canvas.view
    view.centerOn(item.sceneBoundingRect().center())
    below_ports = item.body_rect().bottom() - 10
    edge = view.mapFromScene(item.scenePos() + QPointF(0, below_ports))  # left border

    def reddest() -> int:
        image = view.grab().toImage()
        pixels = [image.pixelColor(edge + QPoint(dx, 0)) for dx in range(-2, 3)]
        return max(c.red() - c.green() for c in pixels)

    assert reddest() < 30
    item.set_status("failed")
    assert reddest() > 80
    view.zoom_by(0.15 / view.zoom())  # block mode, far away
    view.centerOn(item.sceneBoundingRect().center())
    edge = view.mapFromScene(item.scenePos() + QPointF(0, below_ports))
    assert reddest() > 80


def test_zoomed_out_a_running_node_still_shows_its_progress_and_thumbnail(canvas):
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QColor, QImage

    from studio.ui import theme
    from studio.ui.canvas.node_item import HEADER, WIDTH

    node = canvas.graph.add("Blur")
    item = canvas.item_for(node)
    thumb = QImage(64, 36, QImage.Format.Format_RGB32)
    thumb.fill(QColor("#ff00ff"))
    item.set_thumbnail(thumb)
    item.set_status("running", 0.5)
    view = canvas.view
    view.zoom_by(0.35 / view.zoom())
    view.centerOn(item.sceneBoundingRect().center())
    image = view.grab().toImage()
    bar = view.mapFromScene(item.scenePos() + QPointF(WIDTH * 0.25, HEADER - 1.5))
    running = QColor(theme.STATUS_COLORS["running"])
    near = [image.pixelColor(bar + QPoint(0, dy)) for dy in (-1, 0, 1)]
    assert any(abs(c.blue() - running.blue()) < 40 and c.blue() > c.red() for c in near)
    middle = view.mapFromScene(item.scenePos() + QPointF(WIDTH / 2, item.body_rect().bottom() - 60))
    pixel = image.pixelColor(middle)
    assert pixel.red() > 200 and pixel.blue() > 200 and pixel.green() < 80


def test_zooming_drafts_thumbnails_then_redraws_them_smoothly(canvas, qtbot):
    from PySide6.QtGui import QColor, QImage

    node = canvas.graph.add("Blur")
    item = canvas.item_for(node)
    thumb = QImage(64, 36, QImage.Format.Format_RGB888)
    thumb.fill(QColor("#336699"))
    item.set_thumbnail(thumb)
    assert (
        item.thumbnail.format() == QImage.Format.Format_ARGB32_Premultiplied
    )  # once, not per paint
    canvas.view.zoom_by(0.8)
    assert canvas.draft  # thumbnails scale unfiltered while the wheel turns
    qtbot.waitUntil(lambda: not canvas.draft, timeout=2000)


def test_tooltip_has_the_whole_title_the_header_elides(canvas):
    node = canvas.graph.add("Blur")
    node.title = "Keyframe: rocket on the pad, second take <b>"
    tip = canvas.item_for(node).toolTip()
    assert "Keyframe: rocket on the pad, second take &lt;b&gt;" in tip
