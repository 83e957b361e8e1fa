"""The viewer dock: the selected node's output, frame by frame, with A/B compare and plots.

It reads outputs through ``output_source(node_id)`` (the engine's cache) on a worker thread
(:mod:`studio.ui.viewer.loading`), shows IMAGE, MASK (over its image when one is known) and
VIDEO, and plots a CAMERA_PATH when there is one. While a load runs the picture says so and the
timeline is disabled; a load overtaken by a newer one is dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from html import escape
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.types import CameraPath
from studio.ui.viewer import theme
from studio.ui.viewer.audio import qt_audio_sink
from studio.ui.viewer.compare import MODES, compose, match_size
from studio.ui.viewer.frame_source import FrameSource
from studio.ui.viewer.loading import (
    Bind,
    ImageFor,
    Loaded,
    OutputLoader,
    OutputSource,
    Request,
    showable,
)
from studio.ui.viewer.picture import PictureView
from studio.ui.viewer.plots import PathPlots
from studio.ui.viewer.timeline import Timeline

__all__ = ["ViewerDock", "ViewerPanel", "overlay_mask", "showable"]

MASK_TINT = np.array([79, 140, 255], np.float32)  # the accent colour
# A load that answers within this long (a memory-cache hit) shows no "loading" flash.
LOADING_DELAY_MS = 120


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
        self.keyframe: np.ndarray | None = None  # the upstream picture under a bare mask

    def request(self, node_id: str | None, frame: int, *, reuse: bool = False) -> Request | None:
        """What to load for ``node_id``; ``reuse`` keeps the outputs already read for it."""
        if node_id is None:
            return None
        keep = reuse and node_id == self.node_id
        return Request(
            node_id,
            self.port,
            frame,
            self.outputs if keep else None,
            self.keyframe if keep else None,
        )

    def apply(self, loaded: Loaded | None) -> None:
        """Show what the loader prepared (on the UI thread: cheap, no disk reads)."""
        if loaded is None:
            self.close()
            self.node_id = self.outputs = self.value = self.overlay = self.keyframe = None
            return
        same = (loaded.node_id, loaded.port) == (self.node_id, self.port)
        same = same and loaded.value is self.value
        same = same and (loaded.value is None or self.source is not None)
        self.node_id, self.outputs, self.port = loaded.node_id, loaded.outputs, loaded.port
        self.keyframe = loaded.keyframe
        if same:  # keep the frame source and the frames it has cached
            return
        self.close()
        self.value, self.overlay = loaded.value, loaded.overlay
        if loaded.picture is not None:
            self.source = FrameSource(loaded.picture)
            if loaded.first is not None:
                self.source.seed(*loaded.first)

    def camera_path(self) -> CameraPath | None:
        return next((v for v in (self.outputs or {}).values() if isinstance(v, CameraPath)), None)

    def close(self) -> None:
        if self.source is not None:
            self.source.close()
        self.source = None


class ViewerPanel(QWidget):
    """The viewer's content: header, picture, timeline and (for Stabilize) plots."""

    loaded = Signal()  # a load finished and is on screen
    error_requested = Signal(str)  # the artist asked to see why this node failed

    def __init__(
        self,
        output_source: OutputSource,
        *,
        title_of: Callable[[str], str] | None = None,
        image_for: ImageFor | None = None,
        bind: Bind | None = None,
        failure_of: Callable[[str], str | None] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        """``output_source`` and ``image_for`` run on a worker thread; ``bind``, if given, is
        called on the UI thread as each load starts and returns the pair the worker calls."""
        super().__init__(parent)
        self.title_of = title_of or (lambda node_id: node_id[:8])
        self.failure_of = failure_of or (lambda node_id: None)
        self.loader = OutputLoader(output_source, image_for, bind, self)
        self.loader.finished.connect(self._loaded)
        self.loading = False
        self._loading_timer = QTimer(self)
        self._loading_timer.setSingleShot(True)
        self._loading_timer.setInterval(LOADING_DELAY_MS)
        self._loading_timer.timeout.connect(self._show_loading)
        # The nodes on screen or being loaded (the sides hold what is on screen).
        self._ids: tuple[str | None, str | None] = (None, None)
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
        # DRAFT over a draft picture (a draft render, a live draft, a draft take), hidden over
        # a final one. ``badge_of(node_id)`` is asked as each load starts, and the badge
        # changes with the picture, never before it.
        self.badge = QLabel("")
        self.badge.setObjectName("DraftBadge")
        self.badge.setToolTip("A draft: cheaper than the final render (Run > Draft)")
        self.badge.setStyleSheet(
            "#DraftBadge { background: #d9822b; color: #1a1a1a; font-weight: bold;"
            " border-radius: 3px; padding: 1px 6px; }"
        )
        self.badge.hide()
        self.badge_of: Callable[[str], str] = lambda node_id: ""
        self._pending_badge = ""
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
        self.mode_box.hide()  # only while comparing two nodes
        fit = QToolButton(text="Fit", toolTip="Fit the frame in the view (F)")
        one = QToolButton(text="1:1", toolTip="One image pixel per screen pixel (1)")
        header = QHBoxLayout()
        header.setContentsMargins(6, 4, 6, 2)
        for w in (self.pin_button, self.title_label, self.badge):
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
        self.message.setWordWrap(True)
        self.message.setContentsMargins(24, 0, 24, 0)
        self.message.setProperty("muted", True)
        # Below the centred text: offered only when the node on screen failed.
        self.error_button = QPushButton("Show the Error")
        self.error_button.setToolTip("Select the failed node and its error in the run log")
        self.error_button.clicked.connect(lambda: self.error_requested.emit(self._ids[0] or ""))
        self.error_button.hide()
        over = QVBoxLayout(self.message)
        over.addStretch(3)
        over.addWidget(self.error_button, 0, Qt.AlignmentFlag.AlignHCenter)
        over.addStretch(2)
        self.stack = QStackedWidget()
        self.stack.addWidget(self.message)
        self.stack.addWidget(self.picture)
        self.timeline = Timeline()
        self.timeline.sink = qt_audio_sink()  # None without QtMultimedia or a sound device
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
        # Plots beside the picture when the panel is wide (a 16:9 frame leaves room at its
        # side, and the picture keeps its height), below it when the panel is tall.
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(top)
        self.splitter.addWidget(self.plots)
        self.splitter.setStretchFactor(0, 3)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self._split_set = False
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
        self._load(*self._ids)

    def _load(
        self, a_id: str | None, b_id: str | None, *, reuse: bool = False, port: str | None = None
    ) -> None:
        """Ask the loader for ``a_id`` and ``b_id``; the picture changes when it answers."""
        self._ids = (a_id, b_id)
        self.title_label.setText("  vs  ".join(self.title_of(i) for i in (a_id, b_id) if i))
        self.mode_box.setVisible(b_id is not None)
        self._update_compare_button()
        if a_id is None and b_id is None:
            self.loader.cancel()
            self._finish_loading()
            self._apply([None, None])
            self.loaded.emit()
            return
        self._pending_badge = self.badge_of(a_id) if a_id is not None else ""
        if b_id is not None and not self._pending_badge:
            self._pending_badge = self.badge_of(b_id)
        frame = self.timeline.frame
        a = self.a.request(a_id, frame, reuse=reuse)
        if a is not None and port is not None:
            a = replace(a, port=port)
        self.loader.request([a, self.b.request(b_id, frame, reuse=reuse)])
        self.loading = True
        self.timeline.set_playing(False)
        self.timeline.setEnabled(False)
        if not self._loading_timer.isActive():
            self._loading_timer.start()

    def _show_loading(self) -> None:
        if self.loading:
            titles = " and ".join(self.title_of(i) for i in self._ids if i)
            self.message.setText(f"Loading {titles}…")
            self.error_button.hide()
            self.stack.setCurrentWidget(self.message)

    def _finish_loading(self) -> None:
        self.loading = False
        self._loading_timer.stop()

    def _loaded(self, token: int, result: list[Loaded | None] | Exception) -> None:
        if token != self.loader.token:
            return  # the selection moved on while this was read
        self._finish_loading()
        if isinstance(result, Exception):
            self._apply([None, None])
            titles = " and ".join(self.title_of(i) for i in self._ids if i)
            self.message.setText(f"Could not read the output of {titles}: {result}")
        else:
            self._apply(result)
        self.loaded.emit()

    def set_badge(self, text: str) -> None:
        self.badge.setText(text)
        self.badge.setVisible(bool(text))

    def show_live(self, frame: np.ndarray, badge: str = "DRAFT · LIVE") -> None:
        """A live draft's frame under the playhead, on screen at once; the whole clip follows
        with the next :meth:`refresh`."""
        self.set_badge(badge)
        self.stack.setCurrentWidget(self.picture)
        self.picture.set_frame(frame)

    @property
    def shown_node(self) -> str | None:
        """The node on screen (side A), or being loaded."""
        return self._ids[0]

    def _apply(self, result: list[Loaded | None]) -> None:
        a_id, b_id = self._ids
        self.a.apply(result[0])
        self.b.apply(result[1])
        shown = self.a.source is not None or self.b.source is not None
        self.set_badge(self._pending_badge if shown else "")
        self.port_box.blockSignals(True)
        self.port_box.clear()
        self.port_box.addItems(showable(self.a.outputs) if self.a.outputs else [])
        if self.a.port:
            self.port_box.setCurrentText(self.a.port)
        self.port_box.setVisible(self.port_box.count() > 1)
        self.port_box.blockSignals(False)
        counts = [s.source.count for s in (self.a, self.b) if s.source is not None]
        fps = next(
            (s.source.fps for s in (self.a, self.b) if s.source is not None and s.source.is_video),
            24.0,
        )
        path = self.a.camera_path() or self.b.camera_path()
        self.plots.set_path(path)
        self.plots.setVisible(path is not None)
        if self.a.source is None:
            self.message.setText(self._empty_text(a_id))
            self.error_button.setVisible(a_id is not None and bool(self.failure_of(a_id)))
            self.stack.setCurrentWidget(self.message)
            self.picture.set_frame(None)
        else:
            self.stack.setCurrentWidget(self.picture)
        self._update_compare_button()
        self.timeline.set_clip(max(counts, default=1), fps)
        source = self.a.source
        self.timeline.set_marks(source.cuts if source else (), source.audio if source else None)
        # Disabled rather than hidden for a still, so the picture does not jump about.
        self.timeline.setEnabled(self.timeline.count > 1)

    def _empty_text(self, node_id: str | None) -> str:
        if node_id is None:
            return "Select a node to see its output."
        title = escape(self.title_of(node_id))
        reason = self.failure_of(node_id)
        if reason:
            return f"<b>{title} failed</b><br>{escape(reason)}"
        return f"{title} has no output to show yet: run the graph."

    def refresh_failure(self, node_ids: tuple[str, ...]) -> None:
        """A node's status changed: if it is the one on screen with nothing to show, say why."""
        a_id = self._ids[0]
        if a_id in node_ids and self.a.source is None and not self.loading:
            self.message.setText(self._empty_text(a_id))
            self.error_button.setVisible(bool(self.failure_of(a_id)))

    def _update_compare_button(self) -> None:
        a_id, b_id = self._ids
        comparing = b_id is not None
        self.compare_button.setChecked(comparing)
        other = self._follow not in (None, a_id)
        self.compare_button.setEnabled(comparing or (self.pinned and other))

    def _compare_clicked(self) -> None:
        a_id, b_id = self._ids
        if b_id is not None:  # end the comparison, keep A on screen
            self.mode_box.setCurrentText("A")
            self._load(a_id, None, reuse=True)
        elif a_id is not None and self._follow is not None:
            self.compare(a_id, self._follow)

    def _port_chosen(self, port: str) -> None:
        if port and port != self.a.port:
            self._load(*self._ids, reuse=True, port=port)

    def set_mode(self, mode: str) -> None:
        """Show A, B or a comparison of both (kept while B loads; A alone without a B)."""
        self.mode = mode
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
        wiping = self.mode == "wipe" and b is not None
        self.picture.item.wipe_x = self.wipe * a.shape[1] if wiping else None
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

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        wide = event.size().width() > 1.6 * event.size().height()
        orientation = Qt.Orientation.Horizontal if wide else Qt.Orientation.Vertical
        if self.splitter.orientation() != orientation or not self._split_set:
            self._split_set = True
            self.splitter.setOrientation(orientation)
            side = event.size().width() if wide else event.size().height()
            self.splitter.setSizes([side - side * 3 // 10, side * 3 // 10])

    def _key(self, key: int) -> bool:
        return not self.loading and self.timeline.handle_key(key)

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if not self._key(event.key()):
            super().keyPressEvent(event)

    def close_sources(self) -> None:
        """Release the frames and outputs (the dock was closed); a pending load is dropped.
        ``refresh`` reads them again."""
        self.loader.cancel()
        self._finish_loading()
        self.timeline.set_playing(False)
        # Drop the outputs too: a clip decoded from the disk cache may be the only copy.
        self.a.apply(None)
        self.b.apply(None)

    def shutdown(self) -> None:
        """Release the frames and wait for the loader's workers (the editor is closing)."""
        self.close_sources()
        self.loader.shutdown(wait=True)


class ViewerDock(QDockWidget):
    """The editor's viewer: follows the selection, pins, compares, refreshes after a run."""

    def __init__(self, output_source: OutputSource, parent: QWidget | None = None, **options: Any):
        super().__init__("Viewer", parent)
        self.setObjectName("ViewerDock")
        self.panel = ViewerPanel(output_source, **options)
        self.setWidget(self.panel)
        self._released = False

    def show_node(self, node_id: str | None) -> None:
        self.panel.show_node(node_id)

    def refresh(self) -> None:
        self.panel.refresh()

    def compare(self, a_node_id: str, b_node_id: str) -> None:
        self.panel.compare(a_node_id, b_node_id)

    def shutdown(self) -> None:
        self.panel.shutdown()

    def closeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        self.panel.close_sources()
        self._released = True
        super().closeEvent(event)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self._released:  # reopened: read again what closing let go
            self._released = False
            self.panel.refresh()
