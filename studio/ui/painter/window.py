"""The painter window: paint a RegionMask's shapes or a MotionBrush's brushes over the keyframe.

What is painted lives in the node's params as vector shapes. The window writes them only via
``session.push(SetParam(...))`` -- one command per stroke, box, path or point edit -- so the
session's history owns every change, and it redraws only from graph events, so an undo shows
at once.

Everything it shows that a node makes -- the keyframe, the node's own mask (GrabCut included),
the mask wired into a Motion Brush, the preview's motion -- is rendered by the engine on a
snapshot of the graph, off the UI thread (:mod:`studio.ui.painter.jobs`), with progress and a
cancel. Painted shapes are drawn at once; the node's exact output replaces them when it comes.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QCloseEvent, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QCheckBox,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from nodes.shapes import rasterise
from studio.graph.commands import Command, Macro, SetParam
from studio.graph.graph import GraphEvent, GraphEventKind
from studio.session.session import Session, SessionEvent, SessionEventKind
from studio.ui.inspector.widgets import describe_items
from studio.ui.painter import PAINTABLE, mask_tools
from studio.ui.painter.brush_editor import BrushPanel, new_brush
from studio.ui.painter.brush_overlay import brush_overlay
from studio.ui.painter.camera_controls import CameraControls, camera_of
from studio.ui.painter.canvas import PainterCanvas
from studio.ui.painter.jobs import (
    EngineTask,
    Snapshot,
    keyframe_source,
    picture_of,
    upstream_signature,
)
from studio.ui.painter.mask_tools import region_colour
from studio.ui.painter.preview import PreviewJob, QuickPreview
from studio.ui.painter.renders import BusyBar, Renders
from studio.ui.painter.tool_bar import PainterToolBar
from studio.ui.viewer import theme

BLANK_SIZE = (1024, 576)  # canvas size when the keyframe has not been rendered yet
REFETCH_MS = 300  # after an upstream edit, wait this long for the next before re-rendering
OVERLAY_MAX_SIDE = 1280  # regions are tinted at most this large, then scaled up


# The brush list's selection is muted so the first brush's blue swatch still shows on it.
PAINTER_STYLE = """
QListWidget::item:selected { background: #34465f; color: white; }
"""


class PainterWindow(QWidget):
    """Mask and motion-brush painter for one RegionMask or MotionBrush node of ``session``.

    Edits go through the session's history; what the painter shows is rendered by ``engine``
    on the session's snapshots. It observes the session (a new workflow closes it) and the
    session's graph for the params it draws."""

    keyframe_ready = Signal()  # the keyframe arrived (or it was found there is none)
    overlay_ready = Signal()  # a node's own mask replaced the quick drawing of the shapes

    def __init__(
        self,
        session: Session,
        node_id: str,
        engine: Any,
        *,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        graph = session.graph
        node = graph.node(node_id)
        if node.type_id not in PAINTABLE:
            raise ValueError(
                f"the painter edits {' or '.join(PAINTABLE)} nodes, not {node.type_id}"
            )
        self.session, self.graph, self.node_id, self.engine = session, graph, node_id, engine
        self.push: Callable[..., None] = session.push
        self.snapshot: Snapshot = session.snapshot
        self._source: tuple[Any, str] = (None, "")  # the keyframe's wire, and what makes it
        self._refetch = QTimer(self, singleShot=True, interval=REFETCH_MS)
        self._refetch.timeout.connect(self._refetch_if_changed)
        self.motion = node.type_id == "MotionBrush"
        self.keyframe = self._blank()
        self.has_keyframe = False
        self.keyframe_message = "fetching the keyframe…"
        self.current_brush = 0
        self._input_cache: tuple[str, np.ndarray | None] = ("", None)
        self._input_wanted = ""
        self._held = False  # inside _push: redraw once after it
        self._changed_while_held = False
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
        self.canvas.point_dragged.connect(self._point_moved)
        self.canvas.picked.connect(self._pick_region)
        self.canvas.brush_changed.connect(self._brush_settings_changed)
        self.status = QLabel("")
        self.status.setProperty("muted", True)
        self.status.setContentsMargins(8, 2, 8, 2)
        self.busy = BusyBar()
        self.busy.cancel.clicked.connect(self.cancel_busy)
        QShortcut(QKeySequence(Qt.Key.Key_Escape), self.busy, self.cancel_busy)
        self.renders = Renders(self.engine, self.snapshot, self.busy, self.canvas, self)
        self.renders.failed.connect(self._render_failed)

        # The preview plays below the canvas, as wide as it: large enough to judge motion.
        self.split = QSplitter(Qt.Orientation.Vertical)
        self.split.setChildrenCollapsible(False)
        self.split.addWidget(self.canvas)
        centre = QVBoxLayout()
        centre.setSpacing(0)
        self.tool_bar = PainterToolBar(self.motion, self)
        self.tool_bar.tool_chosen.connect(self.set_tool)
        self.tool_bar.size_edited.connect(self._size_edited)
        self.tool_bar.feather_edited.connect(self._feather_edited)
        self.tool_bar.opacity_edited.connect(self.canvas.overlay.setOpacity)
        self.tool_bar.fit.connect(self.canvas.fit)
        self.tool_buttons = self.tool_bar.buttons
        self.size_box, self.feather_box = self.tool_bar.size_box, self.tool_bar.feather_box
        self._brush_settings_changed()
        centre.addWidget(self.tool_bar)
        centre.addWidget(self.busy)
        centre.addWidget(self.split, 1)
        centre.addWidget(self.status)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(centre, 1)
        layout.addWidget(self._side_panel())
        if self.preview is not None:
            self.split.addWidget(self.preview.player)
            self.preview.clip_ready.connect(self._show_preview)
        self._region_masks: list[tuple[int, np.ndarray]] = []  # (brush, overlay-size mask)
        self._history_shortcuts()
        # The session says when the workflow is replaced; param edits come from its graph.
        self._unsubscribe_session: Callable[[], None] | None = session.subscribe(
            self._on_session_event
        )
        self._unsubscribe: Callable[[], None] | None = graph.subscribe(self._on_graph_event)
        self.set_tool("path" if self.motion and self._brushes() else "brush")
        self.reload()
        self.fetch_keyframe()

    def _blank(self) -> np.ndarray:
        w, h = BLANK_SIZE
        ramp = np.linspace(40, 58, h, dtype=np.float32)[:, None, None]
        return np.broadcast_to(ramp, (h, w, 3)).astype(np.uint8)

    # -- renders through the engine -----------------------------------------------------------

    @property
    def tasks(self) -> dict[str, EngineTask]:
        return self.renders.tasks

    def _render_failed(self, kind: str, message: str) -> None:
        if kind == "keyframe":
            self.keyframe_message = f"cannot render the keyframe: {message}"
            self.status.setText(self._hint())
            self.keyframe_ready.emit()
        else:
            self.status.setText(message)

    def cancel_busy(self) -> None:
        """The busy bar's Cancel: stop the render it shows (the keyframe, or GrabCut)."""
        kind = self.busy.kind
        if not kind:
            return
        self.renders.drop(kind)
        if kind == "keyframe":
            self.keyframe_message = "keyframe render cancelled"
            self.status.setText(self._hint())
            self.keyframe_ready.emit()
        else:
            self.status.setText("GrabCut cancelled: the painted box is shown instead")

    def fetch_keyframe(self) -> None:
        """Render the branch that feeds this node's picture (cached when it can be)."""
        self._source = self._keyframe_source()
        edge = self._source[0]
        if edge is None:
            self.keyframe_message = "no picture is wired into this node (or what it feeds)"
            self.status.setText(self._hint())
            self.keyframe_ready.emit()
            return
        title = self.graph.node(edge.src_node).title
        self.keyframe_message = "fetching the keyframe…"

        def arrived(outputs: dict[str, Any]) -> None:
            picture = picture_of(outputs, edge.src_port)
            if picture is None:
                self.keyframe_message = f"{title}.{edge.src_port} is not an RGB picture"
                self.status.setText(self._hint())
                self.keyframe_ready.emit()
                return
            self.set_keyframe(picture)

        self.renders.start("keyframe", edge.src_node, arrived)
        self.renders.busy("keyframe", f"Keyframe: rendering {title}…")

    def set_keyframe(self, keyframe: np.ndarray) -> None:
        if keyframe.ndim != 3 or keyframe.shape[2] != 3 or keyframe.dtype != np.uint8:
            raise ValueError(
                f"the keyframe must be an (H, W, 3) uint8 RGB image, got "
                f"{keyframe.shape} {keyframe.dtype}"
            )
        self.keyframe, self.has_keyframe = keyframe, True
        self.keyframe_message = ""
        self._input_cache = ("", None)
        self.canvas.set_frame(keyframe)
        self.canvas.fit()
        self.reload()
        self.keyframe_ready.emit()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until the running renders' workers finished (tests, screenshots)."""
        tasks = list(self.renders.tasks.values())
        if self.preview is not None and self.preview.task is not None:
            tasks.append(self.preview.task)
        return all(task.wait(timeout) for task in tasks)

    # -- building -----------------------------------------------------------------------------

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
            self.brush_panel.default_region = self._new_region
            self.brush_panel.selected.connect(self.select_brush)
            column.addWidget(self.brush_panel)
            self.camera_controls = CameraControls(self._camera_edited)
            column.addWidget(self.camera_controls)
            self.preview = QuickPreview(self.engine)
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

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind == SessionEventKind.GRAPH_REPLACED:  # New or Open: this node is gone
            self.detach()
            self.close()

    def _on_graph_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == GraphEventKind.CLEARED or (
            kind == GraphEventKind.NODE_REMOVED and event.node_id == self.node_id
        ):
            self.detach()
            self.close()
        elif kind == GraphEventKind.NODE_CHANGED and event.field == "params":
            if event.node_id == self.node_id:
                self.reload()
                return
            # Moving or renaming nodes changes nothing painted here; what feeds the wired
            # mask or the keyframe does.
            mask_edge = self.graph.edge_into(self.node_id, "mask") if self.motion else None
            if mask_edge is not None and event.node_id in self.graph.upstream([mask_edge.src_node]):
                self.reload()
            self._refetch.start()
        elif kind in (GraphEventKind.EDGE_ADDED, GraphEventKind.EDGE_REMOVED):
            if self.motion and event.edge is not None and event.edge.dst_node == self.node_id:
                self.reload()  # the mask input changed
            self._refetch.start()

    def _keyframe_source(self) -> tuple[Any, str]:
        edge = keyframe_source(self.graph, self.node_id)
        return edge, upstream_signature(self.graph, edge.src_node) if edge is not None else ""

    def _refetch_if_changed(self) -> None:
        """The keyframe again, if its wire or anything upstream of it changed (a burst of
        edits waits for the last one)."""
        if self._keyframe_source() != self._source:
            self.fetch_keyframe()

    def reload(self) -> None:
        """Redraw everything from the node's params (after a handle drag, not during it: the
        canvas draws the dragged point, and a full redraw per mouse move would stall)."""
        if self._held or self.canvas.dragging_handle:
            self._changed_while_held = True
            return
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
        # The shapes at once; the node's own mask (feather, grow, GrabCut) when it is rendered.
        mask = rasterise(shapes, ow, oh) if shapes else np.zeros((oh, ow), np.float32)
        self._show_overlay(mask_tools.tint([(mask, theme.ACCENT)], ow, oh), w)
        self.status.setText(self._hint())
        self.renders.drop("mask")
        if shapes and self.has_keyframe:
            self._render_mask(bool(params.get("subject")), w)

    def _render_mask(self, subject: bool, width: int) -> None:
        ow, oh = self._overlay_size(*self.canvas.image_size)

        def tinted(outputs: dict[str, Any], _report: Any) -> np.ndarray | None:
            # On the worker too: tinting a large overlay is the UI thread's biggest cost.
            mask = outputs.get("mask")
            if not isinstance(mask, np.ndarray):
                return None
            small = cv2.resize(mask, (ow, oh), interpolation=cv2.INTER_AREA)
            return mask_tools.tint([(small, theme.ACCENT)], ow, oh)

        def arrived(overlay: np.ndarray | None) -> None:
            if overlay is not None:
                self._show_overlay(overlay, width)
                self.overlay_ready.emit()

        self.renders.start("mask", self.node_id, arrived, then=tinted)
        if subject:  # seconds on a large keyframe: say so, and let the artist stop it
            self.renders.busy("mask", "GrabCut: finding the subject in the box…")

    def _draw_brushes(self, brushes: list[dict[str, Any]], w: int, h: int) -> None:
        overlay = brush_overlay(
            brushes, self.current_brush, (w, h), self._overlay_size(w, h), self._input_mask
        )
        self._region_masks = overlay.region_masks
        self._show_overlay(overlay.rgba, w)
        self.canvas.paths.set_paths(overlay.paths, w, h)
        selected = overlay.paths[self.current_brush].points if overlay.paths else []
        self.canvas.editable_path = list(selected)
        self.status.setText(overlay.message or self._hint())

    def _input_mask(self) -> np.ndarray | None:
        """The mask wired into this MotionBrush, as its node renders it. Rendered through the
        engine in the background: None until it arrives (the brushes redraw then)."""
        edge = self.graph.edge_into(self.node_id, "mask")
        if edge is None or not self.has_keyframe:
            return None
        key = upstream_signature(self.graph, edge.src_node)
        if self._input_cache[0] == key:
            return self._input_cache[1]
        if self._input_wanted != key:
            self._input_wanted = key

            def arrived(outputs: dict[str, Any]) -> None:
                mask = outputs.get(edge.src_port)
                self._input_cache = (key, mask if isinstance(mask, np.ndarray) else None)
                self.reload()
                self.overlay_ready.emit()

            self.renders.start("input", edge.src_node, arrived)
        return None

    def _hint(self) -> str:
        tool = self.canvas.tool
        radius = f"size {self.canvas.brush.radius * 100:.1f}%"
        keyframe = "" if self.has_keyframe else f"  ·  {self.keyframe_message}"
        return f"{tool}  ·  {radius}{keyframe}"

    # -- tools --------------------------------------------------------------------------------

    def set_tool(self, tool: str) -> None:
        if tool not in self.tool_buttons:
            return
        self.tool_buttons[tool].setChecked(True)
        self.canvas.set_tool(tool)
        self.status.setText(self._hint())

    def _brush_settings_changed(self) -> None:
        self.tool_bar.show_brush(self.canvas.brush.radius, self.canvas.brush.feather)

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

    def _push(self, command: Command, merge_key: str | None = None) -> None:
        """Push one edit; a macro's several param changes redraw once, not once each."""
        self._held = True
        try:
            if merge_key is None:
                self.push(command)
            else:
                self.push(command, merge_key)
        finally:
            self._held, changed = False, self._changed_while_held
            self._changed_while_held = False
        if changed:
            self.reload()

    def _set_param(self, name: str, value: Any, label: str, merge_key: str | None = None) -> None:
        self._push(SetParam(self.node_id, name, value, label=label), merge_key)

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
        self._push(Macro(commands, label="Box → subject"))

    def _subject_toggled(self, on: bool) -> None:
        self._set_param("subject", on, "Subject mode" if on else "Painted mask")

    def _trajectory_drawn(self, points: list[list[float]]) -> None:
        brushes = self._brushes()
        if not brushes:
            brushes.append(new_brush(0, self._new_region()))
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
            # Every move of one drag, and its end, merge into one undo step.
            merge = f"{self.node_id}:path-point:{self.canvas.drag_serial}"
            self._set_param("brushes", brushes, "Move path point", merge)

    def _new_region(self) -> Any:
        """A new brush moves the wired mask when there is one (what the wire is for), else
        the area painted here."""
        return "input" if self.graph.edge_into(self.node_id, "mask") is not None else []

    def _brushes_edited(self, brushes: list[dict[str, Any]], label: str) -> None:
        self._set_param("brushes", copy.deepcopy(brushes), label)

    def _camera_edited(self, name: str, value: Any) -> None:
        if name == "camera":  # reset: the four values as one undo step
            self._push(
                Macro(
                    [SetParam(self.node_id, k, v) for k, v in value.items()],
                    label="Reset camera move",
                )
            )
        else:
            self._set_param(name, value, f"Camera {name.replace('camera_', '')}")

    # -- preview ------------------------------------------------------------------------------

    def _preview_job(self) -> PreviewJob | str:
        if not self.has_keyframe:
            return f"No keyframe to animate yet ({self.keyframe_message})"
        return self.keyframe, self.snapshot(), self.node_id

    def _show_preview(self) -> None:
        """The first clip opens the preview pane: half the height, the canvas's full width."""
        if self.split.sizes()[1] < self.split.height() // 3:
            half = self.split.height() // 2
            self.split.setSizes([half, self.split.height() - half])

    def _history_shortcuts(self) -> None:
        # The session's history: the usual keys undo and redo in this window too.
        QShortcut(QKeySequence.StandardKey.Undo, self, self.session.undo)
        QShortcut(QKeySequence.StandardKey.Redo, self, self.session.redo)

    # -- lifetime -----------------------------------------------------------------------------

    def detach(self) -> None:
        """Stop listening to the graph (the window is going away)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._unsubscribe_session is not None:
            self._unsubscribe_session()
            self._unsubscribe_session = None
        self._refetch.stop()
        self.renders.stop()
        if self.preview is not None:
            self.preview.stop()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 (Qt API)
        self.detach()
        super().closeEvent(event)
