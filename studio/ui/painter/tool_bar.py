"""The painter's tool bar: the tools (with their keys), brush size and feather, overlay opacity
and Fit. It only emits what the artist picked; the window applies it."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QSlider,
    QToolButton,
    QWidget,
)

from studio.ui.painter import mask_tools
from studio.ui.painter.mask_tools import TOOLS


class PainterToolBar(QWidget):
    """``motion`` picks the Motion Brush's tools (Path) over the Region Mask's (Box→subject).
    The tool keys are shortcuts of ``shortcut_scope`` (the painter window)."""

    tool_chosen = Signal(str)
    size_edited = Signal(float)  # percent of the frame's shorter side
    feather_edited = Signal(float)
    opacity_edited = Signal(float)  # 0..1
    fit = Signal()

    def __init__(self, motion: bool, shortcut_scope: QWidget, parent: QWidget | None = None):
        super().__init__(parent)
        row = QHBoxLayout(self)
        row.setContentsMargins(6, 4, 6, 4)
        self.buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        skip = mask_tools.MASK_ONLY if motion else mask_tools.MOTION_ONLY
        for name, key, tip in TOOLS:
            if name in skip:
                continue
            label = {"subject": "Box→subject", "path": "Path"}.get(name, name.capitalize())
            button = QToolButton(text=label, toolTip=f"{tip}  [{key}]", checkable=True)
            button.clicked.connect(lambda _=False, n=name: self.tool_chosen.emit(n))
            group.addButton(button)
            row.addWidget(button)
            self.buttons[name] = button
            QShortcut(QKeySequence(key), shortcut_scope, lambda n=name: self.tool_chosen.emit(n))
        row.addSpacing(10)
        self.size_box = self._percent(
            "Size", "Brush radius, % of the frame's shorter side ([ ])", 0.2, 50.0, row
        )
        self.size_box.valueChanged.connect(self.size_edited.emit)
        self.feather_box = self._percent(
            "Feather", "Edge softness, % of the shorter side ({ })", 0.0, 50.0, row
        )
        self.feather_box.valueChanged.connect(self.feather_edited.emit)
        row.addSpacing(10)
        row.addWidget(QLabel("Overlay"))
        self.opacity = QSlider(Qt.Orientation.Horizontal, toolTip="Overlay opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setMaximumWidth(110)
        self.opacity.valueChanged.connect(lambda v: self.opacity_edited.emit(v / 100))
        row.addWidget(self.opacity)
        row.addStretch(1)
        fit = QToolButton(text="Fit", toolTip="Fit the keyframe in the view (F)")
        fit.clicked.connect(self.fit.emit)
        row.addWidget(fit)

    @staticmethod
    def _percent(label: str, tip: str, low: float, high: float, row: QHBoxLayout) -> QDoubleSpinBox:
        box = QDoubleSpinBox(toolTip=tip, suffix=" %")
        box.setRange(low, high)
        box.setDecimals(1)
        box.setSingleStep(0.5)
        row.addWidget(QLabel(label))
        row.addWidget(box)
        return box

    def show_brush(self, radius: float, feather: float) -> None:
        """Show the brush's settings (fractions) without echoing them back as edits."""
        for box, value in ((self.size_box, radius), (self.feather_box, feather)):
            box.blockSignals(True)
            box.setValue(value * 100)
            box.blockSignals(False)
