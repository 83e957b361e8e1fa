"""The editor's state in one Qt-free object (napari's ``ViewerModel`` pattern).

A :class:`Session` owns the graph being edited and its undo history, the file it came from
(path, dirty flag, autosave), the registry of node types, the run status of every node per
render job, and the keyframe lookup. Views subscribe and redraw from its events; none keeps a
copy of a status. The CLI and the render queue use the same object without Qt.

Threading: a session belongs to one thread (the UI thread in the editor). Feed run events to
it there -- the Qt bridge queues them across -- and take snapshots for worker threads.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.engine.events import RunEvent, RunEventKind
from studio.graph import fileformat
from studio.graph.commands import Command
from studio.graph.draft import DraftSettings, draft_graph
from studio.graph.graph import Graph, GraphError, GraphEvent, GraphEventKind
from studio.graph.registry import NodeRegistry
from studio.graph.subgraph_commands import InSubgraph, inner_graph
from studio.session.history import History
from studio.session.keyframes import OutputReader, keyframe_for
from studio.session.runs import Job, NodeStatus
from studio.session.timings import Timings
from studio.settings import cache_dir

VIDEO_SUFFIXES = (".mp4", ".mov", ".mkv", ".webm")
RENDERS_FOLDER = "renders"  # beside the saved workflow: the project folder's outputs


class SessionEventKind(StrEnum):
    GRAPH_REPLACED = "graph_replaced"  # New/Open: views rebind to ``session.graph``
    HISTORY_CHANGED = "history_changed"  # undo/redo labels and availability
    FILE_CHANGED = "file_changed"  # path or dirty flag
    STATUS_CHANGED = "status_changed"  # ``node_ids``' badges or progress
    JOB_CHANGED = "job_changed"  # a job was added, finished, or is now the one viewed
    RUN_EVENT = "run_event"  # ``run_event`` of ``job_id``, after the session took it in
    DRAFT_CHANGED = "draft_changed"  # Draft/Final switched (``session.draft``)
    SCOPE_CHANGED = "scope_changed"  # a subgraph opened or closed: views show ``view_graph``


@dataclass(frozen=True)
class SessionEvent:
    kind: SessionEventKind
    node_ids: tuple[str, ...] = ()
    job_id: str | None = None
    run_event: RunEvent | None = None


SessionListener = Callable[[SessionEvent], None]

# Graph changes that change what a node would render (a title or a position does not).
_CONTENT = {
    GraphEventKind.NODE_ADDED,
    GraphEventKind.NODE_REMOVED,
    GraphEventKind.EDGE_ADDED,
    GraphEventKind.EDGE_REMOVED,
    GraphEventKind.CLEARED,
}


class Session:
    """One workflow being edited, and everything the editor knows about it."""

    def __init__(
        self,
        registry: NodeRegistry | None = None,
        *,
        output_dir: Path | None = None,
        timings: Timings | None = None,
    ) -> None:
        if registry is None:
            from studio.session.catalog import default_registry

            registry = default_registry()
        self.registry = registry
        self.output_override = Path(output_dir) if output_dir is not None else None
        self.timings = timings if timings is not None else Timings()
        self.path: Path | None = None
        self.graph = Graph(registry)
        self.history = History(self.graph, self._history_changed)
        self.jobs: dict[str, Job] = {}
        self._viewed: str | None = None  # None: follow the latest job
        self._base: dict[str, NodeStatus] = {}  # cache truth for the current graph
        self._revisions: dict[str, int] = {}  # per node: bumped when its result would change
        self._state_token = 0  # bumped whenever a cache-state answer could be out of date
        self._listeners: list[SessionListener] = []
        self._was_dirty = False
        self._autosaved_at = -1  # the history index last written to the recovery file
        self._unsubscribe = self.graph.subscribe(self._graph_changed)
        self._draft: DraftSettings | None = None  # None: Final
        # The subgraph nodes the editor has opened, outermost first ([]: the workflow itself).
        self.scope: list[str] = []
        self._view_graph = self.graph

    # -- observers ----------------------------------------------------------------------------

    def subscribe(self, listener: SessionListener) -> Callable[[], None]:
        """Call ``listener`` with every :class:`SessionEvent`; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener)

    def _emit(self, event: SessionEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    # -- editing ------------------------------------------------------------------------------

    def push(self, command: Command, merge_key: str | None = None) -> None:
        """Apply ``command`` as one undo step; raises (recording nothing) if it is refused."""
        self.history.push(command, merge_key)

    # -- subgraphs open in the editor ---------------------------------------------------------

    @property
    def view_graph(self) -> Graph:
        """The graph the editor shows: the workflow, or the inside of the open subgraph."""
        return self._view_graph

    def push_in_view(self, command: Command, merge_key: str | None = None) -> None:
        """Push an edit of :attr:`view_graph` (wrapped to reach inside an open subgraph)."""
        self.push_at(self.scope, command, merge_key)

    def push_at(self, path: Sequence[str], command: Command, merge_key: str | None = None) -> None:
        """Push an edit of the graph inside the subgraphs ``path`` ([]: the workflow)."""
        if path:
            command = InSubgraph(list(path), command)
            merge_key = f"{'/'.join(path)}/{merge_key}" if merge_key else None
        self.history.push(command, merge_key)

    def open_subgraph(self, node_id: str) -> None:
        """Show the inside of subgraph ``node_id`` (a node of :attr:`view_graph`)."""
        node = self._view_graph.node(node_id)
        if node.subgraph is None:
            raise GraphError(f"{node.title} is not a subgraph")
        self.set_scope([*self.scope, node_id])

    def set_scope(self, path: list[str]) -> None:
        """Show the graph inside ``path`` (outermost first; [] is the workflow itself)."""
        graph = inner_graph(self.graph, path)
        if path == self.scope and graph is self._view_graph:
            return
        self.scope, self._view_graph = list(path), graph
        self._emit(SessionEvent(SessionEventKind.SCOPE_CHANGED))

    def scope_titles(self) -> list[str]:
        """The breadcrumb: the workflow's name, then each open subgraph's title."""
        titles = [self.path.stem if self.path else "Workflow"]
        graph = self.graph
        for node_id in self.scope:
            node = graph.node(node_id)
            titles.append(node.title)
            graph = node.subgraph.graph
        return titles

    def _check_scope(self) -> None:
        # An undo may remove the open subgraph (or replace its inner graph): follow it out.
        path = list(self.scope)
        while path:
            try:
                graph = inner_graph(self.graph, path)
            except GraphError:
                path.pop()
                continue
            break
        else:
            graph = self.graph
        if path != self.scope or graph is not self._view_graph:
            self.scope, self._view_graph = path, graph
            self._emit(SessionEvent(SessionEventKind.SCOPE_CHANGED))

    def undo(self) -> bool:
        return self.history.undo()

    def redo(self) -> bool:
        return self.history.redo()

    def is_clean(self) -> bool:
        return self.history.is_clean()

    def set_clean(self) -> None:
        self.history.set_clean()

    def set_unsaved(self) -> None:
        self.history.set_unsaved()

    @property
    def dirty(self) -> bool:
        return not self.history.is_clean()

    def _history_changed(self) -> None:
        self._check_scope()
        self._emit(SessionEvent(SessionEventKind.HISTORY_CHANGED))
        if self.dirty != self._was_dirty:
            self._was_dirty = self.dirty
            self._emit(SessionEvent(SessionEventKind.FILE_CHANGED))

    def snapshot(self) -> Graph:
        """A copy of the graph for a worker thread; the artist goes on editing this one."""
        return self.graph.copy()

    # -- draft / final ------------------------------------------------------------------------

    @property
    def draft(self) -> DraftSettings | None:
        """The draft settings renders use now; None in Final."""
        return self._draft

    def set_draft(self, settings: DraftSettings | None) -> None:
        """Switch Draft (``settings``) or Final (None). Results of both stay cached side by
        side, so switching never throws work away."""
        if settings == self._draft:
            return
        self._draft = settings
        self._state_token += 1  # cache-state answers were for the other mode's keys
        self._base.clear()
        self._emit(SessionEvent(SessionEventKind.DRAFT_CHANGED))
        every = tuple(n.id for n in self.graph.nodes)
        self._emit(SessionEvent(SessionEventKind.STATUS_CHANGED, every))

    def render_snapshot(self) -> Graph:
        """What a render now runs: the snapshot, drafted while in Draft."""
        snapshot = self.snapshot()
        return draft_graph(snapshot, self._draft)[0] if self._draft is not None else snapshot

    # -- files --------------------------------------------------------------------------------

    def set_graph(self, graph: Graph, path: Path | None = None) -> None:
        """Edit ``graph`` from now on (New/Open): history, statuses and jobs start over."""
        self._unsubscribe()
        self.graph, self.path = graph, path
        self.scope, self._view_graph = [], graph  # a new workflow opens at its top
        self._unsubscribe = graph.subscribe(self._graph_changed)
        self._base.clear()
        self._revisions.clear()
        self._state_token += 1
        self.jobs.clear()
        self._viewed = None
        self._autosaved_at = -1
        self.history.reset(graph)
        self._emit(SessionEvent(SessionEventKind.GRAPH_REPLACED))
        self._emit(SessionEvent(SessionEventKind.FILE_CHANGED))

    def new(self) -> None:
        self.set_graph(Graph(self.registry), None)

    def open(self, path: str | Path) -> list[str]:
        """Open a workflow file, or the workflow a rendered video carries (as untitled, so
        saving never overwrites the video). Returns warnings; raises WorkflowFileError."""
        path = Path(path)
        if path.suffix.lower() in VIDEO_SUFFIXES:
            from nodes.io import read_embedded_workflow

            text = read_embedded_workflow(path)
            if not text:
                raise fileformat.WorkflowFileError(
                    f"Cannot reopen {path.name}: it has no Studio workflow embedded."
                )
            return self.open_text(text, path.name)
        loaded = fileformat.load(path, self.registry)
        self.set_graph(loaded.graph, path)
        return loaded.warnings

    def open_text(self, text: str, source: str, path: Path | None = None) -> list[str]:
        """Open a workflow document; raises WorkflowFileError and changes nothing if broken."""
        loaded = fileformat.loads(text, self.registry, source=source)
        self.set_graph(loaded.graph, path)
        return loaded.warnings

    def save(self, path: str | Path | None = None) -> Path:
        """Write the workflow atomically (to ``path``, else where it came from); raises
        OSError, or ValueError when it has no path yet."""
        target = Path(path) if path is not None else self.path
        if target is None:
            raise ValueError("this workflow has no file yet: save it under a name")
        fileformat.save(self.graph, target)
        changed = target != self.path
        self.path = target
        self.history.set_clean()
        if changed:
            self._emit(SessionEvent(SessionEventKind.FILE_CHANGED))
        return target

    def recovery_record(self) -> dict[str, Any]:
        return {
            "workflow": fileformat.dumps(self.graph),
            "path": str(self.path or ""),
            "saved_at": time.time(),
        }

    def autosave(self, target: Path) -> bool:
        """Write unsaved work to the recovery file ``target`` when it changed since the last
        autosave; a full disk returns False (the next tick retries) and never raises."""
        if not self.dirty or self._autosaved_at == self.history.index:
            return False
        try:
            fileformat.write_text_atomic(target, json.dumps(self.recovery_record()))
        except OSError:
            return False
        self._autosaved_at = self.history.index
        return True

    @property
    def output_dir(self) -> Path:
        """Where renders go: the override (a setting, ``--out``), else a ``renders`` folder
        beside the saved workflow; an unsaved workflow renders into Studio's cache folder."""
        if self.output_override is not None:
            return self.output_override
        if self.path is not None:
            return self.path.resolve().parent / RENDERS_FOLDER
        return cache_dir() / "unsaved renders"

    # -- status -------------------------------------------------------------------------------

    def _graph_changed(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind is GraphEventKind.NODE_CHANGED and event.field not in (
            "params",
            "bypass",
            "subgraph",  # an edit inside it
            "spec",  # its exposed params or its blueprint version changed
        ):
            return
        if kind not in _CONTENT and kind is not GraphEventKind.NODE_CHANGED:
            return
        if kind is GraphEventKind.CLEARED:
            touched = set(self._base) | set(self._revisions)
        elif kind is GraphEventKind.NODE_REMOVED:
            touched = {event.node_id} if event.node_id else set()
        elif event.edge is not None:
            touched = self.graph.downstream([event.edge.dst_node])
        else:
            touched = self.graph.downstream([event.node_id]) if event.node_id else set()
        self._state_token += 1
        changed = []
        for node_id in touched:
            self._revisions[node_id] = self._revisions.get(node_id, 0) + 1
            before = self._base.pop(node_id, NodeStatus.STALE)
            if before is not NodeStatus.STALE or self._job_badge(node_id) is not None:
                changed.append(node_id)
            elif kind is GraphEventKind.NODE_ADDED:
                changed.append(node_id)
        if changed:
            self._emit(SessionEvent(SessionEventKind.STATUS_CHANGED, tuple(changed)))

    @property
    def state_token(self) -> int:
        """Take it with a snapshot for :meth:`apply_cache_states`: an answer computed for an
        older graph (or before a job stored new results) is then ignored."""
        return self._state_token

    def apply_cache_states(self, states: dict[str, str], token: int) -> bool:
        """The engine's cached/stale answer for the snapshot taken at ``token``."""
        if token != self._state_token:
            return False
        changed = []
        for node_id, state in states.items():
            if node_id not in self.graph:
                continue
            status = NodeStatus(state)
            if self._base.get(node_id, NodeStatus.STALE) is not status:
                before = self.node_status(node_id)
                self._base[node_id] = status
                if self.node_status(node_id) is not before:
                    changed.append(node_id)
        if changed:
            self._emit(SessionEvent(SessionEventKind.STATUS_CHANGED, tuple(changed)))
        return True

    def node_status(self, node_id: str) -> NodeStatus:
        """The badge the canvas shows: the viewed job's live or failed state where it still
        describes the node, else whether its result is cached."""
        badge = self._job_badge(node_id)
        if badge in (NodeStatus.QUEUED, NodeStatus.RUNNING, NodeStatus.FAILED):
            return badge
        return self._base.get(node_id, NodeStatus.STALE)

    def node_progress(self, node_id: str) -> float | None:
        job = self._current_job(node_id)
        return job.progress.get(node_id) if job is not None else None

    def failure(self, node_id: str) -> str | None:
        """Why ``node_id`` failed in the viewed job (None unless it shows as failed)."""
        job = self._current_job(node_id)
        if job is None or job.badge(node_id) is not NodeStatus.FAILED:
            return None
        return job.messages.get(node_id) or "it failed"

    def _current_job(self, node_id: str) -> Job | None:
        job = self.viewed_job
        if job is None or job.revisions.get(node_id, 0) != self._revisions.get(node_id, 0):
            return None
        return job

    def _job_badge(self, node_id: str) -> NodeStatus | None:
        job = self._current_job(node_id)
        return job.badge(node_id) if job is not None else None

    # -- jobs ---------------------------------------------------------------------------------

    def start_job(self, targets: Sequence[str] | None = None, label: str = "") -> tuple[Job, Graph]:
        """A new job and the snapshot it renders (taken now, on the session's thread; drafted
        while in Draft)."""
        job = Job(
            uuid4().hex,
            tuple(targets) if targets is not None else None,
            label,
            dict(self._revisions),
            draft=self._draft is not None,
        )
        self.jobs[job.id] = job
        self._emit(SessionEvent(SessionEventKind.JOB_CHANGED, job_id=job.id))
        return job, self.render_snapshot()

    @property
    def latest_job(self) -> Job | None:
        return next(reversed(self.jobs.values()), None) if self.jobs else None

    @property
    def viewed_job(self) -> Job | None:
        """The job whose statuses the canvas shows: the one chosen, else the latest."""
        if self._viewed is not None and self._viewed in self.jobs:
            return self.jobs[self._viewed]
        return self.latest_job

    def view_job(self, job_id: str | None) -> None:
        """Show ``job_id``'s statuses (None: follow the latest job)."""
        self._viewed = job_id
        self._emit(SessionEvent(SessionEventKind.JOB_CHANGED, job_id=job_id))
        every = tuple(n.id for n in self.graph.nodes)
        self._emit(SessionEvent(SessionEventKind.STATUS_CHANGED, every))

    def feed(self, job_id: str, event: RunEvent) -> None:
        """Take in one run event of ``job_id`` (on the session's thread)."""
        job = self.jobs.get(job_id)
        if job is None:
            return
        touched = job.feed(event)
        current = [n for n in touched if self._same(job, n)]
        cached = event.kind in (RunEventKind.NODE_CACHED, RunEventKind.NODE_FINISHED)
        if cached and event.node_id is not None and self._same(job, event.node_id):
            self._base[event.node_id] = NodeStatus.CACHED  # true whichever job is viewed
            self._state_token += 1
        if event.kind is RunEventKind.NODE_FINISHED and event.elapsed and event.node_id:
            if event.node_id in self.graph and event.message != "bypassed":
                self.timings.record(
                    event.node_id, self.graph.node(event.node_id).type_id, event.elapsed
                )
        if event.kind is RunEventKind.RUN_FINISHED:
            self.timings.save()
        if current:
            self._emit(SessionEvent(SessionEventKind.STATUS_CHANGED, tuple(current)))
        self._emit(SessionEvent(SessionEventKind.RUN_EVENT, job_id=job_id, run_event=event))
        if event.kind in (RunEventKind.RUN_STARTED, RunEventKind.RUN_FINISHED):
            self._emit(SessionEvent(SessionEventKind.JOB_CHANGED, job_id=job_id))

    def _same(self, job: Job, node_id: str) -> bool:
        """Whether ``node_id`` is unedited since ``job``'s snapshot."""
        return job.revisions.get(node_id, 0) == self._revisions.get(node_id, 0)

    def remaining(self, job: Job | None = None) -> float | None:
        """Seconds left in ``job`` (default: the viewed one); None while estimating."""
        job = job or self.viewed_job
        if job is None or not job.running:
            return None
        return self.timings.remaining(job, self.graph)

    # -- reading results ----------------------------------------------------------------------

    def keyframe_for(self, node_id: str, read: OutputReader, graph: Graph | None = None) -> Any:
        """The nearest cached picture upstream of ``node_id`` (see :func:`keyframe_for`)."""
        return keyframe_for(self.graph if graph is None else graph, node_id, read)

    def titles(self, node_ids: Iterable[str]) -> dict[str, str]:
        return {n: self.graph.node(n).title for n in node_ids if n in self.graph}
