"""Draft/Final in the editor: the toolbar toggle and its key, the DRAFT badge in the viewer, and
live feedback while the artist drags in Draft.

The state is the session's (:attr:`Session.draft`); this only observes it. Live feedback: any
edit upstream of the node in the viewer (a slider drag in the inspector, a brush handle in the
painter -- both edit the graph through the session's history) asks the engine's
:class:`~studio.engine.live.LiveRenderer` for that node, once per event-loop turn (a burst of
edits is one request, the latest wins). The frame under the playhead goes on screen as soon as
a pass brings it -- first a pass with the sources cut to that frame where every node on the
way works frame by frame, then the whole branch -- and the viewer then reloads the clip.
Live runs wait while a final render runs (``hold``), write no files and never enter the queue.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal

from studio.engine.live import LivePass, LiveRefused, LiveRenderer, LiveResult, playhead_graph
from studio.graph.draft import DRAFT_SUFFIX, DraftSettings, draft_graph
from studio.graph.graph import GraphEvent, GraphEventKind
from studio.graph.types import Video
from studio.queue.worker import QueueEventKind
from studio.session import SessionEvent, SessionEventKind
from studio.takes.db import parse_take_name
from studio.ui.actions import make_action
from studio.ui.bridge import GraphBridge, SessionBridge
from studio.ui.takes_integration import TAKE_PREFIX
from studio.ui.viewer.loading import showable

if TYPE_CHECKING:
    from pathlib import Path

    from studio.ui.main_window import MainWindow

DRAFT_KEY = "Ctrl+Shift+D"
DRAFT_BADGE = "DRAFT"
LIVE_BADGE = "DRAFT · LIVE"
SETTLE_MS = 250
_EDITS = {GraphEventKind.NODE_CHANGED, GraphEventKind.EDGE_ADDED, GraphEventKind.EDGE_REMOVED}


def take_is_draft(path: Path | str) -> bool:
    """A take file of a draft shot (``<shot>_draft_v003.mp4``)."""
    from pathlib import Path

    shot, _number = parse_take_name(Path(path).stem)
    return shot.endswith(DRAFT_SUFFIX)


def frame_at(outputs: dict[str, Any], port: str | None, index: int) -> np.ndarray | None:
    """The picture the viewer would show of ``outputs`` at frame ``index``, as RGB uint8."""
    ports = showable(outputs)
    if not ports:
        return None
    value = outputs[port if port in ports else ports[0]]
    if isinstance(value, Video):
        if not len(value):
            return None
        return np.asarray(value.frames[max(0, min(index, len(value) - 1))])
    if value.ndim == 2:
        grey = (np.clip(value, 0, 1) * 255).astype(np.uint8)
        return np.repeat(grey[..., None], 3, 2)
    return np.asarray(value)


class DraftControls(QObject):
    """The Draft toggle and live feedback of one window (see the module doc)."""

    live_shown = Signal(int, str)  # serial, pass: a live frame is on screen
    live_refused = Signal(str)
    _result = Signal(object)

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self.window = window
        self.session = window.session
        self.settings = DraftSettings()  # what Draft uses when switched on
        self.action = make_action(
            window,
            "&Draft",
            self._toggled,
            DRAFT_KEY,
            tip="Render a cheaper draft (half size, fewer frames and steps) and re-render "
            "the viewed node live while you drag; off: the final quality",
        )
        self.action.setCheckable(True)
        self.action.setObjectName("DraftAction")
        window.toolbar.insertAction(window.act_run, self.action)
        run_menu = next(
            m.menu() for m in window.menuBar().actions() if m.text().replace("&", "") == "Run"
        )
        run_menu.addSeparator()
        run_menu.addAction(self.action)
        self._live: LiveRenderer | None = None
        self.serial = 0  # the latest live request; older results are dropped
        self.requested_at: dict[int, float] = {}  # serial -> perf_counter (benchmarks)
        self._told: str = ""
        self._kick = QTimer(self)
        self._kick.setSingleShot(True)
        self._kick.setInterval(0)  # once per event-loop turn: a burst of edits, one request
        self._kick.timeout.connect(self.request_live)
        self._result.connect(self._on_result, Qt.ConnectionType.QueuedConnection)
        # While the artist drags, only the playhead frame changes (cheap); the clip, its plots
        # and the badges reload when the drag pauses this long.
        self._settle = QTimer(self)
        self._settle.setSingleShot(True)
        self._settle.setInterval(SETTLE_MS)
        self._settle.timeout.connect(self._settled)
        window.viewer.panel.badge_of = self.badge_of
        self._session_bridge = SessionBridge(self.session, self)
        self._session_bridge.event.connect(self._on_session_event)
        self._graph_bridge = GraphBridge(self.session.graph, self)
        self._graph_bridge.event.connect(self._on_graph_event)
        # Live runs yield to final renders: Run's, and the queue's background jobs.
        self._holds: set[str] = set()  # "run", and the ids of queue jobs rendering now
        window.controller.running_changed.connect(lambda on: self._hold("run", on))
        if window.queue.panel is not None:
            window.queue.panel.job_event.connect(self._queue_event)

    # -- Draft / Final ------------------------------------------------------------------------

    @property
    def on(self) -> bool:
        return self.session.draft is not None

    def set_draft(self, on: bool) -> None:
        self.session.set_draft(self.settings if on else None)

    def _toggled(self) -> None:
        self.set_draft(self.action.isChecked())

    def badge_of(self, node_id: str) -> str:
        """DRAFT where the picture shown for ``node_id`` is a draft: a draft take, or a node
        whose draft differs from its final (its own draft, or one upstream). A node the
        draft leaves alone shows its final picture, unbadged, in Draft too."""
        if node_id.startswith(TAKE_PREFIX):
            return DRAFT_BADGE if take_is_draft(node_id.removeprefix(TAKE_PREFIX)) else ""
        return DRAFT_BADGE if node_id in self.drafted() else ""

    def drafted(self) -> set[str]:
        """The nodes whose result differs in Draft (none in Final)."""
        draft = self.session.draft
        if draft is None:
            return set()
        graph = self.session.graph
        _copy, report = draft_graph(graph, draft)
        return graph.downstream(report.changes)

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.kind is SessionEventKind.DRAFT_CHANGED:
            self.action.setChecked(self.on)
            if not self.on and self._live is not None:
                self._live.cancel()
            self.window.say("Draft: cheaper renders, live while you drag" if self.on else "Final")
            self.window.viewer.refresh()  # the other mode's results (or "not rendered yet")
            self.window.queries.request_states()
        elif event.kind is SessionEventKind.GRAPH_REPLACED:
            self._graph_bridge.close()
            self._graph_bridge = GraphBridge(self.session.graph, self)
            self._graph_bridge.event.connect(self._on_graph_event)

    # -- live feedback ------------------------------------------------------------------------

    @property
    def live(self) -> LiveRenderer:
        if self._live is None:
            self._live = LiveRenderer(self.window.controller.engine, on_result=self._result.emit)
            if self.window.controller.running:
                self._holds.add("run")
            if self._holds:
                self._live.hold()
        return self._live

    def _on_graph_event(self, event: GraphEvent) -> None:
        if not self.on or event.kind not in _EDITS:
            return
        if event.kind is GraphEventKind.NODE_CHANGED and event.field not in ("params", "bypass"):
            return
        target, graph = self.window.viewer.panel.shown_node, self.session.graph
        edited = event.edge.dst_node if event.edge is not None else event.node_id
        if target is None or target not in graph or edited not in graph.upstream([target]):
            return  # the picture on screen does not depend on this edit
        self._kick.start()

    def request_live(self) -> int | None:
        """Ask for the viewed node in draft now; returns the request's serial, or None."""
        target = self.window.viewer.panel.shown_node
        graph = self.session.graph
        if not self.on or target is None or target not in graph:
            return None
        snapshot = self.session.render_snapshot()
        frame = self.window.viewer.panel.timeline.frame
        try:
            serial = self.live.request(
                snapshot,
                target,
                first=playhead_graph(snapshot, target, frame),
                output_dir=self.session.output_dir,
                frame=frame,
            )
        except LiveRefused as refused:
            if str(refused) != self._told:  # once per reason, not once per drag step
                self._told = str(refused)
                self.window.say(str(refused), 8000)
                self.live_refused.emit(str(refused))
            return None
        self.serial = serial
        self.requested_at[serial] = time.perf_counter()
        self.requested_at.pop(serial - 1000, None)  # a long session keeps only the recent
        return serial

    def _on_result(self, result: LiveResult) -> None:
        if result.serial != self.serial or result.outputs is None or not self.on:
            return  # superseded, failed or cancelled (a failed one shows on the next Run)
        panel = self.window.viewer.panel
        if panel.shown_node != result.target:
            return
        index = panel.timeline.frame if result.live_pass is LivePass.FULL else 0
        frame = frame_at(result.outputs, panel.a.port, index)
        if frame is not None:
            panel.show_live(frame, LIVE_BADGE if result.target in self.drafted() else "LIVE")
            self.live_shown.emit(result.serial, str(result.live_pass))
        if result.live_pass is LivePass.FULL:
            self._settle.start()  # the whole clip once the drag pauses

    def _settled(self) -> None:
        if self.on:
            self.window.viewer.panel.refresh()  # from the cache the live run filled
            self.window.queries.request_states()

    def _queue_event(self, event: Any) -> None:
        if event.kind is QueueEventKind.JOB_STARTED:
            self._hold(f"queue:{event.job_id}", True)
        elif event.kind in (QueueEventKind.JOB_FINISHED, QueueEventKind.JOB_REQUEUED):
            self._hold(f"queue:{event.job_id}", False)

    def _hold(self, reason: str, on: bool) -> None:
        """Hold live runs while any final render (``reason``) runs; release after the last."""
        before = bool(self._holds)
        (self._holds.add if on else self._holds.discard)(reason)
        if self._live is None or before == bool(self._holds):
            return
        if self._holds:
            self._live.hold()  # a final render has the device
        else:
            self._live.release()

    def shutdown(self) -> None:
        self._kick.stop()
        self._settle.stop()
        self._session_bridge.close()
        self._graph_bridge.close()
        if self._live is not None:
            self._live.close()
