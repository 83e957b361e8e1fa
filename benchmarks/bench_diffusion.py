"""Diffusion image-to-video on a GPU: seconds per step, end to end, peak VRAM per memory policy,
and Studio's overhead against a bare diffusers script doing the same work (target <= 2 %).

    .venv/bin/python -m benchmarks.bench_diffusion                 # CUDA GPU, full-size models
    .venv/bin/python -m benchmarks.bench_diffusion --tiny          # same code, tiny models, CPU
    .venv/bin/python -m benchmarks.bench_diffusion --family wan --policies none "model offload"

Full size means the published architectures with random weights (nothing is downloaded):
Wan 2.1 I2V 14B at 832x480, 81 frames, and LTX-Video 2B at 768x512, 121 frames, each with its
full text encoder (UMT5-XXL / T5-XXL). They are built on the GPU in bf16, saved to a temporary
folder (about 45 GB for Wan: the disk needs room) and loaded from there by both contenders.
Each contender loads once and runs twice; the figures are from the second (warm) run. With no
GPU and no ``--tiny`` it prints that it needs one and exits 0. At full size a Wan step with
classifier-free guidance takes tens of seconds on an H100, so one policy costs about ten
minutes; pick policies with ``--policies``. Precision (bf16 / fp8 layerwise / GGUF Q8) and the
per-step cost of LoRAs on the same Wan 14B architecture: ``benchmarks.bench_precision``.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from benchmarks.architectures import WAN_14B  # noqa: E402
from nodes.image_to_video import IMAGE_TO_VIDEO  # noqa: E402
from studio.engine import devices  # noqa: E402
from studio.engine.cancel import CancelToken  # noqa: E402
from studio.engine.context import NodeContext  # noqa: E402
from studio.engine.events import RunEvent  # noqa: E402
from studio.engine.memory import POLICIES, apply_policy  # noqa: E402
from studio.engine.models import ModelManager  # noqa: E402


@dataclass
class Case:
    family: str
    width: int
    height: int
    frames: int
    fps: float
    build: Callable[[Path, bool], Path]  # (folder, tiny) -> folder


@dataclass
class Result:
    contender: str
    family: str
    policy: str
    first_s: float  # cold: load + first run
    run_s: float  # warm: median of the repeats with the model loaded
    step_s: float
    peak_vram_gib: float | None
    steps: list[float] = field(default_factory=list, repr=False)


# -- full-size architectures from the published configs, random weights ------------------------
def build_wan(folder: Path, tiny: bool) -> Path:
    if tiny:
        import tiny_models

        return tiny_models.build_wan_i2v(folder)
    import torch
    from diffusers import (
        AutoencoderKLWan,
        UniPCMultistepScheduler,
        WanImageToVideoPipeline,
        WanTransformer3DModel,
    )
    from tiny_models import t5_tokenizer
    from transformers import (
        CLIPImageProcessor,
        CLIPVisionConfig,
        CLIPVisionModel,
        UMT5Config,
        UMT5EncoderModel,
    )

    with _on_gpu_in_bf16():
        transformer = WanTransformer3DModel(**WAN_14B)  # Wan2.1-I2V-14B-480P
        text_encoder = UMT5EncoderModel(
            UMT5Config(  # UMT5-XXL encoder
                vocab_size=256384,
                d_model=4096,
                d_kv=64,
                d_ff=10240,
                num_layers=24,
                num_heads=64,
                feed_forward_proj="gated-gelu",
                relative_attention_num_buckets=32,
            )
        )
        image_encoder = CLIPVisionModel(
            CLIPVisionConfig(  # open-clip ViT-H/14
                hidden_size=1280,
                intermediate_size=5120,
                num_hidden_layers=32,
                num_attention_heads=16,
                image_size=224,
                patch_size=14,
                projection_dim=1024,
                hidden_act="gelu",
            )
        )
    vae = AutoencoderKLWan().to("cuda", torch.float32)  # the defaults are Wan 2.1's VAE
    pipe = WanImageToVideoPipeline(
        tokenizer=t5_tokenizer(),
        text_encoder=text_encoder.eval(),
        vae=vae.eval(),
        scheduler=UniPCMultistepScheduler(
            prediction_type="flow_prediction", use_flow_sigmas=True, flow_shift=3.0
        ),
        image_processor=CLIPImageProcessor(crop_size=224, size=224),
        image_encoder=image_encoder.eval(),
        transformer=transformer.eval(),
    )
    return _save(pipe, folder)


def build_ltx(folder: Path, tiny: bool) -> Path:
    if tiny:
        import tiny_models

        return tiny_models.build_ltx_i2v(folder)
    import torch
    from diffusers import (
        AutoencoderKLLTXVideo,
        FlowMatchEulerDiscreteScheduler,
        LTXImageToVideoPipeline,
        LTXVideoTransformer3DModel,
    )
    from tiny_models import t5_tokenizer
    from transformers import T5Config, T5EncoderModel

    with _on_gpu_in_bf16():
        transformer = LTXVideoTransformer3DModel()  # the defaults are LTX-Video 2B's
        text_encoder = T5EncoderModel(
            T5Config(  # T5-XXL encoder
                vocab_size=32128,
                d_model=4096,
                d_kv=64,
                d_ff=10240,
                num_layers=24,
                num_heads=64,
                feed_forward_proj="gated-gelu",
            )
        )
        vae = AutoencoderKLLTXVideo()
    pipe = LTXImageToVideoPipeline(
        scheduler=FlowMatchEulerDiscreteScheduler(
            use_dynamic_shifting=True,
            base_shift=0.95,
            max_shift=2.05,
            base_image_seq_len=1024,
            max_image_seq_len=4096,
            shift_terminal=0.1,
        ),
        vae=vae.to(torch.bfloat16).eval(),
        text_encoder=text_encoder.eval(),
        tokenizer=t5_tokenizer(),
        transformer=transformer.eval(),
    )
    return _save(pipe, folder)


class _on_gpu_in_bf16:
    """Initialise weights straight on the GPU in bf16: a 14B model in fp32 on the CPU would
    take minutes and 56 GB."""

    def __enter__(self) -> None:
        import torch

        self._dtype = torch.get_default_dtype()
        torch.set_default_dtype(torch.bfloat16)
        self._device = torch.device("cuda")
        self._device.__enter__()

    def __exit__(self, *exc: object) -> None:
        import torch

        self._device.__exit__(*exc)
        torch.set_default_dtype(self._dtype)


def _save(pipe: Any, folder: Path) -> Path:
    pipe.save_pretrained(folder, safe_serialization=True)
    del pipe
    _release()
    return folder


def _release() -> None:
    gc.collect()
    devices.empty_cache("cuda" if _has_cuda() else "cpu")


def _has_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


CASES = {
    "wan": (Case("wan", 832, 480, 81, 16.0, build_wan), Case("wan", 32, 32, 9, 16.0, build_wan)),
    "ltx": (Case("ltx", 768, 512, 121, 24.0, build_ltx), Case("ltx", 32, 32, 9, 24.0, build_ltx)),
}


# -- the two contenders -------------------------------------------------------------------------
class StepTimer:
    """Step-end timestamps; synchronises so that a step's time is the GPU's, not the launch's."""

    def __init__(self, device: str) -> None:
        self.device = device
        self.stamps: list[float] = []

    def mark(self) -> None:
        if self.device.startswith("cuda"):
            import torch

            torch.cuda.synchronize()
        self.stamps.append(time.perf_counter())

    def step_s(self, start: float) -> float:
        stamps = [start, *self.stamps]
        return (
            statistics.median(b - a for a, b in zip(stamps[1:], stamps[2:], strict=False))
            if (len(stamps) > 2)
            else stamps[-1] - stamps[0]
        )


