"""A/B compare of two frames: wipe, side by side, difference (pure numpy, no Qt).

B is resized to A's size when they differ, so a stabilised (cropped and rescaled) clip can be
wiped against its source.
"""

from __future__ import annotations

import cv2
import numpy as np

MODES = ("A", "B", "wipe", "side by side", "difference")
DIFFERENCE_GAIN = 4.0  # small differences are what matter; amplify so they are visible


def match_size(b: np.ndarray, a: np.ndarray) -> np.ndarray:
    if b.shape[:2] == a.shape[:2]:
        return b
    return cv2.resize(b, (a.shape[1], a.shape[0]), interpolation=cv2.INTER_AREA)


def compose(a: np.ndarray, b: np.ndarray, mode: str, wipe: float = 0.5) -> np.ndarray:
    """The frame the viewer shows for A/B ``mode``; ``wipe`` is the split as a fraction of width.

    ``difference`` shows |A - B| times :data:`DIFFERENCE_GAIN`: identical frames give black.
    """
    if mode not in MODES:
        raise ValueError(f"unknown compare mode {mode!r}; expected one of {', '.join(MODES)}")
    if mode == "A":
        return a
    b = match_size(b, a)
    if mode == "B":
        return b
    if mode == "wipe":
        split = int(round(min(max(wipe, 0.0), 1.0) * a.shape[1]))
        out = a.copy()
        out[:, split:] = b[:, split:]
        return out
    if mode == "side by side":
        gap = np.zeros((a.shape[0], max(2, a.shape[1] // 200), 3), np.uint8)
        return np.concatenate([a, gap, b], axis=1)
    diff = cv2.absdiff(a, b)
    return cv2.convertScaleAbs(diff, alpha=DIFFERENCE_GAIN)
