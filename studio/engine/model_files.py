"""Single model files (ComfyUI's ``models/`` tree): what each holds, read from its header only.

A ``.safetensors`` file starts with a JSON header naming every tensor with its dtype and shape;
a ``.gguf`` file starts with metadata and tensor infos. Both are read without loading any
weights, and pickled files (``.ckpt``, ``.pt``, ``.bin``) are never unpickled: unpickling runs
code from the file. From the tensor names and shapes Studio tells the role (diffusion model,
VAE, text encoder, LoRA, upscaler), the family (Wan 2.1/2.2, LTX, Flux, ...) and the dtype or
quantization. No torch import here: ``studio models`` and the inspector call it.
"""

from __future__ import annotations

import json
import re
import struct
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# ComfyUI's folder names (and their older aliases) -> the role their files usually have.
COMFY_FOLDERS = {
    "diffusion_models": "diffusion-model",
    "unet": "diffusion-model",
    "checkpoints": "checkpoint",
    "vae": "vae",
    "text_encoders": "text-encoder",
    "clip": "text-encoder",
    "clip_vision": "image-encoder",
    "loras": "lora",
    "upscale_models": "upscaler",
}
SAFE_SUFFIXES = (".safetensors", ".sft")
PICKLE_SUFFIXES = (".ckpt", ".pt", ".pth", ".bin")
MAX_HEADER = 256 * 1024 * 1024  # a header larger than this is a corrupt file, not a model

_PREFIXES = ("model.diffusion_model.", "diffusion_model.", "model.")
_SAFETENSORS_DTYPES = {
    "F8_E4M3": "fp8_e4m3fn",
    "F8_E5M2": "fp8_e5m2",
    "BF16": "bf16",
    "F16": "fp16",
    "F32": "fp32",
    "F64": "fp64",
    "I8": "int8",
    "U8": "uint8",
}
_WAN_SIZES = {1536: "1.3B", 3072: "5B", 5120: "14B"}


@dataclass(frozen=True)
class Tensors:
    """Names, shapes (torch order) and storage types of a file's tensors, and its metadata."""

    shapes: dict[str, tuple[int, ...]]
    types: dict[str, str]  # name -> "bf16", "fp8_e4m3fn", "Q8_0", ...
    nbytes: dict[str, int]
    metadata: dict[str, str] = field(default_factory=dict)

    def storage(self) -> str:
        """The storage type holding most of the bytes ("bf16", "fp8_e4m3fn"); in a GGUF file
        the quantization holding most (small tensors stay F32/F16 in every GGUF file)."""
        weight: Counter[str] = Counter()
        quantized: Counter[str] = Counter()
        for name, kind in self.types.items():
            weight[kind] += self.nbytes.get(name, 0)
            if kind.startswith(("Q", "IQ", "TQ")):
                quantized[kind] += self.nbytes.get(name, 0)
        best = (quantized or weight).most_common(1)
        return best[0][0] if best else ""


@dataclass(frozen=True)
class FileInfo:
    """One model file: its role, family and storage, or the problem that keeps it out."""

    path: Path
    format: str  # "safetensors", "gguf" or "pickle"
    role: str  # "diffusion-model", "checkpoint", "vae", "text-encoder", "image-encoder", ...
    family: str = ""  # "wan", "wan-vace", "ltx", "flux", "hunyuan-video", "sd", "sdxl", ...
    variant: str = ""  # what an artist calls it: "Wan 2.1 I2V 14B", "UMT5", ...
    storage: str = ""  # dtype or GGUF quantization of most of its bytes
    size_bytes: int = 0
    details: dict[str, Any] = field(default_factory=dict, compare=False)
    problem: str = ""  # why Studio cannot use it ("" when it can)

    @property
    def name(self) -> str:
        return self.path.name


class HeaderError(ValueError):
    """The file's header cannot be read: truncated, corrupt or not a model file."""


