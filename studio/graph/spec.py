"""Declarative node specs: typed ports, params with defaults/ranges/help, a version and a pure run.

A node module declares ``SPECS: tuple[NodeSpec, ...]``; a
:class:`~studio.graph.registry.NodeRegistry` collects them. ``run(ctx, inputs, params)``
returns a dict of outputs by port name and touches nothing else: progress, cancellation,
device, models and the output folder come from ``ctx``.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from studio.graph.types import PortType

MAX_PARAM_DEPTH = 32  # shapes and brushes nest about 4 levels


def nesting_path(value: Any, limit: int) -> list[Any] | None:
    """Where ``value`` (dicts, lists, tuples) nests more than ``limit`` levels deep, as the
    keys leading there; None if it does not. Iterative: safe on any depth, even a cycle."""
    if not isinstance(value, (dict, list, tuple)):
        return None
    # A fast level-by-level pass first; the keys leading there are looked for only on failure.
    level, depth = [value], 1
    while level and depth <= limit:
        below: list[Any] = []
        for item in level:
            below.extend(
                c
                for c in (item.values() if isinstance(item, dict) else item)
                if isinstance(c, (dict, list, tuple))
            )
        level, depth = below, depth + 1
    if not level:
        return None
    stack = [(None, _children(value))]
    while stack:
        try:
            key, child = next(stack[-1][1])
        except StopIteration:
            stack.pop()
            continue
        if isinstance(child, (dict, list, tuple)):
            if len(stack) >= limit:
                return [k for k, _ in stack[1:]] + [key]
            stack.append((key, _children(child)))
    return None


def _children(value: Any) -> Any:
    return iter(value.items()) if isinstance(value, dict) else iter(enumerate(value))


class NodeError(Exception):
    """A problem a node reports to the artist: shown on the node, no traceback needed."""


class Cancelled(Exception):
    """Raised inside a node when the user cancelled the run (cooperative, checked per step)."""


class ParamKind(StrEnum):
    INT = "int"
    FLOAT = "float"
    BOOL = "bool"
    STRING = "string"
    TEXT = "text"  # multi-line (prompts)
    CHOICE = "choice"
    FILE = "file"  # a path; ``file_filter`` says which kinds, ``reads_file`` enters the cache key
    FOLDER = "folder"
    SEED = "seed"  # an int the inspector can randomise or lock
    COLOR = "color"  # "#rrggbb"
    JSON = "json"  # structured data edited by a dedicated editor (shapes, brushes)
    MODEL = "model"  # a discovered model folder; ``model_kind`` says which kind fits


@dataclass(frozen=True)
class Port:
    """A typed input or output. A *variadic* input is a family of slots the artist can add to
    and remove from: on a node it appears as ``name_0``, ``name_1``, ... (see
    :meth:`slot_names`), ``slots`` of them to begin with; each slot is optional."""

    name: str
    type: PortType
    help: str = ""
    optional: bool = False
    variadic: bool = False
    slots: int = 2  # variadic only: how many slots a new node starts with

    def slot_names(self, count: int) -> list[str]:
        return [slot_name(self.name, index) for index in range(count)]


MAX_SLOTS = 64  # slots one variadic input may grow to


def slot_name(port: str, index: int) -> str:
    return f"{port}_{index}"


def slot_index(port: str, name: str) -> int | None:
    """``index`` when ``name`` is slot ``index`` of variadic port ``port``, else None."""
    prefix = f"{port}_"
    if not name.startswith(prefix) or not name[len(prefix) :].isdigit():
        return None
    index = int(name[len(prefix) :])
    return index if slot_name(port, index) == name else None


@dataclass(frozen=True)
class Param:
    """One parameter: its kind, default, range or choices, and the help the inspector shows."""

    name: str
    kind: ParamKind
    default: Any
    help: str = ""
    min: float | None = None
    max: float | None = None
    step: float | None = None
    choices: tuple[str, ...] = ()
    file_filter: str = ""  # e.g. "Images (*.png *.jpg)"
    reads_file: bool = False  # the file's fingerprint enters the cache key
    # For a reads_file param that may name a folder: the files the node reads in it, a
    # pattern on their names ("*.png": the frames, not sub-folders). "" : folders are not read.
    folder_files: str = ""
    label: str = ""
    model_kind: str = ""  # MODEL params: "text-to-image", "image-to-video", ...

    @property
    def display_name(self) -> str:
        return self.label or self.name.replace("_", " ").capitalize()

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for this param, or None if it is."""
        kind = self.kind
        if kind in (ParamKind.INT, ParamKind.SEED):
            if isinstance(value, bool) or not isinstance(value, int):
                return f"expects an integer, got {_short(value)}"
        elif kind is ParamKind.FLOAT:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return f"expects a number, got {_short(value)}"
            if isinstance(value, float) and not math.isfinite(value):
                return f"expects a finite number, got {_short(value)}"
        elif kind is ParamKind.BOOL:
            if not isinstance(value, bool):
                return f"expects true or false, got {_short(value)}"
        elif kind in (
            ParamKind.STRING,
            ParamKind.TEXT,
            ParamKind.FILE,
            ParamKind.FOLDER,
            ParamKind.MODEL,
        ):
            if not isinstance(value, str):
                return f"expects text, got {_short(value)}"
        elif kind is ParamKind.CHOICE:
            if value not in self.choices:
                return f"unknown choice {_short(value)}; expected one of {', '.join(self.choices)}"
        elif kind is ParamKind.COLOR:
            if not (isinstance(value, str) and len(value) == 7 and value.startswith("#")):
                return f"expects a colour like '#ff8800', got {_short(value)}"
        elif kind is ParamKind.JSON:
            if not isinstance(value, (dict, list)):
                return f"expects structured data (a list or object), got {_short(value)}"
            if nesting_path(value, MAX_PARAM_DEPTH) is not None:
                return f"is nested more than {MAX_PARAM_DEPTH} levels deep"
        if kind in (ParamKind.INT, ParamKind.FLOAT, ParamKind.SEED):
            if self.min is not None and value < self.min:
                return f"{value} is below the minimum {self.min:g}"
            if self.max is not None and value > self.max:
                return f"{value} is above the maximum {self.max:g}"
        return None


