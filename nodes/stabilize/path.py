"""Camera paths: similarity transforms about the frame centre, path smoothing and auto-zoom.

All transforms here are 3x3 matrices in *centred* pixel coordinates (origin at the frame
centre, x right, y down) so rotation and scale happen about the centre, as a camera's do.
A pose is summarised as (x, y, rotation_deg, scale); smoothing works on
(x, y, rotation_deg, log scale): in log scale, zooms add up like shifts do.
"""

from __future__ import annotations

import math

import numpy as np

SMOOTHING_MODES = ("gaussian", "l1", "kalman")


def similarity(x: float, y: float, rotation_deg: float, scale: float) -> np.ndarray:
    """The 3x3 matrix that scales and rotates about the origin, then shifts by (x, y)."""
    a = math.radians(rotation_deg)
    c, s = scale * math.cos(a), scale * math.sin(a)
    return np.array([[c, -s, x], [s, c, y], [0.0, 0.0, 1.0]])


def to_params(matrix: np.ndarray) -> np.ndarray:
    """(x, y, rotation_deg, scale) of a similarity matrix."""
    a, b = matrix[0, 0], matrix[1, 0]
    return np.array([matrix[0, 2], matrix[1, 2], math.degrees(math.atan2(b, a)), math.hypot(a, b)])


def from_params(params: np.ndarray) -> np.ndarray:
    return similarity(*(float(v) for v in params))


def cumulative(steps: list[np.ndarray], cuts: tuple[int, ...]) -> np.ndarray:
    """Poses (T, 3, 3) mapping frame t into its segment's first frame; identity at a cut.

    ``steps[t]`` maps frame t into frame t-1 (``steps[0]`` is unused).
    """
    poses = np.empty((len(steps), 3, 3))
    cut_set = set(cuts)
    for t, step in enumerate(steps):
        poses[t] = np.eye(3) if t == 0 or t in cut_set else poses[t - 1] @ step
    return poses


