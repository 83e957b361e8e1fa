"""Files and feedback in the editor: renders beside the saved workflow with Open/Reveal, one
undo step per text edit, an honest ETA, a failed run's bar, a fresh status bar per run and a
steady toolbar -- each driven by real mouse and key events."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from ui_helpers import chain, close_window, make_window

from studio.graph.commands import SetParam


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def run(qtbot, window) -> None:
    finished = window.controller.running_changed
    with qtbot.waitSignal(finished, timeout=20_000, check_params_cb=lambda on: not on):
        assert window.run_all()


def test_one_text_edit_is_one_undo_step(window, qtbot):
    src, _, _ = chain(window.graph, window.session)
    window.scene.select([src])
    field = window.inspector.editors["label"].field
    steps = window.session.history.count
    qtbot.mouseClick(field, Qt.MouseButton.LeftButton)
    field.setFocus()
    qtbot.keyClicks(field, "plate A")
    qtbot.keyClick(field, Qt.Key.Key_Return)
    window.view.setFocus()  # click away
    qtbot.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton)
    assert window.graph.node(src).param("label") == "plate A"
    assert window.session.history.count == steps + 1
    window.session.undo()  # the first undo undoes the edit
    assert window.graph.node(src).param("label") == ""
    assert field.text() == ""


def _save(ctx, inputs, params) -> dict:
    ctx.output_dir.mkdir(parents=True, exist_ok=True)
    path = ctx.output_dir / "shot_v001.txt"
    path.write_text(str(int(inputs["image"][0, 0, 0])), encoding="utf-8")
    return {"files": [str(path)]}


@pytest.fixture
def save_window(qtbot, tmp_path):
    from ui_helpers import STUB_SPECS

    from studio.graph.builtin import BUILTIN_SPECS
    from studio.graph.registry import NodeRegistry
    from studio.graph.spec import NodeSpec, Port
    from studio.graph.types import PortType
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    save = NodeSpec(
        "SaveStub",
        "Save",
        "Output",
        _save,
        help="Writes a file.",
        output_node=True,
        inputs=(Port("image", PortType.IMAGE),),
    )
    registry = NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS, save))
    from studio.engine.cache import Cache
    from studio.engine.scheduler import Engine

    # No output_dir override: renders go beside the saved workflow.
    w = MainWindow(
        registry,
        engine=Engine(registry, Cache(disk=False), device="cpu"),
        settings=Settings(tmp_path / "settings.json"),
    )
    w.messages = []
    w.statusBar().messageChanged.connect(lambda text: w.messages.append(text) if text else None)
    w.resize(1400, 900)
    w.show()
    qtbot.waitExposed(w)
    yield w
    close_window(w)


def test_renders_go_beside_the_workflow_and_open_or_reveal(
    save_window, qtbot, tmp_path, monkeypatch
):
    from studio.graph.commands import AddNode, Connect, Macro
    from studio.graph.graph import Edge, new_id
    from studio.ui import desktop

    opened: list[Path] = []
    monkeypatch.setattr(desktop, "open_url", lambda path: opened.append(path) or True)
    window = save_window
    src, save = new_id(), new_id()
    window.session.push(
        Macro(
            [
                AddNode("Source", (0.0, 0.0), node_id=src),
                AddNode("SaveStub", (300.0, 0.0), node_id=save),
                Connect(Edge(src, "image", save, "image")),
            ]
        )
    )
    project = tmp_path / "project"
    assert window.files.save_to(project / "shot.json")
    run(qtbot, window)
    written = project / "renders" / "shot_v001.txt"
    assert written.exists()  # beside the workflow, not ./out of wherever Studio started
    # The run log lists the file; Open and Reveal act on it.
    panel = window.run_panel
    assert panel.selected_file() == written
    qtbot.mouseClick(panel.open_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(panel.reveal_button, Qt.MouseButton.LeftButton)
    assert opened == [written, written.parent]
    # The Save node's inspector has them too.
    window.scene.select([save])
    inspector = window.inspector
    qtbot.mouseClick(inspector.reveal_output_button, Qt.MouseButton.LeftButton)
    qtbot.mouseClick(inspector.open_output_button, Qt.MouseButton.LeftButton)
    assert opened[-2:] == [written.parent, written]


def test_eta_says_estimating_until_history_knows_then_counts_down(window, qtbot):
    from studio.engine.events import RunEvent

    src, blur, anim = chain(window.graph, window.session)
    panel = window.run_panel
    job, _ = window.session.start_job()

    def feed(kind, node_id=None, **extra):
        window.session.feed(job.id, RunEvent(kind, "r", node_id, **extra))

    feed("run_started", node_ids=(src, blur, anim))
    feed("node_started", src)
    assert "estimating" in panel.eta.text()  # nothing known yet: no made-up number
    feed("node_finished", src, elapsed=0.5)
    feed("node_started", blur)
    feed("node_finished", blur, elapsed=0.5)
    feed("node_started", anim)
    feed("node_progress", anim, step=0, total=4)  # the slowest node sits at step 0
    assert "estimating" in panel.eta.text()
    feed("node_finished", anim, elapsed=6.0)
    feed("run_finished", status="ok", elapsed=7.0)
    # A second run of the same graph knows every node's time.
    job, _ = window.session.start_job()
    feed("run_started", node_ids=(src, blur, anim))
    feed("node_cached", src)
    feed("node_started", blur)
    assert "left" in panel.eta.text() and "estimating" not in panel.eta.text()
    left = window.session.remaining(job)
    assert left is not None and 6.0 <= left <= 6.6  # blur's 0.5 s + anim's 6 s


def test_new_run_clears_the_last_runs_status_and_a_failed_bar_is_not_full(window, qtbot):
    src, blur, anim = chain(window.graph, window.session)
    run(qtbot, window)
    assert window.statusBar().currentMessage().startswith("Render finished")
    window.session.push(SetParam(blur, "radius", 45.0))
    finished = window.controller.running_changed
    with qtbot.waitSignal(finished, timeout=20_000, check_params_cb=lambda on: not on):
        qtbot.keyClick(window, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # Run
        # Started: the last run's "finished" is gone (the worker cannot have reported yet,
        # as its events reach the UI thread only through this event loop).
        assert not window.statusBar().currentMessage().startswith("Render finished")
    bar = window.run_panel.progress
    assert bar.value() < bar.maximum() and bar.property("state") == "failed"
    assert "failed" in window.statusBar().currentMessage().lower()


def test_undo_button_keeps_its_width_as_the_history_changes(window, qtbot):
    button = window.toolbar.widgetForAction(window.act_undo)
    run_button = window.toolbar.widgetForAction(window.act_run)
    before = (button.width(), run_button.x())
    src, blur, anim = chain(window.graph, window.session)
    window.session.push(SetParam(blur, "radius", 7.0, label="Change the blur radius"))
    qtbot.wait(1)
    assert (button.width(), run_button.x()) == before
    assert button.text() == "Undo" and "Change the blur radius" in button.toolTip()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.graph.node(blur).param("radius") == 2.0


def test_output_folder_setting_overrides_beside_the_workflow(qtbot, tmp_path):
    from ui_helpers import stub_registry

    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    settings = Settings(tmp_path / "settings.json")
    settings.set("output_dir", str(tmp_path / "all renders"))
    window = MainWindow(stub_registry(), settings=settings)
    try:
        assert window.session.output_dir == tmp_path / "all renders"
    finally:
        close_window(window)
