"""Live preview while denoising: a latent -> RGB linear projection, a few ms a step.

Each step the current estimate of the clean latent (the scheduler's own x0 prediction where it
keeps one, as UniPC does; for flow-matching Euler, x0 = x_t - sigma_t * v with v from the last
two steps; else the noisy latent) is projected to RGB with a (channels x 3) matrix and a bias:

* fitted for this model, once, by least squares from one decode (the first finished run's own
  output: no extra decode), kept in Studio's cache folder under the model folder's path
  (``latent_rgb/<hash>.json``) -- not inside the model folder, whose content fingerprint is
  part of every cache key: writing there would invalidate the results just rendered;
* else published factors for the family's latent space (ComfyUI's, for the Wan 2.1 VAE);
* else no preview.

The middle latent frame is emitted as a small uint8 RGB image through ``ctx.preview``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np

from studio.graph.fileformat import write_text_atomic
from studio.graph.spec import RunContext

# Published factors (ComfyUI's latent_formats.Wan21) for the Wan 2.1 VAE's normalised latents.
WAN21_FACTORS = (
    (-0.1299, -0.1692, 0.2932),
    (0.0671, 0.0406, 0.0442),
    (0.3568, 0.2548, 0.1747),
    (0.0372, 0.2344, 0.1420),
    (0.0313, 0.0189, -0.0328),
    (0.0296, -0.0956, -0.0665),
    (-0.3477, -0.4059, -0.2925),
    (0.0166, 0.1902, 0.1975),
    (-0.0412, 0.0267, -0.1364),
    (-0.1293, 0.0740, 0.1636),
    (0.0680, 0.3019, 0.1128),
    (0.0032, 0.0581, 0.0639),
    (-0.1251, 0.0927, 0.1699),
    (0.0060, -0.0633, 0.0005),
    (0.3477, 0.2275, 0.2950),
    (0.1984, 0.0913, 0.1861),
)
WAN21_BIAS = (-0.1835, -0.0868, -0.3360)


class Projection:
    """RGB in [-1, 1] = latent channels @ matrix + bias."""

    def __init__(self, matrix: np.ndarray, bias: np.ndarray, source: str) -> None:
        self.matrix = np.asarray(matrix, np.float32)
        self.bias = np.asarray(bias, np.float32)
        self.source = source  # "fitted" or "published"

    @property
    def channels(self) -> int:
        return int(self.matrix.shape[0])

    def rgb(self, frame: np.ndarray) -> np.ndarray:
        """(channels, h, w) latent -> (h, w, 3) uint8."""
        c, h, w = frame.shape
        flat = frame.reshape(c, -1).T @ self.matrix + self.bias
        return ((np.clip(flat, -1, 1) + 1) * 127.5 + 0.5).astype(np.uint8).reshape(h, w, 3)


def fit(latents: np.ndarray, frames: np.ndarray, temporal: int) -> Projection:
    """Least squares from normalised latents (C, T, h, w) to the decoded uint8 clip
    (F, H, W, 3): latent frame t covers video frame ``t * temporal`` (0 for t = 0)."""
    import cv2

    c, t, h, w = latents.shape
    xs, ys = [], []
    for index in range(t):
        video = frames[min(index * temporal, len(frames) - 1)]
        small = cv2.resize(video, (w, h), interpolation=cv2.INTER_AREA).astype(np.float32)
        xs.append(latents[:, index].reshape(c, -1).T)
        ys.append(small.reshape(-1, 3) / 127.5 - 1.0)
    x = np.concatenate(xs)
    x1 = np.concatenate([x, np.ones((len(x), 1), np.float32)], axis=1)
    solution, *_ = np.linalg.lstsq(x1, np.concatenate(ys), rcond=None)
    return Projection(solution[:c], solution[c], "fitted")


def fit_path(folder: Path) -> Path:
    """Where the fitted projection of the model in ``folder`` is kept."""
    from studio.settings import cache_dir

    digest = hashlib.blake2b(str(folder.resolve()).encode(), digest_size=8).hexdigest()
    return cache_dir() / "latent_rgb" / f"{digest}.json"


def _store_paths(folder: Path) -> list[Path]:
    return [fit_path(folder)]


def load_projection(folder: Path, channels: int, family: str) -> Projection | None:
    """The fitted projection kept for ``folder``, else published factors, else None."""
    for path in _store_paths(folder):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            projection = Projection(data["matrix"], data["bias"], "fitted")
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if projection.channels == channels:
            return projection
    if family in ("wan", "vace", "skyreels-df") and channels == 16:
        return Projection(np.array(WAN21_FACTORS), np.array(WAN21_BIAS), "published")
    return None


def save_projection(folder: Path, projection: Projection) -> Path | None:
    """Keep a fitted projection for the model in ``folder`` (None when it cannot be written)."""
    text = json.dumps(
        {
            "matrix": projection.matrix.tolist(),
            "bias": projection.bias.tolist(),
            "about": "latent -> RGB least-squares fit from one decode, for Studio's preview",
        }
    )
    for path in _store_paths(folder):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text_atomic(path, text)
            return path
        except OSError:
            continue
    return None


class LatentPreview:
    """Per run: turns each step's latents into a preview and, after the run, fits the
    projection from the decoded clip when none was fitted yet."""

    def __init__(self, ctx: RunContext, folder: Path, family: str, temporal: int = 4) -> None:
        self.ctx = ctx
        self.folder = folder
        self.family = family
        self.temporal = temporal
        self.projection: Projection | None = None
        self._loaded = False
        self._previous: tuple[Any, float] | None = None  # (latents, sigma) of the last step
        self.last_latents: np.ndarray | None = None  # (C, T, h, w) of the last step: decoded
        self.sent = 0

    def on_step(self, pipe: Any, latents: Any) -> None:
        """Called from the step callback with the pipeline's current latents."""
        if not hasattr(self.ctx, "preview") or latents is None or latents.ndim != 5:
            return  # packed latents (LTX, Flux) have no per-pixel channels to project
        estimate = self._denoised(pipe, latents).detach().float().cpu().numpy()[0]
        self.last_latents = latents.detach().float().cpu().numpy()[0]
        if not self._loaded:
            self.projection = load_projection(self.folder, estimate.shape[0], self.family)
            self._loaded = True
        if self.projection is None or self.projection.channels != estimate.shape[0]:
            return
        self.ctx.preview(self.projection.rgb(estimate[:, estimate.shape[1] // 2]))
        self.sent += 1

    def _denoised(self, pipe: Any, latents: Any) -> Any:
        scheduler = pipe.scheduler
        outputs = getattr(scheduler, "model_outputs", None)
        if outputs and outputs[-1] is not None and outputs[-1].shape == latents.shape:
            if getattr(scheduler.config, "predict_x0", False):
                return outputs[-1]  # UniPC keeps its x0 prediction
        sigmas, index = getattr(scheduler, "sigmas", None), getattr(scheduler, "step_index", None)
        if sigmas is None or index is None or index >= len(sigmas):
            return latents
        sigma = float(sigmas[index])
        previous, self._previous = self._previous, (latents.clone(), sigma)
        if previous is None or previous[1] == sigma:
            return latents
        velocity = (latents - previous[0]) / (sigma - previous[1])
        return latents - sigma * velocity

    def learn(self, frames: np.ndarray) -> None:
        """After a finished run: fit from its decoded ``frames`` if nothing fitted is kept."""
        if self.last_latents is None:
            return
        if self.projection is not None and self.projection.source == "fitted":
            return
        save_projection(self.folder, fit(self.last_latents, frames, self.temporal))
