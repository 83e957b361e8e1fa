"""Tiny randomly initialised diffusers pipelines, built entirely in code and saved to a folder.

Sizes follow the spirit of diffusers' own ``get_dummy_components``; the tokenizers are built
here too, since the hub ids diffusers' tests use cannot be reached offline. Every builder seeds
torch first, so a folder built twice holds the same weights, and calls ``.eval()`` (UMT5's
dropout would otherwise make runs differ).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

TEXT_DIM = 32  # the tiny text encoders' width, matched by every tiny transformer
_WORDS = "a the cat dog runs walks jumps red blue sky tree river city night day slow".split()


def t5_tokenizer() -> Any:
    from transformers import T5Tokenizer

    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(f"\u2581{w}", -float(i + 1)) for i, w in enumerate(_WORDS)]
    pieces += [(c, -30.0) for c in "abcdefghijklmnopqrstuvwxyz\u2581"]
    return T5Tokenizer(vocab=pieces, model_max_length=64)


def t5_encoder(umt5: bool = False, layers: int = 1) -> Any:
    """One layer by default: the Wan, LTX and CogVideoX pipelines pad prompts to 128-512
    tokens, and a second layer made text encoding a third of a tiny Wan render. A text encoder
    file to be told apart as UMT5 needs two (UMT5 has an attention bias in every layer)."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    sizes = dict(vocab_size=64, d_model=TEXT_DIM, d_kv=8, d_ff=37, num_layers=layers, num_heads=4)
    if umt5:
        return UMT5EncoderModel(UMT5Config(**sizes)).eval()
    return T5EncoderModel(T5Config(**sizes)).eval()


def clip_tokenizer() -> Any:
    from transformers import CLIPTokenizer

    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1, "!": 2}
    vocab.update({f"{w}</w>": i + 3 for i, w in enumerate(_WORDS)})
    return CLIPTokenizer(vocab=vocab, merges=[], model_max_length=16)


def _seed(seed: int = 0) -> None:
    import torch

    torch.manual_seed(seed)


def _wan_vae() -> Any:
    from diffusers import AutoencoderKLWan

    return AutoencoderKLWan(
        base_dim=3,
        z_dim=16,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        temperal_downsample=[False, True, True],
    ).eval()


def _wan_scheduler() -> Any:
    from diffusers import FlowMatchEulerDiscreteScheduler

    return FlowMatchEulerDiscreteScheduler(shift=7.0)


def build_sd(folder: Path) -> Path:
    """A tiny Stable Diffusion 1.x text-to-image pipeline (vae scale factor 2)."""
    from diffusers import (
        AutoencoderKL,
        DDIMScheduler,
        StableDiffusionPipeline,
        UNet2DConditionModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    _seed()
    unet = UNet2DConditionModel(
        block_out_channels=(4, 8),
        layers_per_block=1,
        sample_size=16,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=TEXT_DIM,
        norm_num_groups=2,
    ).eval()
    vae = AutoencoderKL(
        block_out_channels=[4, 8],
        in_channels=3,
        out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 2,
        up_block_types=["UpDecoderBlock2D"] * 2,
        latent_channels=4,
        norm_num_groups=2,
    ).eval()
    text_encoder = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=TEXT_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=64,
        )
    ).eval()
    pipe = StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=DDIMScheduler(clip_sample=False, steps_offset=1),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.save_pretrained(folder)
    return folder


def build_flux(folder: Path) -> Path:
    """A tiny Flux text-to-image pipeline (2x2 latent packing: sizes must be even)."""
    from diffusers import (
        AutoencoderKL,
        FlowMatchEulerDiscreteScheduler,
        FluxPipeline,
        FluxTransformer2DModel,
    )
    from transformers import CLIPTextConfig, CLIPTextModel

    _seed()
    transformer = FluxTransformer2DModel(
        patch_size=1,
        in_channels=4,
        num_layers=1,
        num_single_layers=1,
        attention_head_dim=16,
        num_attention_heads=2,
        joint_attention_dim=TEXT_DIM,
        pooled_projection_dim=TEXT_DIM,
        axes_dims_rope=[4, 4, 8],
    ).eval()
    vae = AutoencoderKL(
        sample_size=32,
        in_channels=3,
        out_channels=3,
        block_out_channels=(4,),
        layers_per_block=1,
        latent_channels=1,
        norm_num_groups=1,
        use_quant_conv=False,
        use_post_quant_conv=False,
        shift_factor=0.0609,
        scaling_factor=1.5035,
    ).eval()
    clip = CLIPTextModel(
        CLIPTextConfig(
            bos_token_id=0,
            eos_token_id=1,
            pad_token_id=1,
            hidden_size=TEXT_DIM,
            intermediate_size=37,
            num_attention_heads=4,
            num_hidden_layers=2,
            vocab_size=64,
            projection_dim=TEXT_DIM,
        )
    ).eval()
    pipe = FluxPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=clip,
        tokenizer=clip_tokenizer(),
        text_encoder_2=t5_encoder(),
        tokenizer_2=t5_tokenizer(),
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


