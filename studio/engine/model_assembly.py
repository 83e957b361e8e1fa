"""Which diffusers folder completes a single-file diffusion model.

A ComfyUI ``diffusion_models/`` file holds only the transformer. Its tokenizer, text encoder,
VAE and scheduler come from a diffusers folder of the same family whose transformer config has
the same shape (width, input channels, depth); that folder's own transformer weights may even be
absent. When none fits, the model is still listed, with a message naming what is missing and
which download would fit. No torch here.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from studio.engine.model_files import FileInfo

# Families Studio can assemble: the diffusers transformer class a folder must use.
TRANSFORMER_CLASSES = {
    "wan": ("WanTransformer3DModel",),
    "wan-vace": ("WanVACETransformer3DModel",),
    "ltx": ("LTXVideoTransformer3DModel",),
    "flux": ("FluxTransformer2DModel",),
    "hunyuan-video": ("HunyuanVideoTransformer3DModel",),
}
# What an artist would download to complete a file of this variant.
SUGGESTIONS = {
    "Wan 2.1 I2V 14B": "Wan-AI/Wan2.1-I2V-14B-480P-Diffusers (or -720P-)",
    "Wan 2.2 I2V 14B": "Wan-AI/Wan2.2-I2V-A14B-Diffusers",
    "Wan 2.2 TI2V 5B": "Wan-AI/Wan2.2-TI2V-5B-Diffusers",
    "Wan T2V 1.3B": "Wan-AI/Wan2.1-T2V-1.3B-Diffusers",
    "Wan T2V 14B": "Wan-AI/Wan2.1-T2V-14B-Diffusers",
    "Wan VACE 1.3B": "Wan-AI/Wan2.1-VACE-1.3B-diffusers",
    "Wan VACE 14B": "Wan-AI/Wan2.1-VACE-14B-diffusers",
    "LTX-Video": "Lightricks/LTX-Video (diffusers layout)",
    "Flux": "black-forest-labs/FLUX.1-dev",
    "HunyuanVideo": "hunyuanvideo-community/HunyuanVideo",
}
_LOW_NOISE = re.compile(r"low[_-]?noise", re.IGNORECASE)
_HIGH_NOISE = re.compile(r"high[_-]?noise", re.IGNORECASE)


def read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def guess_kind(file: FileInfo) -> str:
    """The Studio kind a diffusion-model file serves, before any folder is found."""
    if file.family == "wan-vace":
        return "vace"
    if file.family == "wan":
        return "text-to-video" if file.details.get("in_channels") == 16 else "image-to-video"
    if file.family in ("ltx", "hunyuan-video"):
        return "image-to-video"
    if file.family in ("flux", "sd3"):
        return "text-to-image"
    return "other"


def config_matches(file: FileInfo, config: dict[str, Any]) -> bool:
    """Whether a transformer ``config.json`` has the shape of the file's weights."""
    d = file.details
    if file.family in ("wan", "wan-vace"):
        width = int(config.get("num_attention_heads", 0)) * int(config.get("attention_head_dim", 0))
        return (
            width == d.get("dim")
            and config.get("in_channels") == d.get("in_channels")
            and config.get("num_layers") == d.get("num_layers")
            and (not d.get("ffn_dim") or config.get("ffn_dim") == d.get("ffn_dim"))
            and bool(config.get("image_dim")) == bool(d.get("image_embedder"))
        )
    if file.family == "flux" and d.get("layers"):
        return config.get("num_layers") == d["layers"]
    return True  # diffusers itself checks every shape when it loads


def expert_slot(file: FileInfo, index: dict[str, Any]) -> str:
    """``transformer`` or, for Wan 2.2's low-noise expert, ``transformer_2``."""
    if "transformer_2" in index and _LOW_NOISE.search(file.path.name):
        return "transformer_2"
    return "transformer"


def partner_file(file: FileInfo, files: list[FileInfo]) -> FileInfo | None:
    """The other Wan 2.2 expert of a high-/low-noise pair, named alike beside it."""
    name = file.path.name
    if _HIGH_NOISE.search(name):
        other = _HIGH_NOISE.sub(lambda m: m.group(0).lower().replace("high", "low"), name)
    elif _LOW_NOISE.search(name):
        other = _LOW_NOISE.sub(lambda m: m.group(0).lower().replace("low", "high"), name)
    else:
        return None
    for candidate in files:
        same_place = candidate.path.parent == file.path.parent
        if same_place and candidate.path.name.lower() == other.lower() and candidate != file:
            return candidate
    return None


def has_weights(folder: Path) -> bool:
    return folder.is_dir() and any(folder.glob("*.safetensors"))


