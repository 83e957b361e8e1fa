"""One editor widget per param kind, generated from the spec (range, choices, help).

Each editor emits ``edited(value, merge_key)``; edits that share a merge key (one slider drag,
one typing burst) become one undo step. ``set_value`` updates the widget without emitting.
"""

from __future__ import annotations

import functools
import json
import random
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QCheckBox,
    QColorDialog,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.spec import Param, ParamKind

SLIDER_STEPS = 1000
_session = 0


def new_session() -> int:
    """A fresh merge-session number (a new slider press, a new focus on a field)."""
    global _session
    _session += 1
    return _session


class ParamEditor(QWidget):
    edited = Signal(object, object)  # value, merge key (str | None)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.param = param
        self._quiet = False
        self._session = new_session()
        self.setToolTip(param.help)
        self.layout_ = QHBoxLayout(self)
        self.layout_.setContentsMargins(0, 0, 0, 0)
        self.layout_.setSpacing(4)

    def set_value(self, value: Any) -> None:
        self._quiet = True
        try:
            self._show(value)
        finally:
            self._quiet = False

    def _show(self, value: Any) -> None:
        raise NotImplementedError

    def commit_pending(self) -> None:
        """Push an edit still waiting for a pause in typing."""

    def _emit(self, value: Any, merge: bool = False) -> None:
        if not self._quiet:
            key = f"{self.param.name}:{self._session}" if merge else None
            self.edited.emit(value, key)

    def _restart_session(self) -> None:
        self._session = new_session()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt name)
        if event.type() == QEvent.Type.FocusIn:
            self._restart_session()
        return super().eventFilter(watched, event)


