"""Synthetic test clips with known ground truth, cut from real photos (scikit-image ships them).

A clip is a virtual camera moving over a photo: frame t shows the photo through ``poses[t]``,
a similarity mapping centred frame pixels to centred photo pixels. Shaky clips compose a
smooth path with random jitter and gain flicker, so a stabiliser's output can be scored
against the smooth path it should recover. Also the metrics both tests and benchmarks use.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from studio.graph.types import Video

PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry")


@dataclass(frozen=True, eq=False)
class SyntheticClip:
    video: Video
    smooth: np.ndarray  # (T, 3, 3) the steady camera's poses, without jitter
    poses: np.ndarray  # (T, 3, 3) what was rendered: smooth path composed with jitter
    gains: np.ndarray  # (T,) the brightness gain each frame got (flicker and fades)
    cuts: tuple[int, ...] = ()


def photo(name: str = "astronaut") -> np.ndarray:
    """A real RGB photo from scikit-image's bundled data (no download)."""
    from skimage import data

    image = getattr(data, name)()
    if image.ndim == 2:
        image = np.stack([image] * 3, axis=-1)
    return np.ascontiguousarray(image[..., :3], dtype=np.uint8)


def similarity(x: float, y: float, rotation_deg: float, scale: float = 1.0) -> np.ndarray:
    a = math.radians(rotation_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    return np.array([[c, -s, x], [s, c, y], [0.0, 0.0, 1.0]])


def render(
    image: np.ndarray, poses: np.ndarray, gains: np.ndarray, size: tuple[int, int]
) -> np.ndarray:
    """Frames (T, H, W, 3) of ``image`` seen through ``poses``, times ``gains``."""
    width, height = size
    # Enlarge the photo so the views never leave it and are never upsampled much.
    reach = max(width, height) * 0.75 + np.abs(poses[:, :2, 2]).max()
    scale = max(1.0, 2 * reach / min(image.shape[:2]))
    big = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    big_centre = np.array(
        [[1, 0, (big.shape[1] - 1) / 2], [0, 1, (big.shape[0] - 1) / 2], [0, 0, 1.0]]
    )
    out_centre = np.array([[1, 0, (width - 1) / 2], [0, 1, (height - 1) / 2], [0, 0, 1.0]])
    frames = np.empty((len(poses), height, width, 3), dtype=np.uint8)
    for t, pose in enumerate(poses):
        warp = big_centre @ pose @ np.linalg.inv(out_centre)
        view = cv2.warpAffine(
            big,
            warp[:2],
            (width, height),
            flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_REFLECT,
        )
        frames[t] = np.clip(view.astype(np.float32) * gains[t], 0, 255).round().astype(np.uint8)
    return frames


def smooth_path(frames: int, size: tuple[int, int]) -> np.ndarray:
    """A gentle camera move: a slightly accelerating pan, a drift down, a slow roll."""
    width, _ = size
    u = np.linspace(0.0, 1.0, frames)
    x = width * (-0.06 + 0.10 * u + 0.03 * u * u)
    y = width * 0.02 * u
    roll = 1.0 * u
    return np.array([similarity(x[t], y[t], roll[t]) for t in range(frames)])


def shaky_clip(
    frames: int = 48,
    size: tuple[int, int] = (320, 180),
    image: str = "astronaut",
    jitter_px: float = 3.0,
    jitter_deg: float = 0.5,
    flicker: float = 0.06,
    seed: int = 0,
    fps: float = 24.0,
) -> SyntheticClip:
    """A smooth move plus uniform jitter (+-``jitter_px`` at 640 px wide, scaled with the
    width; +-``jitter_deg``) and uniform gain flicker of +-``flicker``."""
    rng = np.random.default_rng(seed)
    smooth = smooth_path(frames, size)
    px = jitter_px * size[0] / 640.0
    jitter = [
        similarity(*rng.uniform(-px, px, 2), rng.uniform(-jitter_deg, jitter_deg))
        for _ in range(frames)
    ]
    poses = np.array([s @ j for s, j in zip(smooth, jitter, strict=True)])
    gains = 1.0 + rng.uniform(-flicker, flicker, frames)
    pixels = render(photo(image), poses, gains, size)
    return SyntheticClip(Video(pixels, fps), smooth, poses, gains)


def static_clip(frames: int = 12, size: tuple[int, int] = (160, 96)) -> SyntheticClip:
    poses = np.repeat(np.eye(3)[None], frames, axis=0)
    gains = np.ones(frames)
    pixels = render(photo("coffee"), poses[:1], gains[:1], size)
    return SyntheticClip(Video(np.repeat(pixels, frames, axis=0), 24.0), poses, poses, gains)


def cut_clip(
    frames: int = 40,
    size: tuple[int, int] = (320, 180),
    seed: int = 0,
    images: tuple[str, str] = ("astronaut", "coffee"),
) -> SyntheticClip:
    """Two shaky shots of different photos, cut together at ``frames // 2``."""
    half = frames // 2
    first = shaky_clip(half, size, images[0], seed=seed)
    second = shaky_clip(frames - half, size, images[1], seed=seed + 1)
    pixels = np.concatenate([first.video.frames, second.video.frames])
    return SyntheticClip(
        Video(pixels, 24.0),
        np.concatenate([first.smooth, second.smooth]),
        np.concatenate([first.poses, second.poses]),
        np.concatenate([first.gains, second.gains]),
        cuts=(half,),
    )


def fade_clip(
    frames: int = 40, size: tuple[int, int] = (160, 96), flicker: float = 0.0, seed: int = 0
) -> SyntheticClip:
    """A still shot fading linearly from full brightness to 40%, optionally flickering."""
    rng = np.random.default_rng(seed)
    ramp = np.linspace(1.0, 0.4, frames)
    gains = ramp * (1.0 + rng.uniform(-flicker, flicker, frames))
    poses = np.repeat(np.eye(3)[None], frames, axis=0)
    pixels = render(photo("chelsea"), poses, gains, size)
    return SyntheticClip(Video(pixels, 24.0), poses, poses, gains)


# --- metrics -------------------------------------------------------------------------------


def luma_curve(frames: np.ndarray) -> np.ndarray:
    """Mean Rec. 601 luma per frame."""
    weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
    return np.array([float((f.astype(np.float32) @ weights).mean()) for f in frames])


def flicker_index(frames: np.ndarray, sigma: float = 3.0) -> float:
    """Std of the high-passed mean luma: what is left after removing changes slower than
    ~``sigma`` frames (fades, exposure drifts)."""
    from scipy.ndimage import gaussian_filter1d

    luma = luma_curve(frames)
    return float(np.std(luma - gaussian_filter1d(luma, sigma, mode="nearest")))


def track_pair(a: np.ndarray, b: np.ndarray, margin: float = 0.12) -> np.ndarray | None:
    """Similarity (3x3, centred pixels) mapping frame ``a`` onto frame ``b``, measured on the
    inner part of the frame (replicated borders would pull it), or None."""
    ga, gb = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (a, b))
    h, w = ga.shape
    mask = np.zeros_like(ga)
    mask[int(h * margin) : int(h * (1 - margin)), int(w * margin) : int(w * (1 - margin))] = 255
    pts = cv2.goodFeaturesToTrack(ga, 400, 0.01, 6, mask=mask, blockSize=5)
    if pts is None or len(pts) < 10:
        return None
    lk = {
        "winSize": (25, 25),
        "maxLevel": 4,
        "criteria": (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 0.001),
    }
    fwd, st, _ = cv2.calcOpticalFlowPyrLK(ga, gb, pts, None, **lk)
    back, st2, _ = cv2.calcOpticalFlowPyrLK(gb, ga, fwd, None, **lk)
    ok = (st.ravel() == 1) & (st2.ravel() == 1)
    ok &= np.linalg.norm((back - pts).reshape(-1, 2), axis=1) < 0.3
    if ok.sum() < 10:
        return None
    centre = np.array([(w - 1) / 2, (h - 1) / 2])
    fit, _ = cv2.estimateAffinePartial2D(
        pts[ok].reshape(-1, 2) - centre,
        fwd[ok].reshape(-1, 2) - centre,
        method=cv2.LMEDS,
        refineIters=20,
    )
    return None if fit is None else np.vstack([fit, [0, 0, 1.0]])


