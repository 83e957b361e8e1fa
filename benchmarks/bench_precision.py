"""Precision, GGUF and LoRA cost of the Wan 2.1 I2V 14B transformer on a GPU (random weights).

    .venv/bin/python -m benchmarks.bench_precision            # CUDA GPU: about 5 min on an H200
    .venv/bin/python -m benchmarks.bench_precision --tiny     # same code, tiny widths, CPU

One script, measured in one run: seconds per denoising step (two transformer passes, as with
classifier-free guidance) and peak VRAM at 832x480, 81 frames (32,760 latent tokens) for

* bf16 weights, and fp8 (e4m3) layerwise storage -- the whole 40-block model;
* GGUF Q8_0 through Studio's own single-file path (an original-layout .gguf written here and
  loaded with ``from_single_file`` + ``GGUFQuantizationConfig``) against bf16, on a 2-block model
  of the same width: quantizing all 40 blocks in numpy would take most of the time budget;
* a rank-32 LoRA on every attention and feed-forward linear: per-step overhead as adapters and
  fused.

Random weights say nothing about quality: only time and memory are measured. With no GPU and no
``--tiny`` it prints that the figures are unmeasured and exits 0.
"""

from __future__ import annotations

import argparse
import gc
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchmarks.architectures import WAN_14B  # noqa: E402

TINY = dict(
    WAN_14B,
    num_attention_heads=2,
    attention_head_dim=16,
    ffn_dim=64,
    num_layers=2,
    text_dim=32,
    image_dim=4,
    added_kv_proj_dim=32,
)
FULL_SIZE = (21, 60, 104)  # latent frames, height, width: 81 frames at 832x480
TINY_SIZE = (3, 8, 8)


def build(config: dict[str, Any], device: str, dtype: Any) -> Any:
    """The transformer with random weights, made directly on ``device`` (no CPU copy)."""
    import torch
    from diffusers import WanTransformer3DModel

    with torch.device("meta"):
        model = WanTransformer3DModel(**config).to(dtype)  # never a full-precision copy
    model = model.to_empty(device=device)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.normal_(0.0, 0.02, generator=generator)
    model.rope = type(model.rope)(
        config["attention_head_dim"], config["patch_size"], config["rope_max_seq_len"]
    ).to(device)  # rope's frequencies are computed, not random
    return model.eval()


def inputs(config: dict[str, Any], size: tuple[int, int, int], device: str, dtype: Any) -> dict:
    import torch

    t, h, w = size
    g = torch.Generator(device=device).manual_seed(1)

    def randn(*shape: int) -> Any:
        return torch.randn(*shape, generator=g, device=device, dtype=dtype)

    return dict(
        hidden_states=randn(1, config["in_channels"], t, h, w),
        timestep=torch.tensor([500], device=device),
        encoder_hidden_states=randn(1, 512, config["text_dim"]),
        encoder_hidden_states_image=randn(1, 257, config["image_dim"]),
    )


