"""Checking what a node's ``run`` returned against its declared outputs.

A node that breaks its own spec is a bug in the node; the engine says so by name instead of
letting a wrong value travel downstream and fail somewhere far from its cause.
"""

from __future__ import annotations

from typing import Any

from studio.graph.spec import NodeSpec
from studio.graph.types import Audio, CameraPath, Motion, PortType, Video


def output_problem(spec: NodeSpec, outputs: Any) -> str | None:
    """Why a node's return value breaks its declared outputs, or None if it is fine."""
    if not isinstance(outputs, dict):
        return f"returned {type(outputs).__name__}, not a dict of outputs (a bug in the node)"
    for port in spec.outputs:
        if port.name not in outputs:
            return f"returned no {port.name!r} output (a bug in the node)"
        problem = port_value_problem(port.type, outputs[port.name])
        if problem:
            return f"output {port.name!r}: {problem} (a bug in the node)"
    return None


def port_value_problem(port_type: PortType, value: Any) -> str | None:
    """Whether ``value`` follows the convention for ``port_type`` (see studio.graph.types)."""
    import numpy as np

    if port_type is PortType.IMAGE:
        ok = isinstance(value, np.ndarray) and value.ndim == 3 and value.shape[-1] == 3
        if not (ok and value.dtype == np.uint8):
            return f"expected an (H, W, 3) uint8 image, got {_describe(value)}"
    elif port_type is PortType.MASK:
        ok = isinstance(value, np.ndarray) and value.ndim == 2
        if not (ok and value.dtype == np.float32):
            return f"expected an (H, W) float32 mask, got {_describe(value)}"
    else:
        expected = {
            PortType.VIDEO: Video,
            PortType.MOTION: Motion,
            PortType.CAMERA_PATH: CameraPath,
            PortType.AUDIO: Audio,
        }.get(port_type)
        if expected is not None and not isinstance(value, expected):
            return f"expected a {expected.__name__}, got {_describe(value)}"
    return None


def _describe(value: Any) -> str:
    shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
    if shape is not None:
        return f"{type(value).__name__} of shape {tuple(shape)} and dtype {dtype}"
    return type(value).__name__
