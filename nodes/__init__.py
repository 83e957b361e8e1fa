"""Node implementations, one module per family. Each module exports ``SPECS``."""

from __future__ import annotations

from importlib import import_module

from studio.graph.registry import NodeRegistry

FAMILIES = (
    "nodes.io",  # SampleImage, LoadImage, LoadVideo, SaveImage, SaveVideo
    "nodes.masks",  # RegionMask
    "nodes.motion",  # MotionBrush
    "nodes.keyframe",  # GenerateKeyframe
    "nodes.image_to_video",  # ImageToVideo
    "nodes.stabilize",  # Stabilize
    "nodes.upscale",  # Upscale
    "nodes.timing",  # Frame, Trim, Retime
    "nodes.audio",  # LoadAudio, SetAudio
    "nodes.interpolate",  # Interpolate
    "nodes.sequence",  # Sequence
    "nodes.extend",  # Extend
)


def register_all(registry: NodeRegistry) -> None:
    """Register every shipped node type. Modules import torch/diffusers lazily, inside ``run``."""
    for name in FAMILIES:
        for spec in import_module(name).SPECS:
            registry.register(spec)
