"""Workflow files for the editor window: new, open (also from a rendered video), save, recent
files, templates, the title's dirty marker and the prompt before unsaved work is dropped.

A small component with typed collaborators (the session does the work; this adds dialogs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QMainWindow, QMenu, QMessageBox

from studio.graph import fileformat
from studio.session import Session
from studio.session.files import RecentFiles, discard_recovery

FILE_FILTER = "Studio workflows (*.json);;All files (*)"
TEMPLATES = Path(__file__).resolve().parents[2] / "resources" / "workflows"

Log = Callable[[str, bool], None]  # (text, is an error)


class WorkflowFiles:
    """File commands of ``window``. ``commit`` flushes edits still in a field before saving or
    rendering; ``log`` writes to the run log; messages go to the window's status bar."""

    def __init__(
        self,
        window: QMainWindow,
        session: Session,
        recent: RecentFiles,
        commit: Callable[[], None],
        log: Log,
    ) -> None:
        self.window = window
        self.session = session
        self.recent = recent
        self.commit = commit
        self.log = log

    def _say(self, text: str, ms: int = 5000) -> None:
        self.window.statusBar().showMessage(text, ms)

    def update_title(self) -> None:
        path = self.session.path
        self.window.setWindowTitle(f"{path.name if path else 'Untitled'}[*] — Studio")
        self.window.setWindowModified(self.session.dirty)

    # -- opening ------------------------------------------------------------------------------

    def open_text(self, text: str, source: str, path: Path | None = None) -> bool:
        """Open a workflow document; a broken one is explained and nothing is lost."""
        try:
            warnings = self.session.open_text(text, source, path)
        except fileformat.WorkflowFileError as exc:
            QMessageBox.critical(self.window, "Cannot open workflow", str(exc))
            return False
        self._report_warnings(warnings, source)
        return True

    def open_path(self, path: str | Path) -> bool:
        path = Path(path)
        try:
            warnings = self.session.open(path)
        except fileformat.WorkflowFileError as exc:
            QMessageBox.critical(self.window, "Cannot open workflow", str(exc))
            return False
        if self.session.path is not None:  # a video's workflow opens untitled
            self.recent.add(path)
        self._report_warnings(warnings, path.name)
        return True

    def _report_warnings(self, warnings: list[str], source: str) -> None:
        placeholders = [n for n in self.session.graph.nodes if n.is_placeholder]
        for text in warnings:
            self.log(f"{source}: {text}", True)
        if warnings:
            self._say(f"Opened {source} with {len(warnings)} warning(s): {warnings[0]}", 15000)
        else:
            self._say(f"Opened {source}")
        if placeholders:
            self.log(
                f"{len(placeholders)} node(s) of unknown type are shown in red; they are saved "
                "back unchanged.",
                True,
            )

    def maybe_save(self) -> bool:
        """Ask before unsaved work is dropped; False means the artist cancelled."""
        if not self.session.dirty:
            return True
        path = self.session.path
        answer = QMessageBox.question(
            self.window,
            "Unsaved changes",
            f"Save the changes to {path.name if path else 'this workflow'}?",
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
            self.session.new()

    def open_dialog(self) -> None:
        if not self.maybe_save():
            return
        path, _ = QFileDialog.getOpenFileName(
            self.window,
            "Open workflow",
            str(self._folder()),
            FILE_FILTER + ";;Rendered videos (*.mp4 *.mov)",
        )
        if path:
            self.open_path(path)

    def _folder(self) -> Path:
        return self.session.path.parent if self.session.path else Path.cwd()

    # -- saving -------------------------------------------------------------------------------

    def save(self) -> bool:
        if self.session.path is None:
            return self.save_as()
        return self.save_to(self.session.path)

    def save_as(self) -> bool:
        path, _ = QFileDialog.getSaveFileName(
            self.window, "Save workflow as", str(self._folder() / "workflow.json"), FILE_FILTER
        )
        return bool(path) and self.save_to(Path(path))

    def save_to(self, path: Path) -> bool:
        self.commit()
        try:
            self.session.save(path)
        except OSError as exc:
            QMessageBox.critical(self.window, "Cannot save", f"Could not write {path}: {exc}")
            return False
        self.recent.add(path)
        discard_recovery()
        self.update_title()
        self._say(f"Saved {path.name}")
        return True

    # -- menus --------------------------------------------------------------------------------

    def fill_recent(self, menu: QMenu) -> None:
        menu.clear()
        for path in self.recent.paths():
            menu.addAction(
                path, lambda _checked=False, p=path: self.maybe_save() and self.open_path(p)
            )
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    def fill_templates(self, menu: QMenu) -> None:
        menu.clear()
        for path in sorted(TEMPLATES.glob("*.json")):
            menu.addAction(
                path.stem.replace("_", " ").capitalize(),
                lambda _checked=False, p=path: self.open_template(p),
            )
        if menu.isEmpty():
            menu.addAction("(none)").setEnabled(False)

    def open_template(self, path: Path) -> bool:
        # A template opens as a new, untitled workflow: saving never overwrites it.
        return self.maybe_save() and self.open_text(path.read_text(encoding="utf-8"), path.name)

    def drop(self, paths: list[Path]) -> bool:
        """Files dropped on the window: open the first (a workflow, or a rendered video)."""
        return bool(paths) and self.maybe_save() and self.open_path(paths[0])
