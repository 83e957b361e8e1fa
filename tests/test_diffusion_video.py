"""ImageToVideo with tiny randomly initialised Wan (2.1 I2V and FLF2V, 2.2 A14B and TI2V-5B),
Wan VACE, LTX-Video and CogVideoX pipelines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tiny_models import (
    build_cogvideox_i2v,
    build_ltx_i2v,
    build_wan22_i2v,
    build_wan22_ti2v,
    build_wan_flf2v,
    build_wan_i2v,
    build_wan_vace,
    one_torch_thread,
)

from nodes.animate import cut_and_drag
from nodes.diffusion.pipelines import configure_speedups
from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.models import ModelManager
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Motion, MotionBrushValue, Video


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("video-models")
    return {
        "wan": build_wan_i2v(root / "wan-i2v"),
        "vace": build_wan_vace(root / "wan-vace"),
        "ltx": build_ltx_i2v(root / "ltx-i2v"),
        "cog": build_cogvideox_i2v(root / "cogvideox-i2v"),
        "flf2v": build_wan_flf2v(root / "wan-flf2v"),
        "wan22": build_wan22_i2v(root / "wan22-i2v"),
        "ti2v": build_wan22_ti2v(root / "wan22-ti2v"),
    }


@pytest.fixture(scope="module", autouse=True)
def _one_thread() -> Iterator[None]:
    with one_torch_thread():
        yield


@pytest.fixture(autouse=True)
def _empty_hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)


class SpyManager:
    """Wraps the shared manager (so nothing reloads) and records each pipeline call's
    arguments; the first ``ooms`` calls run out of memory."""

    def __init__(self, ooms: int = 0) -> None:
        self.calls: list[dict[str, Any]] = []
        self.policies: list[str] = []
        self.ooms = ooms

    def load(self, model: Any, build: Any, **kwargs: Any) -> Any:
        self.policies.append(kwargs["policy"])
        return _Spy(SHARED.load(model, build, **kwargs), self)

    def __getattr__(self, name: str) -> Any:
        return getattr(SHARED, name)


class _Spy:
    def __init__(self, pipe: Any, manager: SpyManager) -> None:
        object.__setattr__(self, "_pipe", pipe)
        object.__setattr__(self, "_manager", manager)

    def __call__(self, **kwargs: Any) -> Any:
        self._manager.calls.append(kwargs)
        if self._manager.ooms:
            import torch

            self._manager.ooms -= 1
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 3.00 GiB")
        return self._pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(self._pipe, name, value)


KEYFRAME = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
SHARED = ModelManager()  # one manager for the plain runs, as the app has
FRAMES = 5  # Wan's 4k+1: 2 latent frames. LTX (8k+1) and CogVideoX run 9
SHAPE = (FRAMES, 32, 32, 3)


def brush_motion() -> Motion:
    region = np.zeros((32, 32), np.float32)
    region[10:22, 4:14] = 1.0
    brush = MotionBrushValue(region=region, trajectory=((0.28, 0.5), (0.7, 0.5)))
    return Motion(brushes=(brush,))


def params(model: Path, **overrides: Any) -> dict[str, Any]:
    values = IMAGE_TO_VIDEO.default_params()
    values.update(
        model=str(model),
        prompt="a cat walks",
        width=32,
        height=32,
        frames=FRAMES,
        steps=2,
        fps=8.0,
        seed=1,
    )
    values.update(overrides)
    return values


def run(ctx: FakeRunContext, model: Path, motion: Motion | None = None, **overrides: Any) -> Video:
    inputs: dict[str, Any] = {"image": KEYFRAME, "motion": motion}
    if "last_image" in overrides:
        inputs["last_image"] = overrides.pop("last_image")
    return IMAGE_TO_VIDEO.run(ctx, inputs, params(model, **overrides))["video"]


def test_wan_i2v_clip_progress_and_determinism(tiny: dict[str, Path]) -> None:
    ctx = FakeRunContext(models=SHARED)
    video = run(ctx, tiny["wan"])
    assert video.frames.shape == SHAPE and video.frames.dtype == np.uint8
    assert video.fps == 8.0 and video.frames.std() > 1
    assert ctx.progress_calls == [(1, 2), (2, 2)]
    assert np.array_equal(video.frames, run(FakeRunContext(models=SHARED), tiny["wan"]).frames)
    assert not np.array_equal(
        video.frames, run(FakeRunContext(models=SHARED), tiny["wan"], seed=2).frames
    )


def test_wan_i2v_with_brushes_starts_from_the_noised_guidance_clip(tiny: dict[str, Path]) -> None:
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    video = run(ctx, tiny["wan"], brush_motion(), steps=4, strength=0.5)
    assert video.frames.shape == SHAPE
    assert ctx.progress_calls == [(1, 2), (2, 2)]  # SDEdit: half of the 4 steps
    latents = spy.calls[0]["latents"]
    assert tuple(latents.shape) == (1, 16, 2, 4, 4)  # 5 frames -> 2 latent frames, 32 px -> 4
    plain = run(FakeRunContext(models=SHARED), tiny["wan"], steps=4)
    assert not np.array_equal(video.frames, plain.frames)


def test_last_frame_is_kept_by_vace_and_refused_by_a_plain_wan_21_i2v(
    tiny: dict[str, Path],
) -> None:
    spy = SpyManager()
    last = np.full((32, 32, 3), 200, np.uint8)
    video = run(FakeRunContext(models=spy), tiny["vace"], last_image=last)
    assert video.frames.shape == SHAPE
    assert np.array_equal(np.asarray(spy.calls[0]["video"][-1]), last)
    assert np.asarray(spy.calls[0]["mask"][-1]).max() == 0
    with pytest.raises(NodeError, match="no first-last-frame support"):
        run(FakeRunContext(), tiny["wan"], last_image=last)


def test_vace_brushes_become_control_video_and_mask(tiny: dict[str, Path]) -> None:
    spy = SpyManager()
    motion = brush_motion()
    ctx = FakeRunContext(models=spy)
    video = run(ctx, tiny["vace"], motion)
    assert video.frames.shape == SHAPE and ctx.progress_calls == [(1, 2), (2, 2)]
    call = spy.calls[0]
    guidance = cut_and_drag(KEYFRAME, motion, frames=FRAMES, fps=8.0, size=(32, 32))
    control = np.stack([np.asarray(f) for f in call["video"]])
    masks = np.stack([np.asarray(m) for m in call["mask"]])
    assert np.array_equal(control, guidance.video.frames)
    assert masks.shape == (FRAMES, 32, 32) and masks[0].max() == 0  # the keyframe is kept
    assert masks[-1].max() == 255  # where the brush moved: generate
    assert np.array_equal(masks > 127, guidance.masks > 0.5)
    assert np.array_equal(np.asarray(call["reference_images"][0]), KEYFRAME)


def test_vace_without_brushes_is_plain_image_to_video(tiny: dict[str, Path]) -> None:
    spy = SpyManager()
    video = run(FakeRunContext(models=spy), tiny["vace"])
    call = spy.calls[0]
    masks = np.stack([np.asarray(m) for m in call["mask"]])
    assert np.array_equal(np.asarray(call["video"][0]), KEYFRAME)
    assert masks[0].max() == 0 and masks[1:].min() == 255
    assert call["reference_images"] is None
    assert video.frames.shape == SHAPE
    steered = run(FakeRunContext(models=SHARED), tiny["vace"], brush_motion())
    assert not np.array_equal(video.frames, steered.frames)


def test_ltx_image_to_video_plain_and_steered(tiny: dict[str, Path]) -> None:
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    plain = run(ctx, tiny["ltx"], frames=9)
    assert plain.frames.shape == (9, 32, 32, 3) and ctx.progress_calls == [(1, 2), (2, 2)]
    assert "image" in spy.calls[0] and spy.calls[0]["frame_rate"] == 8
    steered = run(FakeRunContext(models=spy), tiny["ltx"], brush_motion(), strength=0.25, frames=9)
    conditions = spy.calls[1]["conditions"]
    assert [c.strength for c in conditions] == [1.0, 0.75]
    assert steered.frames.shape == (9, 32, 32, 3)
    assert not np.array_equal(plain.frames, steered.frames)


def test_cogvideox_plain_and_steered_by_sdedit(tiny: dict[str, Path]) -> None:
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    plain = run(ctx, tiny["cog"], steps=4, frames=9)  # 2 latent frames would decode to 8
    assert plain.frames.shape == (9, 32, 32, 3) and ctx.progress_calls == [
        (i, 4) for i in (1, 2, 3, 4)
    ]
    assert "latents" not in spy.calls[0]
    ctx = FakeRunContext(models=spy)
    steered = run(ctx, tiny["cog"], brush_motion(), steps=4, strength=0.5, frames=9)
    assert steered.frames.shape == (9, 32, 32, 3) and ctx.messages == []
    assert ctx.progress_calls == [(1, 2), (2, 2)]  # SDEdit: half of the 4 steps
    # CogVideoX latents are [batch, frames, channels, h, w]: 9 frames -> 3, 32 px -> 4.
    assert tuple(spy.calls[1]["latents"].shape) == (1, 3, 4, 4, 4)
    assert not np.array_equal(plain.frames, steered.frames)
    with pytest.raises(NodeError, match="runs no step"):
        run(FakeRunContext(), tiny["cog"], brush_motion(), steps=2, strength=0.2, frames=9)
    # Its VAE decodes latent frames in pairs: 5 frames (2 latents) would come back as 8.
    with pytest.raises(NodeError, match=r"needs 8k\+1 frames. Nearest valid: 1 or 9"):
        run(FakeRunContext(), tiny["cog"], steps=2, frames=5)


def test_half_precision_keeps_wans_vae_in_float32(tiny: dict[str, Path]) -> None:
    import torch

    class HalfManager(ModelManager):
        def dtype(self, device: str) -> Any:
            return torch.bfloat16  # what a CUDA GPU gets

    manager = HalfManager()
    video = run(FakeRunContext(models=manager), tiny["vace"])
    assert video.frames.shape == SHAPE and video.frames.std() > 1
    pipe = manager.loaded()[0].pipeline
    assert pipe.transformer.dtype == torch.bfloat16 and pipe.text_encoder.dtype == torch.bfloat16
    assert pipe.vae.dtype == torch.float32
    assert manager.loaded()[0].key[1] == "bfloat16"


def test_wan_first_last_frame_passes_the_last_frame_and_is_deterministic(
    tiny: dict[str, Path],
) -> None:
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    last = np.full((32, 32, 3), 200, np.uint8)
    video = run(ctx, tiny["flf2v"], last_image=last)
    assert video.frames.shape == SHAPE and video.frames.std() > 1
    assert ctx.progress_calls == [(1, 2), (2, 2)]
    assert np.array_equal(np.asarray(spy.calls[0]["last_image"]), last)
    again = run(FakeRunContext(models=SHARED), tiny["flf2v"], last_image=last)
    assert np.array_equal(video.frames, again.frames)
    other_end = run(FakeRunContext(models=SHARED), tiny["flf2v"], last_image=255 - last)
    assert not np.array_equal(video.frames, other_end.frames)
    # With brushes too: SDEdit from the guidance clip, still ending on the last frame.
    steered = run(
        FakeRunContext(models=spy), tiny["flf2v"], brush_motion(), last_image=last, steps=4
    )
    assert "latents" in spy.calls[-1] and "last_image" in spy.calls[-1]
    assert steered.frames.shape == SHAPE


def _count_expert_calls(pipe: Any) -> tuple[dict[str, int], list[Any]]:
    counts = {"transformer": 0, "transformer_2": 0}

    def counter(name: str) -> Any:
        return lambda *_args: counts.__setitem__(name, counts[name] + 1)

    hooks = [getattr(pipe, n).register_forward_pre_hook(counter(n)) for n in counts]
    return counts, hooks


def _loaded(path: Path) -> Any:
    return next(e.pipeline for e in SHARED.loaded() if e.key[0] == str(path.resolve()))


def test_wan_22_two_experts_share_the_steps(tiny: dict[str, Path]) -> None:
    model = SHARED.resolve(str(tiny["wan22"]), kind="image-to-video")
    assert (model.kind, model.pipeline_class) == ("image-to-video", "WanImageToVideoPipeline")
    ctx = FakeRunContext(models=SHARED)
    video = run(ctx, tiny["wan22"], steps=4)
    assert video.frames.shape == SHAPE and ctx.progress_calls == [(i, 4) for i in (1, 2, 3, 4)]
    pipe = _loaded(tiny["wan22"])
    assert pipe.config.boundary_ratio == 0.875 and pipe.transformer_2 is not None
    counts, hooks = _count_expert_calls(pipe)
    try:
        again = run(FakeRunContext(models=SHARED), tiny["wan22"], steps=4)
    finally:
        for hook in hooks:
            hook.remove()
    # UniPC's 4 timesteps are 999, 900 (high noise) and 750, 500 (low); CFG doubles each call.
    assert counts == {"transformer": 4, "transformer_2": 4}
    assert np.array_equal(video.frames, again.frames)
    last = np.full((32, 32, 3), 200, np.uint8)  # A14B I2V conditions on a last frame too
    assert run(FakeRunContext(models=SHARED), tiny["wan22"], last_image=last).frames.shape == SHAPE


def test_wan_22_brushes_sdedit_through_unipc(tiny: dict[str, Path]) -> None:
    # Real Wan checkpoints ship UniPC, which has add_noise but no scale_noise.
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    video = run(ctx, tiny["wan22"], brush_motion(), steps=4, strength=0.5)
    assert video.frames.shape == SHAPE and ctx.progress_calls == [(1, 2), (2, 2)]
    assert tuple(spy.calls[0]["latents"].shape) == (1, 16, 2, 4, 4)


def test_wan_22_step_cache_covers_both_experts(tiny: dict[str, Path]) -> None:
    ctx = FakeRunContext(models=SHARED)
    run(ctx, tiny["wan22"], step_cache="first-block", steps=3)
    pipe = _loaded(tiny["wan22"])
    assert ctx.messages == [] and pipe._studio_step_cache == "first-block"
    assert pipe.transformer.is_cache_enabled and pipe.transformer_2.is_cache_enabled
    run(FakeRunContext(models=SHARED), tiny["wan22"], step_cache="taylorseer")
    assert pipe.transformer.is_cache_enabled and pipe.transformer_2.is_cache_enabled
    run(FakeRunContext(models=SHARED), tiny["wan22"])
    assert not pipe.transformer.is_cache_enabled and not pipe.transformer_2.is_cache_enabled


def test_wan_22_group_offload_streams_both_experts_and_tiles_the_vae(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import studio.engine.memory as memory

    # Group offload onto the CPU runs anywhere: pretend the CPU is the accelerator.
    monkeypatch.setattr(memory, "is_accelerator", lambda _device: True)
    manager = ModelManager()
    ctx = FakeRunContext(models=manager)
    video = run(ctx, tiny["wan22"], memory="group offload")
    assert video.frames.shape == SHAPE and ctx.messages == []
    entry = manager.loaded()[0]
    assert entry.policy == "group offload" and entry.pipeline.vae.use_tiling
    for expert in (entry.pipeline.transformer, entry.pipeline.transformer_2):
        assert "group_offloading" in expert._diffusers_hook.hooks
    manager.unload()


def test_wan_22_cancel_in_the_low_noise_expert_frees_hooks_and_returns_nothing(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import AutoencoderKLWan, DiffusionPipeline

    freed, decoded = [], []
    free = DiffusionPipeline.maybe_free_model_hooks
    ctx = FakeRunContext(
        models=SHARED, cancel_after=3
    )  # steps 1-2 high noise, step 3 the first low-noise one
    with monkeypatch.context() as patch:
        patch.setattr(
            DiffusionPipeline,
            "maybe_free_model_hooks",
            lambda self: (freed.append(1), free(self))[1],
        )
        patch.setattr(AutoencoderKLWan, "decode", lambda *a, **k: decoded.append(1))
        with pytest.raises(Cancelled):
            run(ctx, tiny["wan22"], steps=4, step_cache="first-block")
    assert ctx.progress_calls == [(1, 4), (2, 4), (3, 4)]
    assert freed == [1] and decoded == []
    assert run(FakeRunContext(models=SHARED), tiny["wan22"]).frames.shape == SHAPE


def test_wan_22_ti2v_is_an_image_to_video_model_without_a_last_frame(
    tiny: dict[str, Path],
) -> None:
    model = SHARED.resolve(str(tiny["ti2v"]), kind="image-to-video")
    assert model.pipeline_class == "WanPipeline"  # saved as text-to-video, run as I2V
    spy = SpyManager()
    ctx = FakeRunContext(models=spy)
    video = run(ctx, tiny["ti2v"])
    assert video.frames.shape == SHAPE and ctx.progress_calls == [(1, 2), (2, 2)]
    assert "image" in spy.calls[0]
    steered = run(FakeRunContext(models=spy), tiny["ti2v"], brush_motion(), steps=4, strength=0.5)
    assert tuple(spy.calls[1]["latents"].shape) == (1, 48, 2, 2, 2)  # 16x VAE, 48 channels
    assert not np.array_equal(video.frames, steered.frames)
    with pytest.raises(NodeError, match="must be multiples of 32"):  # 16x VAE, patch 2
        run(FakeRunContext(), tiny["ti2v"], width=48, height=48)
    with pytest.raises(NodeError, match="keeps only the first frame"):
        run(FakeRunContext(), tiny["ti2v"], last_image=KEYFRAME)


def test_wrong_size_and_frame_count_propose_the_nearest_valid(tiny: dict[str, Path]) -> None:
    with pytest.raises(NodeError, match=r"multiples of 16\. Nearest valid size: 32x48"):
        run(FakeRunContext(), tiny["wan"], width=34, height=50)
    with pytest.raises(NodeError, match=r"8 frames .* 4k\+1 frames\. Nearest valid: 5 or 9"):
        run(FakeRunContext(), tiny["wan"], frames=8)
    with pytest.raises(NodeError, match="set both width and height"):
        run(FakeRunContext(), tiny["wan"], width=32, height=0)
    with pytest.raises(NodeError, match="last frame needs a Wan"):
        run(FakeRunContext(), tiny["ltx"], last_image=KEYFRAME)


def test_keyframe_size_is_snapped_to_the_model_when_width_and_height_are_zero(
    tiny: dict[str, Path],
) -> None:
    video = run(FakeRunContext(models=SHARED), tiny["vace"], width=0, height=0)
    assert video.frames.shape == SHAPE


def test_missing_model_names_it(tiny: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="'org/Wan2.1-I2V' not found"):
        run(FakeRunContext(), Path("org/Wan2.1-I2V"))


def test_cancel_mid_run_returns_nothing_decodes_nothing_and_frees_hooks(
    tiny: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    from diffusers import AutoencoderKLWan, DiffusionPipeline

    freed, decoded = [], []
    free = DiffusionPipeline.maybe_free_model_hooks
    decode = AutoencoderKLWan.decode
    monkeypatch.setattr(
        DiffusionPipeline, "maybe_free_model_hooks", lambda self: (freed.append(1), free(self))[1]
    )
    monkeypatch.setattr(
        AutoencoderKLWan,
        "decode",
        lambda self, *a, **k: (decoded.append(1), decode(self, *a, **k))[1],
    )
    ctx = FakeRunContext(models=SHARED, cancel_after=2)
    with pytest.raises(Cancelled):
        run(ctx, tiny["wan"], steps=4)
    assert ctx.progress_calls == [(1, 4), (2, 4)]
    assert freed == [1] and decoded == []
    # The reused pipeline still runs cleanly after the cancel.
    assert run(FakeRunContext(models=SHARED), tiny["wan"]).frames.shape == SHAPE


def test_out_of_memory_retries_with_a_stricter_policy(tiny: dict[str, Path]) -> None:
    spy = SpyManager(ooms=1)
    ctx = FakeRunContext(models=spy)
    video = run(ctx, tiny["vace"], memory="none")
    assert video.frames.shape == SHAPE
    assert spy.policies == ["none", "model offload"]
    assert "out of GPU memory with 'none'; retrying with 'model offload'" in ctx.messages
    assert any("skipped: there is no GPU" in m for m in ctx.messages)


def test_out_of_memory_twice_is_a_clear_error(tiny: dict[str, Path]) -> None:
    spy = SpyManager(ooms=2)
    with pytest.raises(NodeError) as error:
        run(FakeRunContext(models=spy), tiny["vace"], memory="group offload")
    assert "'group offload' then 'sequential offload'" in str(error.value)
    assert "3.00 GiB" in str(error.value)
    # The failed placements were unloaded.
    assert all("wan-vace" not in entry.key[0] for entry in SHARED.loaded())


def test_first_block_step_cache_runs_on_wan(tiny: dict[str, Path]) -> None:
    ctx = FakeRunContext(models=SHARED)
    video = run(ctx, tiny["wan"], step_cache="first-block", steps=3)
    assert video.frames.shape == SHAPE and ctx.messages == []
    assert SHARED.loaded()[-1].pipeline._studio_step_cache == "first-block"
    run(
        FakeRunContext(models=SHARED), tiny["wan"]
    )  # switches the cache off again on the reused pipeline
    assert SHARED.loaded()[-1].pipeline._studio_step_cache == "off"


class _FakeTransformer:
    def __init__(self) -> None:
        self.log: list[str] = []

    def enable_cache(self, config: Any) -> None:
        self.log.append(f"enable {type(config).__name__}")

    def disable_cache(self) -> None:
        self.log.append("disable")

    def compile_repeated_blocks(self, **kwargs: Any) -> None:
        self.log.append("compile")

    def set_attention_backend(self, backend: str) -> None:
        if backend == "sage":
            raise ImportError("sageattention is not installed")
        self.log.append(f"attention {backend}")


class _FakePipe:
    def __init__(self, transformer: Any) -> None:
        self.transformer = transformer


def test_speedups_switch_cleanly_on_a_reused_pipeline() -> None:
    transformer, ctx = _FakeTransformer(), FakeRunContext()
    pipe = _FakePipe(transformer)
    configure_speedups(pipe, ctx, "first-block", compile_blocks=True)
    configure_speedups(pipe, ctx, "first-block", compile_blocks=True)
    configure_speedups(pipe, ctx, "taylorseer", compile_blocks=True)
    configure_speedups(pipe, ctx, "off")
    assert transformer.log == [
        "enable FirstBlockCacheConfig",
        "compile",
        "disable",
        "enable TaylorSeerCacheConfig",
        "disable",
    ]
    assert ctx.messages == ["the model stays compiled until it is unloaded"]
    configure_speedups(pipe, ctx, "off", attention="flash")
    configure_speedups(pipe, ctx, "off", attention="sage")
    assert transformer.log[-2:] == ["attention flash", "attention native"]
    assert any(m.startswith("attention 'sage' unavailable here, using the") for m in ctx.messages)
    assert pipe._studio_attention == "default"
    bare = _FakePipe(object())
    configure_speedups(bare, ctx, "taylorseer", compile_blocks=True)
    assert ctx.messages[-2:] == [
        "step cache skipped: object does not support one",
        "compile skipped: object has no repeated blocks to compile",
    ]
