"""The viewer dock: the selected node's output, frame by frame, with A/B compare and plots.

It reads outputs through ``output_source(node_id)`` (the engine's cache), shows IMAGE, MASK
(over its image when one is known) and VIDEO, and plots a CAMERA_PATH when there is one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.types import CameraPath, Video
from studio.ui.viewer import theme
from studio.ui.viewer.compare import MODES, compose, match_size
from studio.ui.viewer.frame_source import FrameSource
from studio.ui.viewer.picture import PictureView
from studio.ui.viewer.plots import PathPlots
from studio.ui.viewer.timeline import Timeline

OutputSource = Callable[[str], "dict[str, Any] | None"]
MASK_TINT = np.array([79, 140, 255], np.float32)  # the accent colour


def showable(outputs: dict[str, Any]) -> list[str]:
    """Ports whose values the picture can show: clips first, then images, then masks."""

    def rank(port: str) -> int:
        value = outputs[port]
        return 0 if isinstance(value, Video) else (2 if value.ndim == 2 else 1)

    ports = [
        p
        for p, v in outputs.items()
        if isinstance(v, Video) or isinstance(v, np.ndarray) and v.ndim in (2, 3)
    ]
    return sorted(ports, key=rank)  # stable: keeps the node's port order within a rank


def overlay_mask(image: np.ndarray, mask: np.ndarray, opacity: float = 0.5) -> np.ndarray:
    """``image`` with ``mask`` tinted in the accent colour (mask resized to the image)."""
    mask = match_size(mask[:, :, None].repeat(3, axis=2).astype(np.float32), image)[:, :, 0]
    alpha = (np.clip(mask, 0, 1) * opacity)[:, :, None]
    out = image.astype(np.float32) * (1 - alpha) + MASK_TINT * alpha
    return out.astype(np.uint8)


class _Side:
    """What one side (A or B) shows: a node's chosen port as a frame source."""

    def __init__(self) -> None:
        self.node_id: str | None = None
        self.outputs: dict[str, Any] | None = None
        self.port: str | None = None
        self.value: Any = None
        self.source: FrameSource | None = None
        self.overlay: np.ndarray | None = None  # a mask shown over the frame

    def load(
        self,
        node_id: str | None,
        outputs: dict[str, Any] | None,
        image_for: Callable[[str], np.ndarray | None] | None,
    ) -> None:
        ports = showable(outputs) if outputs else []
        port = self.port if self.port in ports else (ports[0] if ports else None)
        value = outputs[port] if outputs and port else None
        same = (node_id, port) == (self.node_id, self.port) and value is self.value
        same = same and (value is None or self.source is not None)
        self.node_id, self.outputs, self.port = node_id, outputs, port
        if same:
            return
        if self.source is not None:
            self.source.close()
        self.value, self.source, self.overlay = value, None, None
        if value is None:
            return
        if isinstance(value, np.ndarray) and value.ndim == 2:
            base = next(
                (v for v in (outputs or {}).values() if isinstance(v, np.ndarray) and v.ndim == 3),
                None,
            )
            if base is None and image_for is not None and node_id is not None:
                base = image_for(node_id)
            if base is not None:
                self.overlay, value = value, base
        self.source = FrameSource(value)

    def camera_path(self) -> CameraPath | None:
        return next((v for v in (self.outputs or {}).values() if isinstance(v, CameraPath)), None)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
        self.source = None