class RunContext(Protocol):
    """What a running node may use. The engine provides the implementation."""

    node_id: str
    device: str  # "cuda", "mps" or "cpu"
    output_dir: Path  # where output nodes write files
    workflow_json: str  # the workflow being rendered, for embedding in outputs
    cache_key: str  # this node's cache key: output nodes record it beside what they write
    # The frame the artist is looking at while dragging in Draft (live feedback), else None.
    # A node that can make that frame before the rest shows it early with ``preview``.
    focus_frame: int | None

    def run_facts(self) -> dict[str, dict[str, Any]]:
        """Node id -> {"title", "type", "key", "seconds", "cached"} for the nodes of this run
        that finished so far (output nodes record them with a take)."""

    def progress(self, step: int, total: int, message: str = "") -> None:
        """Report progress; raises :class:`Cancelled` when the run was cancelled."""

    def check_cancelled(self) -> None:
        """Raise :class:`Cancelled` if the run was cancelled."""

    @property
    def cancelled(self) -> bool: ...

    def info(self, message: str) -> None:
        """Tell the artist something about this node (which path it took, a clamp it applied)."""

    def preview(self, image: Any) -> None:
        """Show a cheap (h, w, 3) uint8 picture of the result so far."""

    def new_frames(self, shape: Sequence[int], dtype: Any = ...) -> Any:
        """A buffer for a clip the node makes (uint8 by default): an array when small, a
        mapped scratch file when big, so long clips stay in bounded memory."""

    def shrink_frames(self, buffer: Any, length: int) -> Any:
        """``buffer`` from :meth:`new_frames` cut to its first ``length`` frames."""

    def publish(self, outputs: Mapping[str, Any]) -> None:
        """For a node with ``stream_out``: these are the outputs it will return, their clips
        not filled yet; a node reading the clip in frame order may start now."""

    def frames_ready(self, count: int) -> None:
        """For a node with ``stream_out``: frames ``0..count-1`` of the published clip are
        written."""

    @property
    def models(self) -> Any:
        """The model manager (``studio.engine.models``), for nodes that load weights."""