def missing_parts(base: Path, files: list[FileInfo]) -> tuple[list[tuple[str, Path]], str]:
    """Files from ``models/vae`` and ``models/text_encoders`` for the parts ``base`` holds only
    the configs of; or the message naming the first part that is missing."""
    found, message = missing_vae(base, files)
    if message:
        return [], message
    text, message = missing_text_encoder(base, files)
    return ([], message) if message else (found + text, "")


def missing_text_encoder(base: Path, files: list[FileInfo]) -> tuple[list[tuple[str, Path]], str]:
    """A UMT5/T5 file from ``models/text_encoders`` where ``base/text_encoder`` has no weights."""
    folder = base / "text_encoder"
    if has_weights(folder) or not (folder / "config.json").is_file():
        return [], ""
    config = read_json(folder / "config.json")
    umt5 = config.get("model_type") == "umt5"
    # Full precision before fp8 where an artist keeps both.
    for file in sorted(files, key=lambda f: f.storage.startswith("fp8")):
        if file.role == "text-encoder" and file.family == "t5" and not file.problem:
            d = file.details
            if d.get("umt5") == umt5 and d.get("d_model") == config.get("d_model"):
                return [("text_encoder", file.path)], ""
    kind = "UMT5" if umt5 else "T5"
    return [], (
        f"{base.name} has no text encoder weights (text_encoder/ holds only its config) and no "
        f"{kind} encoder {config.get('d_model')} wide was found in a models/text_encoders folder "
        f"(for Wan: umt5_xxl in bf16 or fp16; scaled-fp8 files cannot be read)"
    )


def missing_vae(base: Path, files: list[FileInfo]) -> tuple[list[tuple[str, Path]], str]:
    """A Wan VAE file from ``models/vae`` where ``base`` has the VAE's config but no weights
    (an artist who keeps the big files in ComfyUI's tree and only the small parts of the
    diffusers folder); or the message saying what is missing."""
    if has_weights(base / "vae") or not (base / "vae" / "config.json").is_file():
        return [], ""
    z_dim = read_json(base / "vae" / "config.json").get("z_dim")
    for file in files:
        if file.role == "vae" and file.family == "wan" and not file.problem:
            if file.details.get("z_dim") == z_dim:
                return [("vae", file.path)], ""
    return [], (
        f"{base.name} has no VAE weights (vae/ holds only its config) and no Wan VAE with "
        f"{z_dim} latent channels was found in a models/vae folder: put "
        + ("wan2.2_vae.safetensors" if z_dim == 48 else "wan_2.1_vae.safetensors")
        + " there, or the VAE weights in the folder"
    )


def find_base(file: FileInfo, folders: list[Path]) -> tuple[Path | None, str]:
    """The first diffusers folder that completes ``file``, or None and why none does."""
    classes = TRANSFORMER_CLASSES.get(file.family)
    if classes is None:
        return None, f"Studio cannot assemble {file.variant or 'this'} single files yet"
    same_family = []
    for folder in folders:
        index = read_json(folder / "model_index.json")
        declared = index.get("transformer")
        if not (isinstance(declared, list) and len(declared) == 2 and declared[1] in classes):
            continue
        same_family.append(folder)
        slot = expert_slot(file, index)
        if config_matches(file, read_json(folder / slot / "config.json")):
            return folder, ""
    return None, missing_message(file, same_family)


def missing_message(file: FileInfo, near: list[Path]) -> str:
    """What is missing for ``file`` and what would fit, for the artist."""
    parts = {
        "wan": "tokenizer, UMT5 text encoder, Wan VAE"
        + (" and CLIP image encoder" if file.details.get("image_embedder") else ""),
        "wan-vace": "tokenizer, UMT5 text encoder and Wan VAE",
        "ltx": "tokenizer, T5 text encoder and LTX VAE",
        "flux": "tokenizers, CLIP and T5 text encoders and VAE",
        "hunyuan-video": "tokenizers, text encoders and VAE",
    }.get(file.family, "text encoder and VAE")
    d = file.details
    shape = ""
    if file.family in ("wan", "wan-vace"):
        shape = (
            f" (width {d.get('dim')}, {d.get('in_channels')} input channels, "
            f"{d.get('num_layers')} blocks)"
        )
    suggestion = SUGGESTIONS.get(file.variant, "")
    why = (
        f"the {file.family} folders found ({', '.join(p.name for p in near)}) have another shape"
        if near
        else "no diffusers folder of that family was found"
    )
    text = (
        f"{file.path.name} holds only the {file.variant or file.family} transformer{shape}; "
        f"its {parts} must come from a diffusers folder of the same model, and {why}."
    )
    if suggestion:
        text += (
            f" Put {suggestion} in a model folder (its transformer weights may be left out: "
            "Studio uses this file instead)."
        )
    return text
