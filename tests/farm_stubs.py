"""Stub nodes for the farm tests, imported by the test and by the Ray workers it starts.

``Source`` makes a picture from a number (the batch's shared upstream), ``Tint`` varies it by
``seed`` and ``SaveImage`` is the real one, so every variant writes a real take. ``Gate``
blocks its first attempt (a marker file says whether this is the first) after reporting
progress, so a test can kill the worker mid-node; ``Spin`` reports progress until cancelled;
``Barrier`` waits until every variant of a batch is running at once (a named Ray actor).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nodes.io import SPECS as IO_SPECS
from studio.graph.builtin import BUILTIN_SPECS
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType

IMAGE = PortType.IMAGE
BLOCK_LIMIT_S = 120.0  # a stub never blocks a test run forever


def _source(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    ctx.progress(0, 1)
    image = np.zeros((24, 32, 3), np.uint8)
    image[..., 0] = np.arange(32, dtype=np.uint8) * 7
    image[..., 1] = int(params["value"]) % 256
    ctx.progress(1, 1)
    return {"image": image}


def _tint(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    rng = np.random.default_rng(int(params["seed"]))
    noise = rng.integers(0, 40, size=inputs["image"].shape, dtype=np.uint8)
    ctx.progress(1, 1)
    return {"image": inputs["image"] // 2 + noise}


def _gate(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    marker = Path(params["marker"])
    try:
        os.close(os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:  # a retry: the first attempt's worker was killed
        ctx.progress(1, 1)
        return {"image": inputs["image"]}
    ctx.progress(0, 1, "first attempt: waiting to be killed")
    deadline = time.monotonic() + BLOCK_LIMIT_S
    while time.monotonic() < deadline:  # ended by the test's SIGKILL, not by a clock
        time.sleep(0.05)
    raise NodeError("Gate was never killed")


def _spin(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    deadline = time.monotonic() + BLOCK_LIMIT_S
    step = 0
    while time.monotonic() < deadline:  # ended by cancellation (ctx.progress raises)
        ctx.progress(step, 1_000_000)
        step += 1
        time.sleep(0.02)
    raise NodeError("Spin was never cancelled")


def _barrier(ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
    import ray

    barrier = ray.get_actor(params["actor"])
    ray.get(barrier.arrive.remote(os.environ.get("CUDA_VISIBLE_DEVICES")))
    deadline = time.monotonic() + BLOCK_LIMIT_S
    while ray.get(barrier.count.remote()) < int(params["parties"]):
        if time.monotonic() > deadline:
            raise NodeError("the other variants never arrived")
        time.sleep(0.02)
    return {"image": inputs["image"]}


def _image_node(type_id: str, run: Any, *params: Param, accelerator: bool = False) -> NodeSpec:
    return NodeSpec(
        type_id=type_id,
        title=type_id,
        category="Test",
        run=run,
        inputs=(Port("image", IMAGE),),
        outputs=(Port("image", IMAGE),),
        params=params,
        accelerator=(lambda p: True) if accelerator else None,
    )


SPECS = (
    NodeSpec(
        type_id="Source",
        title="Source",
        category="Test",
        run=_source,
        outputs=(Port("image", IMAGE),),
        params=(Param("value", ParamKind.INT, 3),),
    ),
    _image_node("Tint", _tint, Param("seed", ParamKind.SEED, 0)),
    _image_node("Gate", _gate, Param("marker", ParamKind.STRING, "")),
    _image_node("Spin", _spin),
    _image_node(
        "Barrier",
        _barrier,
        Param("actor", ParamKind.STRING, ""),
        Param("parties", ParamKind.INT, 4),
        accelerator=True,
    ),
)


def registry() -> NodeRegistry:
    save_image = next(spec for spec in IO_SPECS if spec.type_id == "SaveImage")
    return NodeRegistry((*BUILTIN_SPECS, save_image, *SPECS))