class ViewerPanel(QWidget):
    """The viewer's content: header, picture, timeline and (for Stabilize) plots."""

    def __init__(
        self,
        output_source: OutputSource,
        *,
        title_of: Callable[[str], str] | None = None,
        image_for: Callable[[str], np.ndarray | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.output_source = output_source
        self.title_of = title_of or (lambda node_id: node_id[:8])
        self.image_for = image_for
        self.a, self.b = _Side(), _Side()
        self.mode = "A"
        self.wipe = 0.5
        self.overlay_opacity = 0.5
        self.setStyleSheet(theme.STYLE)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.pin_button = QToolButton(text="Pin", toolTip="Keep this node on screen")
        self.pin_button.setCheckable(True)
        self.pin_button.toggled.connect(self._pin_toggled)
        self.title_label = QLabel("")
        self.port_box = QComboBox(toolTip="Which output to show")
        self.port_box.currentTextChanged.connect(self._port_chosen)
        self.port_box.hide()
        self.compare_button = QToolButton(
            text="A/B",
            toolTip="Compare the pinned node (A) with the selected node (B), frame-locked",
        )
        self.compare_button.setCheckable(True)
        self.compare_button.clicked.connect(self._compare_clicked)
        self.mode_box = QComboBox(
            toolTip="A/B compare: wipe (drag on the picture), side by "
            "side, or the difference amplified ×4"
        )
        self.mode_box.addItems(MODES)
        self.mode_box.currentTextChanged.connect(self.set_mode)
        fit = QToolButton(text="Fit", toolTip="Fit the frame in the view (F)")
        one = QToolButton(text="1:1", toolTip="One image pixel per screen pixel (1)")
        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 2)
        for w in (self.pin_button, self.title_label):
            header.addWidget(w)
        header.addStretch(1)
        for w in (self.port_box, self.compare_button, self.mode_box, fit, one):
            header.addWidget(w)

        self.picture = PictureView()
        self.picture.key_handler = self._key
        self.picture.value_of = self._value_text
        self.picture.pixel_hovered.connect(self._hovered)
        self.picture.zoom_changed.connect(lambda z: self._update_status())
        self.picture.dragged.connect(self._dragged)
        fit.clicked.connect(self.picture.fit)
        one.clicked.connect(self.picture.one_to_one)
        self.message = QLabel("Select a node to see its output.")
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setProperty("muted", True)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(self.picture)
        self.timeline = Timeline()
        self.timeline.frame_changed.connect(self._show_frame)
        self.plots = PathPlots()
        self.plots.seek_requested.connect(self.timeline.seek)
        self.plots.hide()
        self.status = QLabel("")
        self.status.setProperty("muted", True)
        self.status.setContentsMargins(8, 2, 8, 2)
        self._pixel_text = ""

        top = QWidget()
        top_layout = QVBoxLayout(top)
        top_layout.setContentsMargins(0, 0, 0, 0)
        top_layout.setSpacing(0)
        top_layout.addWidget(self.stack, 1)
        top_layout.addWidget(self.timeline)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addLayout(header)
        layout.addWidget(self.splitter, 1)
        layout.addWidget(self.status)
        self._follow: str | None = None

    # -- what is shown ------------------------------------------------------------------------

    @property
    def pinned(self) -> bool:
        return self.pin_button.isChecked()

    def show_node(self, node_id: str | None) -> None:
        """Show ``node_id``'s output (the selection), unless the pin holds another node."""
        self._follow = node_id
        self._update_compare_button()
        if self.pinned:
            return
        self.mode_box.setCurrentText("A")
        self._load(node_id, None)

    def compare(self, a_node_id: str, b_node_id: str, mode: str = "wipe") -> None:
        """Show two nodes' outputs frame-locked on one timeline (pins the pair on screen)."""
        self._load(a_node_id, b_node_id)
        self.pin_button.setChecked(True)
        self.mode_box.setCurrentText(mode)

    def refresh(self) -> None:
        """Re-read the cache (after a run); keeps the frame, the zoom and the compare mode."""
        self._load(self.a.node_id, self.b.node_id)

    def _load(self, a_id: str | None, b_id: str | None) -> None:
        self.a.load(a_id, self.output_source(a_id) if a_id else None, self.image_for)
        self.b.load(b_id, self.output_source(b_id) if b_id else None, self.image_for)
        self.port_box.blockSignals(True)
        self.port_box.clear()
        self.port_box.addItems(showable(self.a.outputs) if self.a.outputs else [])
        if self.a.port:
            self.port_box.setCurrentText(self.a.port)
        self.port_box.setVisible(self.port_box.count() > 1)
        self.port_box.blockSignals(False)
        titles = [self.title_of(i) for i in (a_id, b_id) if i]
        self.title_label.setText("  vs  ".join(f"{t}" for t in titles))
        counts = [s.source.count for s in (self.a, self.b) if s.source is not None]
        fps = next(
            (s.source.fps for s in (self.a, self.b) if s.source is not None and s.source.is_video),
            24.0,
        )
        path = self.a.camera_path() or self.b.camera_path()
        self.plots.set_path(path)
        self.plots.setVisible(path is not None)
        if self.a.source is None:
            self.message.setText(
                "Select a node to see its output."
                if a_id is None
                else f"{self.title_of(a_id)} has no output to show yet: run the graph."
            )
            self.stack.setCurrentWidget(self.message)
            self.picture.set_frame(None)
        else:
            self.stack.setCurrentWidget(self.picture)
        self.mode_box.setVisible(b_id is not None)
        self._update_compare_button()
        self.timeline.set_clip(max(counts, default=1), fps)
        # Disabled rather than hidden for a still, so the picture does not jump about.
        self.timeline.setEnabled(self.timeline.count > 1)

    def _update_compare_button(self) -> None:
        comparing = self.b.node_id is not None
        self.compare_button.setChecked(comparing)
        other = self._follow not in (None, self.a.node_id)
        self.compare_button.setEnabled(comparing or (self.pinned and other))

    def _compare_clicked(self) -> None:
        a_id = self.a.node_id
        if self.b.node_id is not None:  # end the comparison, keep A on screen
            self.mode_box.setCurrentText("A")
            self._load(a_id, None)
        elif a_id is not None and self._follow is not None:
            self.compare(a_id, self._follow)

    def _port_chosen(self, port: str) -> None:
        if port and port != self.a.port:
            self.a.port = port
            self.a.value = None  # force a reload of this side
            self.refresh()

    def set_mode(self, mode: str) -> None:
        self.mode = mode if self.b.source is not None else "A"
        self._show_frame(self.timeline.frame)

    def _pin_toggled(self, on: bool) -> None:
        if not on:  # unpinned: catch up with the selection
            self.show_node(self._follow)
        self._update_compare_button()

    # -- drawing ------------------------------------------------------------------------------

    def current_frame(self) -> np.ndarray | None:
        """The composed frame now on screen."""
        return self.picture.item.frame

    def _side_frame(self, side: _Side, index: int) -> np.ndarray | None:
        if side.source is None:
            return None
        frame = side.source.frame(index)
        side.source.prefetch(index)
        if side.overlay is not None:
            frame = overlay_mask(frame, side.overlay, self.overlay_opacity)
        return frame

    def _show_frame(self, index: int) -> None:
        a = self._side_frame(self.a, index)
        b = self._side_frame(self.b, index) if self.mode != "A" else None
        if a is None:
            return
        frame = compose(a, b, self.mode, self.wipe) if b is not None else a
        self.picture.item.wipe_x = self.wipe * a.shape[1] if self.mode == "wipe" else None
        self.picture.set_frame(frame)
        self.plots.set_playhead(index)
        self._update_status()

    def _dragged(self, x: float, y: float) -> None:
        frame = self.current_frame()
        if self.mode == "wipe" and frame is not None:
            self.wipe = min(max(x / frame.shape[1], 0.0), 1.0)
            self._show_frame(self.timeline.frame)

    def _value_text(self, x: int, y: int) -> str:
        parts = []
        for name, side in (("A", self.a), ("B", self.b)):
            if side.source is None or (name == "B" and self.mode == "A"):
                continue
            frame = side.source.frame(self.timeline.frame)
            if self.mode == "side by side" and name == "B":
                continue
            if side is self.b:
                frame = match_size(frame, self.a.source.frame(self.timeline.frame))
            if y < frame.shape[0] and x < frame.shape[1]:
                r, g, b = (int(v) for v in frame[y, x])
                label = f"{name} " if self.b.source is not None and self.mode != "A" else ""
                text = f"{label}R {r} G {g} B {b}"
                if (
                    side.overlay is None
                    and isinstance(side.value, np.ndarray)
                    and side.value.ndim == 2
                ):
                    text = f"{label}mask {float(side.value[y, x]):.3f}"
                if side.overlay is not None:
                    oh, ow = side.overlay.shape
                    my, mx = y * oh // frame.shape[0], x * ow // frame.shape[1]
                    text += f"  mask {float(side.overlay[my, mx]):.2f}"
                parts.append(text)
        return "   ".join(parts)

    def _hovered(self, x: int, y: int, text: str) -> None:
        self._pixel_text = f"x {x} y {y}  {text}" if x >= 0 else ""
        self._update_status()

    def _update_status(self) -> None:
        frame = self.current_frame()
        size = f"{frame.shape[1]}×{frame.shape[0]}" if frame is not None else ""
        zoom = f"{self.picture.zoom * 100:.0f}%"
        dropped = f"dropped {self.timeline.dropped}" if self.timeline.dropped else ""
        self.status.setText("   ".join(s for s in (size, zoom, self._pixel_text, dropped) if s))

    # -- keys ---------------------------------------------------------------------------------

    def _key(self, key: int) -> bool:
        return self.timeline.handle_key(key)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if not self._key(event.key()):
            super().keyPressEvent(event)

    def close_sources(self) -> None:
        self.timeline.set_playing(False)
        self.a.close()
        self.b.close()


class ViewerDock(QDockWidget):
    """The editor's viewer: follows the selection, pins, compares, refreshes after a run."""

    def __init__(self, output_source: OutputSource, parent: QWidget | None = None, **options: Any):
        super().__init__("Viewer", parent)
        self.setObjectName("ViewerDock")
        self.panel = ViewerPanel(output_source, **options)
        self.setWidget(self.panel)

    def show_node(self, node_id: str | None) -> None:
        self.panel.show_node(node_id)

    def refresh(self) -> None:
        self.panel.refresh()

    def compare(self, a_node_id: str, b_node_id: str) -> None:
        self.panel.compare(a_node_id, b_node_id)

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.panel.close_sources()
        super().closeEvent(event)