def step_seconds(model: Any, args: dict, device: str, repeats: int) -> tuple[float, float | None]:
    """Median seconds of one step (two passes, as CFG runs) after a warm-up; peak VRAM GiB."""
    import torch

    def step() -> None:
        with torch.no_grad():
            for _ in range(2):
                model(**args, return_dict=False)

    cuda = device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    step()  # warm-up: kernels, casting hooks
    times = []
    for _ in range(repeats):
        if cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        step()
        if cuda:
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else None
    return sorted(times)[len(times) // 2], peak


def _free() -> None:
    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def lora_state(model: Any, rank: int) -> dict[str, Any]:
    """A random rank-``rank`` LoRA on every attention and feed-forward linear of the blocks."""
    import torch

    state = {}
    for name, module in model.named_modules():
        if name.startswith("blocks.") and isinstance(module, torch.nn.Linear):
            w = module.weight
            state[f"{name}.lora_A.weight"] = torch.randn(rank, w.shape[1], device=w.device) * 0.01
            state[f"{name}.lora_B.weight"] = torch.randn(w.shape[0], rank, device=w.device) * 0.01
    return {k: v.to(model.dtype) for k, v in state.items()}


def gguf_pair(config: dict[str, Any], device: str, dtype: Any, folder: Path) -> tuple[Any, Any]:
    """A 2-block model in bf16, and the same weights as Q8_0 GGUF loaded as Studio loads one."""
    import torch
    from diffusers import GGUFQuantizationConfig, WanTransformer3DModel
    from tiny_model_files import write_gguf

    small = dict(config, num_layers=min(2, config["num_layers"]))
    reference = build(small, "cpu", torch.float32)
    reference.save_pretrained(folder / "transformer")  # the config from_single_file reads
    write_gguf(reference, folder / "wan-2-blocks-Q8_0.gguf")
    quantized = WanTransformer3DModel.from_single_file(
        str(folder / "wan-2-blocks-Q8_0.gguf"),
        config=str(folder),
        subfolder="transformer",
        local_files_only=True,
        quantization_config=GGUFQuantizationConfig(compute_dtype=dtype),
        torch_dtype=dtype,
    )
    return reference.to(device, dtype).eval(), quantized.to(device).eval()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny widths on the CPU")
    parser.add_argument("--repeats", type=int, default=2, help="timed steps per figure")
    args = parser.parse_args(argv)
    import torch

    cuda = torch.cuda.is_available()
    if not cuda and not args.tiny:
        print("bench_precision needs a CUDA GPU: GPU figures are unmeasured (try --tiny).")
        return 0
    device, dtype = ("cuda", torch.bfloat16) if cuda and not args.tiny else ("cpu", torch.float32)
    if args.tiny:
        torch.set_num_threads(1)  # tiny layers: threads only add contention
    config, size = (TINY, TINY_SIZE) if args.tiny else (WAN_14B, FULL_SIZE)
    tokens = size[0] * (size[1] // 2) * (size[2] // 2)
    print(
        f"Wan 2.1 I2V {'tiny' if args.tiny else '14B'} transformer, random weights, "
        f"{tokens} latent tokens, {device} {str(dtype).removeprefix('torch.')}"
    )
    rows: list[tuple[str, float, float | None]] = []

    def measure(label: str, model: Any, extra: Callable[[], None] | None = None) -> float:
        if extra is not None:
            extra()
        seconds, peak = step_seconds(
            model, inputs(config, size, device, dtype), device, args.repeats
        )
        rows.append((label, seconds, peak))
        vram = f"{peak:6.1f} GiB" if peak is not None else "   (cpu)"
        print(f"  {label:<34} {seconds:8.3f} s/step   peak {vram}", flush=True)
        return seconds

    model = build(config, device, dtype)
    base = measure("bf16" if cuda and not args.tiny else "fp32 (cpu)", model)
    model.load_lora_adapter(lora_state(model, 32), adapter_name="bench", prefix=None)
    with_lora = measure("+ rank-32 LoRA (adapters)", model)
    model.fuse_lora(lora_scale=1.0)
    fused = measure("+ rank-32 LoRA (fused)", model)
    model.unfuse_lora()
    model.unload_lora()
    print(
        f"  LoRA per-step overhead: adapters {100 * (with_lora / base - 1):+.1f} %, "
        f"fused {100 * (fused / base - 1):+.1f} %"
    )
    from nodes.diffusion.precision import apply_precision

    apply_precision(type("Pipe", (), {"transformer": model})(), "fp8", dtype, print)
    fp8 = measure("fp8 layerwise storage", model)
    print(f"  fp8 / bf16 step time: {fp8 / base:.2f}x")
    del model
    _free()

    with tempfile.TemporaryDirectory() as tmp:
        reference, quantized = gguf_pair(config, device, dtype, Path(tmp))
        ref = measure("2 blocks, bf16", reference)
        q8 = measure("2 blocks, GGUF Q8_0 (Studio's loader)", quantized)
        print(f"  GGUF Q8_0 / bf16 step time on 2 blocks: {q8 / ref:.2f}x")
    print("Quality is not measurable with random weights; only time and memory are.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
