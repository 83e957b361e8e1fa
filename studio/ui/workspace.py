"""The editor's panels as docks, arranged viewer-first, with named workspace presets.

Every panel is a dock (the window has no central widget), so a preset can put any of them
anywhere. "Compose" (the default): a large viewer on top, the node graph below, the inspector
at the right with the run log as a tab beside it. "Review": the viewer takes the window, the
graph shrinks to a strip. "Paint": the viewer and a wide inspector side by side, the graph
beside them.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QWidget

Area = Qt.DockWidgetArea
Horizontal, Vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical


class Preset(StrEnum):
    COMPOSE = "Compose"
    REVIEW = "Review"
    PAINT = "Paint"


class Workspace:
    """Owns the docks of ``window`` and lays them out by preset."""

    def __init__(
        self,
        window: QMainWindow,
        graph: QWidget,
        inspector: QWidget,
        run: QWidget,
        viewer: QDockWidget,
    ) -> None:
        self.window = window
        self.viewer = viewer
        viewer.setObjectName("viewer")
        viewer.setWindowTitle("Viewer")
        self.graph = self._dock("Node Graph", graph, "graph")
        self.inspector = self._dock("Inspector", inspector, "inspector")
        self.run = self._dock("Run", run, "run")
        self.extra: list[QDockWidget] = []  # docks added later (the queue): tabbed with Run
        window.setDockNestingEnabled(True)
        window.setCorner(Qt.Corner.TopRightCorner, Area.RightDockWidgetArea)
        window.setCorner(Qt.Corner.BottomRightCorner, Area.RightDockWidgetArea)
        self.preset = Preset.COMPOSE

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        return dock

    def docks(self) -> list[QDockWidget]:
        return [self.viewer, self.graph, self.inspector, self.run]

    def apply(self, preset: Preset | str = Preset.COMPOSE) -> None:
        """Put every dock where ``preset`` wants it, sized for the window's current size."""
        preset = Preset(preset)
        self.preset = preset
        w = self.window
        for dock in self.docks() + self.extra:
            w.removeDockWidget(dock)
        width, height = max(w.width(), 800), max(w.height(), 600)
        if preset is Preset.PAINT:
            w.addDockWidget(Area.LeftDockWidgetArea, self.graph)
            w.addDockWidget(Area.RightDockWidgetArea, self.viewer)
            w.splitDockWidget(self.viewer, self.inspector, Horizontal)
            w.tabifyDockWidget(self.inspector, self.run)
            for dock in self.extra:
                w.tabifyDockWidget(self.run, dock)
            self._show_all()
            w.resizeDocks(
                [self.graph, self.viewer, self.inspector],
                [int(width * 0.22), int(width * 0.5), int(width * 0.28)],
                Horizontal,
            )
        else:
            w.addDockWidget(Area.TopDockWidgetArea, self.viewer)
            w.addDockWidget(Area.BottomDockWidgetArea, self.graph)
            w.addDockWidget(Area.RightDockWidgetArea, self.inspector)
            w.tabifyDockWidget(self.inspector, self.run)
            for dock in self.extra:
                w.tabifyDockWidget(self.run, dock)
            self._show_all()
            viewer_share = 0.82 if preset is Preset.REVIEW else 0.66
            w.resizeDocks(
                [self.viewer, self.graph],
                [int(height * viewer_share), int(height * (1 - viewer_share))],
                Vertical,
            )
            side = min(420, int(width * 0.26))
            w.resizeDocks([self.viewer, self.inspector], [width - side, side], Horizontal)
        self.inspector.raise_()

    def _show_all(self) -> None:
        for dock in self.docks() + self.extra:
            dock.show()