def segments(length: int, cuts: tuple[int, ...]) -> list[tuple[int, int]]:
    """[start, end) ranges between scene cuts."""
    bounds = [0, *sorted(c for c in cuts if 0 < c < length), length]
    return [(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]


def _unwrap_params(poses: np.ndarray) -> np.ndarray:
    """(T, 4) of (x, y, rotation_deg, log scale), rotation unwrapped so it never jumps 360."""
    raw = np.array([to_params(p) for p in poses]).reshape(-1, 4)
    raw[:, 2] = np.degrees(np.unwrap(np.radians(raw[:, 2])))
    raw[:, 3] = np.log(raw[:, 3])
    return raw


def local_linear(values: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian-weighted local linear fit of each column of ``values`` (T, K).

    In the middle of a clip this is exactly a Gaussian blur; near the ends the local line
    keeps a pan (or a fade) going instead of flattening it, which a plain blur would do.
    """
    from scipy.ndimage import correlate1d

    values = np.asarray(values, dtype=np.float64)
    length = values.shape[0]
    if length < 3 or sigma <= 0:
        return values.copy()
    radius = min(int(math.ceil(3.0 * sigma)), length - 1)
    d = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 * (d / sigma) ** 2)

    def window_sum(signal: np.ndarray, weights: np.ndarray) -> np.ndarray:
        # Zero padding: frames outside the clip simply do not take part in the fit.
        return correlate1d(signal, weights, axis=0, mode="constant", cval=0.0)

    ones = np.ones(length)
    s0, s1, s2 = window_sum(ones, w), window_sum(ones, w * d), window_sum(ones, w * d * d)
    y0, y1 = window_sum(values, w), window_sum(values, w * d)
    det = s0 * s2 - s1 * s1
    safe = det > 1e-9 * np.maximum(s0 * s2, 1e-12)
    num = s2[:, None] * y0 - s1[:, None] * y1
    fit = np.where(safe[:, None], num / np.where(safe, det, 1.0)[:, None], y0 / s0[:, None])
    return fit


def l1_path(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    """L1-optimal path (Grundmann et al. 2011): piecewise constant, linear and parabolic.

    Minimises the weighted L1 norms of the first three derivatives of each column subject to
    staying within ``bounds`` (per column) of the measured path, so the crop never runs out.
    """
    from scipy.optimize import linprog
    from scipy.sparse import diags, hstack, vstack

    length, columns = values.shape
    if length < 4:
        return values.copy()
    weights = (10.0, 1.0, 100.0)  # the paper's w1, w2, w3
    sizes = [length - k for k in (1, 2, 3)]
    offsets = np.cumsum([0, *sizes])
    n_slack = int(offsets[-1])
    # Variables: the path p (T), then slacks e1, e2, e3 with -e_k <= D_k p <= e_k.
    rows = []
    for k in (1, 2, 3):
        coeffs = {1: [-1, 1], 2: [1, -2, 1], 3: [-1, 3, -3, 1]}[k]
        d = diags([float(c) for c in coeffs], list(range(k + 1)), shape=(sizes[k - 1], length))
        pick = diags([1.0], [int(offsets[k - 1])], shape=(sizes[k - 1], n_slack))
        rows += [hstack([d, -pick]), hstack([-d, -pick])]
    a_ub = vstack(rows, format="csr")
    b_ub = np.zeros(a_ub.shape[0])
    cost = np.concatenate(
        [np.zeros(length), *(np.full(n, w) for n, w in zip(sizes, weights, strict=True))]
    )
    out = np.empty_like(values)
    for col in range(columns):
        lo, hi = values[:, col] - bounds[col], values[:, col] + bounds[col]
        var_bounds = [*zip(lo, hi, strict=True), *([(0, None)] * n_slack)]
        result = linprog(cost, A_ub=a_ub, b_ub=b_ub, bounds=var_bounds, method="highs")
        out[:, col] = result.x[:length] if result.success else values[:, col]
    return out


def kalman_path(values: np.ndarray, sigma: float) -> np.ndarray:
    """Constant-velocity Kalman filter plus Rauch-Tung-Striebel smoother, per column.

    The process noise is set so the smoother's bandwidth is close to a Gaussian of ``sigma``
    frames; unlike the Gaussian it follows accelerations more willingly.
    """
    length = values.shape[0]
    if length < 3:
        return values.copy()
    f = np.array([[1.0, 1.0], [0.0, 1.0]])
    h = np.array([[1.0, 0.0]])
    q_ratio = 1.0 / max(sigma, 1e-3) ** 4  # process / measurement noise
    q = q_ratio * np.array([[1 / 3, 1 / 2], [1 / 2, 1.0]])
    out = np.empty_like(values, dtype=np.float64)
    for col in range(values.shape[1]):
        z = values[:, col]
        xs, ps = np.zeros((length, 2)), np.zeros((length, 2, 2))
        xp_all, pp_all = np.zeros((length, 2)), np.zeros((length, 2, 2))
        x, p = np.array([z[0], 0.0]), np.eye(2) * 1e6
        for t in range(length):
            xp, pp = (f @ x, f @ p @ f.T + q) if t else (x, p)
            gain = pp @ h.T / (h @ pp @ h.T + 1.0)
            x = xp + (gain * (z[t] - h @ xp)).ravel()
            p = (np.eye(2) - gain @ h) @ pp
            xs[t], ps[t], xp_all[t], pp_all[t] = x, p, xp, pp
        for t in range(length - 2, -1, -1):
            c = ps[t] @ f.T @ np.linalg.inv(pp_all[t + 1])
            xs[t] = xs[t] + c @ (xs[t + 1] - xp_all[t + 1])
            ps[t] = ps[t] + c @ (ps[t + 1] - pp_all[t + 1]) @ c.T
        out[:, col] = xs[:, 0]
    return out


def smooth_poses(
    poses: np.ndarray,
    cuts: tuple[int, ...],
    mode: str,
    sigma: float,
    size: tuple[int, int],
    max_zoom: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Smoothed poses (T, 3, 3) plus raw and smoothed (T, 4) (x, y, rotation_deg, scale)."""
    raw = np.zeros((len(poses), 4))
    smooth = np.zeros_like(raw)
    width, height = size
    # How far the L1 path may stray from the shaky one: what max_zoom's crop can absorb.
    budget = (max_zoom - 1.0) / 2.0
    bounds = np.array([budget * width * 0.7, budget * height * 0.7, 1.0, 0.02])
    for start, end in segments(len(poses), cuts):
        params = _unwrap_params(poses[start:end])
        raw[start:end] = params
        if mode == "l1":
            smooth[start:end] = l1_path(params, bounds)
        elif mode == "kalman":
            smooth[start:end] = kalman_path(params, sigma)
        else:
            smooth[start:end] = local_linear(params, sigma)
    smoothed = np.array([from_params(p) for p in _exp_scale(smooth)]).reshape(-1, 3, 3)
    return smoothed, _exp_scale(raw), _exp_scale(smooth)


def _exp_scale(params: np.ndarray) -> np.ndarray:
    out = params.copy()
    out[:, 3] = np.exp(out[:, 3])
    return out


def required_zoom(corrections: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Per frame, the least zoom about the centre that keeps the warped frame border-free.

    ``corrections[t]`` maps output (centred) coordinates to input coordinates. With zoom z an
    output corner c samples the input at A c / z + b, which must stay inside the frame; each
    corner and axis bounds 1/z linearly, so the answer is closed-form.
    """
    width, height = size
    half = np.array([(width - 1) / 2.0, (height - 1) / 2.0])
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], dtype=np.float64) * half
    lin = corrections[:, :2, :2]  # (T, 2, 2)
    shift = corrections[:, :2, 2]  # (T, 2)
    reach = np.einsum("tij,cj->tci", lin, corners)  # (T, 4, 2)
    room = half[None, None, :] - np.sign(reach) * shift[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        inv_zoom = np.where(np.abs(reach) > 1e-12, room / np.abs(reach), np.inf)
    inv_zoom = inv_zoom.reshape(len(corrections), -1).min(axis=1)
    inside = np.all(np.abs(shift) <= half, axis=1)
    zoom = np.where(inside & (inv_zoom > 0), 1.0 / np.minimum(inv_zoom, 1.0), np.inf)
    return np.maximum(zoom, 1.0)