class NumberEditor(ParamEditor):
    """A slider (when the range is finite) beside a spin box."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.is_float = param.kind is ParamKind.FLOAT
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(_decimals(param.step) if self.is_float else 0)
        low = param.min if param.min is not None else -1e9
        high = param.max if param.max is not None else 1e9
        self.spin.setRange(low, high)
        self.spin.setSingleStep(param.step or (0.1 if self.is_float else 1))
        self.spin.setKeyboardTracking(False)
        self.spin.setButtonSymbols(QAbstractSpinBox.ButtonSymbols.UpDownArrows)
        self.spin.installEventFilter(self)
        self.spin.valueChanged.connect(lambda v: self._emit(self._cast(v), merge=True))
        self.slider: QSlider | None = None
        if param.min is not None and param.max is not None and param.max - param.min <= 1e6:
            self.slider = QSlider(Qt.Orientation.Horizontal)
            self.slider.setRange(0, SLIDER_STEPS)
            self.slider.sliderPressed.connect(self._restart_session)
            self.slider.valueChanged.connect(self._slid)
            self.layout_.addWidget(self.slider, 3)
        self.spin.setMinimumWidth(64)
        self.layout_.addWidget(self.spin, 1)

    def _cast(self, value: float) -> float | int:
        return float(value) if self.is_float else int(round(value))

    def _slid(self, position: int) -> None:
        assert self.param.min is not None and self.param.max is not None
        value = self.param.min + (self.param.max - self.param.min) * position / SLIDER_STEPS
        if self.param.step:
            value = self.param.min + round((value - self.param.min) / self.param.step) * (
                self.param.step
            )
        value = self._cast(value)
        if not self._quiet:
            self._quiet = True
            self.spin.setValue(value)
            self._quiet = False
            self._emit(value, merge=True)

    def _show(self, value: Any) -> None:
        self.spin.setValue(float(value))
        if self.slider is not None:
            span = (self.param.max or 0) - (self.param.min or 0)
            self.slider.setValue(
                round((float(value) - (self.param.min or 0)) / span * SLIDER_STEPS) if span else 0
            )

    def slide_to(self, position: int) -> None:
        """Move the slider as a drag would (tests and keyboard)."""
        assert self.slider is not None
        self.slider.setValue(position)


SEED_CONTROLS = {
    "fixed": "Keep this seed",
    "increment": "Add one to the seed",
    "randomize": "Pick a new random seed",
}
SEED_CONTROL_LABELS = {"fixed": "fixed", "increment": "+1", "randomize": "rand"}


class SeedEditor(ParamEditor):
    """An integer seed with a randomise button, a lock that protects a seed you like, and what
    happens to it after each run (``control_changed``: fixed, increment, randomize)."""

    control_changed = Signal(str)

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.spin = QDoubleSpinBox()
        self.spin.setDecimals(0)
        self.spin.setRange(param.min or 0, param.max if param.max is not None else 2**32 - 1)
        # Ten-digit seeds would otherwise make the whole inspector wider than its dock.
        self.spin.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.spin.setMinimumWidth(96)
        self.spin.setKeyboardTracking(False)
        self.spin.installEventFilter(self)
        self.spin.valueChanged.connect(lambda v: self._emit(int(v), merge=True))
        self.dice = QToolButton()
        self.dice.setObjectName("Framed")  # a bare glyph on the dark panel did not read as a button
        self.dice.setText("↻")
        self.dice.setToolTip("A new random seed")
        self.dice.clicked.connect(self.randomise)
        self.lock = QToolButton()
        self.lock.setCheckable(True)
        self.lock.setObjectName("Framed")
        self.lock.setText("Lock")
        self.lock.setToolTip("Lock this seed so it cannot be changed by accident")
        self.lock.toggled.connect(self._locked)
        # What happens to the seed after each run (saved in the workflow; not in the cache key).
        self.after = QToolButton()
        self.after.setObjectName("Framed")
        self.after.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.after)
        for mode, text in SEED_CONTROLS.items():
            action = menu.addAction(text)
            action.triggered.connect(lambda _=False, m=mode: self._pick_control(m))
        self.after.setMenu(menu)
        self.layout_.addWidget(self.spin, 1)
        self.layout_.addWidget(self.dice)
        self.layout_.addWidget(self.lock)
        self.layout_.addWidget(self.after)
        self.control = "fixed"
        self.set_control("fixed")

    def set_control(self, mode: str) -> None:
        """Show the node's seed control (model -> view; emits nothing)."""
        self.control = mode
        self.after.setText(SEED_CONTROL_LABELS.get(mode, mode))
        self.after.setToolTip(f"After each run: {SEED_CONTROLS.get(mode, mode).lower()}")

    def _pick_control(self, mode: str) -> None:
        if mode != self.control:
            self.set_control(mode)
            self.control_changed.emit(mode)

    def randomise(self) -> None:
        if not self.lock.isChecked():
            high = int(self.spin.maximum())
            self.spin.setValue(random.randint(int(self.spin.minimum()), high))

    def _locked(self, locked: bool) -> None:
        self.lock.setText("Locked" if locked else "Lock")
        self.spin.setReadOnly(locked)
        self.dice.setEnabled(not locked)

    def _show(self, value: Any) -> None:
        self.spin.setValue(float(value))


class BoolEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.box = QCheckBox()
        self.box.toggled.connect(lambda on: self._emit(bool(on)))
        self.layout_.addWidget(self.box)
        self.layout_.addStretch(1)

    def _show(self, value: Any) -> None:
        self.box.setChecked(bool(value))


class ChoiceEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.combo = _combo()
        self.combo.addItems(list(param.choices))
        self.combo.currentTextChanged.connect(lambda text: self._emit(text))
        self.layout_.addWidget(self.combo, 1)

    def _show(self, value: Any) -> None:
        self.combo.setCurrentText(str(value))


class StringEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.field = QLineEdit()
        self.field.editingFinished.connect(self._commit)
        self.layout_.addWidget(self.field, 1)
        if param.kind in (ParamKind.FILE, ParamKind.FOLDER):
            browse = QToolButton()
            browse.setObjectName("Framed")
            browse.setText("Browse…")
            self.field.setPlaceholderText(
                "no file chosen" if param.kind is ParamKind.FILE else "no folder chosen"
            )
            browse.setToolTip(
                "Choose a file" if param.kind is ParamKind.FILE else "Choose a folder"
            )
            browse.clicked.connect(self._browse)
            self.layout_.addWidget(browse)

    def _commit(self) -> None:
        self._emit(self.field.text())

    def _browse(self) -> None:
        if self.param.kind is ParamKind.FILE:
            path, _ = QFileDialog.getOpenFileName(
                self, self.param.display_name, self.field.text(), self.param.file_filter
            )
        else:
            path = QFileDialog.getExistingDirectory(
                self, self.param.display_name, self.field.text()
            )
        if path:
            self.field.setText(path)
            self._commit()

    def _show(self, value: Any) -> None:
        self.field.setText(str(value))


