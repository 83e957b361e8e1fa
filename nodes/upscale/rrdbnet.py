"""RRDBNet, the network of Real-ESRGAN's ``x4plus`` photo model, as a torch module.

``conv_first`` lifts the image to ``num_feat`` channels; ``num_block`` residual-in-residual
dense blocks (three dense blocks each, five 3x3 convs whose inputs concatenate every earlier
output) refine it at the input's resolution, and their sum with the first features goes through
two nearest x2 upsamplings, each followed by a conv. Every residual branch is scaled by 0.2.
Module names follow Real-ESRGAN's so its ``.pth`` naming holds. Imported lazily: imports torch.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from nodes.upscale.ncnn_rrdb import RESIDUAL_SCALE, RRDBWeights

# Input pixels of context a tile needs so tiled output matches untiled within one level:
# the body's 347 convs reach far in principle, but the influence of a pixel dies out long
# before: measured on a photo, 64 px of context keeps within one level (48: up to 4 levels).
TILE_CONTEXT = 64


class ResidualDenseBlock(nn.Module):
    """Five 3x3 convs, each fed the block's input and every earlier output, concatenated."""

    def __init__(self, num_feat: int = 64, num_grow_ch: int = 32, slope: float = 0.2) -> None:
        super().__init__()
        for i in range(1, 5):
            setattr(
                self, f"conv{i}", nn.Conv2d(num_feat + (i - 1) * num_grow_ch, num_grow_ch, 3, 1, 1)
            )
        self.conv5 = nn.Conv2d(num_feat + 4 * num_grow_ch, num_feat, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(slope, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for conv in (self.conv1, self.conv2, self.conv3, self.conv4):
            features.append(self.lrelu(conv(torch.cat(features, 1))))
        return self.conv5(torch.cat(features, 1)) * RESIDUAL_SCALE + x


class RRDB(nn.Module):
    """Three dense blocks in a row, their result scaled and added to the input."""

    def __init__(self, num_feat: int, num_grow_ch: int, slope: float) -> None:
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_feat, num_grow_ch, slope)
        self.rdb2 = ResidualDenseBlock(num_feat, num_grow_ch, slope)
        self.rdb3 = ResidualDenseBlock(num_feat, num_grow_ch, slope)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rdb3(self.rdb2(self.rdb1(x))) * RESIDUAL_SCALE + x


class RRDBNet(nn.Module):
    """Real-ESRGAN's x4 RRDBNet (ESRGAN's generator): (1, 3, h, w) -> (1, 3, 4h, 4w)."""

    upscale = 4

    def __init__(
        self,
        in_channels: int = 3,
        out_channels: int = 3,
        num_feat: int = 64,
        num_block: int = 23,
        num_grow_ch: int = 32,
        slope: float = 0.2,
    ) -> None:
        super().__init__()
        self.conv_first = nn.Conv2d(in_channels, num_feat, 3, 1, 1)
        self.body = nn.Sequential(*(RRDB(num_feat, num_grow_ch, slope) for _ in range(num_block)))
        self.conv_body = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
        self.conv_last = nn.Conv2d(num_feat, out_channels, 3, 1, 1)
        self.lrelu = nn.LeakyReLU(slope, inplace=True)
        self.receptive_radius = TILE_CONTEXT

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feat = self.conv_first(x)
        feat = feat + self.conv_body(self.body(feat))
        feat = self.lrelu(self.conv_up1(F.interpolate(feat, scale_factor=2, mode="nearest")))
        feat = self.lrelu(self.conv_up2(F.interpolate(feat, scale_factor=2, mode="nearest")))
        return self.conv_last(self.lrelu(self.conv_hr(feat)))


def parameter_count(
    in_channels: int = 3,
    out_channels: int = 3,
    num_feat: int = 64,
    num_block: int = 23,
    num_grow_ch: int = 32,
) -> int:
    """What the architecture holds, worked out by hand: 3x3 conv weights + biases."""

    def conv(cin: int, cout: int) -> int:
        return cin * cout * 9 + cout

    dense = sum(conv(num_feat + i * num_grow_ch, num_grow_ch) for i in range(4))
    dense += conv(num_feat + 4 * num_grow_ch, num_feat)
    tail = 4 * conv(num_feat, num_feat) + conv(num_feat, out_channels)
    return conv(in_channels, num_feat) + num_block * 3 * dense + tail


def from_ncnn(weights: RRDBWeights) -> RRDBNet:
    """The network of the shipped ncnn files, loaded strictly (every tensor used, none missing)."""
    net = RRDBNet(
        weights.in_channels,
        weights.out_channels,
        weights.num_feat,
        weights.num_block,
        weights.num_grow_ch,
        weights.negative_slope,
    )
    state = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.state_dict.items()}
    net.load_state_dict(state, strict=True)
    return net.eval()
