"""Canvas hygiene: node search by alias/tag, Tidy, overlap-free adds, refused wires, reroute
drags and backdrops that follow their nodes -- each driven by real mouse and key events."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest

from studio.session import Session
from studio.ui.canvas.scene import NodeScene
from studio.ui.canvas.view import NodeView


@pytest.fixture
def real_canvas(qtbot, registry):
    scene = NodeScene(Session(registry))
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


@pytest.fixture
def window(qtbot, tmp_path):
    from ui_helpers import close_window, make_window

    w = make_window(qtbot, tmp_path)
    yield w
    close_window(w)


def _rects(scene):
    return {n: item.sceneBoundingRect() for n, item in scene.node_items().items()}


def _no_overlaps(scene) -> bool:
    rects = list(_rects(scene).values())
    return not any(a.intersects(b) for i, a in enumerate(rects) for b in rects[i + 1 :])


def test_tidy_lays_out_the_graph_as_one_undo_step(window, qtbot):
    from ui_helpers import canonical

    from studio.graph.commands import AddNode, Connect, Macro
    from studio.graph.graph import Edge, new_id

    ids = [new_id() for _ in range(6)]
    types = ["Source", "Blur", "Blur", "Animate", "Source", "MaskOf"]
    steps = [
        AddNode(t, (100.0 + 7 * i, 80.0 + 5 * i), node_id=n)
        for i, (t, n) in enumerate(zip(types, ids, strict=True))
    ]
    steps += [
        Connect(Edge(ids[0], "image", ids[1], "image")),
        Connect(Edge(ids[1], "image", ids[2], "image")),
        Connect(Edge(ids[2], "image", ids[3], "image")),
        Connect(Edge(ids[4], "image", ids[5], "image")),
        Connect(Edge(ids[5], "mask", ids[3], "mask")),
    ]
    window.session.push(Macro(steps, label="pile"))
    assert not _no_overlaps(window.scene)
    before, count = canonical(window.graph), window.session.history.count
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_L, Qt.KeyboardModifier.ControlModifier)
    assert window.session.history.count == count + 1
    assert window.session.history.undo_label() == "Tidy"
    assert _no_overlaps(window.scene)
    rects = _rects(window.scene)
    for edge in window.graph.edges:  # every wire runs left to right
        assert rects[edge.src_node].right() < rects[edge.dst_node].left()
    window.view.frame_all()
    window.grab().save("/tmp/painter/canvas_tidy.png")
    window.session.undo()
    assert canonical(window.graph) == before


def test_added_and_pasted_nodes_land_clear_of_others(window, qtbot):
    from ui_helpers import mouse

    scene, view = window.scene, window.view
    spot = view.mapToScene(view.viewport().rect().center())
    popups = []
    # Double-click an empty spot, pick Blur; then again just left of the new node, where a
    # second node would cover it.
    for where in (spot, spot - QPointF(40, -10)):
        assert scene.node_at(where) is None
        mouse(view, "press", where)
        mouse(view, "release", where)
        mouse(view, "double", where)
        assert view.popup not in popups and view.popup.isVisible()
        popups.append(view.popup)
        QTest.keyClicks(view.popup.field, "blur")
        QTest.keyClick(view.popup.field, Qt.Key.Key_Return)
        qtbot.waitUntil(lambda: not view.popup.isVisible())
    first, second = [n.id for n in window.graph.nodes]
    assert _no_overlaps(scene)  # the second one did not land on the first
    scene.select([first, second])
    window.view.setFocus()
    QTest.keyClick(window.view, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(window.view, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    assert len(window.graph.nodes) == 4
    assert _no_overlaps(scene)


def test_a_node_spliced_between_close_nodes_pushes_them_apart(window, qtbot):
    from ui_helpers import drag

    graph, scene = window.graph, window.scene
    src = graph.add("Source", position=(0.0, 0.0))
    anim = graph.add("Animate", position=(300.0, 0.0))
    graph.connect(src.id, "image", anim.id, "image")
    blur = graph.add("Blur", position=(0.0, 400.0))
    grab = scene.item_for(blur.id).sceneBoundingRect().center() - QPointF(0, 40)
    drag(window.view, grab, QPointF(220, 30) + (grab - scene.item_for(blur.id).pos()))
    assert graph.edge_into(anim.id, "image").src_node == blur.id
    assert window.session.history.undo_label() == "Insert into wire"
    assert _no_overlaps(scene)
    window.session.undo()
    assert graph.node(anim.id).position == (300.0, 0.0)


def test_backdrop_grows_with_its_nodes_and_carries_them(window, qtbot):
    from PySide6.QtGui import QImage
    from ui_helpers import drag

    from studio.graph import edits as editing

    graph, scene = window.graph, window.scene
    node = graph.add("Blur", position=(40.0, 60.0))
    window.session.push(editing.new_group("backdrop", (0.0, 0.0, 300.0, 260.0), "Shot"))
    (group,) = graph.groups
    backdrop = scene.group_item(group.id)
    thumb = QImage(216, 122, QImage.Format.Format_RGB888)
    thumb.fill(0x336699)
    scene.set_thumbnail(node.id, thumb)  # the node grows past the backdrop's bottom
    node_rect = scene.item_for(node.id).sceneBoundingRect()
    assert backdrop.sceneBoundingRect().contains(node_rect)
    # Drag the backdrop by its title: the grown node rides along.
    drag(window.view, QPointF(150, 12), QPointF(450, 112))
    assert graph.group(group.id).rect[:2] == (300.0, 100.0)
    assert graph.node(node.id).position == (340.0, 160.0)
    assert window.session.history.count == 2  # add backdrop, then one move


def test_a_wire_over_an_incompatible_port_turns_red_and_does_not_snap(window, qtbot):
    from ui_helpers import mouse

    graph, scene, view = window.graph, window.scene, window.view
    src = graph.add("Source", position=(0.0, 0.0))
    anim = graph.add("Animate", position=(400.0, 0.0))
    item = scene.item_for(anim.id)
    mouse(view, "press", scene.item_for(src.id).port_scene_pos("out", "image"))
    mask_port = item.port_scene_pos("in", "mask")
    near_mask = mask_port + QPointF(3, 2)
    mouse(view, "move", QPointF(300, 60))
    mouse(view, "move", near_mask)
    wire = scene._wire
    assert wire.refused and wire.pen().color().name() == "#e0524f"
    assert wire.path().pointAtPercent(1.0) == near_mask  # it stays at the cursor
    assert "types differ" in window.messages[-1]
    image_port = item.port_scene_pos("in", "image")
    mouse(view, "move", image_port + QPointF(3, 2))
    assert not wire.refused
    assert wire.path().pointAtPercent(1.0) == image_port  # snapped onto the port
    mouse(view, "release", image_port)
    assert graph.edge_into(anim.id, "image").src_node == src.id


def test_reroute_dot_moves_by_its_centre_and_wires_from_its_rim_or_with_alt(window, qtbot):
    from ui_helpers import drag, mouse

    graph, scene, view = window.graph, window.scene, window.view
    src = graph.add("Source", position=(0.0, 0.0))
    dot = graph.add("Reroute", position=(400.0, 200.0))
    graph.connect(src.id, "image", dot.id, "in")
    blur = graph.add("Blur", position=(700.0, 300.0))
    drag(view, QPointF(400, 200), QPointF(480, 260))
    assert graph.node(dot.id).position == (480.0, 260.0)
    assert window.session.history.undo_label().startswith("Move")
    assert graph.edges_from(dot.id) == []  # no wire was started
    # From the rim: a wire to the Blur's input.
    drag(view, QPointF(480 + 11, 260), scene.item_for(blur.id).port_scene_pos("in", "image"))
    assert graph.edge_into(blur.id, "image").src_node == dot.id
    # With Alt, even the centre starts a wire.
    other = graph.add("Blur", position=(700.0, 500.0))
    alt = Qt.KeyboardModifier.AltModifier
    target = scene.item_for(other.id).port_scene_pos("in", "image")
    mouse(view, "press", QPointF(480, 260), modifiers=alt)
    mouse(view, "move", target, modifiers=alt)
    mouse(view, "release", target, modifiers=alt)
    assert graph.edge_into(other.id, "image").src_node == dot.id
    assert graph.node(dot.id).position == (480.0, 260.0)


def test_search_finds_a_node_by_the_name_of_a_local_model(real_canvas, qtbot, monkeypatch):
    from studio.ui.inspector import widgets

    def fake(kind: str) -> tuple[tuple[str, str], ...]:
        found = {"image-to-video": (("Wan2.1-I2V-14B-480P", "/models/wan21"),)}
        return found.get(kind, ())

    monkeypatch.setattr(widgets, "discover_models", fake)
    view = real_canvas.view
    view.setFocus()
    QTest.keyClick(view, Qt.Key.Key_Tab)
    QTest.keyClicks(view.popup.field, "14b-480")
    popup = view.popup
    offered = [popup.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(popup.list.count())]
    assert "ImageToVideo" in offered  # and only nodes that can load that model
    registry = real_canvas.graph.registry
    assert all(any(p.model_kind for p in registry[t].params) for t in offered)
