"""Port types and the values that flow along edges.

Conventions every node follows:

* IMAGE  -- ``np.ndarray`` of shape (H, W, 3), dtype uint8, RGB.
* MASK   -- ``np.ndarray`` of shape (H, W), dtype float32, values in [0, 1]; 1 = inside.
* VIDEO  -- :class:`Video`: uint8 frames (T, H, W, 3) RGB plus fps, an optional
  :class:`Audio` track (its sample 0 plays with frame 0) and the frame indices where cuts are.
* MOTION -- :class:`Motion`: motion brushes and one camera move, resolution independent.
* CAMERA_PATH -- :class:`CameraPath`: what Stabilize measured, for the viewer's plots.
* AUDIO  -- :class:`Audio`: float32 samples (N, C) plus a sample rate.
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
    AUDIO = "AUDIO"
    ANY = "ANY"

    def accepts(self, other: PortType) -> bool:
        """Whether an input of this type accepts an output of type ``other``."""
        return self is other or PortType.ANY in (self, other)


@dataclass(frozen=True, eq=False)
class Audio:
    """A sound track: ``samples`` is (N, C) float32 in [-1, 1] at ``rate`` samples a second."""

    samples: np.ndarray
    rate: int

    def __post_init__(self) -> None:
        if self.samples.ndim != 2 or not 1 <= self.samples.shape[1] <= 8:
            raise ValueError(f"audio samples must be (N, channels), got {self.samples.shape}")
        if self.samples.dtype != np.float32:
            raise ValueError(f"audio samples must be float32, got {self.samples.dtype}")
        if isinstance(self.rate, bool) or not isinstance(self.rate, int) or not self.rate > 0:
            raise ValueError(f"audio rate must be a positive whole number, got {self.rate!r}")

    def __len__(self) -> int:
        return int(self.samples.shape[0])

    @property
    def channels(self) -> int:
        return int(self.samples.shape[1])

    @property
    def duration_s(self) -> float:
        return len(self) / self.rate


@dataclass(frozen=True, eq=False)
class Video:
    """A clip: ``frames`` is (T, H, W, 3) uint8 RGB (possibly a read-only memory map).

    ``audio`` starts with frame 0 (it may be shorter or longer than the picture; Save Video
    trims it to the picture). ``cuts`` are the frame indices where a new shot starts (Sequence
    sets them; Interpolate never blends across them; the viewer marks them on its timeline).
    Nodes that keep the timing pass both through with ``dataclasses.replace``.
    """

    frames: np.ndarray
    fps: float
    audio: Audio | None = None
    cuts: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if self.frames.ndim != 4 or self.frames.shape[-1] != 3:
            raise ValueError(f"video frames must be (T, H, W, 3), got {self.frames.shape}")
        if self.frames.dtype != np.uint8:
            raise ValueError(f"video frames must be uint8, got {self.frames.dtype}")
        if not self.fps > 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        if self.audio is not None and not isinstance(self.audio, Audio):
            raise ValueError(f"video audio must be an Audio track, got {type(self.audio)}")
        if any(not 0 < c < len(self) for c in self.cuts) or list(self.cuts) != sorted(
            set(self.cuts)
        ):
            raise ValueError(f"cuts must be increasing frame indices inside the clip: {self.cuts}")

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
