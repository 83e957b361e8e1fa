"""Deflicker: match each frame's mean luma to a temporally smoothed target with one gain.

The target is a Gaussian-weighted local *linear* fit of the luma curve, so a fade (a ramp)
is followed exactly, even at the ends of the clip, while frame-to-frame flicker is averaged
away. Wider windows remove slower flicker but start to flatten curved fades.
"""

from __future__ import annotations

import cv2
import numpy as np

from nodes.stabilize.path import local_linear, segments

LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)  # Rec. 601, as video does
_IDENTITY = np.arange(256, dtype=np.float64)


def mean_luma(frame: np.ndarray) -> float:
    """Mean luma in [0, 255]; luma is linear in RGB, so it is the luma of the mean colour."""
    return float(np.dot(cv2.mean(frame)[:3], LUMA_WEIGHTS))


def luma_target(luma: np.ndarray, cuts: tuple[int, ...], window: float) -> np.ndarray:
    """The smoothed luma each frame should have; shots are fitted separately."""
    target = np.empty_like(luma, dtype=np.float64)
    for start, end in segments(len(luma), cuts):
        target[start:end] = local_linear(luma[start:end, None], window)[:, 0]
    return np.clip(target, 0.0, 255.0)


def apply_gain(frame: np.ndarray, gain: float) -> np.ndarray:
    """``frame`` times ``gain`` through a lookup table; the same array when nothing changes."""
    table = np.clip(np.rint(_IDENTITY * gain), 0, 255).astype(np.uint8)
    if np.array_equal(table, _IDENTITY.astype(np.uint8)):
        return frame
    return cv2.LUT(frame, table)
