"""Workflow files for the editor window: new, open (also from a rendered video), save, recent
files, templates, the dirty marker and the prompt before unsaved work is dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QFileDialog, QMessageBox

from studio.graph import fileformat
from studio.graph.graph import Graph
from studio.ui.files import discard_recovery

FILE_FILTER = "Studio workflows (*.json);;All files (*)"
VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "workflows"


class WorkflowFiles:
    """Mixed into MainWindow, which provides graph, path, registry, undo, recent, inspector,
    run_panel, recent_menu, templates_menu and set_graph."""

    graph: Graph
    path: Path | None
    registry: Any
    undo: Any
    recent: Any
    inspector: Any
    run_panel: Any
    recent_menu: Any
    templates_menu: Any

    def is_dirty(self) -> bool:
        return not self.undo.is_clean()

    def _update_title(self) -> None:
        name = self.path.name if self.path else "Untitled"
        self.setWindowTitle(f"{name}[*] — Studio")
        self.setWindowModified(self.is_dirty())

    def open_text(self, text: str, source: str, path: Path | None = None) -> bool:
        """Open a workflow document; a broken one is explained and nothing is lost."""
        try:
            loaded = fileformat.loads(text, self.registry, source=source)
        except fileformat.WorkflowFileError as exc:
            QMessageBox.critical(self, "Cannot open workflow", str(exc))
            return False
        self.set_graph(loaded.graph, path)
        self._report_warnings(loaded.warnings, source)
        return True

    def open_path(self, path: str | Path) -> bool:
        path = Path(path)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            return self.open_video(path)
        try:
            loaded = fileformat.load(path, self.registry)
        except fileformat.WorkflowFileError as exc:
            QMessageBox.critical(self, "Cannot open workflow", str(exc))
            return False
        self.set_graph(loaded.graph, path)
        self.recent.add(path)
        self._report_warnings(loaded.warnings, path.name)
        return True

    def open_video(self, path: Path) -> bool:
        """Reopen the workflow that Studio embedded in a video it rendered."""
        try:
            from nodes.io import read_embedded_workflow

            text = read_embedded_workflow(path)
        except (ImportError, OSError, ValueError) as exc:
            text, reason = None, str(exc)
        else:
            reason = "it has no Studio workflow embedded"
        if not text:
            QMessageBox.critical(
                self, "Cannot open workflow", f"Cannot reopen {path.name}: {reason}."
            )
            return False
        return self.open_text(text, path.name, None)

    def _report_warnings(self, warnings: list[str], source: str) -> None:
        placeholders = [n for n in self.graph.nodes if n.is_placeholder]
        for text in warnings:
            self.run_panel.add_log(f"{source}: {text}", error=True)
        if warnings:
            self.statusBar().showMessage(
                f"Opened {source} with {len(warnings)} warning(s): {warnings[0]}", 15000
            )
        else:
            self.statusBar().showMessage(f"Opened {source}", 5000)
        if placeholders:
            self.run_panel.add_log(
                f"{len(placeholders)} node(s) of unknown type are shown in red; they are saved "
                "back unchanged.",
                error=True,
            )

    def maybe_save(self) -> bool:
        """Ask before unsaved work is dropped; False means the artist cancelled."""
        if not self.is_dirty():
            return True
        answer = QMessageBox.question(
            self,
            "Unsaved changes",
            f"Save the changes to {self.path.name if self.path else 'this workflow'}?",
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    def new(self) -> None:
        if self.maybe_save():
            self.set_graph(Graph(self.registry), None)

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self,
            "Open workflow",
            str(self._folder()),
            FILE_FILTER + ";;Rendered videos (*.mp4 *.mov)",
        )
        if path:
            self.open_path(path)

    def _folder(self) -> Path:
        return self.path.parent if self.path else Path.cwd()

    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self, "Save workflow as", str(self._folder() / "workflow.json"), FILE_FILTER
        )
        return bool(path) and self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        self.inspector.commit_pending()
        try:
            fileformat.save(self.graph, path)
        except OSError as exc:
            QMessageBox.critical(self, "Cannot save", f"Could not write {path}: {exc}")
            return False
        self.path = path
        self.undo.set_clean()
        self.recent.add(path)
        discard_recovery()
        self._update_title()
        self.statusBar().showMessage(f"Saved {path.name}", 5000)
        return True

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.recent.paths():
            self.recent_menu.addAction(
                path, lambda _checked=False, p=path: self.maybe_save() and self.open_path(p)
            )
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none)").setEnabled(False)

    def _fill_templates(self) -> None:
        self.templates_menu.clear()
        for path in sorted(TEMPLATES.glob("*.json")):
            self.templates_menu.addAction(
                path.stem.replace("_", " ").capitalize(),
                lambda _checked=False, p=path: self.open_template(p),
            )
        if self.templates_menu.isEmpty():
            self.templates_menu.addAction("(none)").setEnabled(False)

    def open_template(self, path: Path) -> bool:
        # A template opens as a new, untitled workflow: saving never overwrites it.
        return self.maybe_save() and self.open_text(path.read_text(encoding="utf-8"), path.name)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802
        if any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths and self.maybe_save():
            self.open_path(paths[0])
            event.acceptProposedAction()
