"""The editor's panels, arranged viewer-first, with named workspace presets.

The viewer and the node graph share the window's centre in a splitter (the centre takes the
window's slack, so side panels never squeeze the picture as their text grows); the inspector,
the run log and other panels are docks at the side, tabbed together. "Compose" (the default):
a large viewer on top, the graph below. "Review": the viewer takes nearly all the height.
"Paint": the graph beside the viewer, and a wider inspector for brush settings.
"""

from __future__ import annotations

from enum import StrEnum

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMainWindow, QSplitter, QWidget

Area = Qt.DockWidgetArea
Horizontal, Vertical = Qt.Orientation.Horizontal, Qt.Orientation.Vertical


class Preset(StrEnum):
    COMPOSE = "Compose"
    REVIEW = "Review"
    PAINT = "Paint"


class Workspace:
    """Owns the centre splitter and the side docks of ``window``; lays them out by preset."""

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
        # In the centre, not docked: it cannot float or close away (presets bring it back).
        viewer.setFeatures(QDockWidget.DockWidgetFeature.NoDockWidgetFeatures)
        self.graph = graph
        self.centre = QSplitter(Vertical)
        self.centre.setObjectName("centre")
        self.centre.setChildrenCollapsible(False)
        self.centre.addWidget(viewer)
        self.centre.addWidget(graph)
        window.setCentralWidget(self.centre)
        self.inspector = self._dock("Inspector", inspector, "inspector")
        self.run = self._dock("Run", run, "run")
        self.extra: list[QDockWidget] = []  # docks added later (the queue): tabbed with Run
        self.preset = Preset.COMPOSE

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self.window)
        dock.setObjectName(name)
        dock.setWidget(widget)
        return dock

    def docks(self) -> list[QDockWidget]:
        """The side docks this workspace places (other panels may tab onto them)."""
        return [self.inspector, self.run]

    def apply(self, preset: Preset | str = Preset.COMPOSE) -> None:
        """Arrange the panels as ``preset`` wants, sized for the window's current size."""
        preset = Preset(preset)
        self.preset = preset
        w = self.window
        width, height = max(w.width(), 800), max(w.height(), 600)
        for dock in self.docks() + self.extra:
            w.removeDockWidget(dock)
        w.addDockWidget(Area.RightDockWidgetArea, self.inspector)
        w.tabifyDockWidget(self.inspector, self.run)
        for dock in self.extra:
            w.tabifyDockWidget(self.run, dock)
        for dock in self.docks() + self.extra:
            dock.show()
        self.viewer.show()
        self.graph.show()
        side = min(460 if preset is Preset.PAINT else 420, int(width * 0.28))
        w.resizeDocks([self.inspector], [side], Horizontal)
        centre = width - side
        if preset is Preset.PAINT:
            self.centre.setOrientation(Horizontal)
            self.centre.insertWidget(0, self.graph)  # the graph at the left, then the viewer
            self.centre.setSizes([int(centre * 0.36), centre - int(centre * 0.36)])
        else:
            self.centre.setOrientation(Vertical)
            self.centre.insertWidget(0, self.viewer)
            share = 0.84 if preset is Preset.REVIEW else 0.66
            self.centre.setSizes([int(height * share), int(height * (1 - share))])
        self.inspector.raise_()
