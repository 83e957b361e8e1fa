"""Camera move controls (pan, tilt, zoom, roll, ease) and the frame outline that previews it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen, QPolygonF
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGraphicsItem,
    QGroupBox,
    QPushButton,
    QStyleOptionGraphicsItem,
    QWidget,
)

from nodes.animate import EASES, camera_transform
from studio.graph.types import CameraMove
from studio.ui.viewer import theme

# param, label, minimum, maximum, step, decimals, tooltip
CAMERA_PARAMS: tuple[tuple[str, str, float, float, float, int, str], ...] = (
    ("pan", "Pan", -1.0, 1.0, 0.01, 3, "Frame widths the camera moves (+ = right)."),
    ("tilt", "Tilt", -1.0, 1.0, 0.01, 3, "Frame heights the camera moves (+ = up)."),
    ("zoom", "Zoom", 0.25, 4.0, 0.01, 3, "Zoom reached at the end (1 = none, > 1 pushes in)."),
    ("roll", "Roll", -180.0, 180.0, 1.0, 1, "Degrees the camera rolls (+ = counter-clockwise)."),
)
OUTLINE_STEPS = (0.25, 0.5, 0.75, 1.0)


def camera_of(params: Mapping[str, Any]) -> CameraMove:
    return CameraMove(
        pan=float(params.get("pan", 0.0)),
        tilt=float(params.get("tilt", 0.0)),
        zoom=float(params.get("zoom", 1.0)),
        roll=float(params.get("roll", 0.0)),
        ease=str(params.get("camera_ease", "ease-in-out")),
    )


def camera_outline(camera: CameraMove, fraction: float, width: int, height: int) -> np.ndarray:
    """The keyframe area on screen at ``fraction`` of the clip: (4, 2) corners in image pixels.

    Uses the animator's own transform (frame -> screen), inverted, so the outline is exactly
    what the render will show.
    """
    matrix = camera_transform(camera, fraction, width, height)
    inverse = cv2.invertAffineTransform(matrix)
    screen = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float64)
    return screen @ inverse[:, :2].T + inverse[:, 2]


class CameraOutlineItem(QGraphicsItem):
    """Dashed outlines of the frame along the camera move; the last one is the end frame."""

    def __init__(self) -> None:
        super().__init__()
        self.outlines: list[np.ndarray] = []
        self._bounds = QRectF()
        self.setZValue(30)

    def set_camera(self, camera: CameraMove, width: int, height: int) -> None:
        self.prepareGeometryChange()
        if camera.is_identity:
            self.outlines = []
        else:
            self.outlines = [camera_outline(camera, f, width, height) for f in OUTLINE_STEPS]
        points = np.concatenate(self.outlines) if self.outlines else np.zeros((1, 2))
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        self._bounds = QRectF(x0, y0, x1 - x0, y1 - y0).adjusted(-4, -4, 4, 4)
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt API)
        return self._bounds

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        for index, corners in enumerate(self.outlines):
            colour = QColor(theme.WARN)
            last = index == len(self.outlines) - 1
            colour.setAlphaF(1.0 if last else 0.35)
            pen = QPen(colour, 2 if last else 1, Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            painter.setPen(pen)
            painter.drawPolygon(QPolygonF([QPointF(x, y) for x, y in corners]))
        if self.outlines:
            centre = self.outlines[-1].mean(axis=0)
            painter.drawText(QPointF(*self.outlines[-1][0]) + QPointF(6, 16), "end")
            painter.drawEllipse(QPointF(*centre), 3, 3)


class CameraControls(QGroupBox):
    """Spin boxes for the camera params. Each finished edit is one ``on_change(name, value)``."""

    def __init__(self, on_change: Callable[[str, Any], None], parent: QWidget | None = None):
        super().__init__("Camera move", parent)
        self.on_change = on_change
        self.boxes: dict[str, QDoubleSpinBox] = {}
        form = QFormLayout(self)
        form.setContentsMargins(8, 8, 8, 8)
        for name, label, low, high, step, decimals, tip in CAMERA_PARAMS:
            box = QDoubleSpinBox(toolTip=tip)
            box.setRange(low, high)
            box.setSingleStep(step)
            box.setDecimals(decimals)
            box.setKeyboardTracking(False)
            box.valueChanged.connect(lambda value, n=name: self._changed(n, value))
            form.addRow(label, box)
            self.boxes[name] = box
        self.ease = QComboBox(toolTip="How the camera move speeds up and slows down.")
        self.ease.addItems(EASES)
        self.ease.currentTextChanged.connect(lambda text: self._changed("camera_ease", text))
        form.addRow("Ease", self.ease)
        reset = QPushButton(
            "Reset camera move", toolTip="Set pan, tilt and roll to 0 and zoom to 1 (one undo step)"
        )
        reset.clicked.connect(self._reset)
        form.addRow(reset)
        self._loading = False

    def load(self, params: Mapping[str, Any]) -> None:
        """Show the node's values without echoing them back as edits."""
        self._loading = True
        for name, box in self.boxes.items():
            box.setValue(float(params.get(name, box.value())))
        self.ease.setCurrentText(str(params.get("camera_ease", "ease-in-out")))
        self._loading = False

    def _changed(self, name: str, value: Any) -> None:
        if not self._loading:
            self.on_change(name, value)

    def _reset(self) -> None:
        self.on_change("camera", {"pan": 0.0, "tilt": 0.0, "zoom": 1.0, "roll": 0.0})
