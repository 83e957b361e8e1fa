"""Full-size model architectures the GPU benchmarks build with random weights (configs only)."""

WAN_14B = dict(  # Wan-AI/Wan2.1-I2V-14B-480P-Diffusers transformer/config.json
    patch_size=(1, 2, 2),
    num_attention_heads=40,
    attention_head_dim=128,
    in_channels=36,
    out_channels=16,
    text_dim=4096,
    freq_dim=256,
    ffn_dim=13824,
    num_layers=40,
    cross_attn_norm=True,
    qk_norm="rms_norm_across_heads",
    eps=1e-6,
    image_dim=1280,
    added_kv_proj_dim=5120,
    rope_max_seq_len=1024,
)
