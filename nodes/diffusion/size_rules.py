"""Which sizes and frame counts a model accepts, read from its config files before loading it.

A model's width and height must be multiples of its VAE's spatial compression times its
transformer's patch size (Wan 16, LTX 32, HunyuanVideo 1.5 16, Flux 16, SDXL 8; LTX-2 a
multiple of 32 too); video models want ``k*step + 1`` frames (Wan and HunyuanVideo 1.5 4k+1,
LTX, LTX-2 and CogVideoX 8k+1). Reading the small JSON configs lets a node reject a bad size at
once, with the nearest valid values, instead of after loading gigabytes.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.graph.spec import NodeError


@dataclass(frozen=True)
class SizeRule:
    """``multiple``: width/height step; ``frame_step``: frames must be ``k*frame_step + 1``."""

    multiple: int
    frame_step: int = 1
    family: str = ""

    def nearest_side(self, value: int) -> int:
        return max(self.multiple, round(value / self.multiple) * self.multiple)

    def nearest_frames(self, frames: int) -> int:
        return max(0, round((frames - 1) / self.frame_step)) * self.frame_step + 1

    def check_size(self, width: int, height: int) -> None:
        """Raise :class:`NodeError` proposing the nearest valid size when this one is not."""
        if width % self.multiple == 0 and height % self.multiple == 0 and width and height:
            return
        raise NodeError(
            f"{width}x{height} does not suit this {self.family} model: width and height must "
            f"be multiples of {self.multiple}. Nearest valid size: "
            f"{self.nearest_side(width)}x{self.nearest_side(height)}."
        )

    def check_frames(self, frames: int) -> None:
        if (frames - 1) % self.frame_step == 0:
            return
        below = (frames - 1) // self.frame_step * self.frame_step + 1
        raise NodeError(
            f"{frames} frames does not suit this {self.family} model: it needs "
            f"{self.frame_step}k+1 frames. Nearest valid: {below} or {below + self.frame_step}."
        )


def _config(folder: Path, component: str) -> dict[str, Any]:
    try:
        data = json.loads((folder / component / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _patch(config: dict[str, Any]) -> int:
    patch = config.get("patch_size", 1) or 1
    return int(patch[-1] if isinstance(patch, (list, tuple)) else patch)


def size_rule(folder: Path, pipeline_class: str) -> SizeRule:
    """The :class:`SizeRule` of the diffusers model in ``folder``."""
    vae = _config(folder, "vae")
    transformer = _config(folder, "transformer")
    if pipeline_class.startswith(("Wan", "SkyReelsV2")):  # SkyReels-V2: Wan's VAE
        downsample = vae.get("temperal_downsample", [False, True, True])
        spatial = int(vae.get("scale_factor_spatial") or 2 ** len(downsample))
        temporal = int(vae.get("scale_factor_temporal") or 2 ** sum(downsample))
        return SizeRule(spatial * _patch(transformer), temporal, "Wan")
    if pipeline_class.startswith("LTX"):
        scaling = vae.get("spatio_temporal_scaling", [True, True, True, False])
        spatial = vae.get("spatial_compression_ratio") or vae.get("patch_size", 4) * 2 ** sum(
            scaling
        )
        temporal = vae.get("temporal_compression_ratio") or vae.get("patch_size_t", 1) * 2 ** sum(
            scaling
        )
        side = int(spatial) * _patch(transformer)
        if pipeline_class.startswith("LTX2"):
            # LTX-2's pipelines check multiples of 32 whatever the VAE's compression.
            return SizeRule(math.lcm(32, side), int(temporal), "LTX-2")
        return SizeRule(side, int(temporal), "LTX-Video")
    if pipeline_class.startswith("HunyuanVideo15"):
        spatial = int(vae.get("spatial_compression_ratio", 16)) * _patch(transformer)
        return SizeRule(spatial, int(vae.get("temporal_compression_ratio", 4)), "HunyuanVideo 1.5")
    if pipeline_class.startswith("CogVideoX"):
        # diffusers checks multiples of the VAE factor only (the patch embed pads the rest).
        spatial = 2 ** (len(vae.get("block_out_channels", [0] * 4)) - 1)
        # Its VAE decodes latent frames in pairs: an even count (5 frames -> 2 latents) comes
        # back as 8 frames, not 5. Odd latent counts only: 8k+1 frames (49, 81).
        temporal = int(vae.get("temporal_compression_ratio", 4))
        return SizeRule(spatial, 2 * temporal, "CogVideoX")
    # Image models: SD/SDXL (UNet), SD3 (patch 2), Flux (2x2 packing), Sana (DC-AE, 32x).
    channels = vae.get("block_out_channels") or vae.get("encoder_block_out_channels") or [0] * 4
    spatial = 2 ** (len(channels) - 1)
    patch = 2 if pipeline_class.startswith("Flux") else _patch(transformer)
    return SizeRule(spatial * patch, 1, pipeline_class.removesuffix("Pipeline") or "image")
