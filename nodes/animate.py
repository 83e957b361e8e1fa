"""Studio's CPU *cut-and-drag* animator: the built-in ImageToVideo and the diffusion guidance.

Each motion brush cuts its region out of the keyframe (with feathered edges) and drags it so that
the region's centroid follows the brush's trajectory, eased over the brush's ``start..end`` span
of the clip, optionally rotating and scaling about that centroid. The trajectory is taken
*relative to its first point*: the region moves by ``trajectory(s) - trajectory(0)``, so frame 0
is always the keyframe even when the path was drawn a little beside the region.

The hole a moving region leaves is filled from a *clean plate*: the keyframe with every moving
region removed and filled from its surroundings by a push-pull (pyramid) fill, computed once.
Static brushes are pinned: they never move and no hole fill covers them.

The camera move applies to the whole composited frame, about its centre, eased from identity:

* ``pan`` > 0 moves the camera right (the picture slides left) by ``pan`` x frame width;
* ``tilt`` > 0 moves the camera up (the picture slides down) by ``tilt`` x frame height;
* ``zoom`` > 1 pushes in (the picture grows); ``roll`` > 0 rolls the camera counter-clockwise
  (the picture turns clockwise) by ``roll`` degrees.

Brush ``rotation`` > 0 turns the region counter-clockwise on screen; ``scale`` > 1 grows it.

Alongside the clip come per-frame masks for diffusion models (Wan VACE: white = generate):
1 where a brush moved content or revealed the plate, and where the camera revealed area beyond
the keyframe's edges; 0 where pixels are the keyframe's own (possibly carried by the camera).

Speed: everything per brush (plate, premultiplied cutout, hole alpha) is precomputed; per frame
there are only warps and blends on the regions' bounding boxes plus one camera warp.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from studio.graph.spec import NodeError
from studio.graph.types import CameraMove, Motion, MotionBrushValue, Video

MIN_FRAMES, MAX_FRAMES = 1, 1025
MIN_SIDE, MAX_SIDE = 16, 4096
# Video (uint8 RGB) plus masks (float32) for this many pixel-frames is about 4 GB.
MAX_PIXEL_FRAMES = 600_000_000
EASES = ("linear", "ease-in", "ease-out", "ease-in-out")


@dataclass(frozen=True)
class GuidanceClip:
    """The rendered cut-and-drag clip and where it changed the keyframe.

    ``masks`` is (T, H, W) float32 in [0, 1]: 1 where the animator moved or revealed pixels
    (white = "generate" for Wan VACE), 0 for static or untouched areas.
    """

    video: Video
    masks: np.ndarray


def ease(kind: str, t: float) -> float:
    """Map linear progress ``t`` in [0, 1] through an easing curve."""
    t = min(1.0, max(0.0, t))
    if kind == "linear":
        return t
    if kind == "ease-in":
        return t * t
    if kind == "ease-out":
        return 1.0 - (1.0 - t) ** 2
    if kind == "ease-in-out":
        return t * t * (3.0 - 2.0 * t)
    raise NodeError(f"unknown ease {kind!r}; expected one of {', '.join(EASES)}")


def span_progress(kind: str, fraction: float, start: float, end: float) -> float:
    """Eased progress at ``fraction`` of the clip for motion spanning ``start..end``."""
    if end <= start:
        return 1.0 if fraction >= end else 0.0
    return ease(kind, (fraction - start) / (end - start))


def point_along(path: np.ndarray, cumulative: np.ndarray, s: float) -> np.ndarray:
    """The point at arc-length fraction ``s`` of a polyline (``cumulative`` = running lengths)."""
    total = float(cumulative[-1])
    if total <= 0.0 or len(path) == 1:
        return path[0].copy()
    target = min(1.0, max(0.0, s)) * total
    i = int(np.searchsorted(cumulative, target, side="right")) - 1
    i = min(max(i, 0), len(path) - 2)
    seg = float(cumulative[i + 1] - cumulative[i])
    u = 0.0 if seg <= 0 else (target - float(cumulative[i])) / seg
    return path[i] + u * (path[i + 1] - path[i])


def cover_crop(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize ``image`` to cover ``width`` x ``height`` and crop the centre: never distorted."""
    h, w = image.shape[:2]
    if (w, h) == (width, height):
        return image
    scale = max(width / w, height / h)
    new_w, new_h = max(width, round(w * scale)), max(height, round(h * scale))
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, (new_w, new_h), interpolation=interp)
    x0, y0 = (new_w - width) // 2, (new_h - height) // 2
    return np.ascontiguousarray(resized[y0 : y0 + height, x0 : x0 + width])