def bench_context(device: str, models: ModelManager, timer: StepTimer) -> NodeContext:
    """The engine's own RunContext (so its per-step cost is in the figure), with the step
    timer listening to its progress events."""

    def listen(event: RunEvent) -> None:
        if event.kind == "node_progress":
            timer.mark()
        elif event.kind == "node_info":
            print(f"   studio: {event.message}")

    return NodeContext(
        run_id="bench",
        node_id="bench",
        output_dir=Path(),
        cancel=CancelToken(),
        emit=listen,
        device=lambda: device,
        workflow_json=lambda: "",
        models=models,
    )


def keyframe(case: Case) -> np.ndarray:
    import cv2
    from skimage import data

    return cv2.resize(data.astronaut(), (case.width, case.height), interpolation=cv2.INTER_AREA)


def run_studio(
    case: Case, folder: Path, policy: str, steps: int, device: str, repeats: int
) -> Result:
    models = ModelManager()
    params = IMAGE_TO_VIDEO.default_params() | dict(
        model=str(folder),
        prompt="an astronaut waves",
        width=case.width,
        height=case.height,
        frames=case.frames,
        fps=case.fps,
        steps=steps,
        guidance=5.0,
        seed=0,
        memory=policy,
    )
    image = keyframe(case)
    timer = StepTimer(device)

    def once() -> None:
        IMAGE_TO_VIDEO.run(bench_context(device, models, timer), {"image": image}, params)

    result = _measure("studio", case, policy, device, timer, once, 0.0, repeats)
    models.unload()
    return result


