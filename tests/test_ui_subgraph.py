"""Subgraphs in the editor, driven by real events: Make Subgraph on a selection (one undo
step), double-click to open it, edit inside, the breadcrumb back out, the exposed params in
the inspector, and blueprints in the node search."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractSpinBox, QApplication, QLabel, QMenu, QPushButton
from ui_helpers import chain, close_window, make_window, mouse

from studio.graph.commands import AddNode, Connect
from studio.graph.graph import Edge
from studio.graph.subgraph import Exposed
from studio.graph.subgraph_commands import SetExposed
from studio.session.blueprints import AddBlueprint, blueprint_status, save_blueprint

CTRL_SHIFT = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
SHOTS = Path("/tmp/studio-subgraph-shots")


@pytest.fixture
def window(qtbot, tmp_path, registry):
    w = make_window(qtbot, tmp_path, registry)
    yield w
    close_window(w)


def _finishing_chain(window) -> dict[str, str]:
    steps = [
        ("image", "SampleImage", {}),
        ("i2v", "ImageToVideo", {"prompt": "a slow push-in on the astronaut"}),
        ("stab", "Stabilize", {}),
        ("interp", "Interpolate", {}),
        ("up", "Upscale", {"method": "lanczos"}),
        ("save", "SaveVideo", {"filename": "hero"}),
    ]
    ids = {}
    for index, (key, type_id, params) in enumerate(steps):
        ids[key] = key
        window.session.push(AddNode(type_id, (index * 260.0, 0.0), params, node_id=key))
    ports = {"image": "image", "i2v": "video", "stab": "video", "interp": "video", "up": "video"}
    keys = [k for k, _, _ in steps]
    for src, dst in zip(keys, keys[1:], strict=False):
        port = "image" if dst == "i2v" else "video"
        window.session.push(Connect(Edge(src, ports[src], dst, port)))
    return ids


def test_make_open_edit_and_leave_a_subgraph(qtbot, window):
    ids = _finishing_chain(window)
    window.view.frame_all_or_everything()
    window.scene.select([ids["stab"], ids["interp"], ids["up"]])
    window.view.setFocus()
    steps = window.session.history.count
    QTest.keyClick(window.view, Qt.Key.Key_G, CTRL_SHIFT)  # Make Subgraph
    assert window.session.history.count == steps + 1  # one undo step
    graph = window.session.graph
    (sub,) = [n for n in graph.nodes if n.subgraph is not None]
    assert ids["stab"] not in graph and len(graph.nodes) == 4
    assert [p.name for p in sub.inputs] == ["video"] and [p.name for p in sub.outputs] == ["video"]
    assert graph.edge_into(ids["save"], "video").src_node == sub.id
    window.session.push(
        SetExposed(sub.id, [Exposed("smoothing", ids["stab"], "smoothing", "Smoothing")])
    )
    window.view.frame_all_or_everything()
    window.scene.select([sub.id])
    assert "smoothing" in window.inspector.editors  # the exposed param, on the outer node
    SHOTS.mkdir(exist_ok=True)
    window.grab().save(str(SHOTS / "outside.png"))

    body = window.scene.item_for(sub.id).scenePos() + QPointF(60, 40)
    mouse(window.view, "double", body)  # open it
    assert window.session.scope == [sub.id]
    assert window.scene.graph is sub.subgraph.graph
    assert window.breadcrumb.isVisible() and len(window.breadcrumb.buttons) == 2
    inner = window.scene.item_for(ids["interp"])  # the inner nodes are on the canvas
    window.scene.select([ids["interp"]])
    assert window.inspector.node_id == ids["interp"]
    window.grab().save(str(SHOTS / "inside.png"))

    # an edit inside is an undoable edit of the workflow
    steps = window.session.history.count
    spin = window.inspector.editors["factor"].findChild(QAbstractSpinBox)
    spin.selectAll()
    QTest.keyClicks(spin, "3")
    QTest.keyClick(spin, Qt.Key.Key_Return)
    assert window.session.history.count == steps + 1
    assert sub.subgraph.graph.node(ids["interp"]).param("factor") == 3
    assert inner.node.param("factor") == 3
    assert window.session.dirty
    window.session.undo()
    assert sub.subgraph.graph.node(ids["interp"]).param("factor") == 2

    QTest.mouseClick(window.breadcrumb.buttons[0], Qt.MouseButton.LeftButton)  # back out
    assert window.session.scope == [] and window.scene.graph is graph
    assert not window.breadcrumb.isVisible()
    window.session.undo()  # the make-subgraph step
    window.session.undo()
    assert ids["stab"] in window.session.graph
    assert all(n.subgraph is None for n in window.session.graph.nodes)


def test_node_search_lists_blueprints_and_adds_a_linked_one(qtbot, window):
    window.view.setFocus()
    window.view.frame_all_or_everything()
    QTest.keyClick(window.view, Qt.Key.Key_Tab)
    popup = window.view.popup
    QTest.keyClicks(popup.field, "finish for")
    titles = [popup.list.item(i).text() for i in range(popup.list.count())]
    assert titles[0] == "Finish for delivery"
    QTest.keyClick(popup.field, Qt.Key.Key_Return)
    (node,) = window.session.graph.nodes
    assert node.subgraph is not None and node.subgraph.blueprint.linked
    assert node.subgraph.blueprint.name == "Finish for delivery"
    assert "filename" in node.params


def test_expose_from_inside_and_update_a_changed_blueprint(qtbot, window, tmp_path):
    ids = _finishing_chain(window)
    window.scene.select([ids["stab"], ids["interp"]])
    window.edit.make_subgraph()
    (sub,) = [n for n in window.session.graph.nodes if n.subgraph is not None]
    window.edit.open_subgraph(sub.id)
    window.scene.select([ids["interp"]])
    label = next(
        w for w in window.inspector.findChildren(QLabel) if w.text() == "Factor"
    )  # right-click the param's label: Expose
    QApplication.sendEvent(
        label,
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, QPoint(4, 4), label.mapToGlobal(QPoint(4, 4))
        ),
    )
    menu = label.findChild(QMenu)
    assert "Expose" in menu.actions()[0].text()
    menu.actions()[0].trigger()
    menu.close()
    assert [e.name for e in sub.subgraph.exposed] == ["factor"]
    assert sub.params == {"factor": 2}
    window.scene.select([ids["stab"]])
    window.session.push_at(
        [],
        SetExposed(sub.id, [*sub.subgraph.exposed, Exposed("smoothing", ids["stab"], "smoothing")]),
    )
    window.edit.leave_subgraph()
    window.scene.select([sub.id])
    assert list(window.inspector.editors) == ["factor", "smoothing"]
    label = next(w for w in window.inspector.findChildren(QLabel) if w.text() == "Smoothing")
    QApplication.sendEvent(
        label,
        QContextMenuEvent(
            QContextMenuEvent.Reason.Mouse, QPoint(4, 4), label.mapToGlobal(QPoint(4, 4))
        ),
    )
    menu = label.findChild(QMenu)
    next(a for a in menu.actions() if a.text() == "Move Up").trigger()  # rebuilds the page
    assert [e.name for e in sub.subgraph.exposed] == ["smoothing", "factor"]
    assert list(window.inspector.editors) == ["smoothing", "factor"]
    window.session.undo()
    assert [e.name for e in sub.subgraph.exposed] == ["factor", "smoothing"]

    # save it as a blueprint, link an instance, change the file: the inspector offers Update
    library = window.session.registry.blueprints
    saved = save_blueprint(sub, library.save_folder, "Smooth and double")
    window.session.push(AddBlueprint(library.get("Smooth and double"), (0.0, 400.0)))
    (linked,) = [n for n in window.session.graph.nodes if n.subgraph and n.subgraph.blueprint]
    data = json.loads(saved.path.read_text())
    interp = next(k for k, v in data["subgraph"]["nodes"].items() if v["type"] == "Interpolate")
    data["subgraph"]["nodes"][interp]["params"]["quality"] = "best"
    saved.path.write_text(json.dumps(data))
    window.scene.select([linked.id])
    button = window.inspector.findChild(QPushButton, "UpdateBlueprint")
    assert button is not None
    QTest.mouseClick(button, Qt.MouseButton.LeftButton)
    assert blueprint_status(linked, library) == "current"
    inner = next(n for n in linked.subgraph.graph.nodes if n.type_id == "Interpolate")
    assert inner.param("quality") == "best"
    window.session.undo()
    assert blueprint_status(window.session.graph.node(linked.id), library) == "changed"
    saved.path.unlink()


def test_viewer_shows_an_inner_nodes_result_while_a_subgraph_is_open(qtbot, tmp_path):
    window = make_window(qtbot, tmp_path)  # stub nodes: a run takes milliseconds
    try:
        src, blur, anim = chain(window.graph, window.session)
        window.scene.select([blur])
        window.edit.make_subgraph()
        (sub,) = [n for n in window.session.graph.nodes if n.subgraph is not None]
        with qtbot.waitSignal(
            window.controller.running_changed, timeout=20_000, check_params_cb=lambda r: not r
        ):
            assert window.run_all()
        assert window.controller.last_status == "ok"
        window.edit.open_subgraph(sub.id)
        shown = []
        window.viewer.show_node = shown.append
        window.scene.select([blur])
        assert shown == [f"{sub.id}/{blur}"]
        assert window._title_of(shown[0]) == "Blur"
        assert window._cached_output(shown[0])["image"].shape
    finally:
        close_window(window)