def fill_holes(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Fill ``hole`` (float mask, > 0 = unknown) from its surroundings by push-pull.

    Known colours are averaged down an image pyramid until every pixel has support, then
    pulled back up; the result is smooth (no streaks, no black) and costs a few milliseconds.
    """
    known = (hole < 0.01).astype(np.float32)
    if known.min() > 0:
        return image.copy()
    if known.max() == 0:
        raise NodeError(
            "the moving brushes cover the whole frame, so nothing is left to fill the holes "
            "from: to move everything use the camera move instead"
        )
    colour = image.astype(np.float32) * known[..., None]
    weights = [known]
    colours = [colour]
    while min(weights[-1].shape) > 1 and weights[-1].min() <= 0:
        h, w = weights[-1].shape
        size = (max(1, (w + 1) // 2), max(1, (h + 1) // 2))
        weights.append(cv2.resize(weights[-1], size, interpolation=cv2.INTER_AREA))
        colours.append(cv2.resize(colours[-1], size, interpolation=cv2.INTER_AREA))
    # Coarsest level: normalise what support there is.
    filled = colours[-1] / np.maximum(weights[-1], 1e-6)[..., None]
    for level in range(len(weights) - 2, -1, -1):
        h, w = weights[level].shape
        up = cv2.resize(filled, (w, h), interpolation=cv2.INTER_LINEAR)
        wl = weights[level]
        mean = colours[level] / np.maximum(wl, 1e-6)[..., None]
        trust = np.clip(wl * 4.0, 0.0, 1.0)[..., None]  # partly-known pixels lean on themselves
        filled = mean * trust + up * (1.0 - trust)
    out = np.where(known[..., None] > 0, image.astype(np.float32), filled)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


@dataclass
class _Layer:
    """One brush, prepared once: its cutout, hole and path in frame pixels."""

    brush: MotionBrushValue
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the cutout
    cutout: np.ndarray  # (h, w, 4) float32: premultiplied RGB and alpha
    hole_box: tuple[int, int, int, int]
    hole: np.ndarray  # (h, w, 1) float32: how much of the plate shows once the region leaves
    plate: np.ndarray  # (h, w, 3) float32: the clean plate under ``hole_box``
    centroid: np.ndarray  # (2,) x, y
    path: np.ndarray  # (N, 2) pixels
    cumulative: np.ndarray  # (N,)


def cut_and_drag(
    image: np.ndarray,
    motion: Motion,
    *,
    frames: int,
    fps: float,
    size: tuple[int, int] | None = None,
    progress: Callable[[int, int], None] | None = None,
    info: Callable[[str], None] | None = None,
    new_frames: Callable[..., np.ndarray] | None = None,
    focus: int | None = None,
    preview: Callable[[np.ndarray], None] | None = None,
) -> GuidanceClip:
    """Animate ``image`` by dragging its brushed regions and moving the camera.

    ``size`` is (width, height); when given the keyframe is resized to cover it and
    centre-cropped. ``progress(done, total)`` is called once per frame (it may raise to cancel);
    ``info(message)`` hears about adjustments made on the way (a region stretched to fit).
    ``focus``: a frame to make first and hand to ``preview`` (live draft feedback shows the
    frame under the playhead before the rest of the clip).
    """
    # 1. Check inputs and bring the keyframe to the output size.
    keyframe = _check_inputs(image, motion, frames, fps, size)
    height, width = keyframe.shape[:2]
    feather = max(1.0, 0.004 * min(width, height))

    # 2. Prepare brushes: regions at frame size, pinned (static) area, clean plate.
    _report_stretched_regions(motion, image.shape[:2], info)
    regions = [
        _region_alpha(b.region, image.shape[:2], width, height, feather) for b in motion.brushes
    ]
    static = np.zeros((height, width), np.float32)
    for brush, alpha in zip(motion.brushes, regions, strict=True):
        if brush.static:
            np.maximum(static, alpha, out=static)
    grow = max(2, round(feather * 2))
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * grow + 1, 2 * grow + 1))
    holes = [cv2.dilate(alpha, kernel) * (1.0 - static) for alpha in regions]
    moving = [i for i, b in enumerate(motion.brushes) if not b.static and regions[i].max() > 0]
    plate = keyframe
    if moving:
        union = np.max([holes[i] for i in moving], axis=0)
        plate = fill_holes(keyframe, union)
    keyframe_f = keyframe.astype(np.float32)
    plate_f = plate.astype(np.float32)
    layers = [
        _prepare_layer(motion.brushes[i], keyframe_f, plate_f, regions[i], holes[i], width, height)
        for i in moving
    ]

    # 3. Render frame by frame: holes, then cutouts in brush order, then the camera.
    # ``new_frames`` (a node's ``ctx.new_frames``) puts a long clip in a mapped scratch file.
    allocate = new_frames or np.empty

    def frame_at(t: int, mask_out: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        mask_out[...] = 0.0  # uninitialised buffer: each frame's mask starts clear
        fraction = t / (frames - 1) if frames > 1 else 0.0
        canvas, mask = _render_frame(keyframe_f, layers, fraction, mask_out)
        return _apply_camera(canvas, mask, motion.camera, fraction)

    if focus is not None and preview is not None and 0 <= focus < frames:
        preview(frame_at(focus, np.empty((height, width), np.float32))[0])
    video = allocate((frames, height, width, 3), np.uint8)
    masks = allocate((frames, height, width), np.float32)
    for t in range(frames):
        video[t], masks[t] = frame_at(t, masks[t])
        if progress is not None:
            progress(t + 1, frames)
    return GuidanceClip(video=Video(video, float(fps)), masks=masks)


def _check_inputs(
    image: np.ndarray, motion: Motion, frames: int, fps: float, size: tuple[int, int] | None
) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise NodeError(f"the keyframe must be an image array, got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise NodeError(f"the keyframe must be an (H, W, 3) RGB image, got shape {image.shape}")
    if image.dtype != np.uint8:
        raise NodeError(f"the keyframe must be 8-bit (uint8), got {image.dtype}")
    image = np.ascontiguousarray(image[..., :3])
    if min(image.shape[:2]) < 2:
        raise NodeError(f"the keyframe is too small to animate: {image.shape[1]}x{image.shape[0]}")
    if isinstance(frames, bool) or not isinstance(frames, int):
        raise NodeError(f"frames must be a whole number, got {frames!r}")
    if not MIN_FRAMES <= frames <= MAX_FRAMES:
        raise NodeError(f"frames = {frames} is out of range; use {MIN_FRAMES} to {MAX_FRAMES}")
    if not (isinstance(fps, (int, float)) and math.isfinite(fps) and 0 < fps <= 240):
        raise NodeError(f"fps = {fps!r} is out of range; use a value above 0 and up to 240")
    if size is None:
        width, height = image.shape[1], image.shape[0]
    else:
        width, height = (int(v) for v in size)
    for name, value in (("width", width), ("height", height)):
        if not MIN_SIDE <= value <= MAX_SIDE:
            raise NodeError(f"{name} = {value} px is out of range; use {MIN_SIDE} to {MAX_SIDE} px")
    if frames * width * height > MAX_PIXEL_FRAMES:
        raise NodeError(
            f"{frames} frames at {width}x{height} is too much to hold in memory; keep frames x "
            f"width x height under {MAX_PIXEL_FRAMES:,} (fewer frames or a smaller size)"
        )
    if len(motion.brushes) > Motion.MAX_BRUSHES:
        raise NodeError(
            f"{len(motion.brushes)} motion brushes; at most {Motion.MAX_BRUSHES} are supported"
        )
    for brush in motion.brushes:
        label = brush.name or "a motion brush"
        region = np.asarray(brush.region)
        if region.ndim != 2 or min(region.shape) < 1:
            raise NodeError(f"{label}: its region must be a 2-D mask, got shape {region.shape}")
        ease(brush.ease, 0.0)  # raises on an unknown ease
        points = np.asarray(brush.trajectory, np.float64)
        if points.size and (points.ndim != 2 or points.shape[1] != 2):
            raise NodeError(f"{label}: trajectory points must be (x, y) pairs")
        if points.size and not np.isfinite(points).all():
            raise NodeError(f"{label}: its trajectory holds a non-finite coordinate")
        if not (math.isfinite(brush.scale) and 0.05 <= brush.scale <= 20):
            raise NodeError(f"{label}: scale = {brush.scale} is out of range; use 0.05 to 20")
    camera = motion.camera
    ease(camera.ease, 0.0)
    if not (math.isfinite(camera.zoom) and 0.1 <= camera.zoom <= 10):
        raise NodeError(f"camera zoom = {camera.zoom} is out of range; use 0.1 to 10")
    return cover_crop(image, width, height)


def _report_stretched_regions(
    motion: Motion, keyframe_hw: tuple[int, ...], info: Callable[[str], None] | None
) -> None:
    """Regions cover the keyframe whatever their size; say so when that changes their shape."""
    if info is None:
        return
    kh, kw = keyframe_hw
    for index, brush in enumerate(motion.brushes):
        rh, rw = brush.region.shape
        if abs(rw / rh - kw / kh) > 0.01 * (kw / kh):
            info(
                f"{brush.name or f'brush {index + 1}'}: its region is {rw}x{rh} but the keyframe "
                f"is {kw}x{kh}; the region was stretched to cover the keyframe"
            )


def _region_alpha(
    region: np.ndarray, keyframe_hw: tuple[int, ...], width: int, height: int, feather: float
) -> np.ndarray:
    """The brush's region as a feathered float32 alpha at frame size."""
    alpha = np.clip(np.asarray(region, np.float32), 0.0, 1.0)
    # Regions are drawn over the keyframe: map them to it, then crop like the keyframe.
    kh, kw = keyframe_hw
    if alpha.shape != (kh, kw):
        alpha = cv2.resize(alpha, (kw, kh), interpolation=cv2.INTER_LINEAR)
    alpha = cover_crop(alpha, width, height)
    alpha = cv2.GaussianBlur(alpha, (0, 0), feather)
    alpha[alpha < 1e-3] = 0.0  # a hard edge to the blur's tail keeps untouched pixels exact
    return alpha


def _bounding_box(alpha: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(alpha.max(axis=1) > 0)[0], np.nonzero(alpha.max(axis=0) > 0)[0]
    return int(xs[0]), int(ys[0]), int(xs[-1]) + 1, int(ys[-1]) + 1


def _prepare_layer(
    brush: MotionBrushValue,
    keyframe: np.ndarray,
    plate: np.ndarray,
    alpha: np.ndarray,
    hole: np.ndarray,
    width: int,
    height: int,
) -> _Layer:
    x0, y0, x1, y1 = _bounding_box(alpha)
    a = alpha[y0:y1, x0:x1, None]
    cutout = np.concatenate([keyframe[y0:y1, x0:x1] * a, a], axis=2)
    hx0, hy0, hx1, hy1 = _bounding_box(hole)
    total = float(alpha.sum())
    ys, xs = np.mgrid[y0:y1, x0:x1]
    centroid = np.array(
        [float((xs * a[..., 0]).sum()) / total, float((ys * a[..., 0]).sum()) / total]
    )
    path = np.array(brush.trajectory, np.float64).reshape(-1, 2) * (width, height)
    if len(path) == 0:  # no path: the brush only turns or scales in place
        path = centroid[None, :].copy()
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1) if len(path) > 1 else np.zeros(0)
    return _Layer(
        brush=brush,
        box=(x0, y0, x1, y1),
        cutout=np.ascontiguousarray(cutout, np.float32),
        hole_box=(hx0, hy0, hx1, hy1),
        hole=np.ascontiguousarray(hole[hy0:hy1, hx0:hx1, None]),
        plate=np.ascontiguousarray(plate[hy0:hy1, hx0:hx1]),
        centroid=centroid,
        path=path,
        cumulative=np.concatenate([[0.0], np.cumsum(steps)]),
    )


def layer_transform(layer: _Layer, fraction: float) -> np.ndarray | None:
    """The brush's 2x3 affine (keyframe pixels -> frame pixels) at ``fraction`` of the clip,
    or None while it has not moved yet."""
    brush = layer.brush
    p = span_progress(brush.ease, fraction, brush.start, brush.end)
    if p <= 0.0:
        return None
    offset = point_along(layer.path, layer.cumulative, p) - layer.path[0]
    angle = brush.rotation * p
    scale = 1.0 + (brush.scale - 1.0) * p
    cx, cy = layer.centroid
    matrix = cv2.getRotationMatrix2D((float(cx), float(cy)), angle, scale)
    matrix[:, 2] += offset
    return matrix


def _render_frame(
    keyframe: np.ndarray, layers: list[_Layer], fraction: float, mask: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    canvas = keyframe.copy()
    transforms = [layer_transform(layer, fraction) for layer in layers]
    # Reveal the plate wherever a region has left.
    for layer, matrix in zip(layers, transforms, strict=True):
        if matrix is None:
            continue
        x0, y0, x1, y1 = layer.hole_box
        roi = canvas[y0:y1, x0:x1]
        roi += (layer.plate - roi) * layer.hole
        np.maximum(mask[y0:y1, x0:x1], layer.hole[..., 0], out=mask[y0:y1, x0:x1])
    # Lay every cutout back on top, moved or not, so a later hole never eats a waiting region.
    height, width = mask.shape
    for layer, matrix in zip(layers, transforms, strict=True):
        x0, y0, x1, y1 = layer.box
        if matrix is None:
            _over(canvas, layer.cutout, x0, y0)
            continue
        corners = np.array([[x0, y0, 1], [x1, y0, 1], [x0, y1, 1], [x1, y1, 1]], np.float64)
        moved = corners @ matrix.T
        dx0, dy0 = (max(0, math.floor(v) - 1) for v in moved.min(axis=0))
        dx1 = min(width, math.ceil(moved[:, 0].max()) + 1)
        dy1 = min(height, math.ceil(moved[:, 1].max()) + 1)
        if dx1 <= dx0 or dy1 <= dy0:
            continue  # dragged entirely out of frame
        local = matrix.copy()
        local[:, 2] = matrix[:, :2] @ (x0, y0) + matrix[:, 2] - (dx0, dy0)
        warped = cv2.warpAffine(
            layer.cutout,
            local,
            (dx1 - dx0, dy1 - dy0),
            flags=cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=0,
        )
        _over(canvas, warped, dx0, dy0)
        roi = mask[dy0:dy1, dx0:dx1]
        np.maximum(roi, warped[..., 3], out=roi)
    return canvas, mask


def _over(canvas: np.ndarray, premultiplied: np.ndarray, x0: int, y0: int) -> None:
    h, w = premultiplied.shape[:2]
    roi = canvas[y0 : y0 + h, x0 : x0 + w]
    roi *= 1.0 - premultiplied[..., 3:]
    roi += premultiplied[..., :3]


def camera_transform(camera: CameraMove, fraction: float, width: int, height: int) -> np.ndarray:
    """The camera's 2x3 affine (composited frame -> screen) at ``fraction`` of the clip."""
    p = ease(camera.ease, fraction)
    zoom = 1.0 + (camera.zoom - 1.0) * p
    # OpenCV puts pixel centres on integers: the frame turns about ((w - 1) / 2, (h - 1) / 2).
    centre = ((width - 1) / 2.0, (height - 1) / 2.0)
    matrix = cv2.getRotationMatrix2D(centre, -camera.roll * p, zoom)
    matrix[0, 2] -= camera.pan * width * p
    matrix[1, 2] += camera.tilt * height * p
    return matrix


def _apply_camera(
    canvas: np.ndarray, mask: np.ndarray, camera: CameraMove, fraction: float
) -> tuple[np.ndarray, np.ndarray]:
    # Round and saturate to 8 bits in one OpenCV pass (numpy's rint + clip cost 3x as much).
    frame = cv2.convertScaleAbs(canvas)  # canvas values are never negative: abs is a no-op
    if camera.is_identity or fraction <= 0.0:
        return frame, mask
    height, width = mask.shape
    matrix = camera_transform(camera, fraction, width, height)
    # Reflect rather than show black where the camera looks past the keyframe; the mask marks
    # those areas for a diffusion model to paint properly.
    frame = cv2.warpAffine(
        frame,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REFLECT_101,
    )
    mask = cv2.warpAffine(
        mask,
        matrix,
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=1.0,
    )
    return frame, mask
