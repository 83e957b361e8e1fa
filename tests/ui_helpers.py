"""Stub node types and small builders for the editor's tests (fast, no models)."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from typing import Any

import numpy as np

from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video

# Set by the "Spin" node's body as it starts: a test waits on it (the "running" badge comes from
# the engine's node_started event, which is sent before the body runs).
SPIN_STARTED = threading.Event()
SPIN_LIMIT_S = 120.0  # a broken cancel fails the run after this long instead of hanging


def _source(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    ctx.progress(1, 1)
    image = np.zeros((24, 32, 3), np.uint8)
    image[..., 0] = params["level"]
    return {"image": image}


def _blur(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    if params["radius"] > 40:
        raise NodeError(f"radius {params['radius']} is too large for a 32-pixel image")
    ctx.progress(1, 1)
    return {"image": inputs["image"]}


def _animate(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    frames = []
    for i in range(params["frames"]):
        ctx.progress(i + 1, params["frames"])
        frames.append(inputs["image"])
    return {"video": Video(np.stack(frames), 8.0)}


def _spin(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    # Runs until cancelled, however slow the machine: bounded by wall time, not by a step count
    # (a step count ran out in ~20 s on idle cores, so "still running" was a bet under load).
    SPIN_STARTED.set()
    idle = threading.Event()  # never set: wait() is a pause that needs no sleep()
    deadline = time.monotonic() + SPIN_LIMIT_S
    step = 0
    while time.monotonic() < deadline:
        step += 1
        ctx.progress(step % 100, 100)  # raises Cancelled once the run is cancelled
        idle.wait(0.002)
    raise NodeError(f"Spin was not cancelled within {SPIN_LIMIT_S:g} s")


def _mask(ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    ctx.progress(1, 1)
    return {"mask": np.ones(inputs["image"].shape[:2], np.float32)}


SOURCE = NodeSpec(
    "Source",
    "Source",
    "Input",
    _source,
    help="A flat test image.",
    outputs=(Port("image", PortType.IMAGE),),
    params=(
        Param("level", ParamKind.INT, 10, min=0, max=255, step=1, help="Red level."),
        Param("label", ParamKind.STRING, "", help="A name."),
    ),
)
BLUR = NodeSpec(
    "Blur",
    "Blur",
    "Image",
    _blur,
    help="Pretends to blur.",
    inputs=(Port("image", PortType.IMAGE),),
    outputs=(Port("image", PortType.IMAGE),),
    params=(
        Param("radius", ParamKind.FLOAT, 2.0, min=0.0, max=50.0, step=0.5, help="Blur radius."),
        Param("mode", ParamKind.CHOICE, "gauss", choices=("gauss", "box"), help="Kernel."),
        Param("seed", ParamKind.SEED, 7, min=0, max=2**32 - 1, help="Noise seed."),
        Param("prompt", ParamKind.TEXT, "", help="A prompt."),
        Param("sharpen", ParamKind.BOOL, False, help="Sharpen after."),
        Param("tint", ParamKind.COLOR, "#ff8800", help="Tint colour."),
        Param("source_file", ParamKind.FILE, "", help="A file.", file_filter="Images (*.png)"),
    ),
)
ANIMATE = NodeSpec(
    "Animate",
    "Animate",
    "Video",
    _animate,
    help="Repeats the image as frames.",
    inputs=(Port("image", PortType.IMAGE), Port("mask", PortType.MASK, optional=True)),
    outputs=(Port("video", PortType.VIDEO),),
    params=(Param("frames", ParamKind.INT, 4, min=1, max=64, help="Frames."),),
)
SPIN = NodeSpec(
    "Spin",
    "Spin",
    "Image",
    _spin,
    help="Runs until cancelled.",
    always_run=True,
    inputs=(Port("image", PortType.IMAGE),),
    outputs=(Port("image", PortType.IMAGE),),
)
MASK = NodeSpec(
    "MaskOf",
    "Mask of",
    "Mask",
    _mask,
    help="A full mask.",
    inputs=(Port("image", PortType.IMAGE),),
    outputs=(Port("mask", PortType.MASK),),
)

STUB_SPECS = (SOURCE, BLUR, ANIMATE, SPIN, MASK)


def stub_registry() -> NodeRegistry:
    return NodeRegistry((*BUILTIN_SPECS, *STUB_SPECS))


def chain(graph: Graph, undo=None) -> tuple[str, str, str]:
    """Source -> Blur -> Animate; returns their ids. With ``undo`` (a Session)
    the nodes are added as one undoable edit, as the editor would."""
    from studio.graph.commands import AddNode, Connect, Macro
    from studio.graph.graph import Edge, new_id

    src, blur, anim = new_id(), new_id(), new_id()
    command = Macro(
        [
            AddNode("Source", (0.0, 0.0), node_id=src),
            AddNode("Blur", (300.0, 0.0), node_id=blur),
            AddNode("Animate", (600.0, 0.0), node_id=anim),
            Connect(Edge(src, "image", blur, "image")),
            Connect(Edge(blur, "image", anim, "image")),
        ]
    )
    if undo is not None:
        undo.push(command)
    else:
        command.apply(graph)
    return src, blur, anim


def canonical(graph: Graph) -> str:
    """The saved form with node and edge order normalised (undo may re-insert in a new order)."""
    import json

    from studio.graph.fileformat import graph_to_dict

    data = graph_to_dict(graph)
    data["edges"] = sorted(data["edges"], key=lambda e: json.dumps(e, sort_keys=True))
    data["groups"] = sorted(data["groups"], key=lambda g: g["id"])
    return json.dumps(data, sort_keys=True)


def big_graph(registry: NodeRegistry, count: int = 500) -> Graph:
    """``count`` nodes in chains of five, laid out on a grid (for benchmarks)."""
    graph = Graph(registry)
    per_row = 25
    previous = None
    for i in range(count):
        x, y = (i % per_row) * 300.0, (i // per_row) * 260.0
        node = graph.add("Source" if i % 5 == 0 else "Blur", position=(x, y))
        if i % 5 and previous is not None:
            graph.connect(previous, "image", node.id, "image")
        previous = node.id
    return graph


# -- Qt helpers (imported lazily so the stub registry stays usable without Qt) ---------------


def mouse(view, kind: str, scene_pos, button=None, buttons=None, modifiers=None) -> None:
    """Send one mouse event to a QGraphicsView's viewport at a scene position."""
    from PySide6.QtCore import QEvent, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication

    types = {
        "press": QEvent.Type.MouseButtonPress,
        "move": QEvent.Type.MouseMove,
        "release": QEvent.Type.MouseButtonRelease,
        "double": QEvent.Type.MouseButtonDblClick,
    }
    button = Qt.MouseButton.LeftButton if button is None else button
    if buttons is None:
        buttons = Qt.MouseButton.NoButton if kind == "release" else button
    local = QPointF(view.mapFromScene(scene_pos))
    event = QMouseEvent(
        types[kind],
        local,
        QPointF(view.viewport().mapToGlobal(local)),
        Qt.MouseButton.NoButton if kind == "move" else button,
        buttons,
        modifiers or Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(view.viewport(), event)


def drag(view, start, end, steps: int = 4) -> None:
    """Press at ``start``, move in a few steps, release at ``end`` (scene coordinates)."""
    from PySide6.QtCore import QPointF

    mouse(view, "press", start)
    for i in range(1, steps + 1):
        t = i / steps
        mouse(
            view,
            "move",
            QPointF(start.x() + (end.x() - start.x()) * t, start.y() + (end.y() - start.y()) * t),
        )
    mouse(view, "release", end)


def make_window(qtbot, tmp_path, registry: NodeRegistry | None = None):
    """A MainWindow on the stub registry with an in-memory engine cache. Call
    :func:`close_window` at the end so no "save changes?" box blocks the test."""
    from studio.engine.cache import Cache
    from studio.engine.scheduler import Engine
    from studio.settings import Settings
    from studio.ui.main_window import MainWindow

    registry = registry or stub_registry()
    engine = Engine(registry, Cache(disk=False), device="cpu")
    window = MainWindow(
        registry,
        engine=engine,
        output_dir=tmp_path / "out",
        settings=Settings(tmp_path / "settings.json"),
    )
    window.messages = []
    window.statusBar().messageChanged.connect(
        lambda text: window.messages.append(text) if text else None
    )
    # Not qtbot.addWidget: its teardown closes before ours and would meet "save changes?".
    window._qtbot = qtbot
    window.resize(1400, 900)
    window.show()
    return window


def close_window(window) -> None:
    window.controller.cancel()
    if window.controller.job is not None:
        window.controller.job.wait(10)
    window.session.set_clean()
    window.close()
    # Delete it now, while the QApplication lives: left to the garbage collector at exit,
    # Qt objects are torn down after the application and the interpreter segfaults.
    from PySide6.QtCore import QCoreApplication, QEvent

    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
