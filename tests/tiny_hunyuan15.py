"""A tiny randomly initialised HunyuanVideo 1.5 image-to-video pipeline, built in code.

Every component is built here, tokenizers included: a byte-level BPE Qwen2 tokenizer over the
256 byte symbols (no merges) with a minimal chat template, and ByT5's (which needs no vocab
file). Sizes follow diffusers' own fast test of HunyuanVideo 1.5, with the I2V pieces added (a
SigLIP image encoder, ``task_type="i2v"``, latents + image latents + mask in).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

LATENT_CHANNELS = 4
SPATIAL = 4  # the tiny VAE's compression: sizes are multiples of 4
TEMPORAL = 4  # 4k+1 frames, as the real model
_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")
_CHAT = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


def qwen2_tokenizer() -> Any:
    from transformers import Qwen2Tokenizer
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    vocab = {token: i for i, token in enumerate(_SPECIALS)}
    for symbol in bytes_to_unicode().values():
        vocab.setdefault(symbol, len(vocab))
    tokenizer = Qwen2Tokenizer(vocab=vocab, merges=[], model_max_length=2048)
    tokenizer.add_special_tokens({"additional_special_tokens": list(_SPECIALS[1:])})
    tokenizer.chat_template = _CHAT
    return tokenizer


def build_hunyuan15_i2v(folder: Path) -> Path:
    """The tiny pipeline saved to ``folder`` (about 17 MB: ByT5's projection is 2048 wide)."""
    import torch
    from diffusers import (
        AutoencoderKLHunyuanVideo15,
        FlowMatchEulerDiscreteScheduler,
        HunyuanVideo15ImageToVideoPipeline,
        HunyuanVideo15Transformer3DModel,
    )
    from diffusers.guiders import ClassifierFreeGuidance
    from transformers import (
        ByT5Tokenizer,
        Qwen2_5_VLTextConfig,
        Qwen2_5_VLTextModel,
        SiglipImageProcessor,
        SiglipVisionConfig,
        SiglipVisionModel,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    transformer = HunyuanVideo15Transformer3DModel(
        in_channels=2 * LATENT_CHANNELS + 1,  # noisy latents, image latents, frame-0 mask
        out_channels=LATENT_CHANNELS,
        num_attention_heads=2,
        attention_head_dim=8,
        num_layers=1,
        num_refiner_layers=1,
        mlp_ratio=2.0,
        text_embed_dim=16,
        text_embed_2_dim=8,
        image_embed_dim=12,
        rope_axes_dim=(2, 2, 4),
        target_size=32,
        task_type="i2v",
    ).eval()
    vae = AutoencoderKLHunyuanVideo15(
        latent_channels=LATENT_CHANNELS,
        block_out_channels=(8, 8, 8),
        layers_per_block=1,
        spatial_compression_ratio=SPATIAL,
        temporal_compression_ratio=TEMPORAL,
        downsample_match_channel=False,
        upsample_match_channel=False,
    ).eval()
    text_encoder = Qwen2_5_VLTextModel(
        Qwen2_5_VLTextConfig(
            vocab_size=300,
            hidden_size=16,
            intermediate_size=16,
            num_hidden_layers=3,  # the pipeline reads the third-last hidden state
            num_attention_heads=2,
            num_key_value_heads=2,
            rope_scaling={"mrope_section": [1, 1, 2], "rope_type": "default", "type": "default"},
            bos_token_id=None,
            eos_token_id=0,
        )
    ).eval()
    text_encoder_2 = T5EncoderModel(
        T5Config(vocab_size=384, d_model=8, d_kv=4, d_ff=16, num_layers=1, num_heads=2)
    ).eval()  # ByT5: 256 bytes + 3 specials + 125 extra ids
    image_encoder = SiglipVisionModel(
        SiglipVisionConfig(
            hidden_size=12,
            intermediate_size=16,
            num_hidden_layers=1,
            num_attention_heads=2,
            image_size=16,
            patch_size=8,
        )
    ).eval()
    pipe = HunyuanVideo15ImageToVideoPipeline(
        transformer=transformer,
        vae=vae,
        scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=text_encoder,
        tokenizer=qwen2_tokenizer(),
        text_encoder_2=text_encoder_2,
        tokenizer_2=ByT5Tokenizer(),
        guider=ClassifierFreeGuidance(guidance_scale=6.0),
        image_encoder=image_encoder,
        feature_extractor=SiglipImageProcessor(size={"height": 16, "width": 16}),
    )
    pipe.save_pretrained(folder)
    return folder
