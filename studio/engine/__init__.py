"""The render engine: scheduler, two-tier cache, run events and the worker thread.

Pure Python (no Qt): the CLI and the GUI consume the same :class:`RunEvent` stream.
"""

from studio.engine.cache import Cache
from studio.engine.cancel import CancelToken
from studio.engine.events import RunEvent
from studio.engine.scheduler import (
    Engine,
    RunResult,
    default_engine,
    default_models,
    default_targets,
)
from studio.engine.worker import RenderJob

__all__ = [
    "Cache",
    "CancelToken",
    "Engine",
    "RenderJob",
    "RunEvent",
    "RunResult",
    "default_engine",
    "default_models",
    "default_targets",
]
