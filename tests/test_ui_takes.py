"""The Takes panel in the editor: takes listed newest first, rated with keys, noted, filtered,
restored as one undo step, compared in the viewer's A/B wipe, playing on hover."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from ui_helpers import STUB_SPECS, chain, close_window, make_window

from nodes.io.save_video import SAVE_VIDEO
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.commands import AddNode, Connect
from studio.graph.graph import Edge
from studio.graph.registry import NodeRegistry
from studio.takes import Rating, TakesDB


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path, NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS, SAVE_VIDEO)))
    yield w
    close_window(w)


def render(qtbot, window) -> None:
    with qtbot.waitSignal(
        window.controller.running_changed, timeout=60_000, check_params_cb=lambda on: not on
    ):
        assert window.run_all()
    assert window.controller.last_status == "ok"


def shot(window) -> tuple[str, str]:
    src, _blur, anim = chain(window.graph, window.session)
    window.session.push(AddNode("SaveVideo", node_id="save", title="Save shot"))
    window.session.push(Connect(Edge(anim, "video", "save", "video")))
    return src, anim


def test_takes_panel(qtbot, window, tmp_path):
    src, anim = shot(window)
    panel = window.takes.panel
    assert panel.model.rowCount() == 0 and panel.count_label.text() == "no takes"
    render(qtbot, window)
    window.graph.node(src).set_param("level", 200)
    render(qtbot, window)
    assert [t.name for t in panel.model.takes] == ["shot_v002", "shot_v001"]  # newest first
    render(qtbot, window)  # unchanged: nothing written, and the run log says which take
    log = window.run_panel.log
    assert "Save shot: cached, take shot_v002" in [log.item(i).text() for i in range(log.count())]
    assert panel.model.rowCount() == 2
    assert "Source.level 10→200" in panel.model.data(panel.model.index(0))

    # Rate with keys on the list; the database has it.
    panel.select("shot_v001")
    qtbot.keyClick(panel.list, Qt.Key.Key_C)
    panel.select("shot_v002")
    qtbot.keyClick(panel.list, Qt.Key.Key_X)
    with TakesDB(window.session.output_dir) as db:
        assert db.get("shot_v001").rating is Rating.CIRCLE
        assert db.get("shot_v002").rating is Rating.REJECT
    panel.note_edit.setText("too red")
    panel.note_edit.editingFinished.emit()
    assert "too red" in panel.model.data(panel.model.index(0))
    panel.rating_box.setCurrentText("Circled")
    assert [t.name for t in panel.model.takes] == ["shot_v001"]
    panel.rating_box.setCurrentText("All")

    # Restore take 1's settings: one undo step, and undo puts take 2's back.
    panel.select("shot_v001")
    panel.restore_button.click()
    assert window.graph.node(src).param("level") == 10
    assert window.session.history.undo_label().endswith("shot_v001")
    window.session.undo()
    assert window.graph.node(src).param("level") == 200

    # Compare: both takes in the viewer, frame-locked in a wipe.
    viewer = window.viewer.panel
    panel.select("shot_v001", "shot_v002")
    with qtbot.waitSignal(viewer.loaded, timeout=30_000):
        panel.compare_button.click()
    assert viewer.mode == "wipe" and viewer.pinned
    assert viewer.a.source is not None and viewer.b.source is not None
    assert viewer.title_label.text() == "shot_v001  vs  shot_v002"
    assert viewer.timeline.count == 4

    # Hovering a take plays its frames in the thumbnail.
    with qtbot.waitSignal(panel._frames_signal.frames, timeout=30_000):
        panel._hover(panel.model.index(1))
    assert len(panel._hover_frames) == 4 and panel._play.isActive()
    panel._hover(panel.model.index(-1))  # the pointer left
    assert not panel._play.isActive()

    # A take whose file was deleted shows as missing.
    (window.session.output_dir / "shot" / "shot_v002.mp4").unlink()
    panel.refresh()
    assert "MISSING" in panel.model.data(panel.model.index(0))
    panel.select("shot_v001")
    assert "Content credentials: none" in panel.details.text()
    window.takes.dock.raise_()
    window.grab().save(str(tmp_path / "takes_panel.png"))