def residual_jitter(frames: np.ndarray, clip: SyntheticClip, skip: tuple[int, ...] = ()) -> float:
    """RMS error (px) between the frame-to-frame motion re-tracked in ``frames`` and the
    motion of the clip's smooth path, over a grid spanning the inner frame.

    A stabiliser may legitimately view the smooth path through a constant zoom and roll (its
    crop), which scales and turns every frame-to-frame shift alike; one complex gain fitted to
    the whole clip absorbs that, and cannot absorb jitter. Pairs straddling ``skip`` (cuts) are
    left out. Failed re-tracks count as the full input jitter would, so they cannot flatter.
    """
    h, w = frames.shape[1:3]
    gx, gy = np.meshgrid(np.linspace(-0.4, 0.4, 5) * w, np.linspace(-0.4, 0.4, 5) * h)
    grid = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    measured, truth = [], []
    for t in range(len(frames) - 1):
        if t + 1 in skip:
            continue
        measured.append(track_pair(frames[t], frames[t + 1]))
        # Photo point P_t q lands at P_{t+1}^-1 P_t q in the next frame.
        truth.append(np.linalg.inv(clip.smooth[t + 1]) @ clip.smooth[t])
    pairs = [(m, g) for m, g in zip(measured, truth, strict=True) if m is not None]
    shifts = np.array([complex(m[0, 2], m[1, 2]) for m, _ in pairs])
    true_shifts = np.array([complex(g[0, 2], g[1, 2]) for _, g in pairs])
    power = float(np.sum(np.abs(true_shifts) ** 2))
    gain = np.sum(shifts * np.conj(true_shifts)) / power if power > 1e-9 else 1.0
    errors = []
    for (m, g), true_shift in zip(pairs, true_shifts, strict=True):
        expected = g.copy()
        expected[0, 2], expected[1, 2] = (gain * true_shift).real, (gain * true_shift).imag
        errors.append(np.sum((m @ grid - expected @ grid)[:2] ** 2, axis=0))
    failures = len(measured) - len(pairs)
    penalty = [np.full(grid.shape[1], 2 * 3.0**2)] * failures
    return float(np.sqrt(np.mean(np.concatenate(errors + penalty))))


