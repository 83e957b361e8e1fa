"""The render queue in the editor window: the Queue dock, "Add to Queue", "Vary…", the contact
sheet, seeds that move on after each run, and the offer to resume after a crash.

Kept out of :mod:`studio.ui.main_window`, which only creates this and forwards three moments
(a run finished, the window shows, the window closes). Queue jobs render with their own engine
that shares the editor's cache and model manager, so the artist can queue while a render runs
and a queued job reuses whatever the editor already rendered.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDialog, QDockWidget

from studio.engine.scheduler import Engine
from studio.graph.seeds import advance_seeds
from studio.queue import JobStore, QueueError, QueueEventKind, variation_jobs
from studio.queue.contact_sheet import SheetItem
from studio.ui.actions import make_action
from studio.ui.contact_sheet import ContactSheet
from studio.ui.queue_panel import QueuePanel
from studio.ui.takes_integration import TAKE_PREFIX
from studio.ui.vary_dialog import VaryDialog

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow


class QueueIntegration:
    """Owns the window's queue parts; ``store`` None means the queue database was unusable
    (the actions then say why instead of queueing)."""

    def __init__(self, window: MainWindow, store: JobStore | None = None) -> None:
        self.window = window
        self.problem = ""
        try:
            self.store: JobStore | None = store or JobStore()
        except QueueError as exc:  # a database from a newer Studio, a damaged file
            self.store, self.problem = None, str(exc)
        self.panel: QueuePanel | None = None
        self.sheets: list[ContactSheet] = []
        self.dock = QDockWidget("Queue", window)
        self.dock.setObjectName("queue")
        if self.store is not None:
            self.panel = QueuePanel(self.store, self._engine, window)
            self.panel.sheet_requested.connect(self.show_sheet)
            self.panel.job_event.connect(self._on_job_event)
            self.dock.setWidget(self.panel)
        window.workspace.extra.append(self.dock)
        window.workspace.apply(window.workspace.preset)  # lays the new dock out with the rest
        a = make_action
        self.act_queue = a(
            window,
            "Add to &Queue",
            self.add_to_queue,
            "Ctrl+Alt+Return",
            tip="Queue a snapshot of the workflow as it is now; keep editing while it renders",
        )
        self.act_vary = a(
            window,
            "&Vary…",
            self.vary,
            tip="Queue one render per value of a parameter of the selected node (seed first)",
        )
        self.act_sheet = a(
            window,
            "Contact &Sheet",
            self.latest_sheet,
            tip="The latest batch of variants side by side",
        )
        menu = next(
            m.menu() for m in window.menuBar().actions() if m.text().replace("&", "") == "Run"
        )
        menu.addSeparator()
        menu.addActions([self.act_queue, self.act_vary, self.act_sheet])
        view = next(
            m.menu() for m in window.menuBar().actions() if m.text().replace("&", "") == "View"
        )
        view.addAction(self.dock.toggleViewAction())

    def _on_job_event(self, event: Any) -> None:
        # A queued job fills the cache the editor reads: badges and viewer catch up.
        if event.kind is QueueEventKind.JOB_FINISHED and self.window.graph.nodes:
            self.window.queries.request_states()
            self.window.viewer.refresh()

    def _engine(self) -> Engine:
        editor = self.window.controller.engine
        return Engine(self.window.registry, editor.cache, models=editor.models)

    def _refuse(self) -> bool:
        if self.panel is None:
            self.window.say(f"The render queue is unavailable: {self.problem}", 10000)
            return True
        return False

    # -- queueing ----------------------------------------------------------------------------

    def _name(self) -> str:
        path = self.window.session.path
        return path.stem if path is not None else "untitled"

    def add_to_queue(self) -> list[Any]:
        """Queue the workflow as it is now, then move seeds on as a run would."""
        if self._refuse():
            return []
        self.window.inspector.commit_pending()
        session = self.window.session
        jobs = variation_jobs(
            session.snapshot(), [], name=self._name(), output_dir=session.output_dir
        )
        assert self.panel is not None
        self.panel.add_jobs(jobs)
        self.after_run()
        self.dock.raise_()
        self.window.say(f"Queued {jobs[0].name}")
        return jobs

    def vary(self, node_id: str | None = None) -> list[Any]:
        """Ask which param of the selected node to vary and how; queue one job per value."""
        if self._refuse():
            return []
        ids = [node_id] if node_id else self.window.scene.selected_node_ids()
        if len(ids) != 1:
            self.window.say("Select the one node whose parameter to vary")
            return []
        self.window.inspector.commit_pending()
        dialog = VaryDialog(self.window.graph, ids[0], self.window)
        if dialog.exec() != QDialog.DialogCode.Accepted or dialog.variation is None:
            return []
        return self.queue_variation(dialog.variation)

    def queue_variation(self, variation: Any) -> list[Any]:
        session = self.window.session
        jobs = variation_jobs(
            session.snapshot(), [variation], name=self._name(), output_dir=session.output_dir
        )
        assert self.panel is not None
        self.panel.add_jobs(jobs)
        self.dock.raise_()
        self.window.say(f"Queued {len(jobs)} variants of {variation.label}")
        return jobs

    def after_run(self) -> None:
        """Seeds set to increment or randomize move on: one undo step ("Next seeds")."""
        step = advance_seeds(self.window.graph)
        if step is not None:
            self.window.session.push(step)

    # -- the contact sheet -------------------------------------------------------------------

    def latest_sheet(self) -> ContactSheet | None:
        if self._refuse():
            return None
        from studio.queue.contact_sheet import batch_entries
        from studio.queue.store import JobNotFound

        assert self.store is not None
        try:
            entries = batch_entries(self.store.batch())
        except JobNotFound as exc:
            self.window.say(str(exc))
            return None
        if not entries:
            self.window.say("No variant of the latest batch has finished yet")
            return None
        return self.show_sheet(entries)

    def show_sheet(self, entries: list[Any]) -> ContactSheet:
        sheet = ContactSheet(
            self.window, title=f"Contact sheet — {self._name()}", open_item=self.open_in_viewer
        )
        sheet.setWindowFlag(Qt.WindowType.Window, True)
        sheet.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
        sheet.destroyed.connect(lambda _=None, s=sheet: self._forget(s))
        sheet.resize(1000, 620)
        sheet.load(entries)
        sheet.loaded.connect(lambda s=sheet: s.set_playing(True))
        sheet.show()
        self.sheets.append(sheet)
        return sheet

    def open_in_viewer(self, item: SheetItem) -> None:
        """A variant clicked on a contact sheet, full size in the viewer (pinned there, so
        selecting nodes does not replace it; unpin to follow the selection again)."""
        if item.path is None:
            return
        panel = self.window.viewer.panel
        panel.pin_button.blockSignals(True)  # unpinning would first reload the selection
        panel.pin_button.setChecked(False)
        panel.pin_button.blockSignals(False)
        panel.show_node(TAKE_PREFIX + str(item.path))
        panel.pin_button.setChecked(True)
        self.window.viewer.raise_()
        self.window.say(f"Viewer: {item.label}")

    def _forget(self, sheet: ContactSheet) -> None:
        if sheet in self.sheets:
            self.sheets.remove(sheet)

    # -- the window's moments ----------------------------------------------------------------

    def window_shown(self) -> None:
        if self.panel is not None:
            self.panel.offer_resume()

    def shutdown(self) -> None:
        if self.panel is not None:
            self.panel.shutdown()
        if self.store is not None:
            self.store.close()
