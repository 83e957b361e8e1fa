"""The Takes dock in the editor window: the panel, restoring a take's settings as one undo step,
and two takes compared in the viewer's A/B wipe.

The viewer shows nodes by id; a take is shown under the id ``take:<path of its mp4 or PNG>``,
which :func:`take_output` reads from the file (the window's output source asks it first).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtWidgets import QDockWidget

from studio.session import SessionEvent, SessionEventKind
from studio.takes import Take, TakesError
from studio.takes.restore import settings_commands
from studio.ui.takes_panel import TakesPanel

if TYPE_CHECKING:
    from studio.ui.main_window import MainWindow

TAKE_PREFIX = "take:"


def take_id(take: Take) -> str:
    return TAKE_PREFIX + str(take.paths()[0])


def take_output(node_id: str) -> dict[str, Any] | None:
    """The outputs the viewer shows for a ``take:`` id: the take's clip or picture."""
    from studio.graph.types import Video
    from studio.takes.media import read_take

    try:
        picture = read_take(Path(node_id.removeprefix(TAKE_PREFIX)))
    except Exception:  # a deleted or damaged take: the viewer says "nothing to show"
        return None
    return {"video": picture} if isinstance(picture, Video) else {"image": picture}


def take_title(node_id: str) -> str:
    return Path(node_id.removeprefix(TAKE_PREFIX)).stem


class TakesIntegration:
    """Owns the window's Takes dock."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.panel = TakesPanel(lambda: window.session.output_dir, window)
        self.dock = QDockWidget("Takes", window)
        self.dock.setObjectName("takes")
        self.dock.setWidget(self.panel)
        self.panel.restore_requested.connect(self.restore)
        self.panel.compare_requested.connect(self.compare)
        self.panel.status_message.connect(lambda text: window.say(text, 8000))
        self._unsubscribe = window.session.subscribe(self._session_event)
        window.workspace.extra.append(self.dock)
        window.workspace.apply(window.workspace.preset)
        view = next(
            m.menu() for m in window.menuBar().actions() if m.text().replace("&", "") == "View"
        )
        view.addAction(self.dock.toggleViewAction())

    def _session_event(self, event: SessionEvent) -> None:
        run = event.run_event
        finished = run is not None and str(run.kind) == "run_finished"
        if event.kind is SessionEventKind.FILE_CHANGED or finished:
            self.panel.refresh()  # a new take, or another output folder

    def restore(self, take: Take) -> None:
        """Set the graph's params to the take's, as one undo step."""
        session = self.window.session
        try:
            macro, missing = settings_commands(session.graph, take, session.registry)
        except TakesError as error:
            self.window.say(str(error), 10000)
            return
        if macro is None:
            said = f"The graph already has the settings of {take.name}"
        else:
            session.push(macro)
            said = f"Restored the settings of {take.name} (Undo puts them back)"
        if missing:
            said += f"; not in this graph: {', '.join(missing)}"
        self.window.say(said, 10000)

    def compare(self, a: Take, b: Take) -> None:
        """``a`` and ``b`` in the viewer's A/B wipe, frame-locked on one timeline."""
        self.window.viewer.raise_()
        self.window.viewer.panel.compare(take_id(a), take_id(b), "wipe")

    def shutdown(self) -> None:
        self._unsubscribe()
        self.panel.shutdown()
