"""The motion brushes' side panel: the list (up to eight) and the selected brush's timing.

The panel never edits the graph itself: it calls ``on_edit(brushes, label)`` with the whole new
list, and the window turns that into one undoable command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from nodes.animate import EASES
from studio.graph.types import Motion
from studio.ui.painter.mask_tools import region_colour

Brushes = list[dict[str, Any]]
REGION_INPUT = "node's mask input"
REGION_PAINTED = "painted here"


def new_brush(index: int, region: Any = None) -> dict[str, Any]:
    """A fresh brush: ``region`` ("input" for the node's mask input; default: a painted region,
    empty until painted), no path yet, whole clip, linear."""
    return {
        "name": f"brush {index + 1}",
        "region": [] if region is None else region,
        "trajectory": [],
        "start": 0.0,
        "end": 1.0,
        "ease": "linear",
        "rotation": 0.0,
        "scale": 1.0,
        "static": False,
    }


def swatch(colour: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(colour))
    return QIcon(pixmap)


class BrushPanel(QWidget):
    """Lists the brushes with their colours; edits the selected one's name, region and timing."""

    selected = Signal(int)

    def __init__(self, on_edit: Callable[[Brushes, str], None], parent: QWidget | None = None):
        super().__init__(parent)
        self.on_edit = on_edit
        # What a new brush moves: the window says "input" when the node's mask is wired.
        self.default_region: Callable[[], Any] = list
        self.brushes: Brushes = []
        self._loading = False
        self.list = QListWidget(toolTip="Motion brushes; each region has its own colour")
        self.list.setMaximumHeight(170)
        self.list.currentRowChanged.connect(self._row_changed)
        self.add_button = QPushButton(
            "+ Brush", toolTip=f"Add a brush (at most {Motion.MAX_BRUSHES})"
        )
        self.add_button.clicked.connect(self.add_brush)
        self.remove_button = QPushButton("Remove", toolTip="Delete the selected brush")
        self.remove_button.clicked.connect(self.remove_brush)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)

        self.details = QGroupBox("Selected brush")
        form = QFormLayout(self.details)
        form.setContentsMargins(8, 8, 8, 8)
        self.name = QLineEdit(toolTip="Shown in messages and in this list")
        self.name.editingFinished.connect(lambda: self._set("name", self.name.text().strip()))
        self.region = QComboBox(
            toolTip="Move the area painted here, or the mask wired into the node's 'mask' input"
        )
        self.region.addItems([REGION_PAINTED, REGION_INPUT])
        self.region.activated.connect(self._region_chosen)
        self.start = self._fraction("When the brush starts moving (fraction of the clip)")
        self.start.valueChanged.connect(lambda v: self._set("start", round(v, 3)))
        self.end = self._fraction("When the brush arrives (fraction of the clip)")
        self.end.valueChanged.connect(lambda v: self._set("end", round(v, 3)))
        self.ease = QComboBox(toolTip="How the brush speeds up and slows down along its path")
        self.ease.addItems(EASES)
        self.ease.activated.connect(lambda i: self._set("ease", self.ease.itemText(i)))
        self.rotation = QDoubleSpinBox(toolTip="Degrees turned by the end (+ = counter-clockwise)")
        self.rotation.setRange(-720.0, 720.0)
        self.rotation.setKeyboardTracking(False)
        self.rotation.valueChanged.connect(lambda v: self._set("rotation", v))
        self.scale = QDoubleSpinBox(toolTip="Size reached by the end (1 = unchanged)")
        self.scale.setRange(0.05, 20.0)
        self.scale.setSingleStep(0.05)
        self.scale.setKeyboardTracking(False)
        self.scale.valueChanged.connect(lambda v: self._set("scale", round(v, 3)))
        self.static = QCheckBox("Static (pinned: must not move)")
        self.static.toggled.connect(lambda on: self._set("static", on))
        form.addRow("Name", self.name)
        form.addRow("Region", self.region)
        form.addRow("Start", self.start)
        form.addRow("End", self.end)
        form.addRow("Ease", self.ease)
        form.addRow("Rotation", self.rotation)
        form.addRow("Scale", self.scale)
        form.addRow(self.static)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.list)
        layout.addLayout(buttons)
        layout.addWidget(self.details)

    @staticmethod
    def _fraction(tip: str) -> QDoubleSpinBox:
        box = QDoubleSpinBox(toolTip=tip)
        box.setRange(0.0, 1.0)
        box.setSingleStep(0.05)
        box.setDecimals(2)
        box.setKeyboardTracking(False)
        return box

    @property
    def current(self) -> int:
        return self.list.currentRow()

    def load(self, brushes: Brushes, current: int) -> None:
        """Show ``brushes`` (from the graph) with row ``current`` selected."""
        self._loading = True
        self.brushes = copy.deepcopy(brushes)
        self.list.clear()
        for index, brush in enumerate(brushes):
            moving = (
                "static"
                if brush.get("static")
                else ("no path yet" if len(brush.get("trajectory", [])) < 2 else "moves")
            )
            item = QListWidgetItem(
                swatch(region_colour(index)),
                f"{brush.get('name') or f'brush {index + 1}'}  ·  {moving}",
            )
            self.list.addItem(item)
        if brushes:
            self.list.setCurrentRow(min(max(current, 0), len(brushes) - 1))
        self._show_details()
        self.add_button.setEnabled(len(brushes) < Motion.MAX_BRUSHES)
        self.remove_button.setEnabled(bool(brushes))
        self._loading = False

    def _show_details(self) -> None:
        index = self.list.currentRow()
        self.details.setEnabled(0 <= index < len(self.brushes))
        # With no brush yet, the (disabled) fields show what a new brush starts with.
        brush = (
            self.brushes[index]
            if self.details.isEnabled()
            else new_brush(len(self.brushes), self.default_region())
        )
        was = self._loading
        self._loading = True
        self.name.setText(str(brush.get("name", "")))
        self.region.setCurrentText(
            REGION_INPUT if brush.get("region") == "input" else REGION_PAINTED
        )
        self.start.setValue(float(brush.get("start", 0.0)))
        self.end.setValue(float(brush.get("end", 1.0)))
        self.ease.setCurrentText(str(brush.get("ease", "linear")))
        self.rotation.setValue(float(brush.get("rotation", 0.0)))
        self.scale.setValue(float(brush.get("scale", 1.0)))
        self.static.setChecked(bool(brush.get("static", False)))
        self._loading = was

    def _row_changed(self, row: int) -> None:
        self._show_details()
        if not self._loading:
            self.selected.emit(row)

    # -- edits --------------------------------------------------------------------------------

    def _set(self, key: str, value: Any) -> None:
        index = self.list.currentRow()
        if self._loading or not 0 <= index < len(self.brushes):
            return
        if self.brushes[index].get(key) == value:
            return
        brushes = copy.deepcopy(self.brushes)
        brushes[index][key] = value
        self.on_edit(brushes, f"Set brush {key}")

    def _region_chosen(self, row: int) -> None:
        index = self.list.currentRow()
        if not 0 <= index < len(self.brushes):
            return
        wants_input = self.region.itemText(row) == REGION_INPUT
        region = self.brushes[index].get("region")
        if wants_input and region != "input":
            self._set("region", "input")
        elif not wants_input and region == "input":
            self._set("region", [])

    def add_brush(self) -> None:
        if len(self.brushes) >= Motion.MAX_BRUSHES:
            return
        brushes = copy.deepcopy(self.brushes) + [
            new_brush(len(self.brushes), self.default_region())
        ]
        self.list.setCurrentRow(-1)
        self.on_edit(brushes, "Add motion brush")
        self.selected.emit(len(brushes) - 1)

    def remove_brush(self) -> None:
        index = self.list.currentRow()
        if 0 <= index < len(self.brushes):
            brushes = copy.deepcopy(self.brushes)
            del brushes[index]
            self.on_edit(brushes, "Remove motion brush")
            self.selected.emit(max(0, index - 1))
