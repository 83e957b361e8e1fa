"""Port types and the values that flow along edges.

Conventions every node follows:

* IMAGE  -- ``np.ndarray`` of shape (H, W, 3), dtype uint8, RGB.
* MASK   -- ``np.ndarray`` of shape (H, W), dtype float32, values in [0, 1]; 1 = inside.
* VIDEO  -- :class:`Video`: uint8 frames (T, H, W, 3) RGB plus fps.
* MOTION -- :class:`Motion`: motion brushes and one camera move, resolution independent.
* CAMERA_PATH -- :class:`CameraPath`: what Stabilize measured, for the viewer's plots.
* ANY    -- only for pass-through nodes (reroute dots); accepts and yields any type.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np


class PortType(StrEnum):
    IMAGE = "IMAGE"
    MASK = "MASK"
    VIDEO = "VIDEO"
    MOTION = "MOTION"
    CAMERA_PATH = "CAMERA_PATH"
    ANY = "ANY"

    def accepts(self, other: PortType) -> bool:
        """Whether an input of this type accepts an output of type ``other``."""
        return self is other or PortType.ANY in (self, other)


@dataclass(frozen=True, eq=False)
class Video:
    """A clip: ``frames`` is (T, H, W, 3) uint8 RGB (possibly a read-only memory map)."""

    frames: np.ndarray
    fps: float

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"video frames must be (T, H, W, 3), got {self.frames.shape}")
        if self.frames.dtype != np.uint8:
            raise ValueError(f"video frames must be uint8, got {self.frames.dtype}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")

    def __len__(self) -> int:
        return int(self.frames.shape[0])

    @property
    def height(self) -> int:
        return int(self.frames.shape[1])

    @property
    def width(self) -> int:
        return int(self.frames.shape[2])

    @property
    def duration_s(self) -> float:
        return len(self) / self.fps


@dataclass(frozen=True)
class CameraMove:
    """A whole-frame camera move over the clip, eased from identity to these values.

    ``pan``/``tilt`` are fractions of the frame width/height, ``zoom`` is a scale factor
    (1.0 = none, >1 pushes in), ``roll`` is in degrees (counter-clockwise).
    """

    pan: float = 0.0
    tilt: float = 0.0
    zoom: float = 1.0
    roll: float = 0.0
    ease: str = "ease-in-out"

    @property
    def is_identity(self) -> bool:
        return self.pan == 0 and self.tilt == 0 and self.zoom == 1.0 and self.roll == 0


@dataclass(frozen=True, eq=False)
class MotionBrushValue:
    """One motion brush: a region and where it goes.

    ``region`` is a float32 mask at any resolution (resized to the frame by the animator).
    ``trajectory`` holds (x, y) points in normalised [0, 1] frame coordinates; the region's
    centroid follows it. ``start``/``end`` are fractions of the clip length.
    """

    region: np.ndarray
    trajectory: tuple[tuple[float, float], ...] = ()
    start: float = 0.0
    end: float = 1.0
    ease: str = "linear"
    rotation: float = 0.0  # degrees reached at ``end``
    scale: float = 1.0  # scale reached at ``end``
    static: bool = False
    name: str = ""


@dataclass(frozen=True, eq=False)
class Motion:
    """What should move and how: up to eight brushes plus a camera move."""

    brushes: tuple[MotionBrushValue, ...] = ()
    camera: CameraMove = field(default_factory=CameraMove)

    MAX_BRUSHES = 8


@dataclass(frozen=True, eq=False)
class CameraPath:
    """Stabilize's measurements, per frame, for plotting.

    ``raw`` and ``smoothed`` are (T, 4) arrays of cumulative (x, y, rotation_deg, scale).
    ``luma_before``/``luma_after`` are (T,) mean luma before and after deflicker.
    """

    raw: np.ndarray
    smoothed: np.ndarray
    cuts: tuple[int, ...] = ()
    zoom: float = 1.0
    luma_before: np.ndarray | None = None
    luma_after: np.ndarray | None = None
