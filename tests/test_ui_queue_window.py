"""The queue in the editor window: Add to Queue, Vary…, seed control, the contact sheet."""

from __future__ import annotations

from typing import Any

import pytest
import queue_stubs
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog
from ui_helpers import STUB_SPECS, chain, close_window, make_window

from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.commands import AddNode, Connect
from studio.graph.graph import Edge
from studio.graph.registry import NodeRegistry
from studio.graph.seeds import SeedControl
from studio.queue import JobState, QueueEventKind
from studio.ui.takes_integration import TAKE_PREFIX
from studio.ui.vary_dialog import VaryDialog


@pytest.fixture
def window(qtbot, tmp_path):
    registry = NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS, queue_stubs.registry()["SavePng"]))
    w = make_window(qtbot, tmp_path, registry)
    yield w
    close_window(w)


def finished(count: int) -> Any:
    seen: list[str] = []

    def check(event: Any) -> bool:
        if event.kind is QueueEventKind.JOB_FINISHED:
            seen.append(event.job_id)
        return len(seen) >= count

    return check


def test_add_to_queue_renders_a_snapshot_while_the_artist_edits(qtbot, window):
    src, blur, _ = chain(window.graph, window.session)
    panel = window.queue.panel
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(1)):
        window.queue.act_queue.trigger()
        (job,) = window.queue.store.jobs()
        window.graph.node(blur).set_param("radius", 30.0)  # edited while it renders
    (done,) = window.queue.store.jobs()
    assert done.id == job.id and done.state is JobState.DONE
    assert '"radius": 2.0' in done.workflow  # the snapshot, not the edit
    assert panel.tree.topLevelItem(0).text(1) == "done"
    # The queue filled the cache the editor reads: the untouched source reads cached.
    qtbot.waitUntil(lambda: window.scene.status(src) == "cached", timeout=10_000)
    assert window.scene.status(blur) == "stale"  # edited after it was queued
    assert window.queue.dock.windowTitle() == "Queue"


def test_seed_control_from_the_inspector_moves_the_seed_after_each_run(qtbot, window):
    _, blur, _ = chain(window.graph, window.session)
    window.scene.select([blur])
    seed = window.inspector.editors["seed"]
    assert seed.after.text() == "fixed"
    increment = next(a for a in seed.after.menu().actions() if a.text() == "Add one to the seed")
    increment.trigger()
    node = window.graph.node(blur)
    assert node.seed_control == {"seed": SeedControl.INCREMENT} and seed.after.text() == "+1"
    window.session.undo()
    assert node.seed_control == {} and seed.after.text() == "fixed"  # the view followed
    window.session.redo()
    before = node.param("seed")
    with qtbot.waitSignal(window.controller.running_changed, timeout=30_000):
        assert window.run_all()
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)
    assert node.param("seed") == before + 1 and seed.spin.value() == before + 1
    assert window.session.history.undo_label() == "Next seeds"
    window.queue.add_to_queue()  # queueing is a run too: the seed moves on again
    assert node.param("seed") == before + 2


def test_vary_queues_a_batch_and_opens_its_contact_sheet(qtbot, window, monkeypatch):
    src, blur, _ = chain(window.graph, window.session)
    save = "save0000"
    window.session.push(AddNode("SavePng", (600.0, 200.0), node_id=save))
    window.session.push(Connect(Edge(blur, "image", save, "a")))

    def accept(dialog: VaryDialog) -> int:
        dialog.param.setCurrentIndex(dialog.param.findData("level"))
        dialog.values.setText("2..4")
        return QDialog.DialogCode.Accepted

    monkeypatch.setattr(VaryDialog, "exec", accept)
    panel = window.queue.panel
    with qtbot.waitSignal(panel.job_event, timeout=30_000, check_params_cb=finished(3)):
        jobs = window.queue.vary(src)
    assert [j.overrides for j in jobs] == [{"Source.level": v} for v in (2, 3, 4)]
    sheet = window.queue.latest_sheet()
    assert sheet is not None
    qtbot.waitUntil(lambda: len(sheet.tiles) == 3, timeout=30_000)
    assert [t.item.label for t in sheet.tiles] == ["level=2", "level=3", "level=4"]
    qtbot.mouseClick(sheet.tiles[1], Qt.MouseButton.LeftButton)  # full size, in the viewer
    panel_ = window.viewer.panel
    assert panel_.pinned and panel_._follow == TAKE_PREFIX + str(sheet.tiles[1].item.path)
    qtbot.waitUntil(lambda: panel_.current_frame() is not None, timeout=10_000)
    assert panel_.current_frame().shape[:2] == (48, 64)  # the variant file itself, full size
    sheet.close()


def test_vary_needs_one_selected_node(window):
    chain(window.graph, window.session)
    window.scene.select([])
    assert window.queue.vary() == []
    assert "Select the one node" in window.messages[-1]
