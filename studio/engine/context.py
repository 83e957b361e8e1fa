"""The :class:`~studio.graph.spec.RunContext` a node receives while it runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from studio.engine.cancel import CancelToken
from studio.engine.events import EventCallback, RunEvent, RunEventKind
from studio.engine.frames import FrameAllocator
from studio.graph.spec import Cancelled


class StreamHooks(Protocol):
    """Where a streaming node's :meth:`NodeContext.publish` and ``frames_ready`` go."""

    def publish(self, outputs: Mapping[str, Any]) -> None: ...

    def frames_ready(self, count: int) -> None: ...


class NodeContext:
    """Progress, cancellation, info, device, models and the output folder for one node.

    ``device`` and ``workflow_json`` are resolved on first use: finding the device imports
    torch and serialising the workflow costs time, and most nodes need neither.
    """

    def __init__(
        self,
        *,
        run_id: str,
        node_id: str,
        output_dir: Path,
        cancel: CancelToken,
        emit: EventCallback,
        device: Callable[[], str],
        workflow_json: Callable[[], str],
        models: Any = None,
        cache_key: str = "",
        run_facts: Callable[[], dict[str, dict[str, Any]]] | None = None,
        frames: FrameAllocator | None = None,
        focus_frame: int | None = None,
        stream: StreamHooks | None = None,
    ) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.output_dir = output_dir
        self._cancel = cancel
        self._emit = emit
        self._device = device
        self._workflow_json = workflow_json
        self._models = models
        self.cache_key = cache_key
        self._run_facts = run_facts
        self.frames = frames if frames is not None else FrameAllocator()
        self.focus_frame = focus_frame  # live draft: the frame under the playhead, first
        self._stream = stream  # set when a reader of this node's clip may start early

    def publish(self, outputs: Mapping[str, Any]) -> None:
        """These are this node's outputs, their clips not yet filled: a node reading the clip
        in frame order may start now (see :mod:`studio.engine.filling`)."""
        if self._stream is not None:
            self._stream.publish(outputs)

    def frames_ready(self, count: int) -> None:
        """Frames ``0..count-1`` of the published clip are written."""
        if self._stream is not None:
            self._stream.frames_ready(count)

    def new_frames(self, shape: Sequence[int], dtype: Any = np.uint8) -> np.ndarray:
        """A buffer for a clip this node makes: RAM when small, a mapped scratch file when big
        (so long clips stay in bounded memory); see :mod:`studio.engine.frames`."""
        return self.frames.new_frames(shape, dtype)

    def shrink_frames(self, buffer: np.ndarray, length: int) -> np.ndarray:
        """``buffer`` (from :meth:`new_frames`) cut to its first ``length`` frames."""
        return self.frames.shrink(buffer, length)

    @property
    def device(self) -> str:
        return self._device()

    @property
    def workflow_json(self) -> str:
        return self._workflow_json()

    @property
    def models(self) -> Any:
        return self._models

    def run_facts(self) -> dict[str, dict[str, Any]]:
        return self._run_facts() if self._run_facts is not None else {}

    @property
    def cancelled(self) -> bool:
        return self._cancel.cancelled

    def check_cancelled(self) -> None:
        if self._cancel.cancelled:
            raise Cancelled()

    def progress(self, step: int, total: int, message: str = "") -> None:
        self._emit(
            RunEvent(
                "node_progress",
                self.run_id,
                self.node_id,
                step=int(step),
                total=int(total),
                message=message,
            )
        )
        self.check_cancelled()

    def preview(self, image: Any) -> None:
        """Show a cheap picture of the result so far ((h, w, 3) uint8), e.g. each denoising
        step's latent preview; the node's thumbnail shows it until the result arrives."""
        self._emit(RunEvent(RunEventKind.NODE_PREVIEW, self.run_id, self.node_id, preview=image))

    def info(self, message: str) -> None:
        self._emit(RunEvent("node_info", self.run_id, self.node_id, message=message))


def detect_device() -> str:
    """ "cuda", "mps" or "cpu": the best accelerator torch can see (torch imported lazily)."""
    try:
        import torch
    except ImportError:
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
