"""Tiny model files as artists have them: a Wan transformer saved in the original (non-diffusers)
key layout as ``.safetensors`` and GGUF-quantized as ``.gguf``, laid out in a ComfyUI tree.

Q8_0 quantizes rows in blocks of 32, so the tiny Wan here is 32 wide (two 16-wide heads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiny_models import (
    TINY_WAN,
    WAN_NORMS,
    _clip_vision,
    _seed,
    _wan_scheduler,
    _wan_vae,
    t5_encoder,
    t5_tokenizer,
)

# diffusers name -> original Wan name, applied in order (the inverse of diffusers'
# ``convert_wan_transformer_to_diffusers``).
_TO_ORIGINAL = (
    ("condition_embedder.time_embedder.linear_1", "time_embedding.0"),
    ("condition_embedder.time_embedder.linear_2", "time_embedding.2"),
    ("condition_embedder.text_embedder.linear_1", "text_embedding.0"),
    ("condition_embedder.text_embedder.linear_2", "text_embedding.2"),
    ("condition_embedder.time_proj", "time_projection.1"),
    ("condition_embedder.image_embedder.norm1", "img_emb.proj.0"),
    ("condition_embedder.image_embedder.ff.net.0.proj", "img_emb.proj.1"),
    ("condition_embedder.image_embedder.ff.net.2", "img_emb.proj.3"),
    ("condition_embedder.image_embedder.norm2", "img_emb.proj.4"),
    ("attn1", "self_attn"),
    ("attn2", "cross_attn"),
    (".to_out.0.", ".o."),
    (".to_q.", ".q."),
    (".to_k.", ".k."),
    (".to_v.", ".v."),
    (".add_k_proj.", ".k_img."),
    (".add_v_proj.", ".v_img."),
    (".norm_added_k.", ".norm_k_img."),
    ("ffn.net.0.proj", "ffn.0"),
    ("ffn.net.2", "ffn.2"),
    ("proj_out", "head.head"),
)


def wide_wan_transformer() -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        **{**TINY_WAN, **WAN_NORMS, "attention_head_dim": 16, "ffn_dim": 64},
        in_channels=36,
        out_channels=16,
        image_dim=4,
    ).eval()


def build_wide_wan_i2v(folder: Path) -> Path:
    """A tiny Wan 2.1 I2V pipeline whose transformer is 32 wide (Q8_0-quantizable)."""
    from diffusers import WanImageToVideoPipeline

    _seed()
    image_encoder, image_processor = _clip_vision(32)
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True, layers=2),
        vae=_wan_vae(),
        scheduler=_wan_scheduler(),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=wide_wan_transformer(),
    )
    pipe.save_pretrained(folder)
    return folder


def original_key(name: str) -> str:
    if name == "scale_shift_table":
        return "head.modulation"
    name = name.replace(".scale_shift_table", ".modulation")
    for new, old in _TO_ORIGINAL:
        name = name.replace(new, old)
    if name.startswith("blocks.") and ".norm2." in name:
        name = name.replace(".norm2.", ".norm3.")  # diffusers swaps Wan's norm2 and norm3
    return name


def original_state_dict(transformer: Any) -> dict[str, Any]:
    """The transformer's weights under the names of Wan's own (and ComfyUI's) checkpoints."""
    return {original_key(k): v.detach().clone() for k, v in transformer.state_dict().items()}


def write_original_safetensors(transformer: Any, path: Path, dtype: Any = None) -> Path:
    """Save as ComfyUI does: original names under ``model.diffusion_model.``."""
    from safetensors.torch import save_file

    state = original_state_dict(transformer)
    save_file(
        {
            "model.diffusion_model." + k: (v if dtype is None else v.to(dtype)).contiguous()
            for k, v in state.items()
        },
        str(path),
    )
    return path


def write_gguf(transformer: Any, path: Path) -> Path:
    """Save as the Wan GGUF files are made: block matrices in Q8_0, the rest F32/F16."""
    import gguf
    import numpy as np

    writer = gguf.GGUFWriter(str(path), arch="wan")
    for name, tensor in original_state_dict(transformer).items():
        array = tensor.float().numpy()
        if array.ndim == 2 and array.shape[-1] % 32 == 0 and name.startswith("blocks."):
            packed = gguf.quants.quantize(array, gguf.GGMLQuantizationType.Q8_0)
            writer.add_tensor(
                name, packed, raw_shape=packed.shape, raw_dtype=gguf.GGMLQuantizationType.Q8_0
            )
        else:
            writer.add_tensor(name, array.astype(np.float32 if array.ndim <= 1 else np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


def load_transformer(folder: Path) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel.from_pretrained(folder / "transformer").eval()


def build_skyreels_df(folder: Path) -> Path:
    """A tiny SkyReels-V2 diffusion forcing image-to-video pipeline (Wan's VAE and UMT5)."""
    from diffusers import (
        SkyReelsV2DiffusionForcingImageToVideoPipeline,
        SkyReelsV2Transformer3DModel,
        UniPCMultistepScheduler,
    )

    _seed()
    transformer = SkyReelsV2Transformer3DModel(**TINY_WAN, in_channels=16, out_channels=16).eval()
    pipe = SkyReelsV2DiffusionForcingImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        transformer=transformer,
        vae=_wan_vae(),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=8.0
        ),
    )
    pipe.save_pretrained(folder)
    return folder
