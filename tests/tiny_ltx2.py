"""A tiny LTX-2 image-to-video pipeline (picture and sound), built entirely in code.

Every component is random and a few layers deep: a Gemma 3 text encoder (with the small SigLIP
vision tower Gemma3ForConditionalGeneration carries) and a Gemma BPE tokenizer over a word
vocabulary, the text connectors, the audio-video transformer, the video VAE, the audio VAE
and the vocoder. Sizes: 32 px at 4x spatial and 4x temporal compression (4k+1 frames); sound
at 8 kHz, the vocoder upsampling each 80-sample mel hop back to samples.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tiny_models import _seed

AUDIO_RATE = 8000  # the audio VAE's and the vocoder's sample rate
_HOP = 80  # mel hop length: 100 mel frames a second, as LTX-2's 16 kHz / 160
_WORDS = "a the cat dog runs walks jumps red blue sky tree river city night day slow".split()
TEXT_HIDDEN = 16
TEXT_LAYERS = 2


def gemma_tokenizer() -> Any:
    """A Gemma BPE tokenizer over whole words (no merges): enough to tokenize test prompts."""
    from transformers import GemmaTokenizer

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4}
    vocab.update({f"\u2581{w}": i + 5 for i, w in enumerate(_WORDS)})
    vocab.update({w: i + 5 + len(_WORDS) for i, w in enumerate(_WORDS)})
    return GemmaTokenizer(vocab=vocab, merges=[], model_max_length=32)


def gemma3_encoder() -> Any:
    from transformers import (
        Gemma3Config,
        Gemma3ForConditionalGeneration,
        Gemma3TextConfig,
        SiglipVisionConfig,
    )

    text = Gemma3TextConfig(
        vocab_size=64,
        hidden_size=TEXT_HIDDEN,
        intermediate_size=32,
        num_hidden_layers=TEXT_LAYERS,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=8,
        max_position_embeddings=64,
        sliding_window=16,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    vision = SiglipVisionConfig(
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        image_size=8,
        patch_size=2,
    )
    config = Gemma3Config(text_config=text, vision_config=vision, mm_tokens_per_image=4)
    return Gemma3ForConditionalGeneration(config).eval()


def build_ltx2_i2v(folder: Path) -> Path:
    """Save a tiny ``LTX2ImageToVideoPipeline`` to ``folder``."""
    from diffusers import (
        AutoencoderKLLTX2Audio,
        AutoencoderKLLTX2Video,
        FlowMatchEulerDiscreteScheduler,
        LTX2ImageToVideoPipeline,
        LTX2VideoTransformer3DModel,
    )
    from diffusers.pipelines.ltx2 import LTX2TextConnectors
    from diffusers.pipelines.ltx2.vocoder import LTX2Vocoder

    _seed()
    text_encoder = gemma3_encoder()
    transformer = LTX2VideoTransformer3DModel(
        in_channels=4,
        out_channels=4,
        patch_size=1,
        patch_size_t=1,
        num_attention_heads=2,
        attention_head_dim=8,
        cross_attention_dim=16,
        vae_scale_factors=(4, 4, 4),
        audio_in_channels=4,
        audio_out_channels=4,
        audio_num_attention_heads=2,
        audio_attention_head_dim=4,
        audio_cross_attention_dim=8,
        num_layers=1,
        qk_norm="rms_norm_across_heads",
        caption_channels=TEXT_HIDDEN,
        rope_double_precision=False,
        rope_type="split",
    ).eval()
    connectors = LTX2TextConnectors(
        caption_channels=TEXT_HIDDEN,
        text_proj_in_factor=TEXT_LAYERS + 1,
        video_connector_num_attention_heads=2,
        video_connector_attention_head_dim=8,
        video_connector_num_layers=1,
        video_connector_num_learnable_registers=None,
        audio_connector_num_attention_heads=2,
        audio_connector_attention_head_dim=8,
        audio_connector_num_layers=1,
        audio_connector_num_learnable_registers=None,
        connector_rope_base_seq_len=32,
        rope_double_precision=False,
        rope_type="split",
    ).eval()
    vae = AutoencoderKLLTX2Video(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 8),
        decoder_block_out_channels=(8, 8),
        layers_per_block=(1, 1, 1),
        decoder_layers_per_block=(1, 1, 1),
        spatio_temporal_scaling=(True, True),
        decoder_spatio_temporal_scaling=(True, True),
        decoder_inject_noise=(False, False, False),
        downsample_type=("spatiotemporal", "spatiotemporal"),
        upsample_type=("spatiotemporal", "spatiotemporal"),
        upsample_residual=(False, False),
        upsample_factor=(1, 1),
        timestep_conditioning=False,
        patch_size=1,
        patch_size_t=1,
        encoder_causal=True,
        decoder_causal=False,
    ).eval()
    vae.use_framewise_encoding = False
    vae.use_framewise_decoding = False
    audio_vae = AutoencoderKLLTX2Audio(
        base_channels=4,
        output_channels=2,
        ch_mult=(1, 1, 1),
        num_res_blocks=1,
        attn_resolutions=None,
        in_channels=2,
        resolution=32,
        latent_channels=2,
        norm_type="pixel",
        causality_axis="height",
        dropout=0.0,
        mid_block_add_attention=False,
        sample_rate=AUDIO_RATE,
        mel_hop_length=_HOP,
        is_causal=True,
        mel_bins=8,
    ).eval()
    vocoder = LTX2Vocoder(
        in_channels=2 * 8,  # output channels x mel bins
        hidden_channels=16,
        out_channels=2,
        upsample_kernel_sizes=[8, 8, 10],
        upsample_factors=[4, 4, 5],  # 80 samples per mel frame: the hop
        resnet_kernel_sizes=[3],
        resnet_dilations=[[1, 3]],
        output_sampling_rate=AUDIO_RATE,
    ).eval()
    pipe = LTX2ImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(),
        vae=vae,
        audio_vae=audio_vae,
        text_encoder=text_encoder,
        tokenizer=gemma_tokenizer(),
        connectors=connectors,
        transformer=transformer,
        vocoder=vocoder,
    )
    pipe.save_pretrained(folder)
    return folder
