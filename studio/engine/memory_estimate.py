"""Before a run: an *estimate* of the memory a diffusion model needs under a precision.

The model-dependent part comes from the safetensors/GGUF headers (parameter counts and stored
types, no weights read): every component in the compute dtype, except the denoiser(s), which
take 1 byte a weight under fp8 storage or int8, or their stored size as GGUF. The activation
part is a rough rule of thumb from the latent token count and the transformer width, labelled
as such. No torch here: the inspector calls it on the UI thread.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

from studio.engine.memory import format_bytes
from studio.engine.model_files import HeaderError, read_gguf_header, read_safetensors_header
from studio.engine.models import ModelInfo

PRECISIONS = ("auto", "bf16", "fp8", "gguf", "int8")
DENOISERS = ("transformer", "transformer_2", "unet")
_BYTES = {"fp32": 4, "float32": 4, "bf16": 2, "fp16": 2, "float16": 2, "bfloat16": 2}
# Bytes of live activations per latent token per unit of transformer width, at the peak of one
# step (attention and feed-forward intermediates, both CFG passes). A rule of thumb.
_ACTIVATION_FACTOR = 24


@dataclass(frozen=True)
class Component:
    params: int  # number of weights
    stored_bytes: int  # bytes in the file(s) as stored


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a run is expected to need (an estimate, never a measurement)."""

    weights: int  # the model-dependent part: all components under the precision
    activations: int  # rough: latent tokens x width x a rule-of-thumb factor
    precision: str

    @property
    def total(self) -> int:
        return self.weights + self.activations

    def describe(self) -> str:
        return (
            f"Estimated peak ~{format_bytes(self.total)} "
            f"(weights {format_bytes(self.weights)} at {self.precision}, activations "
            f"~{format_bytes(self.activations)}): an estimate, not a measurement"
        )


@functools.lru_cache(maxsize=64)
def _file_component(path: Path, stamp: float) -> Component:
    del stamp  # part of the cache key only: an edited file is read again
    tensors = read_gguf_header(path) if path.suffix == ".gguf" else read_safetensors_header(path)
    params = 0
    for shape in tensors.shapes.values():
        count = 1
        for d in shape:
            count *= d
        params += count
    return Component(params, sum(tensors.nbytes.values()))


def file_component(path: Path) -> Component:
    try:
        return _file_component(path, path.stat().st_mtime)
    except (OSError, HeaderError):
        return Component(0, 0)


def components(model: ModelInfo) -> dict[str, Component]:
    """Parameter counts and stored bytes per component, single-file replacements included."""
    found: dict[str, Component] = {}
    folder = model.folder
    if folder.is_dir():
        for file in sorted(folder.rglob("*.safetensors")):
            name = file.relative_to(folder).parts[0] if file.parent != folder else "."
            part = file_component(file)
            old = found.get(name, Component(0, 0))
            found[name] = Component(old.params + part.params, old.stored_bytes + part.stored_bytes)
    for name, path in model.replaces:
        found[name] = file_component(path)
    return found


def estimate(
    model: ModelInfo,
    precision: str,
    compute: str,
    *,
    width: int = 0,
    height: int = 0,
    frames: int = 1,
) -> MemoryEstimate:
    """The estimated peak of ``model`` under ``precision`` (not "auto": resolve it first)
    computing in ``compute`` ("bf16", "fp32", ...) at the given output size."""
    compute_bytes = _BYTES.get(compute, 2)
    weights = 0
    for name, part in components(model).items():
        if name in DENOISERS and precision in ("fp8", "int8"):
            weights += part.params  # one byte a weight (norms and biases are a rounding error)
        elif name in DENOISERS and precision == "gguf" and model.storage.startswith(("Q", "IQ")):
            weights += part.stored_bytes  # dequantized a layer at a time
        else:
            weights += part.params * compute_bytes
    return MemoryEstimate(
        weights, _activations(model, width, height, frames, compute_bytes), precision
    )


def _activations(model: ModelInfo, width: int, height: int, frames: int, nbytes: int) -> int:
    if not (width and height):
        return 0
    config = _config(model.folder / "transformer" / "config.json")
    heads = int(config.get("num_attention_heads", 0) or 0)
    width_t = heads * int(config.get("attention_head_dim", 0) or 0) or 1024
    latent_frames = (max(frames, 1) - 1) // 4 + 1
    tokens = latent_frames * (height // 16) * (width // 16)
    return tokens * width_t * nbytes * _ACTIVATION_FACTOR


def _config(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def choose_precision(
    model: ModelInfo, free: int | None, compute: str, *, cuda: bool, **size: int
) -> str:
    """``auto``: GGUF files as stored; elsewhere bf16 when it fits ``free`` bytes, else fp8
    storage when that fits, else bf16 (and the memory policy offloads). Off CUDA, bf16."""
    if model.storage.startswith(("Q", "IQ")):
        return "gguf"
    if not cuda or free is None:
        return "bf16"
    for precision in ("bf16", "fp8"):
        if estimate(model, precision, compute, **size).total <= free:
            return precision
    return "bf16"


def describe_node(params: dict, model_kind: str) -> str:
    """The inspector's line for a diffusion node's chosen model, precision and size ("" when
    no model is chosen or it cannot be found). Half-precision GPU compute is assumed."""
    from studio.engine.models import resolve_model
    from studio.graph.spec import NodeError

    value = str(params.get("model", "") or "")
    if not value:
        return ""
    try:
        model = resolve_model(value, model_kind)
    except NodeError:
        return ""
    size = {k: int(params.get(k, 0) or 0) for k in ("width", "height")}
    size["frames"] = int(params.get("frames", 1) or 1)
    precision = str(params.get("precision", "auto"))
    if precision == "auto" and not model.storage.startswith(("Q", "IQ")):
        full, fp8 = (estimate(model, p, "bf16", **size) for p in ("bf16", "fp8"))
        return (
            f"Estimated peak: ~{format_bytes(full.total)} in bf16, ~{format_bytes(fp8.total)} "
            "with fp8 storage; auto picks what fits free VRAM (estimates, not measurements)"
        )
    if precision == "auto":
        precision = "gguf"
    return estimate(model, precision, "bf16", **size).describe()
