"""Frame-to-frame camera motion: corners tracked with pyramidal Lucas-Kanade on a small grey
copy, checked forward and backward, fitted with a robust similarity; scene cuts detected on
the way (a gain-invariant histogram jump, or tracking that fails on a textured frame)."""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

ANALYSIS_SIDE = 480  # long side of the grey copy that is tracked; full res is only warped
MAX_CORNERS = 150
# Corners are picked per cell of this grid (rows, columns), so a large, contrasty moving
# object (a bus roof under a still camera, in real footage) cannot hold most of the corners
# and outvote the fainter background that shows the camera's own motion.
CORNER_GRID = (3, 3)
MIN_TRACKS = 12  # fewer usable corners than this: a featureless frame, assume no motion
FB_TOLERANCE = 0.5  # px at analysis scale: forward-backward disagreement that rejects a track
MIN_INLIER_SHARE = 0.3  # below this on a textured frame, tracking failed
# A tracking failure is a cut only if the histograms also moved this share of the way to
# the cut threshold: different shots can share a histogram, one shot's frames always do.
SUSPECT_SHARE = 0.4
HIST_BINS = 32
RANSAC_PX = 1.0  # analysis px
# When a frame that is no cut fails the test above (motion blur, cars crossing a panning
# shot in real footage), it is measured again, roughly: the tracks within ROUGH_PX of the
# median flow, if they are ROUGH_SHARE of those that passed the forward-backward check, fit
# the motion. Assuming the frame still would put its whole motion into the path as a jump; a
# free fit with a looser RANSAC let spurious rolls of ~1 degree in on such frames.
ROUGH_PX = 2.5
ROUGH_SHARE = 0.3

LK_WINDOW = (15, 15)
# Two levels follow shifts of ~30 analysis px a frame; a third misled LK on frames with
# little texture (a rocket against the sky) in our tests.
LK_LEVELS = 2
LK_PARAMS = {
    "winSize": LK_WINDOW,
    "maxLevel": LK_LEVELS,
    "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 30, 0.01),
}


@dataclass
class CameraMotion:
    """What the analysis found: ``steps[t]`` maps frame t into frame t-1 (centred, full-res
    pixels; identity for t = 0 and at cuts)."""

    steps: list[np.ndarray] = field(default_factory=list)
    cuts: list[int] = field(default_factory=list)
    featureless: int = 0  # frames assumed still because nothing could be tracked
    lost: int = 0  # frames whose tracking failed without a cut; assumed still too
    rough: int = 0  # frames measured only with the looser second try


class Analyzer:
    """Feeds frames one at a time so the caller can report progress and honour cancel."""

    def __init__(self, width: int, height: int, cut_threshold: float) -> None:
        self.factor = min(1.0, ANALYSIS_SIDE / max(width, height))
        self.small = (max(8, round(width * self.factor)), max(8, round(height * self.factor)))
        # Resize maps pixel centres x_small = f x_full + (f - 1) / 2 per axis; compose that with
        # a shift to the full-res centre so measured motion comes out centred and full-res.
        fx, fy = self.small[0] / width, self.small[1] / height
        to_small = np.array([[fx, 0, (fx - 1) / 2], [0, fy, (fy - 1) / 2], [0, 0, 1.0]])
        from_centred = np.array([[1, 0, (width - 1) / 2], [0, 1, (height - 1) / 2], [0, 0, 1.0]])
        self._to_small = to_small @ from_centred
        self._from_small = np.linalg.inv(self._to_small)
        self.cut_threshold = cut_threshold
        self.motion = CameraMotion()
        self._prev: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None

    def add(self, frame: np.ndarray) -> None:
        grey = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        if self.factor < 1.0:
            grey = cv2.resize(grey, self.small, interpolation=cv2.INTER_AREA)
        hist = normalised_histogram(grey)
        step = np.eye(3)
        if self._prev is not None:
            jump = cv2.compareHist(self._prev_hist, hist, cv2.HISTCMP_BHATTACHARYYA)
            measured = None if jump > self.cut_threshold else self._measure(self._prev, grey)
            if measured is None and jump > SUSPECT_SHARE * self.cut_threshold:
                self.motion.cuts.append(len(self.motion.steps))
            elif measured is None:
                measured = self._measure(self._prev, grey, rough=True)
                if measured is None:
                    self.motion.lost += 1
                else:
                    self.motion.rough += 1
            if measured is _STILL:
                self.motion.featureless += 1
            elif measured is not None:
                step = self._from_small @ measured @ self._to_small
        self.motion.steps.append(step)
        self._prev, self._prev_hist = grey, hist

    def _measure(
        self, prev: np.ndarray, cur: np.ndarray, rough: bool = False
    ) -> np.ndarray | object | None:
        """3x3 map from ``cur`` to ``prev`` (analysis pixels); _STILL, or None: tracking failed.

        Strict (the default) asks a share of all corners to agree within RANSAC_PX, which a
        frame across a cut cannot; ``rough`` asks less (see ROUGH_PX), for frames known not
        to be cuts."""
        corners = _spread_corners(prev)
        if corners is None or len(corners) < MIN_TRACKS:
            return _STILL
        fwd, st1, _ = cv2.calcOpticalFlowPyrLK(prev, cur, corners, None, **LK_PARAMS)
        back, st2, _ = cv2.calcOpticalFlowPyrLK(cur, prev, fwd, None, **LK_PARAMS)
        error = np.linalg.norm((back - corners).reshape(-1, 2), axis=1)
        good = (st1.ravel() == 1) & (st2.ravel() == 1) & (error < FB_TOLERANCE)
        if good.sum() < MIN_TRACKS:
            return None
        src, dst = fwd[good].reshape(-1, 2), corners[good].reshape(-1, 2)
        if rough:
            return _rough_fit(src, dst)
        fit, inliers = cv2.estimateAffinePartial2D(
            src,
            dst,
            method=cv2.RANSAC,
            ransacReprojThreshold=RANSAC_PX,
            maxIters=2000,
            confidence=0.995,
            refineIters=10,
        )
        if fit is None or inliers.sum() < max(MIN_TRACKS, MIN_INLIER_SHARE * len(corners)):
            return None
        return np.vstack([fit, [0.0, 0.0, 1.0]])


