"""MotionBrush: what moves and how — up to eight brushes plus one camera move.

The ``brushes`` param (written by the editor's motion painter) is a list of objects::

    [{"name": "boat",                       # shown in messages
      "region": "input",                    # the node's ``mask`` input, or a shapes list
                                            #   exactly like RegionMask's (see nodes.shapes)
      "trajectory": [[x, y], ...],          # normalised 0..1; at least 2 points unless static
      "start": 0.0, "end": 1.0,             # when it moves, as fractions of the clip
      "ease": "linear",                     # linear | ease-in | ease-out | ease-in-out
      "rotation": 0.0,                      # degrees turned by ``end`` (+ = counter-clockwise)
      "scale": 1.0,                         # size reached by ``end``
      "static": false}]                     # pinned: this region must not move

Only ``region`` is required; the rest default as shown; other keys (painter state) are
ignored. The region's centroid follows the trajectory relative to its first point (see
:mod:`nodes.animate`). Trajectory points outside
the frame are clamped to its edge and reported. Brushes from an upstream MotionBrush (the
``motion`` input) come first, so brush nodes can be chained; eight brushes at most in all.

The camera params (pan, tilt, zoom, roll, camera_ease) move the whole frame; a camera move set
here replaces the upstream one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from nodes.animate import EASES
from nodes.shapes import brief, rasterise, shapes_problems
from studio.graph.spec import CheckEnv, NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import CameraMove, Motion, MotionBrushValue, PortType

# Shapes need a raster when no mask input says the keyframe's size; regions are stretched to
# the keyframe later, which is exact for normalised shapes (only stroke widths follow the aspect).
DEFAULT_RASTER = (1024, 576)


def run_motion_brush(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    upstream: Motion = inputs.get("motion") or Motion()
    mask = inputs.get("mask")
    if mask is not None:
        mask = _check_mask(mask)
    entries = params["brushes"]
    if not isinstance(entries, list):
        raise NodeError(f"brushes must be a list, got {type(entries).__name__}")
    total = len(upstream.brushes) + len(entries)
    if total > Motion.MAX_BRUSHES:
        raise NodeError(
            f"{total} motion brushes ({len(upstream.brushes)} upstream + {len(entries)} here); "
            f"at most {Motion.MAX_BRUSHES} are supported — remove {total - Motion.MAX_BRUSHES}"
        )
    raster = _raster_size(mask, upstream)
    brushes = list(upstream.brushes)
    for index, entry in enumerate(entries):
        ctx.progress(index, len(entries))
        brushes.append(_brush(ctx.info, entry, index, mask, raster))
    if mask is not None and not any(
        isinstance(e, dict) and e.get("region") == "input" for e in entries
    ):
        ctx.info(
            "the mask input is connected but no brush uses it (set a brush's region to 'input')"
        )
    camera = _camera(params)
    if camera.is_identity:
        camera = upstream.camera
    elif not upstream.camera.is_identity:
        ctx.info("this node's camera move replaces the upstream one")
    ctx.progress(len(entries), max(1, len(entries)))
    return {"motion": Motion(brushes=tuple(brushes), camera=camera)}


def _check_mask(mask: Any) -> np.ndarray:
    if not isinstance(mask, np.ndarray) or mask.ndim != 2 or min(mask.shape) < 1:
        shape = getattr(mask, "shape", type(mask).__name__)
        raise NodeError(f"'mask' must be an (H, W) mask, got {shape}")
    return np.clip(mask.astype(np.float32, copy=False), 0.0, 1.0)


def _raster_size(mask: np.ndarray | None, upstream: Motion) -> tuple[int, int]:
    if mask is not None:
        return mask.shape[1], mask.shape[0]
    if upstream.brushes:
        height, width = upstream.brushes[0].region.shape
        return width, height
    return DEFAULT_RASTER


def check_motion_brush(params: Mapping[str, Any], env: CheckEnv) -> list[str]:
    """What :func:`run_motion_brush` would refuse in the brushes, before anything runs."""
    entries = params["brushes"]
    if not isinstance(entries, list):
        return [f"brushes must be a list, got {type(entries).__name__}"]
    if len(entries) > Motion.MAX_BRUSHES:
        return [f"{len(entries)} motion brushes; at most {Motion.MAX_BRUSHES} are supported"]
    mask = np.ones((1, 1), np.float32) if "mask" in env.connected else None
    problems = []
    for index, entry in enumerate(entries):
        try:
            _brush(lambda message: None, entry, index, mask, None)
        except NodeError as exc:
            problems.append(str(exc))
    return problems


def _brush(
    info: Callable[[str], None],
    entry: Any,
    index: int,
    mask: np.ndarray | None,
    raster: tuple[int, int] | None,
) -> MotionBrushValue:
    """One brush from its record; ``raster`` None only checks it (nothing is drawn)."""
    if not isinstance(entry, dict):
        raise NodeError(f"brush {index + 1}: expected an object, got {brief(entry)}")
    label = entry.get("name") or f"brush {index + 1}"
    name = brief(label, 60) if isinstance(label, (dict, list)) else str(label)[:60]
    region = _region(entry.get("region"), name, mask, raster)
    static = entry.get("static", False)
    if not isinstance(static, bool):
        raise NodeError(f"{name}: 'static' must be true or false, got {brief(static)}")
    trajectory = _trajectory(info, entry.get("trajectory", []), name, static)
    start, end = _number(entry, "start", 0.0, name), _number(entry, "end", 1.0, name)
    if not 0.0 <= start < end <= 1.0:
        raise NodeError(f"{name}: needs 0 <= start < end <= 1, got start={start}, end={end}")
    ease = entry.get("ease", "linear")
    if ease not in EASES:
        raise NodeError(f"{name}: unknown ease {brief(ease)}; expected one of {', '.join(EASES)}")
    rotation = _number(entry, "rotation", 0.0, name)
    if abs(rotation) > 3600:
        raise NodeError(f"{name}: rotation = {rotation} degrees is out of range (±3600)")
    scale = _number(entry, "scale", 1.0, name)
    if not 0.05 <= scale <= 20:
        raise NodeError(f"{name}: scale = {scale} is out of range; use 0.05 to 20")
    return MotionBrushValue(
        region=region,
        trajectory=trajectory,
        start=start,
        end=end,
        ease=ease,
        rotation=rotation,
        scale=scale,
        static=static,
        name=name,
    )


def _region(
    region: Any, name: str, mask: np.ndarray | None, raster: tuple[int, int] | None
) -> np.ndarray:
    if region == "input":
        if mask is None:
            raise NodeError(f"{name}: its region is 'input' but the mask input is not connected")
        alpha = mask
    elif isinstance(region, list) and raster is None:  # checking only: shapes, not pixels
        problems = shapes_problems(region, label=f"{name}: shape")
        if problems:
            raise NodeError("; ".join(problems))
        painted = any(s.get("op", "add") == "add" for s in region)
        alpha = np.ones((1, 1), np.float32) if painted else np.zeros((1, 1), np.float32)
    elif isinstance(region, list):
        alpha = rasterise(region, *raster, label=f"{name}: shape")
    else:
        raise NodeError(f"{name}: region must be 'input' or a list of shapes, got {brief(region)}")
    if alpha.max() < 0.5:
        raise NodeError(f"{name}: its region is empty — paint the area that should move")
    return alpha


def _trajectory(
    info: Callable[[str], None], value: Any, name: str, static: bool
) -> tuple[tuple[float, float], ...]:
    try:
        points = np.asarray(value, np.float64).reshape(-1, 2)
    except (TypeError, ValueError):
        raise NodeError(
            f"{name}: trajectory must be a list of [x, y] pairs, got {brief(value)}"
        ) from None
    if not np.isfinite(points).all():
        raise NodeError(f"{name}: its trajectory holds a non-finite coordinate")
    if not static and len(points) < 2:
        raise NodeError(
            f"{name}: a moving brush needs a trajectory of at least 2 points, got {len(points)} "
            "(or mark it static)"
        )
    clamped = np.clip(points, 0.0, 1.0)
    if (clamped != points).any():
        outside = int((clamped != points).any(axis=1).sum())
        info(f"{name}: {outside} trajectory point(s) left the frame and were clamped to its edge")
    return tuple((float(x), float(y)) for x, y in clamped)


def _number(entry: Mapping[str, Any], key: str, default: float, name: str) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not np.isfinite(value):
        raise NodeError(f"{name}: '{key}' must be a number, got {brief(value)}")
    return float(value)


def _camera(params: Mapping[str, Any]) -> CameraMove:
    return CameraMove(
        pan=float(params["pan"]),
        tilt=float(params["tilt"]),
        zoom=float(params["zoom"]),
        roll=float(params["roll"]),
        ease=params["camera_ease"],
    )


MOTION_BRUSH = NodeSpec(
    type_id="MotionBrush",
    title="Motion Brush",
    category="Motion",
    aliases=("motion", "drag", "trajectory"),
    tags=("camera move", "pan", "zoom", "path", "brush"),
    version=1,
    help=(
        "Says what moves: up to eight brushes, each a region that follows a path (with easing, "
        "rotation and scale), or is pinned static; plus a camera move for the whole frame. "
        "Chain several to combine their brushes."
    ),
    run=run_motion_brush,
    check=check_motion_brush,
    inputs=(
        Port("mask", PortType.MASK, "A region for brushes whose region is 'input'.", optional=True),
        Port(
            "motion",
            PortType.MOTION,
            "Brushes from an upstream Motion Brush, kept first.",
            optional=True,
        ),
    ),
    outputs=(Port("motion", PortType.MOTION, "Brushes and camera move, for Image to Video."),),
    params=(
        Param(
            "brushes",
            ParamKind.JSON,
            [],
            help="The motion brushes (edited with the motion painter); at most 8.",
        ),
        Param(
            "pan",
            ParamKind.FLOAT,
            0.0,
            min=-1.0,
            max=1.0,
            step=0.01,
            help="Camera pan over the clip, in frame widths (+ = camera moves right).",
        ),
        Param(
            "tilt",
            ParamKind.FLOAT,
            0.0,
            min=-1.0,
            max=1.0,
            step=0.01,
            help="Camera tilt over the clip, in frame heights (+ = camera moves up).",
        ),
        Param(
            "zoom",
            ParamKind.FLOAT,
            1.0,
            min=0.25,
            max=4.0,
            step=0.01,
            help="Camera zoom reached at the end (1 = none, above 1 pushes in).",
        ),
        Param(
            "roll",
            ParamKind.FLOAT,
            0.0,
            min=-180.0,
            max=180.0,
            step=1.0,
            help="Camera roll over the clip in degrees (+ = counter-clockwise).",
        ),
        Param(
            "camera_ease",
            ParamKind.CHOICE,
            "ease-in-out",
            choices=EASES,
            help="How the camera move speeds up and slows down.",
        ),
    ),
)

SPECS = (MOTION_BRUSH,)