def read_safetensors_header(path: Path) -> Tensors:
    """Tensor names, shapes and dtypes from a safetensors header (the first bytes only)."""
    with path.open("rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise HeaderError(f"{path.name}: too short to be a safetensors file")
        (length,) = struct.unpack("<Q", head)
        if length > MAX_HEADER:
            raise HeaderError(f"{path.name}: not a safetensors file (header of {length} bytes)")
        raw = handle.read(length)
    try:
        header = json.loads(raw)
    except ValueError as error:
        raise HeaderError(f"{path.name}: corrupt safetensors header ({error})") from error
    if not isinstance(header, dict):
        raise HeaderError(f"{path.name}: corrupt safetensors header")
    metadata = header.pop("__metadata__", None) or {}
    shapes, types, nbytes = {}, {}, {}
    for name, entry in header.items():
        try:
            shapes[name] = tuple(int(d) for d in entry["shape"])
            types[name] = _SAFETENSORS_DTYPES.get(entry["dtype"], entry["dtype"].lower())
            begin, end = entry["data_offsets"]
            nbytes[name] = int(end) - int(begin)
        except (KeyError, TypeError, ValueError) as error:
            raise HeaderError(f"{path.name}: corrupt entry for tensor {name!r}") from error
    meta = {str(k): str(v) for k, v in metadata.items()} if isinstance(metadata, dict) else {}
    return Tensors(shapes, types, nbytes, meta)


def read_gguf_header(path: Path) -> Tensors:
    """Tensor names, shapes and quantization types from a GGUF file (memory-mapped, the
    weights are not read). GGUF stores shapes innermost first; torch order is the reverse."""
    try:
        from gguf import GGUFReader
    except ImportError as error:
        raise HeaderError(f"{path.name}: reading GGUF files needs the 'gguf' package") from error
    try:
        reader = GGUFReader(str(path))
    except Exception as error:  # the reader raises many kinds on a corrupt file
        raise HeaderError(f"{path.name}: corrupt GGUF file ({error})") from error
    shapes, types, nbytes = {}, {}, {}
    for tensor in reader.tensors:
        shapes[tensor.name] = tuple(int(d) for d in reversed(tensor.shape.tolist()))
        types[tensor.name] = tensor.tensor_type.name
        nbytes[tensor.name] = int(tensor.n_bytes)
    metadata = {}
    for key, value in reader.fields.items():
        if key.startswith("general.") and value.types and value.types[0].name == "STRING":
            metadata[key] = bytes(value.parts[-1]).decode("utf-8", "replace")
    return Tensors(shapes, types, nbytes, metadata)


def inspect_file(path: Path, folder_role: str = "") -> FileInfo:
    """What ``path`` holds. ``folder_role`` is the role its ComfyUI folder suggests, used only
    where the tensors alone cannot tell (an upscaler from any other small network)."""
    size = _size(path)
    suffix = path.suffix.lower()
    if suffix in PICKLE_SUFFIXES:
        if folder_role == "upscaler" and suffix in (".pth", ".pt"):
            # The Upscale node reads these with torch.load(weights_only=True): no code runs.
            return FileInfo(path, "pickle", "upscaler", size_bytes=size, storage="")
        return FileInfo(
            path,
            "pickle",
            folder_role or "unknown",
            size_bytes=size,
            problem="a pickled file (it could run code when loaded); Studio reads only "
            ".safetensors and .gguf model files: convert it to .safetensors",
        )
    try:
        if suffix == ".gguf":
            tensors, fmt = read_gguf_header(path), "gguf"
        else:
            tensors, fmt = read_safetensors_header(path), "safetensors"
    except (HeaderError, OSError) as error:
        return FileInfo(path, suffix.lstrip("."), folder_role or "unknown", problem=str(error))
    role, family, variant, details = classify_tensors(tensors, folder_role)
    problem = ""
    if role == "unknown":
        problem = "tensor names match no model family Studio knows"
    elif fmt == "safetensors" and any(k.endswith("scale_weight") for k in tensors.shapes):
        problem = "a scaled-fp8 checkpoint (per-tensor scales), which diffusers cannot load"
    return FileInfo(
        path, fmt, role, family, variant, tensors.storage(), size, details, problem=problem
    )


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _strip(shapes: dict[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Names without ComfyUI's wrapper prefixes ("model.diffusion_model.blocks.0" -> "blocks.0")."""
    out = {}
    for name, shape in shapes.items():
        for prefix in _PREFIXES:
            if name.startswith(prefix):
                name = name[len(prefix) :]
                break
        out[name] = shape
    return out


def _count_blocks(names: Any, prefix: str) -> int:
    pattern = re.compile(re.escape(prefix) + r"(\d+)\.")
    found = {int(m.group(1)) for n in names if (m := pattern.match(n))}
    return max(found) + 1 if found else 0


def classify_tensors(
    tensors: Tensors, folder_role: str = ""
) -> tuple[str, str, str, dict[str, Any]]:
    """(role, family, variant, details) from tensor names and shapes."""
    raw = tensors.shapes
    names = set(raw)
    if any(
        ".lora_A." in n or ".lora_B." in n or ".lora_down." in n or ".lora_up." in n for n in names
    ):
        return "lora", _lora_family(names), "LoRA", {"tensors": len(names)}
    shapes = _strip(raw)
    keys = set(shapes)
    if "patch_embedding.weight" in keys and any(k.startswith("blocks.") for k in keys):
        return ("diffusion-model", *_wan(shapes))
    if (
        "condition_embedder.time_embedder.linear_1.weight" in keys
        and "patch_embedding.weight" in keys
    ):
        return ("diffusion-model", *_wan(shapes, diffusers=True))
    if (
        "decoder.middle.0.residual.0.gamma" in keys
        or "decoder.mid_block.resnets.0.norm1.gamma" in keys
    ):
        z = (
            shapes.get("conv1.weight", (0,))[0] // 2
            or shapes.get("quant_conv.weight", (0,))[0] // 2
        )
        variant = "Wan 2.2 VAE" if z == 48 else "Wan 2.1 VAE"
        return "vae", "wan", variant, {"z_dim": z}
    if "txt_in.individual_token_refiner.blocks.0.adaLN_modulation.1.weight" in keys:
        return "diffusion-model", "hunyuan-video", "HunyuanVideo", {}
    if "double_blocks.0.img_attn.qkv.weight" in keys:
        return "diffusion-model", "flux", "Flux", {"layers": _count_blocks(keys, "double_blocks.")}
    if "patchify_proj.weight" in keys or "adaln_single.linear.weight" in keys:
        audio = any(k.startswith("audio_") for k in keys)
        return "diffusion-model", "ltx", "LTX-2" if audio else "LTX-Video", {}
    if "joint_blocks.0.x_block.attn.qkv.weight" in keys:
        return "diffusion-model", "sd3", "SD3", {}
    if any(n.startswith("model.diffusion_model.input_blocks.") for n in names):
        if any(n.startswith("conditioner.embedders.1.") for n in names):
            return "checkpoint", "sdxl", "SDXL checkpoint", {}
        return "checkpoint", "sd", "SD 1.x/2.x checkpoint", {}
    if "encoder.block.0.layer.0.SelfAttention.q.weight" in keys:
        umt5 = "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight" in keys
        width = shapes.get("shared.weight", (0, 0))[1]
        variant = ("UMT5" if umt5 else "T5") + f" ({width} wide)"
        return "text-encoder", "t5", variant, {"d_model": width, "umt5": umt5}
    if any(k.startswith("text_model.encoder.layers.") for k in keys):
        return "text-encoder", "clip", "CLIP text", {}
    if any(k.startswith("vision_model.encoder.layers.") for k in keys):
        return "image-encoder", "clip-vision", "CLIP vision", {}
    if any(k.startswith(("decoder.up.", "decoder.up_blocks.")) for k in keys):
        return "vae", "sd", "image VAE", {}
    if folder_role == "upscaler" or any(
        k.startswith(("conv_first.", "body.0.", "model.0.")) for k in keys
    ):
        return "upscaler", "", "upscaler", {}
    return "unknown", "", "", {}


def _wan(
    shapes: dict[str, tuple[int, ...]], diffusers: bool = False
) -> tuple[str, str, dict[str, Any]]:
    """Family, variant and the config numbers a matching diffusers folder must share."""
    dim, in_channels = shapes["patch_embedding.weight"][:2]
    keys = shapes.keys()
    ffn_key = "blocks.0.ffn.net.0.proj.weight" if diffusers else "blocks.0.ffn.0.weight"
    image = any(k.startswith(("img_emb.", "condition_embedder.image_embedder.")) for k in keys)
    vace = any(k.startswith("vace_blocks.") for k in keys)
    details = {
        "dim": int(dim),
        "in_channels": int(in_channels),
        "num_layers": _count_blocks(keys, "blocks."),
        "ffn_dim": int(shapes.get(ffn_key, (0,))[0]),
        "image_embedder": image,
        "layout": "diffusers" if diffusers else "original",
    }
    size = _WAN_SIZES.get(int(dim), f"{dim}-wide")
    if vace:
        return "wan-vace", f"Wan VACE {size}", details
    if in_channels == 48:
        return "wan", f"Wan 2.2 TI2V {size}", details
    if in_channels == 36:
        return "wan", f"Wan {'2.1' if image else '2.2'} I2V {size}", details
    return "wan", f"Wan T2V {size}", details


def _lora_family(names: set[str]) -> str:
    text = " ".join(list(names)[:50])
    if re.search(r"blocks[._]\d+[._](self_attn|cross_attn|attn1|attn2|ffn)", text):
        return "wan"
    if "double_blocks" in text or "single_transformer_blocks" in text:
        return "flux"
    if "transformer_blocks" in text:
        return "ltx"
    if "unet" in text or "down_blocks" in text:
        return "sd"
    return ""


def comfy_folders(root: Path) -> list[tuple[Path, str]]:
    """(folder, role) for the ComfyUI model folders under ``root`` (a ``models`` folder or
    the ComfyUI folder holding one); empty when ``root`` is not laid out like ComfyUI."""
    for base in (root, root / "models"):
        found = [
            (base / name, role) for name, role in COMFY_FOLDERS.items() if (base / name).is_dir()
        ]
        if found:
            return found
    return []


def scan_comfy_tree(root: Path) -> list[FileInfo]:
    """Every model file in a ComfyUI-style tree (subfolders included), classified."""
    found = []
    for folder, role in comfy_folders(root):
        for path in sorted(folder.rglob("*")):
            suffix = path.suffix.lower()
            if not path.is_file() or suffix not in (*SAFE_SUFFIXES, ".gguf", *PICKLE_SUFFIXES):
                continue
            found.append(inspect_file(path, role))
    return found
