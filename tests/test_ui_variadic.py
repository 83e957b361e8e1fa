"""The canvas shows a Sequence's variadic inputs; its "+ add clip" row adds one, undoably."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF
from ui_helpers import STUB_SPECS, chain, mouse

from nodes.sequence import SEQUENCE
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.commands import RemoveSlot
from studio.graph.registry import NodeRegistry
from studio.session import Session
from studio.ui.canvas.view import NodeView


@pytest.fixture
def canvas(qtbot):
    from studio.ui.canvas.scene import NodeScene

    scene = NodeScene(Session(NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS, SEQUENCE))))
    view = NodeView(scene)
    view.resize(900, 600)
    qtbot.addWidget(view)
    view.show()
    view.centerOn(QPointF(300, 100))
    scene.view = view
    return scene


def test_add_row_adds_a_slot_and_undo_removes_it(canvas) -> None:
    seq = canvas.graph.add("Sequence", position=(300.0, 0.0))
    item = canvas.item_for(seq.id)
    assert [s.name for s in item.slots if s.side == "in"] == ["clip_0", "clip_1"]
    height = item.boundingRect().height()
    adder = next(rect for port, rect in item._adders if port == "clip")
    mouse(canvas.view, "press", item.mapToScene(adder.center()))
    mouse(canvas.view, "release", item.mapToScene(adder.center()))
    assert seq.slot_count("clip") == 3
    assert [s.name for s in item.slots if s.side == "in"][-1] == "clip_2"
    assert item.boundingRect().height() > height  # the node grew a row
    canvas.session.undo()
    assert seq.slot_count("clip") == 2
    assert [s.name for s in item.slots if s.side == "in"] == ["clip_0", "clip_1"]


def test_wires_follow_slots_when_one_is_removed(canvas, tmp_path) -> None:
    src, _, anim = chain(canvas.graph)
    seq = canvas.graph.add("Sequence", position=(900.0, 0.0))
    canvas.graph.connect(anim, "video", seq.id, "clip_1")
    canvas.session.push(RemoveSlot(seq.id, "clip", 0))
    edge = canvas.graph.edge_into(seq.id, "clip_0")
    assert edge is not None and edge.src_node == anim
    end = canvas.edge_item(edge).path().pointAtPercent(1.0)
    assert end == canvas.item_for(seq.id).port_scene_pos("in", "clip_0")
    canvas.view.centerOn(QPointF(850, 100))
    canvas.view.grab().save(str(tmp_path / "sequence_node.png"))
