"""The editor's state without Qt: one :class:`Session` owns the graph, its undo history, the
file, the registry and the run status of every job; views observe it.

Nothing under ``studio.session`` may import Qt (a test enforces it).
"""

from studio.session.catalog import default_registry
from studio.session.history import History
from studio.session.runs import Job, JobNodeState, NodeStatus
from studio.session.session import Session, SessionEvent, SessionEventKind
from studio.session.timings import Timings

__all__ = [
    "History",
    "Job",
    "JobNodeState",
    "NodeStatus",
    "Session",
    "SessionEvent",
    "SessionEventKind",
    "Timings",
    "default_registry",
]
