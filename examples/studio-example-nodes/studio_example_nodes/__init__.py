"""Two example nodes for Studio: a declared spec and a pure ``run`` each.

Studio finds this module through the ``studio.nodes`` entry point in pyproject.toml and
registers everything in ``SPECS``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

import numpy as np

from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import PortType, Video


def run_vignette(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video: Video = inputs["video"]
    strength = float(params["strength"])
    if not 0.0 <= strength <= 1.0:
        raise NodeError(f"strength {strength} must be between 0 and 1")
    h, w = video.height, video.width
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    r = np.hypot((x - w / 2) / (w / 2), (y - h / 2) / (h / 2)) / np.sqrt(2)
    gain = (1.0 - strength * r**2)[..., None]
    frames = np.empty_like(video.frames)
    for i, frame in enumerate(video.frames):
        frames[i] = np.clip(frame * gain, 0, 255).astype(np.uint8)
        ctx.progress(i + 1, len(video))  # also where a cancel takes effect
    # replace() keeps the clip's timing, sound and cut markers.
    return {"video": dataclasses.replace(video, frames=frames)}


def run_posterize(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    levels = int(params["levels"])
    step = 256 // levels
    image = inputs["image"]
    ctx.progress(1, 1)
    return {"image": ((image // step) * step + step // 2).clip(0, 255).astype(np.uint8)}


VIGNETTE = NodeSpec(
    type_id="example.Vignette",
    title="Vignette",
    category="Example",
    version=1,
    help="Darkens the corners of a clip, as old lenses do.",
    run=run_vignette,
    inputs=(Port("video", PortType.VIDEO),),
    outputs=(Port("video", PortType.VIDEO),),
    params=(
        Param(
            "strength",
            ParamKind.FLOAT,
            0.5,
            min=0.0,
            max=1.0,
            step=0.05,
            help="How dark the corners get: 0 none, 1 black.",
        ),
    ),
    tags=("look", "lens"),
)

POSTERIZE = NodeSpec(
    type_id="example.Posterize",
    title="Posterize",
    category="Example",
    help="Reduces a picture to a few colour levels per channel.",
    run=run_posterize,
    inputs=(Port("image", PortType.IMAGE),),
    outputs=(Port("image", PortType.IMAGE),),
    params=(Param("levels", ParamKind.INT, 4, min=2, max=64, help="Levels per channel."),),
    tags=("look",),
)

SPECS = (VIGNETTE, POSTERIZE)