def run_bare(
    case: Case, folder: Path, policy: str, steps: int, device: str, repeats: int
) -> Result:
    """What an expert would write with diffusers alone for the same work."""
    import diffusers
    import torch
    from PIL import Image

    from nodes.diffusion.pipelines import dtype_kwarg

    start = time.perf_counter()
    pipe = diffusers.DiffusionPipeline.from_pretrained(
        folder, **dtype_kwarg(devices.pick_dtype(device))
    )
    pipe.set_progress_bar_config(disable=True)
    apply_policy(pipe, policy, device, lambda m: None)  # the same diffusers calls, no more
    load_s = time.perf_counter() - start
    timer = StepTimer(device)
    extra = {"frame_rate": int(case.fps)} if case.family == "ltx" else {}
    image = Image.fromarray(keyframe(case))
    where = device if device.startswith("cuda") else "cpu"

    def once() -> None:
        out = pipe(
            image=image,
            prompt="an astronaut waves",
            height=case.height,
            width=case.width,
            num_frames=case.frames,
            num_inference_steps=steps,
            guidance_scale=5.0,
            generator=torch.Generator(where).manual_seed(0),
            output_type="np",
            callback_on_step_end=lambda p, i, t, kw: (timer.mark(), kw)[1],
            **extra,
        ).frames
        (np.clip(out[0], 0, 1) * 255 + 0.5).astype(np.uint8)  # Studio returns uint8 frames too

    return _measure("diffusers", case, policy, device, timer, once, load_s, repeats)


def _measure(
    contender: str,
    case: Case,
    policy: str,
    device: str,
    timer: StepTimer,
    once: Callable[[], None],
    load_s: float,
    repeats: int,
) -> Result:
    """One cold run (after a load taking ``load_s``), then ``repeats`` warm ones."""
    first, runs, steps, peak = 0.0, [], [], None
    for i in range(1 + repeats):
        timer.stamps.clear()
        devices.reset_peak_memory(device)
        start = time.perf_counter()
        once()
        elapsed = time.perf_counter() - start
        if i == 0:
            first = load_s + elapsed
        else:
            runs.append(elapsed)
            steps.append(timer.step_s(start))
            peak = _peak(device)
    return Result(
        contender,
        case.family,
        policy,
        first,
        statistics.median(runs),
        statistics.median(steps),
        peak,
        list(timer.stamps),
    )


def _peak(device: str) -> float | None:
    peak = devices.peak_memory(device)
    return None if peak is None else peak / 1024**3


# -- main ---------------------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="tiny models on the CPU")
    parser.add_argument("--family", choices=(*CASES, "all"), default="all")
    parser.add_argument("--steps", type=int, default=0, help="denoising steps (4 GPU, 2 tiny)")
    parser.add_argument(
        "--policies",
        nargs="+",
        choices=POLICIES,
        default=None,
        help="memory policies to measure (default: all but sequential offload "
        "on a GPU, which takes minutes per step at full size)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=0,
        help="warm runs per contender, median reported (1 GPU, 5 tiny)",
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    cuda = _has_cuda()
    if not cuda and not args.tiny:
        print(
            "bench_diffusion needs a CUDA GPU for full-size models (none found); "
            "run with --tiny to exercise the same code on tiny models on the CPU."
        )
        return 0
    device = "cuda" if cuda and not args.tiny else "cpu"
    if args.tiny:
        import torch

        torch.set_num_threads(1)  # tiny models: threads only add noise on a shared CPU
    steps = args.steps or (2 if args.tiny else 4)
    repeats = args.repeats or (5 if args.tiny else 1)
    policies = args.policies or (list(POLICIES) if args.tiny else list(POLICIES[:3]))
    families = list(CASES) if args.family == "all" else [args.family]
    print(
        f"device {device}, dtype {devices.dtype_name(devices.pick_dtype(device))}, "
        f"{steps} steps, policies: {', '.join(policies)}"
    )
    results: list[Result] = []
    for name in families:
        case = CASES[name][1 if args.tiny else 0]
        root = Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
        try:
            start = time.perf_counter()
            folder = case.build(root / name, args.tiny)
            print(
                f"{name}: built and saved in {time.perf_counter() - start:.1f} s "
                f"({case.width}x{case.height}, {case.frames} frames)"
            )
            for policy in policies:
                bare = run_bare(case, folder, policy, steps, device, repeats)
                _release()  # the bare pipeline is gone: give its memory back before Studio's
                studio = run_studio(case, folder, policy, steps, device, repeats)
                results += [bare, studio]
                report(bare, studio)
        finally:
            shutil.rmtree(root, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=2))
    return 0


def report(bare: Result, studio: Result) -> None:
    overhead = (studio.run_s - bare.run_s) / bare.run_s * 100
    for r in (bare, studio):
        peak = "n/a" if r.peak_vram_gib is None else f"{r.peak_vram_gib:6.2f} GiB"
        print(
            f"  {r.family:4} {r.policy:18} {r.contender:9}  step {r.step_s:8.3f} s  "
            f"run {r.run_s:8.2f} s  cold {r.first_s:7.2f} s  peak VRAM {peak}"
        )
    print(f"  {'':4} {bare.policy:18} Studio overhead {overhead:+.1f} % (target <= 2 %)")


if __name__ == "__main__":
    sys.exit(main())