# --- real footage ---------------------------------------------------------------------------


def shake(
    frames: np.ndarray, jitter_px: float, jitter_deg: float, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` each moved by a known random similarity about the centre (uniform shift of
    +-``jitter_px``, roll of +-``jitter_deg``); returns the shaken frames and the (T, 3, 3)
    centred maps from original to shaken pixels. Uncovered edges are mirrored, as a real
    camera would show more of the scene, not a black band."""
    rng = np.random.default_rng(seed)
    height, width = frames.shape[1:3]
    centre = np.array([[1, 0, (width - 1) / 2], [0, 1, (height - 1) / 2], [0, 0, 1.0]])
    moves = np.array(
        [
            similarity(*rng.uniform(-jitter_px, jitter_px, 2), rng.uniform(-jitter_deg, jitter_deg))
            for _ in frames
        ]
    )
    out = np.empty_like(frames)
    for t, (frame, move) in enumerate(zip(frames, moves, strict=True)):
        warp = centre @ move @ np.linalg.inv(centre)
        cv2.warpAffine(
            frame,
            warp[:2],
            (width, height),
            dst=out[t],
            flags=cv2.INTER_CUBIC,
            borderMode=cv2.BORDER_REFLECT,
        )
    return out, moves


def misalignment(frames: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """(T, 2, 25): where a 5x5 grid spanning the inner part of ``reference[t]`` lands in
    ``frames[t]`` (re-tracked), minus the clip-wide median landing: a constant crop, zoom or
    roll, which no viewer sees as shake, is taken out. Frames that cannot be re-tracked are
    NaN. Its RMS is the misplacement in px; the RMS of its frame-to-frame change, the shake."""
    h, w = frames.shape[1:3]
    gx, gy = np.meshgrid(np.linspace(-0.4, 0.4, 5) * w, np.linspace(-0.4, 0.4, 5) * h)
    grid = np.stack([gx.ravel(), gy.ravel(), np.ones(gx.size)])
    landed = np.full((len(frames), 2, grid.shape[1]), np.nan)
    for t, (frame, ref) in enumerate(zip(frames, reference, strict=True)):
        fit = track_pair(ref, frame)
        if fit is not None:
            landed[t] = (fit @ grid)[:2]
    return landed - np.nanmedian(landed, axis=0)


def rms_px(offsets: np.ndarray) -> float:
    """RMS length of (..., 2, N) displacement vectors."""
    return float(np.sqrt(np.mean(np.sum(offsets**2, axis=-2))))
