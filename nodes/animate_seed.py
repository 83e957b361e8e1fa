"""What ``seed`` means to the built-in cut-and-drag animator: another performance of one direction.

The animator itself is deterministic, so without this a seed wedge would render N identical
takes. Seed 0 plays the brushes exactly as drawn (the default, and what earlier versions did).
Any other seed varies each moving brush and the camera a little, as a second take of the same
direction would:

* timing: the brush starts and ends up to 5 % of the clip earlier or later;
* path: the move travels 8 % less or further, and bows sideways by up to about 10 % of its
  length (a smooth arc through the same start, so frame 0 stays the keyframe);
* rotation and scale: up to 10 % less or more of each;
* camera: pan, tilt, roll and push-in each up to 10 % less or more (never a move that was not
  asked for: a zero stays zero).

Pinned (static) brushes never change. The same seed always gives the same performance.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from studio.graph.types import CameraMove, Motion, MotionBrushValue

TIMING_JITTER = 0.05
REACH_JITTER = 0.08
BOW = 0.05  # standard deviation of the sideways bow, as a fraction of the path's length
AMOUNT_JITTER = 0.10
PATH_POINTS = 24  # a bowed path is resampled to this many points


def moves(motion: Motion) -> bool:
    """Whether anything in ``motion`` moves (otherwise a seed has nothing to vary)."""
    return not motion.camera.is_identity or any(not b.static for b in motion.brushes)


def vary_motion(motion: Motion, seed: int) -> Motion:
    """``motion`` as performed under ``seed`` (seed 0: unchanged)."""
    if seed == 0 or not moves(motion):
        return motion
    brushes = tuple(
        brush if brush.static else _vary_brush(brush, np.random.default_rng([seed, index]))
        for index, brush in enumerate(motion.brushes)
    )
    camera = _vary_camera(motion.camera, np.random.default_rng([seed, 1_000]))
    return Motion(brushes=brushes, camera=camera)


def _vary_brush(brush: MotionBrushValue, rng: np.random.Generator) -> MotionBrushValue:
    start = float(np.clip(brush.start + rng.uniform(-TIMING_JITTER, TIMING_JITTER), 0.0, 1.0))
    end = float(np.clip(brush.end + rng.uniform(-TIMING_JITTER, TIMING_JITTER), 0.0, 1.0))
    if end <= start:  # a jitter that would make the move instantaneous: keep the timing
        start, end = brush.start, brush.end
    reach = 1.0 + rng.uniform(-REACH_JITTER, REACH_JITTER)
    bow = rng.normal(0.0, BOW)
    amount = 1.0 + rng.uniform(-AMOUNT_JITTER, AMOUNT_JITTER, size=2)
    return dataclasses.replace(
        brush,
        start=start,
        end=end,
        trajectory=_vary_path(brush.trajectory, reach, bow),
        rotation=brush.rotation * float(amount[0]),
        scale=1.0 + (brush.scale - 1.0) * float(amount[1]),
    )


def _vary_path(
    trajectory: tuple[tuple[float, float], ...], reach: float, bow: float
) -> tuple[tuple[float, float], ...]:
    points = np.asarray(trajectory, np.float64).reshape(-1, 2)
    if len(points) < 2:
        return trajectory
    steps = np.linalg.norm(np.diff(points, axis=0), axis=1)
    length = float(steps.sum())
    if length <= 0.0:
        return trajectory
    # Resample along the arc so a two-point drag can bow, then scale the reach about the start.
    cumulative = np.concatenate([[0.0], np.cumsum(steps)]) / length
    s = np.linspace(0.0, 1.0, PATH_POINTS)
    path = np.stack([np.interp(s, cumulative, points[:, i]) for i in (0, 1)], axis=1)
    path = points[0] + (path - points[0]) * reach
    chord = path[-1] - path[0]
    chord_length = float(np.linalg.norm(chord))
    if chord_length > 0.0:
        normal = np.array([-chord[1], chord[0]]) / chord_length
        path += np.outer(np.sin(np.pi * s), normal) * bow * length
    return tuple((float(x), float(y)) for x, y in path)


def _vary_camera(camera: CameraMove, rng: np.random.Generator) -> CameraMove:
    if camera.is_identity:
        return camera
    pan, tilt, zoom, roll = 1.0 + rng.uniform(-AMOUNT_JITTER, AMOUNT_JITTER, size=4)
    return dataclasses.replace(
        camera,
        pan=camera.pan * float(pan),
        tilt=camera.tilt * float(tilt),
        zoom=1.0 + (camera.zoom - 1.0) * float(zoom),
        roll=camera.roll * float(roll),
    )