RunFunction = Callable[[RunContext, Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class CheckEnv:
    """What a node's :attr:`NodeSpec.check` may know besides its params."""

    connected: frozenset[str] = frozenset()  # input ports with a wire
    models: Any = None  # the model manager; None when models cannot be looked up


# params, env -> every problem the node's run would refuse, before anything runs.
CheckFunction = Callable[[Mapping[str, Any], CheckEnv], "list[str]"]


@dataclass(frozen=True)
class NodeSpec:
    """Everything Studio knows about a node type. ``version`` enters the cache key: bump it
    whenever the node's output for the same inputs and params changes."""

    type_id: str
    title: str
    category: str
    run: RunFunction
    version: int = 1
    help: str = ""
    inputs: tuple[Port, ...] = ()
    outputs: tuple[Port, ...] = ()
    params: tuple[Param, ...] = ()
    always_run: bool = False  # non-deterministic or reads the outside world: never cached
    output_node: bool = False  # writes files the artist asked for (Save*); a render target
    # For output nodes: whether a cached result is still true (its files are still the ones
    # it wrote).
    still_valid: Callable[[Mapping[str, Any]], bool] | None = None
    # What artists type into the node search besides the title: other names for the node
    # ("img2vid"), and tags for what it does or which models it drives ("wan", "sharpen").
    aliases: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    # The input checks of ``run`` that need no inputs (shapes, file names, files, models):
    # ``studio validate`` and every render run them first, so all problems show at once.
    check: CheckFunction | None = None
    # For output nodes: a result already on disk for this cache key and output folder (a take
    # written earlier), found when the cache has none, or None. Lets a render whose output
    # exists run nothing even after the cache was cleared.
    recall: Callable[[str, Path], dict[str, Any] | None] | None = None
    # Whether a render with these params wants a GPU (diffusion models, learned upscalers):
    # a render farm asks for one for jobs that run such a node.
    accelerator: Callable[[Mapping[str, Any]], bool] | None = None
    # Where the node type comes from: "studio" for the shipped nodes, else the node package
    # (distribution) that registered it, and that package's version, which enters the cache
    # key (an update of a package invalidates what its nodes made).
    package: str = "studio"
    package_version: str = ""
    # What this node does in draft mode (studio.graph.draft): params -> the params it runs
    # with in draft, given the DraftSettings. None: it runs as in final. ``draft_help`` says
    # what the draft changes, for the inspector.
    draft: Callable[[Mapping[str, Any], Any], Mapping[str, Any]] | None = None
    draft_help: str = ""
    # Frame n of its output depends only on frame n of its inputs (Upscale): live feedback
    # can ask it for the frame under the playhead first (studio.engine.live).
    framewise: bool = False
    # Streaming between nodes (studio.engine.filling): ``stream_in`` names the clip input the
    # node reads only in frame order, through studio.engine.frames.windows / read_ahead (never
    # frames[i] directly), so it may start while the clip is still being made upstream.
    # ``stream_out``: the node publishes its outputs before filling them (``ctx.publish``) and
    # reports each frame written (``ctx.frames_ready``), returning the very clip it published.
    stream_in: str = ""
    stream_out: bool = False
    _param_index: dict[str, Param] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._param_index.update({p.name: p for p in self.params})
        for group, ports in (("input", self.inputs), ("output", self.outputs)):
            names = [p.name for p in ports]
            if len(names) != len(set(names)):
                raise ValueError(f"{self.type_id}: duplicate {group} port names {names}")

    def param(self, name: str) -> Param | None:
        return self._param_index.get(name)

    def input(self, name: str) -> Port | None:
        return next((p for p in self.inputs if p.name == name), None)

    def variadic_inputs(self) -> tuple[Port, ...]:
        return tuple(p for p in self.inputs if p.variadic)

    def default_slots(self) -> dict[str, int]:
        return {p.name: p.slots for p in self.inputs if p.variadic}

    def output(self, name: str) -> Port | None:
        return next((p for p in self.outputs if p.name == name), None)

    def default_params(self) -> dict[str, Any]:
        return {p.name: _copy_default(p.default) for p in self.params}

    def files_read(self, params: Mapping[str, Any]) -> list[Path]:
        """Paths whose fingerprints belong in this node's cache key: file params, and the
        ``file`` of each item of a list param that reads files (a LoRA list)."""
        paths = []
        for p in self.params:
            value = params.get(p.name)
            if not p.reads_file:
                continue
            if isinstance(value, str) and value:
                paths.append(Path(value))
            elif isinstance(value, list):
                paths += [
                    Path(item["file"])
                    for item in value
                    if isinstance(item, dict) and isinstance(item.get("file"), str) and item["file"]
                ]
        return paths


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, (dict, list, tuple)) else type(value).__name__
    return text if len(text) <= 80 else text[:77] + "..."


def _copy_default(value: Any) -> Any:
    # JSON defaults are mutable; every node gets its own copy.
    return copy.deepcopy(value)
