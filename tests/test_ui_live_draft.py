"""Draft/Final in the editor, driven by real key presses and mouse events: the toggle, the DRAFT
badge (viewer and takes), the inspector's draft help, live feedback while a slider is dragged,
and live runs yielding to a final render."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QStyle, QStyleOptionSlider
from ui_helpers import SOURCE, SPIN_STARTED, STUB_SPECS, chain, close_window, make_window

from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.commands import AddNode, Connect, SetParam
from studio.graph.graph import Edge, new_id
from studio.graph.registry import NodeRegistry
from studio.queue.worker import JobEvent, QueueEventKind
from studio.takes import Take
from studio.ui.takes_panel import TakesModel, describe

WAIT_MS = 20_000
# The Source's draft halves its red level, so a draft picture is told apart by its pixels.
DRAFT_SOURCE = replace(
    SOURCE,
    draft=lambda params, settings: {"level": params["level"] // 2},
    draft_help="half the red level",
)


@pytest.fixture
def window(qtbot, tmp_path):
    specs = [DRAFT_SOURCE if s.type_id == "Source" else s for s in STUB_SPECS]
    w = make_window(qtbot, tmp_path, NodeRegistry((*BUILTIN_SPECS, *specs)))
    yield w
    close_window(w)


def select(window, node_id: str) -> None:
    window.scene.clearSelection()
    window.scene.item_for(node_id).setSelected(True)


def finish(qtbot, window) -> str:
    with qtbot.waitSignal(
        window.controller.running_changed, timeout=WAIT_MS, check_params_cb=lambda r: not r
    ):
        pass
    return window.controller.last_status


def toolbar_click(qtbot, window, action) -> None:
    button = window.toolbar.widgetForAction(action)
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def test_draft_toggle_renders_drafts_and_badges_them(qtbot, window, tmp_path):
    src, _blur, anim = chain(window.graph, window.session)
    window.activateWindow()
    window.view.setFocus()
    qtbot.keyClick(
        window.view,
        Qt.Key.Key_D,
        Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier,
    )
    assert window.session.draft is not None and window.draft.action.isChecked()
    select(window, src)
    labels = [w.text() for w in window.inspector.widget().findChildren(QLabel)]
    assert "In Draft: half the red level" in labels  # the node's declared draft
    assert window.run_all()
    assert finish(qtbot, window) == "ok"
    assert window.session.latest_job.draft
    panel = window.viewer.panel
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        select(window, anim)
    assert panel.badge.isVisible() and panel.badge.text() == "DRAFT"
    assert panel.current_frame()[0, 0, 0] == 5  # level 10, halved by the draft
    window.grab().save(str(tmp_path / "draft_window.png"))
    # Back to Final with the toolbar button: the final was never rendered, so no picture
    # and no badge -- never a draft shown as if it were final.
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        toolbar_click(qtbot, window, window.draft.action)
    assert window.session.draft is None
    assert not panel.badge.isVisible()
    assert window.run_all()
    assert finish(qtbot, window) == "ok"
    assert not window.session.latest_job.draft
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        window.viewer.refresh()
    assert panel.current_frame()[0, 0, 0] == 10 and not panel.badge.isVisible()
    labels = [w.text() for w in window.inspector.widget().findChildren(QLabel)]
    assert not any(t.startswith("In Draft:") for t in labels)


def _handle_centre(slider) -> QPoint:
    option = QStyleOptionSlider()
    slider.initStyleOption(option)
    rect = slider.style().subControlRect(
        QStyle.ComplexControl.CC_Slider, option, QStyle.SubControl.SC_SliderHandle, slider
    )
    return rect.center()


def test_dragging_a_slider_in_draft_shows_the_live_frame(qtbot, window, tmp_path):
    src, _blur, anim = chain(window.graph, window.session)
    window.draft.set_draft(True)
    panel = window.viewer.panel
    with qtbot.waitSignal(panel.loaded, timeout=WAIT_MS):
        select(window, src)  # the viewer shows the Source, the inspector its params
    slider = window.inspector.editors["level"].slider
    start = _handle_centre(slider)
    qtbot.mousePress(slider, Qt.MouseButton.LeftButton, pos=start)
    shown: list[tuple[int, str]] = []
    window.draft.live_shown.connect(lambda serial, p: shown.append((serial, p)))
    for dx in (20, 40, 60):
        with qtbot.waitSignal(
            window.draft.live_shown,
            timeout=WAIT_MS,
            check_params_cb=lambda serial, _p: serial == window.draft.serial,
        ):
            qtbot.mouseMove(slider, QPoint(start.x() + dx, start.y()))
        level = window.graph.node(src).params_view()["level"]
        assert level > 10
        # The frame under the playhead is the draft of the value now under the mouse.
        assert panel.current_frame()[0, 0, 0] == level // 2
        assert panel.badge.text() == "DRAFT · LIVE"
    qtbot.mouseRelease(slider, Qt.MouseButton.LeftButton, pos=QPoint(start.x() + 60, start.y()))
    assert window.draft.live.wait_idle(WAIT_MS / 1000)
    assert window.session.history.can_undo()  # the drag is one undo step, as ever
    assert window.session.jobs == {}  # live runs are no jobs: nothing queued, no takes
    # An edit the picture on screen does not depend on asks for nothing.
    window.session.push(SetParam(anim, "frames", 5))
    assert not window.draft._kick.isActive()
    window.session.push(SetParam(src, "level", 3))
    assert window.draft._kick.isActive()
    assert not (tmp_path / "out").exists()  # and no files


def test_live_runs_wait_while_a_final_render_runs(qtbot, window):
    SPIN_STARTED.clear()
    src, spin = new_id(), new_id()
    window.session.push(AddNode("Source", (0.0, 0.0), node_id=src))
    window.session.push(AddNode("Spin", (300.0, 0.0), node_id=spin))
    window.session.push(Connect(Edge(src, "image", spin, "image")))
    window.draft.set_draft(True)
    live = window.draft.live
    assert window.run_all()
    assert SPIN_STARTED.wait(WAIT_MS / 1000)
    assert live.held
    select(window, src)
    assert window.draft.request_live() is not None
    assert not live.wait_idle(0)  # waiting for the final render, not running
    window.cancel()
    assert finish(qtbot, window) == "cancelled"
    assert not live.held
    assert live.wait_idle(WAIT_MS / 1000)
    # A queued job rendering in the background is a final render too.
    window.queue.panel.job_event.emit(JobEvent(QueueEventKind.JOB_STARTED, "job1"))
    assert live.held
    window.queue.panel.job_event.emit(JobEvent(QueueEventKind.JOB_FINISHED, "job1"))
    assert not live.held


def test_draft_takes_are_badged(qtbot, tmp_path):
    draft, final = Take("shot_draft", 3), Take("shot", 3)
    assert "DRAFT" in describe(draft).splitlines()[0]
    assert "DRAFT" not in describe(final)
    model = TakesModel()
    model.set_takes([draft, final])
    icons = [model.data(model.index(row), Qt.ItemDataRole.DecorationRole) for row in (0, 1)]
    pictures = [icon.pixmap(model._blank.size()).toImage() for icon in icons]
    corner = [np.array(p.pixelColor(3, 3).getRgb()[:3]) for p in pictures]
    assert tuple(corner[0]) == (0xD9, 0x82, 0x2B)  # the orange DRAFT tab
    assert tuple(corner[1]) != (0xD9, 0x82, 0x2B)
    model.shutdown()
