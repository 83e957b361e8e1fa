"""The inspector is generated from the spec and edits through the undo stack."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QCheckBox, QComboBox, QPlainTextEdit
from ui_helpers import chain, close_window, make_window

from studio.ui.inspector.widgets import NumberEditor, SeedEditor


@pytest.fixture
def window(qtbot, tmp_path):
    w = make_window(qtbot, tmp_path)
    yield w
    close_window(w)


def _select(window, node_id):
    window.scene.select([node_id])
    return window.inspector


def test_editors_follow_the_spec_with_ranges_choices_and_help(window):
    _, blur, _ = chain(window.graph, window.session)
    inspector = _select(window, blur)
    editors = inspector.editors
    assert list(editors) == ["radius", "mode", "seed", "prompt", "sharpen", "tint", "source_file"]
    radius = editors["radius"]
    assert isinstance(radius, NumberEditor) and radius.slider is not None
    assert (radius.spin.minimum(), radius.spin.maximum()) == (0.0, 50.0)
    assert radius.toolTip() == "Blur radius."
    assert editors["mode"].findChild(QComboBox).count() == 2
    assert isinstance(editors["seed"], SeedEditor)
    assert editors["prompt"].findChild(QPlainTextEdit) is not None
    assert editors["sharpen"].findChild(QCheckBox) is not None


def test_slider_drag_is_one_undo_step_and_marks_downstream_stale(window):
    src, blur, anim = chain(window.graph, window.session)
    for node_id in (src, blur, anim):
        window.session.apply_cache_states({node_id: "cached"}, window.session.state_token)
    radius = _select(window, blur).editors["radius"]
    steps = window.session.history.count
    radius.slider.sliderPressed.emit()
    for position in (100, 200, 300):
        radius.slide_to(position)
    assert window.graph.node(blur).param("radius") == 15.0
    assert window.session.history.count == steps + 1
    assert [window.scene.status(n) for n in (src, blur, anim)] == ["cached", "stale", "stale"]
    window.session.undo()
    assert window.graph.node(blur).param("radius") == 2.0
    assert radius.spin.value() == 2.0  # the widget followed the model


def test_choice_toggle_and_seed_lock(window):
    _, blur, _ = chain(window.graph, window.session)
    editors = _select(window, blur).editors
    editors["mode"].findChild(QComboBox).setCurrentText("box")
    editors["sharpen"].findChild(QCheckBox).setChecked(True)
    node = window.graph.node(blur)
    assert (node.param("mode"), node.param("sharpen")) == ("box", True)
    seed = editors["seed"]
    seed.lock.setChecked(True)
    seed.randomise()
    assert node.param("seed") == 7  # locked: the dice do nothing
    seed.lock.setChecked(False)
    for _ in range(3):
        seed.randomise()
        if node.param("seed") != 7:
            break
    assert node.param("seed") != 7


def test_typing_a_prompt_is_committed_before_a_run_and_rename_follows(window):
    _, blur, _ = chain(window.graph, window.session)
    inspector = _select(window, blur)
    inspector.editors["prompt"].findChild(QPlainTextEdit).setPlainText("a red kite")
    inspector.commit_pending()
    assert window.graph.node(blur).param("prompt") == "a red kite"
    inspector.title_field.setText("Soft focus")
    inspector.title_field.editingFinished.emit()
    assert window.scene.item_for(blur).title_text() == "Soft focus"
    window.session.undo()
    assert inspector.title_field.text() == "Blur"


def test_shapes_and_brushes_read_as_a_summary_with_a_painter_button(qtbot):
    from PySide6.QtWidgets import QPushButton

    from studio.session import default_registry
    from studio.ui.inspector.widgets import JsonEditor, describe_items, make_editor

    assert describe_items("Brushes", [{"name": "rocket"}, {"name": "smoke"}]) == (
        "2 brushes: rocket, smoke"
    )
    assert describe_items("Shapes", [{"kind": "rect", "points": []}]) == "1 shape: rect"
    assert describe_items("Shapes", []) == "none yet"
    spec = default_registry()["MotionBrush"]
    param = next(p for p in spec.params if p.name == "brushes")
    editor = make_editor(param, has_painter=True)
    qtbot.addWidget(editor)
    assert isinstance(editor, JsonEditor)
    editor.resize(360, 30)
    editor.set_value([{"name": "rocket", "region": "input"}])
    assert editor.summary.text() == "1 brush: rocket"
    assert "{" not in editor.summary.text()
    button = editor.findChild(QPushButton)
    assert button.text() == "Edit in painter…"
    with qtbot.waitSignal(editor.open_painter):
        button.click()


def test_empty_prompt_and_file_fields_say_what_belongs_in_them(window):
    _, blur, _ = chain(window.graph, window.session)
    editors = _select(window, blur).editors
    prompt = editors["prompt"].findChild(QPlainTextEdit)
    assert prompt.placeholderText()
    from PySide6.QtWidgets import QLineEdit

    assert editors["source_file"].findChild(QLineEdit).placeholderText() == "no file chosen"
