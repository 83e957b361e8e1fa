"""Stub nodes for the queue tests, importable by the test and by the worker processes it kills.

Every node appends ``title:value`` to the file named by ``STUDIO_TEST_LOG`` (O_APPEND, so two
processes never interleave a line): the log says what ran, in which process lifetime or not.
``Gate`` blocks forever once started when ``STUDIO_TEST_GATE_FD`` names a pipe, after writing
one byte to it: the test learns "the job is under way" from the pipe, not from a clock.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType

ANY = PortType.ANY


def _log(ctx: Any, what: str) -> None:
    path = os.environ.get("STUDIO_TEST_LOG")
    if path:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, f"{what}\n".encode())
        finally:
            os.close(fd)


def _up(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    _log(ctx, f"Up:{params['value']:g}")
    ctx.progress(1, 1)
    return {"out": np.full((2, 2), float(params["value"]))}


def _scale(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    _log(ctx, f"Scale:{params['k']:g}")
    ctx.progress(1, 1)
    return {"out": inputs["a"] * params["k"]}


def _gate(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    value = float(inputs["a"].flat[0])
    _log(ctx, f"Gate:{value:g}")
    fd = os.environ.get("STUDIO_TEST_GATE_FD")
    if fd and value == params["block_on"]:
        os.write(int(fd), b"x")  # "I started"; the test kills this process now
        threading.Event().wait()
    ctx.progress(1, 1)
    return {"out": inputs["a"]}


def _save(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    value = float(inputs["a"].flat[0])
    _log(ctx, f"Save:{value:g}")
    path = Path(ctx.output_dir) / params["name"].format(value=value)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, inputs["a"])
    return {"files": [str(path)]}


def _save_png(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    """A 64x48 PNG whose grey level is the input value x 20 (a picture per variant)."""
    import cv2

    value = float(inputs["a"].flat[0])
    path = Path(ctx.output_dir) / params["name"].format(value=value)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((48, 64, 3), min(255, int(value * 20)), np.uint8))
    return {"files": [str(path)]}


def _files_exist(outputs: Mapping[str, Any]) -> bool:
    return all(Path(p).exists() for p in outputs["files"])


def registry() -> NodeRegistry:
    return NodeRegistry(
        [
            NodeSpec(
                "Up",
                "Up",
                "Test",
                _up,
                outputs=(Port("out", ANY),),
                params=(Param("value", ParamKind.FLOAT, 1.0, help="The value."),),
            ),
            NodeSpec(
                "Scale",
                "Scale",
                "Test",
                _scale,
                inputs=(Port("a", ANY),),
                outputs=(Port("out", ANY),),
                params=(
                    Param("k", ParamKind.FLOAT, 1.0, help="Factor."),
                    Param("seed", ParamKind.SEED, 0, min=0, max=2**32 - 1, help="Unused."),
                ),
            ),
            NodeSpec(
                "Gate",
                "Gate",
                "Test",
                _gate,
                inputs=(Port("a", ANY),),
                outputs=(Port("out", ANY),),
                params=(Param("block_on", ParamKind.FLOAT, -1.0, help="Block on this value."),),
            ),
            NodeSpec(
                "Save",
                "Save",
                "Test",
                _save,
                output_node=True,
                inputs=(Port("a", ANY),),
                still_valid=_files_exist,
                params=(Param("name", ParamKind.STRING, "x_{value:g}.npy", help="File."),),
            ),
            NodeSpec(
                "SavePng",
                "Save PNG",
                "Test",
                _save_png,
                output_node=True,
                inputs=(Port("a", ANY),),
                still_valid=_files_exist,
                params=(Param("name", ParamKind.STRING, "x_{value:g}.png", help="File."),),
            ),
        ]
    )


def chain(registry: NodeRegistry, *types: str) -> Any:
    """A graph of the given node types wired out -> a, titled by type."""
    from studio.graph.graph import Graph

    graph = Graph(registry)
    last = None
    for type_id in types:
        node = graph.add(type_id, title=type_id)
        if last is not None:
            graph.connect(last, "out", node.id, "a")
        last = node.id
    return graph