class TextEditor(ParamEditor):
    """Multi-line prompts. Typing pushes merged edits after a short pause, so one burst of
    typing is one undo step and Run always sees the text on screen."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.text = QPlainTextEdit()
        self.text.setFixedHeight(78)
        # An empty prompt box says what belongs in it (the param's help is one short line).
        self.text.setPlaceholderText(param.help.split("\n")[0] if param.help else "")
        self.text.setTabChangesFocus(True)
        self.text.installEventFilter(self)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(350)
        self._timer.timeout.connect(self.flush)
        self.text.textChanged.connect(lambda: None if self._quiet else self._timer.start())
        self.layout_.addWidget(self.text, 1)

    def flush(self) -> None:
        self._timer.stop()
        self._emit(self.text.toPlainText(), merge=True)

    def commit_pending(self) -> None:
        if self._timer.isActive():
            self.flush()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.FocusOut and self._timer.isActive():
            self.flush()
        return super().eventFilter(watched, event)

    def _show(self, value: Any) -> None:
        if self.text.toPlainText() != value:
            self.text.setPlainText(str(value))


class ColorEditor(ParamEditor):
    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.button = QPushButton()
        self.button.clicked.connect(self._pick)
        self.layout_.addWidget(self.button, 1)
        self._value = "#000000"

    def _pick(self) -> None:
        color = QColorDialog.getColor(QColor(self._value), self, self.param.display_name)
        if color.isValid():
            self._show(color.name())
            self._emit(color.name())

    def _show(self, value: Any) -> None:
        self._value = str(value)
        self.button.setText(self._value)
        text = "#000" if QColor(self._value).lightness() > 128 else "#fff"
        self.button.setStyleSheet(f"background:{self._value}; color:{text};")


class JsonEditor(ParamEditor):
    """Structured data (shapes, brushes): a summary, and an editor (the painter where one
    exists, else the JSON text)."""

    open_painter = Signal()

    def __init__(self, param: Param, has_painter: bool, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self._value: Any = param.default
        self.summary = QLabel()
        self.summary.setObjectName("Dim")
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        self.summary.setMinimumWidth(40)
        button = QPushButton("Edit in painter…" if has_painter else "Edit…")
        button.setToolTip(
            "Open the painter over the keyframe" if has_painter else "Edit as JSON text"
        )
        button.clicked.connect(self.open_painter.emit if has_painter else self._edit_text)
        self.layout_.addWidget(self.summary, 1)
        self.layout_.addWidget(button)

    def _edit_text(self) -> None:
        dialog = QDialog(self)
        dialog.setWindowTitle(self.param.display_name)
        text = QPlainTextEdit(json.dumps(self._value, indent=2))
        error = QLabel()
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        layout = QVBoxLayout(dialog)
        for widget in (text, error, buttons):
            layout.addWidget(widget)

        def accept() -> None:
            try:
                value = json.loads(text.toPlainText())
            except ValueError as exc:
                error.setText(f"Not valid JSON: {exc}")
                return
            problem = self.param.problem(value)
            if problem:
                error.setText(problem)
                return
            dialog.accept()
            self._emit(value)

        buttons.accepted.connect(accept)
        buttons.rejected.connect(dialog.reject)
        dialog.resize(480, 400)
        dialog.exec()

    def _show(self, value: Any) -> None:
        self._value = value
        text = describe_items(self.param.display_name, value)
        self.summary.setToolTip(text)
        metrics = self.summary.fontMetrics()
        width = max(40, self.summary.width())
        self.summary.setText(metrics.elidedText(text, Qt.TextElideMode.ElideRight, width))

    def resizeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt name)
        super().resizeEvent(event)
        self._show(self._value)


class ModelEditor(ParamEditor):
    """Discovered models of the kind the node needs, plus the built-in path (""); a FILE
    param with a ``model_kind`` (an upscaler file) can also browse for any file."""

    def __init__(self, param: Param, parent: QWidget | None = None) -> None:
        super().__init__(param, parent)
        self.combo = _combo()
        self.combo.addItem("(built-in)", "")
        for name, path in discover_models(param.model_kind):
            self.combo.addItem(name, path)
        self.combo.currentIndexChanged.connect(lambda i: self._emit(self.combo.itemData(i) or ""))
        self.layout_.addWidget(self.combo, 1)
        if param.kind is ParamKind.FILE:
            browse = QToolButton()
            browse.setObjectName("Framed")
            browse.setText("Browse…")
            browse.setToolTip("Choose a file")
            browse.clicked.connect(self._browse)
            self.layout_.addWidget(browse)

    def _browse(self) -> None:
        current = str(self.combo.currentData() or "")
        path, _ = QFileDialog.getOpenFileName(
            self, self.param.display_name, current, self.param.file_filter
        )
        if path:
            self.set_value(path)  # quietly: one edit, emitted below
            self._emit(path)

    def _show(self, value: Any) -> None:
        index = self.combo.findData(value)
        if index < 0:
            self.combo.addItem(str(value), value)
            index = self.combo.count() - 1
        self.combo.setCurrentIndex(index)


@functools.lru_cache(maxsize=16)
def discover_models(kind: str) -> tuple[tuple[str, str], ...]:
    """(name, path) of models for ``kind``, scanned once per session (folders can be slow)."""
    from studio.engine.models import discover

    try:
        return tuple((m.name, str(m.path)) for m in discover(kind or None))
    except Exception:  # a broken models folder must not break the inspector
        return ()


def describe_items(display_name: str, value: Any) -> str:
    """'2 brushes: rocket, smoke' or '1 shape: rect': what a list of shapes or brushes holds,
    in the artist's words rather than as JSON."""
    if not isinstance(value, (list, dict)) or not value:
        return "none yet"
    plural = display_name.lower()
    if plural.endswith(("shes", "ches", "xes", "sses")):
        singular = plural[:-2]
    elif plural.endswith("s"):
        singular = plural[:-1]
    else:
        singular, plural = plural, plural
    count = len(value)
    text = f"{count} {singular if count == 1 else plural}"
    if isinstance(value, list):
        names = [
            str(item.get("name") or item.get("kind") or Path(str(item.get("file", ""))).stem)
            for item in value
            if isinstance(item, dict)
        ]
        names = [n for n in names if n]
        if names:
            text += ": " + ", ".join(names)
    return text


def _decimals(step: float | None) -> int:
    """Enough decimals to show the param's step (0.05 -> 2), at least one, at most three."""
    if not step:
        return 3
    text = f"{step:.3f}".rstrip("0")
    return max(1, len(text.split(".")[1]) if "." in text else 1)


def _combo() -> QComboBox:
    # Long choices and model names elide instead of widening the whole inspector.
    combo = QComboBox()
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setMinimumContentsLength(8)
    return combo


def make_editor(param: Param, has_painter: bool = False) -> ParamEditor:
    kind = param.kind
    if kind in (ParamKind.INT, ParamKind.FLOAT):
        return NumberEditor(param)
    if kind is ParamKind.SEED:
        return SeedEditor(param)
    if kind is ParamKind.BOOL:
        return BoolEditor(param)
    if kind is ParamKind.CHOICE:
        return ChoiceEditor(param)
    if kind is ParamKind.TEXT:
        return TextEditor(param)
    if kind is ParamKind.COLOR:
        return ColorEditor(param)
    if kind is ParamKind.JSON:
        return JsonEditor(param, has_painter)
    if kind is ParamKind.MODEL or (kind is ParamKind.FILE and param.model_kind):
        return ModelEditor(param)
    return StringEditor(param)