_STILL = object()


def _rough_fit(src: np.ndarray, dst: np.ndarray) -> np.ndarray | None:
    """Similarity from ``src`` to ``dst`` fitted to the tracks near their median flow."""
    flow = dst - src
    near = np.linalg.norm(flow - np.median(flow, axis=0), axis=1) < ROUGH_PX
    if near.sum() < max(MIN_TRACKS, ROUGH_SHARE * len(src)):
        return None
    fit, _ = cv2.estimateAffinePartial2D(src[near], dst[near], method=cv2.LMEDS)
    if fit is None:
        shift = np.median(flow[near], axis=0)
        fit = np.array([[1.0, 0.0, shift[0]], [0.0, 1.0, shift[1]]])
    return np.vstack([fit, [0.0, 0.0, 1.0]])


def _spread_corners(grey: np.ndarray) -> np.ndarray | None:
    """Up to MAX_CORNERS corners, an equal share per grid cell (each with its own quality
    threshold), as goodFeaturesToTrack's (N, 1, 2) float32 array; None if none."""
    height, width = grey.shape
    rows, cols = CORNER_GRID
    share = max(MIN_TRACKS // 2, MAX_CORNERS // (rows * cols))
    found = []
    for i in range(rows):
        for j in range(cols):
            y0, y1 = i * height // rows, (i + 1) * height // rows
            x0, x1 = j * width // cols, (j + 1) * width // cols
            cell = cv2.goodFeaturesToTrack(
                np.ascontiguousarray(grey[y0:y1, x0:x1]),
                maxCorners=share,
                qualityLevel=0.01,
                minDistance=8,
                blockSize=7,
            )
            if cell is not None:
                found.append(cell + np.array([x0, y0], dtype=np.float32))
    return np.concatenate(found) if found else None


def normalised_histogram(grey: np.ndarray) -> np.ndarray:
    # Dividing by the mean makes the histogram blind to gain flicker and fades.
    scaled = grey.astype(np.float32) * (1.0 / max(float(grey.mean()), 1.0))
    hist = cv2.calcHist([scaled], [0], None, [HIST_BINS], [0.0, 3.0])
    return cv2.normalize(hist, None, alpha=1.0, norm_type=cv2.NORM_L1)


def analyse(
    frames: np.ndarray, cut_threshold: float, progress: Callable[[int], None]
) -> CameraMotion:
    height, width = frames.shape[1:3]
    analyzer = Analyzer(width, height, cut_threshold)
    for t, frame in enumerate(frames):
        analyzer.add(frame)
        progress(t)
    return analyzer.motion


class AnalysisMemo:
    """The last few analyses, by clip. Dragging a Stabilize slider other than cut_threshold
    (live draft feedback) re-runs the node on the same cached clip, and the tracking --
    nearly all of its time -- depends only on the clip and cut_threshold. A hit is the same
    array or one with equal pixels (compared in full: a few ms, against seconds of tracking;
    the cache may hand out a new mapping of the same clip). Only read-only arrays are
    remembered (the cache freezes every result it holds), so a remembered clip cannot change
    behind the memo's back: a hit is exactly the analysis that would be made again."""

    def __init__(self, size: int = 2) -> None:
        self.size = size
        self._entries: list[tuple[np.ndarray, float, CameraMotion]] = []
        self._lock = threading.Lock()

    def analyse(
        self, frames: np.ndarray, cut_threshold: float, progress: Callable[[int], None]
    ) -> CameraMotion:
        frozen = not frames.flags.writeable
        with self._lock:
            entries = list(self._entries)
        hit = next((m for a, c, m in entries if c == cut_threshold and _same(a, frames)), None)
        if hit is not None:
            progress(len(frames) - 1)  # all of it, at once (and a cancel lands here)
            return copy.deepcopy(hit)
        motion = analyse(frames, cut_threshold, progress)
        if frozen:
            with self._lock:
                self._entries = [(frames, cut_threshold, motion), *self._entries][: self.size]
            motion = copy.deepcopy(motion)
        return motion


MEMO = AnalysisMemo()


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a is b or (a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b))
