"""The editor window: editing actions, clipboard, files and recovery."""

from __future__ import annotations

import json

import pytest
from PySide6.QtWidgets import QMessageBox
from ui_helpers import canonical, chain, close_window, make_window

from studio.graph import fileformat
from studio.graph.graph import Graph
from studio.session import files


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    close_window(w)


@pytest.fixture
def boxes(monkeypatch):
    """Record message boxes instead of showing them; questions get ``answer``."""
    shown: list[tuple[str, str]] = []

    class Boxes:
        answer = QMessageBox.StandardButton.Discard
        calls = shown

    def critical(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    def question(parent, title, text, *args, **kwargs):
        shown.append((title, text))
        return Boxes.answer

    monkeypatch.setattr(QMessageBox, "critical", critical)
    monkeypatch.setattr(QMessageBox, "question", question)
    return Boxes


def test_delete_selection_is_one_undo_step(window):
    src, blur, anim = chain(window.graph, window.session)
    window.session.set_clean()
    before = canonical(window.graph)
    window.scene.select([blur, anim])
    window.edit.delete_selected()
    assert [n.id for n in window.graph.nodes] == [src]
    assert window.graph.edges == []
    window.session.undo()
    assert canonical(window.graph) == before
    window.session.redo()
    assert [n.id for n in window.graph.nodes] == [src]


def test_copy_paste_between_two_windows(qtbot, tmp_path, window):
    src, blur, _ = chain(window.graph, window.session)
    window.graph.node(blur).set_param("radius", 9.5)
    window.scene.select([src, blur])
    assert window.edit.copy()
    other = make_window(qtbot, tmp_path / "other")
    try:
        ids = other.edit.paste()
        assert len(ids) == 2 and not set(ids) & {src, blur}  # fresh ids
        pasted = {other.graph.node(i).type_id: other.graph.node(i) for i in ids}
        assert pasted["Blur"].param("radius") == 9.5
        assert [(e.src_node, e.dst_node) for e in other.graph.edges] == [
            (pasted["Source"].id, pasted["Blur"].id)
        ]
        assert other.scene.selected_node_ids() == ids
        assert other.session.dirty and other.windowTitle().startswith("Untitled")
    finally:
        close_window(other)


def test_duplicate_offsets_the_copy_and_keeps_its_wires(window):
    src, blur, _ = chain(window.graph, window.session)
    window.scene.select([src, blur])
    ids = window.edit.duplicate()
    copies = sorted(window.graph.node(i).position for i in ids)
    # The copy keeps its own arrangement, and lands clear of the originals (not on them).
    assert copies[1][0] - copies[0][0] == 300.0 and copies[0][1] == copies[1][1]
    originals = [window.scene.item_for(n).sceneBoundingRect() for n in (src, blur)]
    for new in ids:
        assert not any(
            window.scene.item_for(new).sceneBoundingRect().intersects(o) for o in originals
        )
    assert len(window.graph.edges) == 3
    window.session.undo()
    assert len(window.graph.nodes) == 3


def test_pasting_text_that_is_not_a_workflow_is_refused_politely(window):
    assert window.edit.paste_text('{"nodes": 5}') == []
    assert "Cannot paste" in window.messages[-1]


def test_save_and_open_round_trip_and_dirty_marker(window, tmp_path):
    chain(window.graph, window.session)
    assert window.isWindowModified()
    path = tmp_path / "shot.json"
    assert window.files.save_to(path)
    assert not window.isWindowModified()
    assert window.windowTitle() == "shot.json[*] — Studio"
    saved = path.read_text()
    window.files.new()
    assert window.graph.nodes == []
    assert window.files.open_path(path)
    assert fileformat.dumps(window.graph) == saved
    assert window.recent.paths()[0] == str(path.resolve())


def test_unknown_node_types_open_as_placeholders_and_save_back_unchanged(window, tmp_path):
    record = {
        "type": "FancyFutureNode",
        "version": 3,
        "title": "Fancy",
        "position": [5, 6],
        "params": {"strength": 0.5, "nested": {"a": [1, 2]}},
        "bypass": False,
    }
    doc = {"format_version": 2, "nodes": {"n1": record}, "edges": [], "groups": []}
    path = tmp_path / "future.json"
    path.write_text(json.dumps(doc))
    assert window.files.open_path(path)
    item = window.scene.item_for("n1")
    assert item.node.is_placeholder and item.title_text() == "Fancy"
    out = tmp_path / "saved.json"
    assert window.files.save_to(out)
    assert json.loads(out.read_text())["nodes"]["n1"] == record
    # The load warning is shown: in the status bar and in the run panel's log.
    log = [window.run_panel.log.item(i).text() for i in range(window.run_panel.log.count())]
    assert any("FancyFutureNode" in line and "placeholder" in line for line in log)
    assert any("1 warning" in message for message in window.messages)


def test_dropping_a_workflow_file_on_the_window_opens_it(window, tmp_path):
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDropEvent

    other = Graph(window.registry)
    chain(other)
    path = tmp_path / "dropped.json"
    fileformat.save(other, path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(200, 200),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    window.dropEvent(event)
    assert window.path == path and len(window.graph.nodes) == 3


def test_broken_file_shows_a_clear_message_and_keeps_the_work(window, tmp_path, boxes):
    src, _, _ = chain(window.graph, window.session)
    path = tmp_path / "broken.json"
    path.write_text('{"nodes": {"a": ')
    assert not window.files.open_path(path)
    ((title, text),) = boxes.calls
    assert title == "Cannot open workflow" and "broken.json is not valid JSON" in text
    assert src in window.graph  # nothing lost


def test_closing_with_unsaved_work_asks_first(window, boxes):
    chain(window.graph, window.session)
    boxes.answer = QMessageBox.StandardButton.Cancel
    assert not window.close()
    assert window.isVisible()
    boxes.answer = QMessageBox.StandardButton.Discard
    assert window.close()


def test_autosave_writes_recovery_and_restore_is_offered(qtbot, tmp_path, window, boxes):
    from studio.ui.app import offer_recovery

    assert not window.autosaver.save_now()  # nothing unsaved yet
    chain(window.graph, window.session)
    assert window.autosaver.save_now()
    record = files.pending_recovery()
    assert record is not None
    assert fileformat.loads(record["workflow"], window.registry).graph.nodes
    # A crash: the next window finds the file and offers it.
    fresh = make_window(qtbot, tmp_path / "next")
    try:
        boxes.answer = QMessageBox.StandardButton.Yes
        assert offer_recovery(fresh)
        assert len(fresh.graph.nodes) == 3 and fresh.session.dirty
    finally:
        close_window(fresh)
    assert files.pending_recovery() is None  # a clean close removes it


def test_reopening_a_rendered_video_uses_its_embedded_workflow(window, tmp_path, monkeypatch):
    import nodes.io

    other = Graph(window.registry)
    chain(other)
    monkeypatch.setattr(
        nodes.io, "read_embedded_workflow", lambda path: fileformat.dumps(other), raising=False
    )
    assert window.files.open_path(tmp_path / "render.mp4")
    assert sorted(n.type_id for n in window.graph.nodes) == ["Animate", "Blur", "Source"]
    assert window.path is None  # saving must not overwrite the video


def test_templates_open_untitled_and_recent_files_reopen(window, tmp_path):
    window.files.fill_templates(window.templates_menu)
    example = next(a for a in window.templates_menu.actions() if a.text() == "Example")
    example.trigger()
    assert window.graph.nodes and window.path is None  # saving never overwrites a template
    path = tmp_path / "mine.json"
    assert window.files.save_to(path)
    window.files.new()
    window.files.fill_recent(window.recent_menu)
    (recent,) = window.recent_menu.actions()
    recent.trigger()
    assert window.path == path and window.graph.nodes


def _feeder(window):
    from studio.engine.events import RunEvent

    job, _ = window.session.start_job()

    def event(kind, node_id=None, **extra):
        window.session.feed(job.id, RunEvent(kind, "r", node_id, **extra))

    return event


def test_run_panel_counts_nodes_in_words(window):
    src, _, _ = chain(window.graph, window.session)
    panel = window.run_panel
    _feeder(window)("run_started", node_ids=(src,))
    assert panel.headline.text() == "Rendering 1 node"
    assert panel.log.item(panel.log.count() - 1).text() == "Run started: 1 node"


def test_after_a_failed_run_nothing_is_left_looking_queued(window):
    src, blur, anim = chain(window.graph, window.session)
    panel = window.run_panel
    event = _feeder(window)
    event("run_started", node_ids=(src, blur, anim))
    event("node_finished", src, elapsed=0.1)
    event("node_failed", blur, message="radius too large")
    event("run_finished", status="failed")
    statuses = [panel.nodes.topLevelItem(i).text(1) for i in range(3)]
    assert statuses == ["done", "failed", "not run"]
    # The bar stops where the run did (one node of three), marked failed, not full and blue.
    assert panel.progress.value() == 333 and panel.progress.property("state") == "failed"


def test_run_panel_node_titles_take_the_spare_width(window):
    from PySide6.QtWidgets import QHeaderView

    header = window.run_panel.nodes.header()
    assert header.sectionResizeMode(0) == QHeaderView.ResizeMode.Stretch
    assert header.sectionResizeMode(1) == QHeaderView.ResizeMode.ResizeToContents


def test_run_panel_colours_a_finished_node_like_a_cached_one(window):
    from studio.ui import theme

    src, _, _ = chain(window.graph, window.session)
    panel = window.run_panel
    event = _feeder(window)
    event("run_started", node_ids=(src,))
    event("node_finished", src, elapsed=0.1)
    row = panel.nodes.topLevelItem(0)
    assert row.foreground(1).color().name() == theme.STATUS_COLORS["cached"].lower()
