"""The painter window: paint a RegionMask's shapes or a MotionBrush's brushes over the keyframe.

What is painted lives in the node's params as vector shapes. The window writes them only via
``push(SetParam(...))`` -- one command per stroke, box, path or point edit -- so the editor's undo
stack owns every change, and it redraws only from graph events, so an undo shows at once.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QDoubleSpinBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nodes.shapes import rasterise
from studio.graph.commands import Command, Macro, SetParam
from studio.graph.graph import Graph, GraphEvent
from studio.graph.spec import NodeError
from studio.ui.inspector.widgets import describe_items
from studio.ui.painter import PAINTABLE, mask_tools
from studio.ui.painter.brush_editor import BrushPanel, new_brush
from studio.ui.painter.camera_controls import CameraControls, camera_of
from studio.ui.painter.canvas import PainterCanvas, PathDrawing
from studio.ui.painter.mask_tools import TOOLS, region_colour
from studio.ui.painter.preview import QuickPreview, StubContext, build_motion
from studio.ui.viewer import theme

BLANK_SIZE = (1024, 576)  # canvas size when the keyframe has not been rendered yet
OVERLAY_MAX_SIDE = 1280  # regions are tinted at most this large, then scaled up


def region_mask_of(params: dict[str, Any], image: np.ndarray) -> np.ndarray:
    """What a RegionMask with ``params`` outputs over ``image`` (its own run, for fidelity)."""
    from nodes.masks import run_region_mask

    return run_region_mask(StubContext(), {"image": image}, params)["mask"]


# The brush list's selection is muted so the first brush's blue swatch still shows on it.
PAINTER_STYLE = """
QListWidget::item:selected { background: #34465f; color: white; }
"""


class PainterWindow(QWidget):
    """Mask and motion-brush painter for one RegionMask or MotionBrush node."""

    def __init__(
        self,
        graph: Graph,
        node_id: str,
        keyframe: np.ndarray | None,
        push: Callable[[Command], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        node = graph.node(node_id)
        if node.type_id not in PAINTABLE:
            raise ValueError(
                f"the painter edits {' or '.join(PAINTABLE)} nodes, not {node.type_id}"
            )
        if keyframe is not None and (
            keyframe.ndim != 3 or keyframe.shape[2] != 3 or keyframe.dtype != np.uint8
        ):
            raise ValueError(
                f"the keyframe must be an (H, W, 3) uint8 RGB image, got "
                f"{keyframe.shape} {keyframe.dtype}"
            )
        self.graph, self.node_id, self.push = graph, node_id, push
        self.motion = node.type_id == "MotionBrush"
        self.keyframe = keyframe if keyframe is not None else self._blank()
        self.has_keyframe = keyframe is not None
        self.current_brush = 0
        self._input_cache: tuple[str, np.ndarray | None] = ("", None)
        # Its own window even when the editor passes itself as the parent.
        self.setWindowFlag(Qt.WindowType.Window, True)
        self.setWindowTitle(f"Paint — {node.title}")
        self.resize(1200, 760)
        self.setStyleSheet(theme.STYLE + PAINTER_STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)

        self.canvas = PainterCanvas()
        self.canvas.set_frame(self.keyframe)
        self.canvas.shape_drawn.connect(self._shape_drawn)
        self.canvas.subject_drawn.connect(self._subject_drawn)
        self.canvas.trajectory_drawn.connect(self._trajectory_drawn)
        self.canvas.point_moved.connect(self._point_moved)
        self.canvas.picked.connect(self._pick_region)
        self.canvas.brush_changed.connect(self._brush_settings_changed)
        self.status = QLabel("")
        self.status.setProperty("muted", True)
        self.status.setContentsMargins(8, 2, 8, 2)

        centre = QVBoxLayout()
        centre.setSpacing(0)
        centre.addWidget(self._tool_bar())
        centre.addWidget(self.canvas, 1)
        centre.addWidget(self.status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(centre, 1)
        layout.addWidget(self._side_panel())
        self._region_masks: list[tuple[int, np.ndarray]] = []  # (brush, overlay-size mask)
        self._history_shortcuts()
        self._unsubscribe: Callable[[], None] | None = graph.subscribe(self._on_graph_event)
        self.set_tool("path" if self.motion and self._brushes() else "brush")
        self.reload()

    def _blank(self) -> np.ndarray:
        w, h = BLANK_SIZE
        ramp = np.linspace(40, 58, h, dtype=np.float32)[:, None, None]
        return np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8)

    # -- building -----------------------------------------------------------------------------

    def _tool_bar(self) -> QWidget:
        bar = QWidget()
        row = QHBoxLayout(bar)
        row.setContentsMargins(6, 4, 6, 4)
        self.tool_buttons: dict[str, QToolButton] = {}
        group = QButtonGroup(self)
        group.setExclusive(True)
        skip = mask_tools.MASK_ONLY if self.motion else mask_tools.MOTION_ONLY
        for name, key, tip in TOOLS:
            if name in skip:
                continue
            label = {"subject": "Box→subject", "path": "Path"}.get(name, name.capitalize())
            button = QToolButton(text=label, toolTip=f"{tip}  [{key}]", checkable=True)
            button.clicked.connect(lambda _=False, n=name: self.set_tool(n))
            group.addButton(button)
            row.addWidget(button)
            self.tool_buttons[name] = button
            QShortcut(QKeySequence(key), self, lambda n=name: self.set_tool(n))
        row.addSpacing(10)
        self.size_box = self._percent(
            "Size", "Brush radius, % of the frame's shorter side ([ ])", 0.2, 50.0, row
        )
        self.size_box.valueChanged.connect(self._size_edited)
        self.feather_box = self._percent(
            "Feather", "Edge softness, % of the shorter side ({ })", 0.0, 50.0, row
        )
        self.feather_box.valueChanged.connect(self._feather_edited)
        row.addSpacing(10)
        row.addWidget(QLabel("Overlay"))
        self.opacity = QSlider(Qt.Orientation.Horizontal, toolTip="Overlay opacity")
        self.opacity.setRange(0, 100)
        self.opacity.setValue(50)
        self.opacity.setMaximumWidth(110)
        self.opacity.valueChanged.connect(lambda v: self.canvas.overlay.setOpacity(v / 100))
        row.addWidget(self.opacity)
        row.addStretch(1)
        fit = QToolButton(text="Fit", toolTip="Fit the keyframe in the view (F)")
        fit.clicked.connect(self.canvas.fit)
        row.addWidget(fit)
        self._brush_settings_changed()
        return bar

    @staticmethod
    def _percent(label: str, tip: str, low: float, high: float, row: QHBoxLayout) -> QDoubleSpinBox:
        box = QDoubleSpinBox(toolTip=tip, suffix=" %")
        box.setRange(low, high)
        box.setDecimals(1)
        box.setSingleStep(0.5)
        row.addWidget(QLabel(label))
        row.addWidget(box)
        return box

    def _side_panel(self) -> QWidget:
        panel = QWidget()
        panel.setFixedWidth(290)
        column = QVBoxLayout(panel)
        column.setContentsMargins(8, 8, 8, 8)
        title = QLabel(f"<b>{self.graph.node(self.node_id).title}</b>")
        column.addWidget(title)
        self.brush_panel: BrushPanel | None = None
        self.camera_controls: CameraControls | None = None
        self.preview: QuickPreview | None = None
        if self.motion:
            self.brush_panel = BrushPanel(self._brushes_edited)
            self.brush_panel.selected.connect(self.select_brush)
            column.addWidget(self.brush_panel)
            self.camera_controls = CameraControls(self._camera_edited)
            column.addWidget(self.camera_controls)
            self.preview = QuickPreview()
            self.preview.request = self._preview_job
            column.addWidget(self.preview, 1)
        else:
            box = QGroupBox("Region")
            inner = QVBoxLayout(box)
            self.subject_box = QCheckBox("Subject: GrabCut in the box")
            self.subject_box.setToolTip(
                "Treat the painted area as a box around the subject; GrabCut cuts the subject out"
            )
            self.subject_box.toggled.connect(self._subject_toggled)
            self.shape_count = QLabel("")
            self.shape_count.setProperty("muted", True)
            clear = QPushButton("Clear all shapes")
            clear.clicked.connect(lambda: self._set_param("shapes", [], "Clear mask"))
            for w in (self.subject_box, self.shape_count, clear):
                inner.addWidget(w)
            column.addWidget(box)
            hint = QLabel(
                "Alt-drag subtracts. [ ] size, { } feather. Middle-drag pans, "
                "wheel zooms, F fits. Ctrl+Z undoes in the editor."
            )
            hint.setWordWrap(True)
            hint.setProperty("muted", True)
            column.addWidget(hint)
            column.addStretch(1)
        return panel

    # -- reading the model --------------------------------------------------------------------

    def _params(self) -> dict[str, Any]:
        return self.graph.node(self.node_id).params

    def _brushes(self) -> list[dict[str, Any]]:
        return list(self._params().get("brushes") or []) if self.motion else []

    def _on_graph_event(self, event: GraphEvent) -> None:
        gone = event.kind == "node_removed" and event.node_id == self.node_id
        if gone or event.kind == "cleared":  # deleted, or another workflow was opened
            self.detach()
            self.close()
        elif event.kind == "node_changed" and event.field == "params":
            mask_edge = self.graph.edge_into(self.node_id, "mask") if self.motion else None
            upstream = mask_edge.src_node if mask_edge is not None else None
            # Moving or renaming nodes on the canvas changes nothing painted here.
            if event.node_id in (self.node_id, upstream):
                self.reload()
        elif event.kind in ("edge_added", "edge_removed") and self.motion:
            if event.edge is not None and event.edge.dst_node == self.node_id:
                self.reload()  # the mask input changed

    def reload(self) -> None:
        """Redraw everything from the node's params."""
        params = self._params()
        h, w = self.keyframe.shape[:2]
        if self.motion:
            brushes = self._brushes()
            self.current_brush = min(self.current_brush, max(0, len(brushes) - 1))
            self._draw_brushes(brushes, w, h)
            assert self.brush_panel is not None and self.camera_controls is not None
            self.brush_panel.load(brushes, self.current_brush)
            self.camera_controls.load(params)
            self.canvas.camera.set_camera(camera_of(params), w, h)
            self.canvas.live_colour = region_colour(self.current_brush)
        else:
            self._draw_region(params, w, h)

    def _overlay_size(self, w: int, h: int) -> tuple[int, int]:
        scale = min(1.0, OVERLAY_MAX_SIDE / max(w, h))
        return max(1, round(w * scale)), max(1, round(h * scale))

    def _show_overlay(self, rgba: np.ndarray, w: int) -> None:
        self.canvas.set_overlay(rgba)
        self.canvas.overlay.setScale(w / rgba.shape[1])

    def _draw_region(self, params: dict[str, Any], w: int, h: int) -> None:
        shapes = params.get("shapes") or []
        self.subject_box.blockSignals(True)
        self.subject_box.setChecked(bool(params.get("subject")))
        self.subject_box.blockSignals(False)
        self.shape_count.setText(describe_items("Shapes", shapes))
        ow, oh = self._overlay_size(w, h)
        message = ""
        try:
            if not shapes:
                mask = np.zeros((oh, ow), np.float32)
            elif self.has_keyframe:
                mask = cv2.resize(region_mask_of(params, self.keyframe), (ow, oh))
            else:
                mask = rasterise(shapes, ow, oh)
        except NodeError as error:
            mask, message = rasterise(shapes, ow, oh), str(error)
        self._show_overlay(mask_tools.tint([(mask, theme.ACCENT)], ow, oh), w)
        self.status.setText(message or self._hint())

    def _draw_brushes(self, brushes: list[dict[str, Any]], w: int, h: int) -> None:
        ow, oh = self._overlay_size(w, h)
        regions, paths, message = [], [], ""
        highlight: int | None = None
        self._region_masks = []
        for index, brush in enumerate(brushes):
            colour = region_colour(index)
            mask = None
            try:
                region = brush.get("region")
                mask = (
                    self._input_mask()
                    if region == "input"
                    else mask_tools.region_mask(region, ow, oh)
                )
            except NodeError as error:
                message = f"{brush.get('name')}: {error}"
            if mask is not None:
                if index == self.current_brush:
                    highlight = len(regions)
                regions.append((cv2.resize(mask, (ow, oh)), colour))
                self._region_masks.append((index, regions[-1][0]))
            anchor = None
            if mask is not None and mask.max() > 0.5:
                ys, xs = np.nonzero(mask > 0.5)
                anchor = (xs.mean() * w / mask.shape[1], ys.mean() * h / mask.shape[0])
            points = mask_tools.to_pixels(brush.get("trajectory") or [], w, h)
            paths.append(
                PathDrawing(
                    points,
                    colour,
                    selected=index == self.current_brush,
                    static=bool(brush.get("static")),
                    anchor=anchor,
                )
            )
        highlight = next(
            (i for i, (m, c) in enumerate(regions) if c == region_colour(self.current_brush)), None
        )
        self._show_overlay(mask_tools.tint(regions, ow, oh, highlight), w)
        self.canvas.paths.set_paths(paths, w, h)
        selected = paths[self.current_brush].points if paths else []
        self.canvas.editable_path = list(selected)
        self.status.setText(message or self._hint())

    def _input_mask(self) -> np.ndarray | None:
        """The mask wired into this MotionBrush, when it comes from a RegionMask we can run."""
        edge = self.graph.edge_into(self.node_id, "mask")
        if edge is None or not self.has_keyframe:
            return None
        source = self.graph.node(edge.src_node)
        if source.type_id != "RegionMask":
            return None
        key = repr(source.params)
        if self._input_cache[0] != key:
            try:
                mask = region_mask_of(source.params, self.keyframe)
            except NodeError:
                mask = None
            self._input_cache = (key, mask)
        return self._input_cache[1]

    def _hint(self) -> str:
        tool = self.canvas.tool
        radius = f"size {self.canvas.brush.radius * 100:.1f}%"
        keyframe = "" if self.has_keyframe else "  ·  no keyframe yet: run the graph to see it"
        return f"{tool}  ·  {radius}{keyframe}"

    # -- tools --------------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        if tool not in self.tool_buttons:
            return
        self.tool_buttons[tool].setChecked(True)
        self.canvas.set_tool(tool)
        self.status.setText(self._hint())

    def _brush_settings_changed(self) -> None:
        for box, value in (
            (self.size_box, self.canvas.brush.radius),
            (self.feather_box, self.canvas.brush.feather),
        ):
            box.blockSignals(True)
            box.setValue(value * 100)
            box.blockSignals(False)

    def _size_edited(self, percent: float) -> None:
        self.canvas.brush.radius = percent / 100

    def _feather_edited(self, percent: float) -> None:
        self.canvas.brush.feather = percent / 100

    def _pick_region(self, x: float, y: float) -> None:
        """A click with the path tool selects the brush whose region is under it (topmost)."""
        w, h = self.canvas.image_size
        for index, mask in reversed(self._region_masks):
            mx, my = int(x * mask.shape[1] / w), int(y * mask.shape[0] / h)
            if 0 <= mx < mask.shape[1] and 0 <= my < mask.shape[0] and mask[my, mx] > 0.5:
                if index != self.current_brush:
                    self.select_brush(index)
                return

    def select_brush(self, index: int) -> None:
        self.current_brush = max(0, index)
        self.reload()

    # -- writing the model (one command per gesture) ------------------------------------------

    def _set_param(self, name: str, value: Any, label: str) -> None:
        self.push(SetParam(self.node_id, name, value, label=label))

    def _shape_drawn(self, shape: dict[str, Any]) -> None:
        label = {
            "stroke": "Paint stroke",
            "polygon": "Paint polygon",
            "rect": "Paint rectangle",
            "ellipse": "Paint ellipse",
        }[shape["kind"]]
        if shape.get("op") == "subtract":
            label = "Erase" if shape["kind"] == "stroke" else f"Subtract {shape['kind']}"
        if not self.motion:
            self._set_param("shapes", self._params()["shapes"] + [shape], label)
            return
        brushes = self._brushes()
        if not brushes:
            brushes.append(new_brush(0))
            self.current_brush = 0
        brush = brushes[self.current_brush]
        region = brush.get("region")
        brush["region"] = (region if isinstance(region, list) else []) + [shape]
        self._set_param("brushes", brushes, label)

    def _subject_drawn(self, shape: dict[str, Any]) -> None:
        shapes = self._params()["shapes"] + [shape]
        commands: list[Command] = [SetParam(self.node_id, "shapes", shapes)]
        if not self._params().get("subject"):
            commands.append(SetParam(self.node_id, "subject", True))
        self.push(Macro(commands, label="Box → subject"))

    def _subject_toggled(self, on: bool) -> None:
        self._set_param("subject", on, "Subject mode" if on else "Painted mask")

    def _trajectory_drawn(self, points: list[list[float]]) -> None:
        brushes = self._brushes()
        if not brushes:
            brushes.append(new_brush(0))
            self.current_brush = 0
        brushes[self.current_brush]["trajectory"] = points
        brushes[self.current_brush]["static"] = False
        self._set_param("brushes", brushes, "Draw path")

    def _point_moved(self, index: int, point: list[float]) -> None:
        brushes = self._brushes()
        if not brushes:
            return
        trajectory = brushes[self.current_brush].get("trajectory") or []
        if 0 <= index < len(trajectory):
            trajectory[index] = point
            brushes[self.current_brush]["trajectory"] = trajectory
            self._set_param("brushes", brushes, "Move path point")

    def _brushes_edited(self, brushes: list[dict[str, Any]], label: str) -> None:
        self._set_param("brushes", copy.deepcopy(brushes), label)

    def _camera_edited(self, name: str, value: Any) -> None:
        if name == "camera":  # reset: the four values as one undo step
            self.push(
                Macro(
                    [SetParam(self.node_id, k, v) for k, v in value.items()],
                    label="Reset camera move",
                )
            )
        else:
            self._set_param(name, value, f"Camera {name.replace('camera_', '')}")

    # -- preview ------------------------------------------------------------------------------

    def _preview_job(self) -> tuple[np.ndarray, Any] | str:
        if not self.has_keyframe:
            return "No keyframe yet: run the graph first."
        try:
            return self.keyframe, build_motion(self._params(), self._input_mask())
        except NodeError as error:
            return f"Cannot preview: {error}"

    def _history_shortcuts(self) -> None:
        # ``push`` is usually the editor's undo stack's bound method: when that stack can
        # undo and redo, the usual keys work in this window too.
        history = getattr(self.push, "__self__", None)
        if not (
            callable(getattr(history, "undo", None)) and callable(getattr(history, "redo", None))
        ):
            return
        QShortcut(QKeySequence.StandardKey.Undo, self, history.undo)
        QShortcut(QKeySequence.StandardKey.Redo, self, history.redo)

    # -- lifetime -----------------------------------------------------------------------------

    def detach(self) -> None:
        """Stop listening to the graph (the window is going away)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.preview is not None:
            self.preview.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.detach()
        super().closeEvent(event)
