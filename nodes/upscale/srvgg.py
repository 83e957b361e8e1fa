"""SRVGGNetCompact, Real-ESRGAN's compact video upscaler, as a torch module.

A plain VGG-style body works at the input's resolution: a 3x3 conv and PReLU, ``num_conv``
more of them, then one conv to ``out_ch * upscale**2`` channels that a pixel shuffle turns into
the upscaled image. The network only learns the residual over a nearest-neighbour upscale of
the input. Module names follow Real-ESRGAN's (``body.N``) so its ``.pth`` files load as they
are. Imported lazily: this module imports torch.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nodes.upscale.ncnn_weights import SRVGGWeights


class SRVGGNetCompact(nn.Module):
    """``body`` alternates 3x3 convs and PReLUs; ``forward`` adds the nearest-upsampled input."""

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
    ) -> None:
        super().__init__()
        self.upscale = upscale
        layers: list[nn.Module] = [nn.Conv2d(in_channels, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), nn.PReLU(num_feat)]
        layers.append(nn.Conv2d(num_feat, out_channels * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.upsampler = nn.PixelShuffle(upscale)
        # Each 3x3 conv sees one more pixel around: this many input pixels decide an output one.
        self.receptive_radius = num_conv + 2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        return self.upsampler(out) + F.interpolate(x, scale_factor=self.upscale, mode="nearest")


def parameter_count(
    in_channels: int = 3,
    out_channels: int = 3,
    num_feat: int = 64,
    num_conv: int = 16,
    upscale: int = 4,
) -> int:
    """What the architecture holds, worked out by hand: 3x3 conv weights + biases + PReLU slopes."""
    first = in_channels * num_feat * 9 + num_feat + num_feat
    middle = num_conv * (num_feat * num_feat * 9 + num_feat + num_feat)
    last_out = out_channels * upscale * upscale
    return first + middle + num_feat * last_out * 9 + last_out


def config_from_state_dict(state: Mapping[str, torch.Tensor]) -> dict[str, int] | None:
    """The constructor arguments that fit Real-ESRGAN-style SRVGG tensors, or None if they don't.

    Conv weights are 4-D and PReLU slopes 1-D; every conv must be followed by a PReLU except
    the last. Activations without parameters (ReLU variants) cannot be told apart from a
    state dict, so only PReLU models are accepted.
    """
    indices = sorted({int(k.split(".")[1]) for k in state if k.startswith("body.")})
    if not indices or indices != list(range(len(indices))) or len(indices) % 2 == 0:
        return None
    if len(state) != sum(1 for k in state if k.startswith("body.")):
        return None
    for i in indices:
        weight = state.get(f"body.{i}.weight")
        wants_conv = i % 2 == 0
        if weight is None or weight.ndim != (4 if wants_conv else 1):
            return None
        if wants_conv and (tuple(weight.shape[2:]) != (3, 3) or f"body.{i}.bias" not in state):
            return None
    first, last = state["body.0.weight"], state[f"body.{indices[-1]}.weight"]
    in_channels, num_feat = int(first.shape[1]), int(first.shape[0])
    upscale = int(round((int(last.shape[0]) / in_channels) ** 0.5))
    if upscale < 1 or in_channels * upscale * upscale != int(last.shape[0]):
        return None
    return {
        "in_channels": in_channels,
        "out_channels": in_channels,
        "num_feat": num_feat,
        "num_conv": (len(indices) - 3) // 2,
        "upscale": upscale,
    }


def from_state_dict(state: Mapping[str, torch.Tensor]) -> SRVGGNetCompact:
    """Build and load the network that ``state`` describes; ValueError if it is not SRVGG."""
    config = config_from_state_dict(state)
    if config is None:
        raise ValueError("these tensors are not an SRVGGNetCompact (Real-ESRGAN compact) model")
    net = SRVGGNetCompact(**config)
    net.load_state_dict({k: v.float() for k, v in state.items()}, strict=True)
    return net.eval()


def from_ncnn(weights: SRVGGWeights) -> SRVGGNetCompact:
    """The network of the shipped ncnn files (their final resize is applied by the caller)."""
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.state_dict.items()}
    net = from_state_dict(state)
    if net.upscale != weights.upscale:
        raise ValueError(f"pixel shuffle says x{weights.upscale}, last conv says x{net.upscale}")
    return net