# The size of every tiny Wan-family transformer (Wan, VACE, SkyReels); builders add their own.
TINY_WAN = dict(
    patch_size=(1, 2, 2),
    num_attention_heads=2,
    attention_head_dim=12,
    text_dim=TEXT_DIM,
    freq_dim=256,
    ffn_dim=32,
    num_layers=2,
    rope_max_seq_len=32,
)
WAN_NORMS = dict(cross_attn_norm=True, qk_norm="rms_norm_across_heads")


def _wan_transformer(in_channels: int = 36, out_channels: int = 16, **extra: Any) -> Any:
    from diffusers import WanTransformer3DModel

    return WanTransformer3DModel(
        **{**TINY_WAN, **WAN_NORMS, "in_channels": in_channels, "out_channels": out_channels},
        **extra,
    ).eval()


def _clip_vision(image_size: int) -> tuple[Any, Any]:
    """A tiny CLIP vision encoder and its processor: ``image_size**2 + 1`` tokens an image."""
    from transformers import CLIPImageProcessor, CLIPVisionConfig, CLIPVisionModel

    encoder = CLIPVisionModel(
        CLIPVisionConfig(
            hidden_size=4,
            projection_dim=4,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=image_size,
            intermediate_size=16,
            patch_size=1,
        )
    ).eval()
    return encoder, CLIPImageProcessor(crop_size=image_size, size=image_size)


def _unipc_scheduler() -> Any:
    """The flow-matching UniPC scheduler the real Wan 2.1/2.2 diffusers checkpoints ship."""
    from diffusers import UniPCMultistepScheduler

    return UniPCMultistepScheduler(
        prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
    )


def build_wan_i2v(folder: Path) -> Path:
    """A tiny Wan 2.1 image-to-video pipeline (multiple of 16, 4k+1 frames)."""
    from diffusers import WanImageToVideoPipeline

    _seed()
    transformer = _wan_transformer(image_dim=4)
    image_encoder, image_processor = _clip_vision(32)
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=_wan_vae(),
        scheduler=_wan_scheduler(),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


def build_wan_flf2v(folder: Path) -> Path:
    """A tiny Wan 2.1 first-last-frame pipeline: CLIP encodes both frames, and the transformer
    has a learned position embedding for the two images' tokens (``pos_embed_seq_len``)."""
    from diffusers import WanImageToVideoPipeline

    _seed()
    image_size = 4
    transformer = _wan_transformer(image_dim=4, pos_embed_seq_len=2 * (image_size**2 + 1))
    image_encoder, image_processor = _clip_vision(image_size)
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=_wan_vae(),
        scheduler=_unipc_scheduler(),
        image_processor=image_processor,
        image_encoder=image_encoder,
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


def build_wan22_i2v(folder: Path) -> Path:
    """A tiny Wan 2.2 A14B-style image-to-video pipeline: two experts, no CLIP encoder.
    ``transformer`` denoises while ``t >= boundary_ratio * 1000``, ``transformer_2`` after."""
    from diffusers import WanImageToVideoPipeline

    _seed()
    high_noise = _wan_transformer()
    _seed(1)
    low_noise = _wan_transformer()
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=_wan_vae(),
        scheduler=_unipc_scheduler(),
        image_processor=None,
        image_encoder=None,
        transformer=high_noise,
        transformer_2=low_noise,
        boundary_ratio=0.875,
    )
    pipe.save_pretrained(folder)
    return folder


