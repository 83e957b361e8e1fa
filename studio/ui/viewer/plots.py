"""Stabilize's plots: raw vs smoothed camera path, brightness before/after, and a playhead.

One plot at a time, in tabs, so each gets the pane's full height and its own readable axes
(five stacked plots were ~60 px each at the default window size: flat lines, labels on top of
each other). The playhead is shared: moving it on any plot seeks the timeline.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtWidgets import QTabWidget, QVBoxLayout, QWidget

from studio.graph.types import CameraPath
from studio.ui.viewer import theme

pg.setConfigOptions(imageAxisOrder="row-major", antialias=True)

RAW_PEN = pg.mkPen("#8b8f97", width=1)
SMOOTH_PEN = pg.mkPen(theme.ACCENT, width=2)
AFTER_PEN = pg.mkPen("#51cf66", width=2)
CUT_PEN = pg.mkPen(theme.WARN, width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
CHANNELS = (("x (px)", 0), ("y (px)", 1), ("rotation (°)", 2), ("zoom", 3))
TABS = {
    "x (px)": "X",
    "y (px)": "Y",
    "rotation (°)": "Rotate",
    "zoom": "Zoom",
    "brightness": "Luma",
}
MIN_PLOT_HEIGHT = 140


class PathPlots(QWidget):
    """Five plots in tabs sharing one frame axis; dragging a playhead line seeks the timeline."""

    seek_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.setMinimumHeight(MIN_PLOT_HEIGHT + 30)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 6)
        layout.addWidget(self.tabs)
        self.plots: dict[str, pg.PlotItem] = {}
        self.widgets: dict[str, pg.PlotWidget] = {}
        self.playheads: list[pg.InfiniteLine] = []
        self._cut_lines: list[tuple[pg.PlotItem, pg.InfiniteLine]] = []
        names = [name for name, _ in CHANNELS] + ["brightness"]
        for name in names:
            widget = pg.PlotWidget(background=theme.BACKGROUND)
            widget.setMinimumHeight(MIN_PLOT_HEIGHT)
            plot = widget.getPlotItem()
            plot.setLabel("left", name, color=theme.MUTED)
            plot.setLabel("bottom", "frame", color=theme.MUTED)
            plot.showGrid(x=True, y=True, alpha=0.15)
            plot.setMenuEnabled(False)
            plot.getAxis("left").setWidth(56)
            plot.getAxis("left").enableAutoSIPrefix(False)  # "(x0.001)" crowds the labels
            plot.setMouseEnabled(x=True, y=False)
            self.tabs.addTab(widget, TABS.get(name, name.capitalize()))
            self.widgets[name] = widget
            line = pg.InfiniteLine(0, angle=90, movable=True, pen=pg.mkPen(theme.ACCENT, width=1))
            line.sigPositionChanged.connect(self._line_moved)
            plot.addItem(line)
            self.playheads.append(line)
            self.plots[name] = plot
        for name in names:
            self.plots[name].addLegend(offset=(-6, 4), labelTextColor=theme.TEXT)
        self._curves: dict[str, list[pg.PlotDataItem]] = {name: [] for name in names}
        self.playhead = 0

    def set_path(self, path: CameraPath | None) -> None:
        """Plot ``path`` (None clears). Missing luma curves leave the brightness plot empty."""
        for plot_name, curves in self._curves.items():
            for curve in curves:
                self.plots[plot_name].removeItem(curve)
            curves.clear()
        for plot, line in self._cut_lines:
            plot.removeItem(line)
        self._cut_lines.clear()
        for plot in self.plots.values():
            legend = plot.legend
            if legend is not None:
                legend.clear()
        if path is None:
            return
        raw, smooth = np.asarray(path.raw, float), np.asarray(path.smoothed, float)
        frames = np.arange(len(raw))
        for name, column in CHANNELS:
            plot = self.plots[name]
            self._curves[name] += [
                plot.plot(frames, raw[:, column], pen=RAW_PEN, name="raw"),
                plot.plot(frames, smooth[:, column], pen=SMOOTH_PEN, name="smoothed"),
            ]
        bright = self.plots["brightness"]
        if path.luma_before is not None:
            self._curves["brightness"].append(
                bright.plot(
                    frames[: len(path.luma_before)],
                    np.asarray(path.luma_before),
                    pen=RAW_PEN,
                    name="before",
                )
            )
        if path.luma_after is not None:
            self._curves["brightness"].append(
                bright.plot(
                    frames[: len(path.luma_after)],
                    np.asarray(path.luma_after),
                    pen=AFTER_PEN,
                    name="after deflicker",
                )
            )
        for cut in path.cuts:
            for plot in self.plots.values():
                line = pg.InfiniteLine(cut, angle=90, movable=False, pen=CUT_PEN)
                plot.addItem(line)
                self._cut_lines.append((plot, line))
        for plot in self.plots.values():
            plot.enableAutoRange()
            plot.setXRange(0, max(1, len(raw) - 1), padding=0.01)

    def set_playhead(self, frame: int) -> None:
        self.playhead = frame
        for line in self.playheads:
            line.blockSignals(True)
            line.setValue(frame)
            line.blockSignals(False)

    def _line_moved(self, line: pg.InfiniteLine) -> None:
        frame = int(round(line.value()))
        if frame != self.playhead:
            self.set_playhead(frame)
            self.seek_requested.emit(frame)