def build_wan22_ti2v(folder: Path) -> Path:
    """A tiny Wan 2.2 TI2V-5B-style pipeline, saved like the real one: a ``WanPipeline``
    with ``expand_timesteps`` (the keyframe is latent frame 0) and a 16x, 48-channel VAE."""
    from diffusers import AutoencoderKLWan, WanPipeline

    _seed()
    vae = AutoencoderKLWan(
        base_dim=3,
        z_dim=48,
        in_channels=12,
        out_channels=12,
        is_residual=True,
        patch_size=2,
        latents_mean=[0.0] * 48,
        latents_std=[1.0] * 48,
        dim_mult=[1, 1, 1, 1],
        num_res_blocks=1,
        scale_factor_spatial=16,
        scale_factor_temporal=4,
        temperal_downsample=[False, True, True],
    ).eval()
    pipe = WanPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=vae,
        scheduler=_unipc_scheduler(),
        transformer=_wan_transformer(in_channels=48, out_channels=48),
        expand_timesteps=True,
    )
    pipe.save_pretrained(folder)
    return folder


def build_wan_vace(folder: Path) -> Path:
    """A tiny Wan VACE pipeline: control video + mask + reference image."""
    from diffusers import WanVACEPipeline, WanVACETransformer3DModel

    _seed()
    transformer = WanVACETransformer3DModel(
        **{**TINY_WAN, **WAN_NORMS, "num_layers": 3},
        in_channels=16,
        out_channels=16,
        vace_layers=[0, 2],
        vace_in_channels=96,
    ).eval()
    pipe = WanVACEPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(umt5=True),
        vae=_wan_vae(),
        scheduler=_wan_scheduler(),
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


def build_ltx_i2v(folder: Path) -> Path:
    """A tiny LTX-Video image-to-video pipeline (compression 4 in space and time)."""
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )

    _seed()
    transformer = LTXVideoTransformer3DModel(
        in_channels=8,
        out_channels=8,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=4,
        attention_head_dim=8,
        cross_attention_dim=32,
        num_layers=1,
        caption_channels=TEXT_DIM,
    ).eval()
    vae = AutoencoderKLLTXVideo(
        in_channels=3,
        out_channels=3,
        latent_channels=8,
        block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8),
        layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1),
        spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False),
        decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4,
        upsample_factor=(1,) * 4,
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    pipe = LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        text_encoder=t5_encoder(),
        tokenizer=t5_tokenizer(),
        transformer=transformer,
    )
    pipe.save_pretrained(folder)
    return folder


def build_cogvideox_i2v(folder: Path) -> Path:
    """A tiny CogVideoX 1.0 image-to-video pipeline (multiple of 8, 4k+1 frames)."""
    from diffusers import (
        AutoencoderKLCogVideoX,
        CogVideoXDDIMScheduler,
        CogVideoXImageToVideoPipeline,
        CogVideoXTransformer3DModel,
    )

    _seed()
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=2,
        attention_head_dim=16,
        in_channels=8,
        out_channels=4,
        time_embed_dim=2,
        text_embed_dim=TEXT_DIM,
        num_layers=1,
        sample_width=4,
        sample_height=4,
        sample_frames=9,
        patch_size=2,
        temporal_compression_ratio=4,
        max_text_seq_length=226,
        use_rotary_positional_embeddings=True,
    ).eval()
    vae = AutoencoderKLCogVideoX(
        block_out_channels=(8, 8, 8, 8),
        latent_channels=4,
        layers_per_block=1,
        norm_num_groups=2,
        temporal_compression_ratio=4,
    ).eval()
    pipe = CogVideoXImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=t5_encoder(),
        vae=vae,
        transformer=transformer,
        scheduler=CogVideoXDDIMScheduler(),
    )
    pipe.save_pretrained(folder)
    return folder


BUILDERS = {
    "sd": build_sd,
    "flux": build_flux,
    "wan-i2v": build_wan_i2v,
    "wan-flf2v": build_wan_flf2v,
    "wan22-i2v": build_wan22_i2v,
    "wan22-ti2v": build_wan22_ti2v,
    "wan-vace": build_wan_vace,
    "ltx-i2v": build_ltx_i2v,
    "cogvideox-i2v": build_cogvideox_i2v,
}


def build_all(root: Path) -> dict[str, Path]:
    """Build every tiny pipeline under ``root``; returns folder by name."""
    return {name: build(root / name) for name, build in BUILDERS.items()}


@contextmanager
def one_torch_thread() -> Iterator[None]:
    """Tiny models gain nothing from threads, and on a busy machine torch's spinning worker
    threads cost several times the work itself: run them on one thread, then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
