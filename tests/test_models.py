"""Model discovery, the model manager, device/dtype choice and memory policies (no real models)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from studio.engine import memory, models
from studio.engine.devices import MemoryInfo, pick_device, pick_dtype
from studio.engine.memory import GIB, apply_policy, choose_policy, run_with_oom_retry
from studio.engine.models import ModelInfo, ModelManager, discover, resolve_model
from studio.graph.spec import Cancelled, NodeError


class DictSettings(dict):
    """Stands in for studio.settings.Settings (only ``get`` is used)."""


def write_model(folder: Path, class_name: str, weights: dict[str, int] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model_index.json").write_text(json.dumps({"_class_name": class_name}))
    for component, size in (weights or {}).items():
        (folder / component).mkdir(exist_ok=True)
        (folder / component / "diffusion_pytorch_model.safetensors").write_bytes(b"\0" * size)
    return folder


def write_hf_cache_model(cache: Path, repo_id: str, class_name: str, size: int) -> Path:
    """The layout huggingface_hub writes: files in blobs/, linked from snapshots/<hash>/."""
    repo = cache / ("models--" + repo_id.replace("/", "--"))
    snapshot = repo / "snapshots" / "0123abcd"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    (repo / "blobs").mkdir()
    (repo / "blobs" / "index").write_text(json.dumps({"_class_name": class_name}))
    (repo / "blobs" / "weights").write_bytes(b"\0" * size)
    (snapshot / "transformer").mkdir(parents=True)
    (snapshot / "model_index.json").symlink_to(repo / "blobs" / "index")
    (snapshot / "transformer" / "model.safetensors").symlink_to(repo / "blobs" / "weights")
    return snapshot


@pytest.fixture()
def library(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DictSettings:
    """Models in a settings folder (one nested), in STUDIO_MODELS and in an HF cache."""
    folders = tmp_path / "models"
    write_model(folders / "sd15", "StableDiffusionPipeline", {"unet": 300, "vae": 100})
    write_model(folders / "video" / "vace", "WanVACEPipeline", {"transformer": 50})
    (folders / "not-a-model").mkdir()
    env_root = tmp_path / "env-models"
    write_model(env_root / "ltx", "LTXPipeline")
    monkeypatch.setenv("STUDIO_MODELS", str(env_root) + os.pathsep + str(tmp_path / "missing"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    write_hf_cache_model(tmp_path / "hub", "org/Wan-I2V", "WanImageToVideoPipeline", 700)
    return DictSettings(model_folders=[str(folders)])


def test_discovery_classifies_every_source_by_model_index(library: DictSettings) -> None:
    found = {m.name: m for m in discover(settings=library)}
    assert set(found) == {"sd15", "vace", "ltx", "org/Wan-I2V"}
    assert found["sd15"].kind == "text-to-image"
    assert found["vace"].kind == "vace"
    assert found["ltx"].kind == "image-to-video"
    wan = found["org/Wan-I2V"]
    assert (wan.kind, wan.pipeline_class, wan.repo_id) == (
        "image-to-video",
        "WanImageToVideoPipeline",
        "org/Wan-I2V",
    )
    assert wan.path.parts[-2:] == ("snapshots", "0123abcd")
    assert wan.size_bytes == 700  # counted through the snapshot's links into blobs/
    assert found["sd15"].component_bytes == {"unet": 300, "vae": 100}
    assert found["sd15"].largest_component_bytes == 300


def test_discover_by_kind_offers_vace_models_to_image_to_video(library: DictSettings) -> None:
    names = {m.name for m in discover("image-to-video", settings=library)}
    assert names == {"vace", "ltx", "org/Wan-I2V"}
    assert [m.name for m in discover("text-to-image", settings=library)] == ["sd15"]


@pytest.mark.parametrize(
    ("class_name", "kind"),
    [
        ("FluxPipeline", "text-to-image"),
        ("StableDiffusionXLPipeline", "text-to-image"),
        ("CogVideoXImageToVideoPipeline", "image-to-video"),
        ("HunyuanVideo15ImageToVideoPipeline", "image-to-video"),
        ("HunyuanVideo15Pipeline", "text-to-video"),
        ("WanVideoToVideoPipeline", "video-to-video"),
        ("StableDiffusionUpscalePipeline", "upscaler"),
        ("SomeFutureVACEPipeline", "vace"),
        ("AudioLDMPipeline", "other"),
    ],
)
def test_classify(class_name: str, kind: str) -> None:
    assert models.classify(class_name) == kind


def test_wan_22_models_are_classified_by_their_model_index(tmp_path: Path) -> None:
    """A14B I2V is a WanImageToVideoPipeline with two experts; TI2V-5B is saved as a
    (text-to-video) WanPipeline with ``expand_timesteps`` yet animates a keyframe too."""
    i2v = write_model(tmp_path / "a14b", "WanImageToVideoPipeline", {"transformer": 60})
    write_model(tmp_path / "a14b", "WanImageToVideoPipeline", {"transformer_2": 50})
    ti2v = write_model(tmp_path / "ti2v", "WanPipeline")
    index = {"_class_name": "WanPipeline", "boundary_ratio": None, "expand_timesteps": True}
    (ti2v / "model_index.json").write_text(json.dumps(index))
    t2v = write_model(tmp_path / "t2v", "WanPipeline")
    a14b = models.read_model(i2v)
    assert a14b is not None and a14b.kind == "image-to-video"
    # Model offload holds one expert at a time: the largest component is one transformer.
    assert (a14b.size_bytes, a14b.largest_component_bytes) == (110, 60)
    assert resolve_model(str(ti2v), "image-to-video").pipeline_class == "WanPipeline"
    assert resolve_model(str(t2v)).kind == "text-to-video"


def test_resolve_accepts_paths_repo_ids_and_names(library: DictSettings, tmp_path: Path) -> None:
    assert resolve_model("org/Wan-I2V", settings=library).pipeline_class == (
        "WanImageToVideoPipeline"
    )
    assert resolve_model("sd15", "text-to-image", library).path == tmp_path / "models" / "sd15"
    folder = str(tmp_path / "env-models" / "ltx")
    assert resolve_model(folder, "image-to-video", library).kind == "image-to-video"


def test_resolve_missing_model_names_it_and_where_studio_looked(
    library: DictSettings, tmp_path: Path
) -> None:
    with pytest.raises(NodeError) as error:
        resolve_model("org/Not-There", "image-to-video", library)
    message = str(error.value)
    assert "'org/Not-There' not found" in message
    assert str(tmp_path / "models") in message and str(tmp_path / "env-models") in message
    assert str(tmp_path / "hub") in message and "never downloads" in message
    with pytest.raises(NodeError, match="no text-to-image model chosen"):
        resolve_model("  ", "text-to-image", library)
    with pytest.raises(NodeError, match="no model_index.json"):
        resolve_model(str(tmp_path / "models" / "not-a-model"), settings=library)
    with pytest.raises(NodeError, match="is a text-to-image model"):
        resolve_model("sd15", "image-to-video", library)


# -- memory policies ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("free", "total", "expected"),
    [
        (None, None, "none"),  # CPU: nothing to offload to
        (None, 8 * GIB, "model offload"),  # an accelerator that cannot say what is free
        (80 * GIB, 80 * GIB, "none"),  # everything fits with headroom
        (20 * GIB, 24 * GIB, "model offload"),  # the transformer alone fits
        (6 * GIB, 8 * GIB, "group offload"),
        (2 * GIB, 4 * GIB, "sequential offload"),
    ],
)
def test_auto_policy_from_free_memory(free: int | None, total: int | None, expected: str) -> None:
    # A 14B-class model: 30 GiB in all, 16 GiB of transformer.
    policy = choose_policy("auto", MemoryInfo(free, total), 30 * GIB, 16 * GIB)
    assert policy == expected


def test_explicit_policy_wins_and_unknown_is_rejected() -> None:
    assert choose_policy("group offload", MemoryInfo(None, None), GIB, GIB) == "group offload"
    with pytest.raises(NodeError, match="unknown memory policy"):
        choose_policy("everything", MemoryInfo(None, None), GIB, GIB)


class FakePipe:
    """Records the placement calls a policy makes."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.vae = self
        self.removed = False

    def to(self, device: str) -> FakePipe:
        self.calls.append(f"to {device}")
        return self

    def enable_model_cpu_offload(self, device: str) -> None:
        self.calls.append(f"model offload {device}")

    def enable_group_offload(self, **kwargs: Any) -> None:
        self.calls.append(f"group offload {kwargs['onload_device']} {kwargs['use_stream']}")

    def enable_sequential_cpu_offload(self, device: str) -> None:
        self.calls.append(f"sequential offload {device}")

    def enable_tiling(self) -> None:
        self.calls.append("vae tiling")

    def remove_all_hooks(self) -> None:
        self.removed = True


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        ("none", ["to cuda"]),
        ("model offload", ["model offload cuda", "vae tiling"]),
        ("group offload", ["group offload cuda True", "vae tiling"]),
        ("sequential offload", ["sequential offload cuda", "vae tiling"]),
    ],
)
def test_apply_policy_on_a_gpu(policy: str, expected: list[str]) -> None:
    pipe, infos = FakePipe(), []
    assert apply_policy(pipe, policy, "cuda", infos.append) == policy
    assert pipe.calls == expected and infos == []


def test_offload_is_skipped_without_an_accelerator_and_the_artist_is_told() -> None:
    pipe, infos = FakePipe(), []
    assert apply_policy(pipe, "model offload", "cpu", infos.append) == "none"
    assert pipe.calls == ["to cpu"]
    assert infos == [
        "memory policy 'model offload' skipped: there is no GPU, the model runs on the CPU"
    ]


def oom(message: str = "CUDA out of memory. Tried to allocate 2.50 GiB") -> Exception:
    import torch

    return torch.OutOfMemoryError(message)


def test_oom_retries_once_with_the_next_stricter_policy() -> None:
    tried, infos, cleaned = [], [], []

    def attempt(policy: str) -> str:
        tried.append(policy)
        if policy == "none":
            raise RuntimeError("CUDA error: out of memory")
        return "clip"

    result = run_with_oom_retry(
        attempt, "none", device="cpu", info=infos.append, cleanup=lambda: cleaned.append(1)
    )
    assert result == "clip" and tried == ["none", "model offload"] and cleaned == [1]
    assert infos == ["out of GPU memory with 'none'; retrying with 'model offload'"]


def test_the_failed_attempts_objects_are_released_before_cleanup() -> None:
    import weakref

    class Activations:
        """Stands in for the tensors a failed forward pass held."""

    refs: list[weakref.ref] = []

    def attempt(policy: str) -> str:
        activations = Activations()
        refs.append(weakref.ref(activations))
        if policy == "none":
            raise oom()
        return "clip"

    alive_at_cleanup: list[bool] = []
    run_with_oom_retry(
        attempt,
        "none",
        device="cpu",
        info=lambda m: None,
        cleanup=lambda: alive_at_cleanup.append(refs[0]() is not None),
    )
    assert alive_at_cleanup == [False]


@pytest.fixture
def emptied(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The devices whose cache was emptied. On "cuda" (no GPU here) the real empty_cache would
    only run a full gc.collect, most of a second over this test process's heap."""
    devices: list[str] = []
    monkeypatch.setattr(memory, "empty_cache", devices.append)
    return devices


def test_second_oom_is_a_clear_node_error_with_what_was_tried(emptied: list[str]) -> None:
    def attempt(policy: str) -> str:
        raise oom()

    with pytest.raises(NodeError) as error:
        run_with_oom_retry(attempt, "model offload", device="cuda:0", info=lambda m: None)
    message = str(error.value)
    assert "'model offload' then 'group offload'" in message
    assert "2.50 GiB" in message and "cuda:0" in message
    assert emptied == ["cuda:0", "cuda:0"]  # after each out-of-memory


def test_strictest_policy_has_no_retry_and_other_errors_pass_through(emptied: list[str]) -> None:
    calls = []

    def attempt(policy: str) -> str:
        calls.append(policy)
        raise oom("out of memory")

    with pytest.raises(NodeError, match="'sequential offload'[.] Try"):
        run_with_oom_retry(attempt, "sequential offload", device="cuda", info=lambda m: None)
    assert calls == ["sequential offload"] and emptied == ["cuda"]
    for error in (Cancelled(), ValueError("bad")):

        def failing(policy: str, error: Exception = error) -> str:
            raise error

        with pytest.raises(type(error)):
            run_with_oom_retry(failing, "none", device="cpu", info=lambda m: None)


def test_requested_bytes_parses_torch_messages() -> None:
    assert memory.requested_bytes(oom("Tried to allocate 20.00 MiB")) == 20 * 1024**2
    assert memory.requested_bytes(RuntimeError("out of memory")) is None
    assert not memory.is_out_of_memory(RuntimeError("shape mismatch"))


# -- the model manager --------------------------------------------------------------------------
def fake_model(tmp_path: Path, name: str, size: int = GIB) -> ModelInfo:
    return ModelInfo(
        name,
        tmp_path / name,
        "image-to-video",
        "WanImageToVideoPipeline",
        component_bytes={"transformer": size},
    )


def test_manager_reuses_a_loaded_model_and_reloads_under_a_new_policy(tmp_path: Path) -> None:
    manager, built = ModelManager(), []

    def build() -> FakePipe:
        built.append(FakePipe())
        return built[-1]

    model = fake_model(tmp_path, "wan")
    first = manager.load(model, build, device="cpu", dtype="float32", policy="none")
    assert manager.load(model, build, device="cpu", dtype="float32", policy="none") is first
    assert len(built) == 1 and manager.loads == 1
    second = manager.load(model, build, device="cpu", dtype="float32", policy="model offload")
    assert second is not first and first.removed  # the old placement was unloaded
    assert [e.key[3] for e in manager.loaded()] == ["model offload"]


def test_loading_a_second_heavy_model_unloads_the_first_unless_both_fit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    manager = ModelManager()
    monkeypatch.setattr(models, "available_ram", lambda: 16 * GIB)
    keyframe, video = fake_model(tmp_path, "sdxl", 7 * GIB), fake_model(tmp_path, "wan", 30 * GIB)
    k = manager.load(keyframe, FakePipe, device="cpu", dtype="float32", policy="none")
    manager.load(video, FakePipe, device="cpu", dtype="float32", policy="none")
    assert k.removed and [e.key[0] for e in manager.loaded()] == [str(video.path.resolve())]
    # Small models that fit in RAM beside each other stay loaded on the CPU.
    manager.unload()
    manager.load(
        fake_model(tmp_path, "small", GIB), FakePipe, device="cpu", dtype="float32", policy="none"
    )
    manager.load(
        fake_model(tmp_path, "tiny", GIB), FakePipe, device="cpu", dtype="float32", policy="none"
    )
    assert len(manager.loaded()) == 2

    # On a GPU with room for both, the keyframe model stays for the next run.
    monkeypatch.setattr(models, "memory_info", lambda device: MemoryInfo(60 * GIB, 80 * GIB))
    monkeypatch.setattr(models, "empty_cache", lambda device: None)
    manager.unload()
    manager.load(keyframe, FakePipe, device="cuda", dtype="bfloat16", policy="none")
    manager.load(video, FakePipe, device="cuda", dtype="bfloat16", policy="none")
    assert len(manager.loaded()) == 2
    monkeypatch.setattr(models, "memory_info", lambda device: MemoryInfo(8 * GIB, 80 * GIB))
    manager.load(
        fake_model(tmp_path, "ltx", 10 * GIB),
        FakePipe,
        device="cuda",
        dtype="bfloat16",
        policy="none",
    )
    assert [Path(e.key[0]).name for e in manager.loaded()] == ["ltx"]


def test_model_report_lists_models_and_what_is_loaded(
    library: DictSettings, tmp_path: Path
) -> None:
    manager = ModelManager(settings=library)
    manager.load(
        fake_model(tmp_path, "wan"), FakePipe, device="cpu", dtype="float32", policy="none"
    )
    report = models.format_model_report(manager, settings=library)
    assert "Device: " in report and "Models found: 4" in report
    assert "org/Wan-I2V" in report and "WanVACEPipeline" in report
    assert "Loaded: " in report and "wan" in report


def test_device_and_dtype_choice(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    monkeypatch.setenv("STUDIO_DEVICE", "cpu")
    assert pick_device() == "cpu" and pick_dtype("cpu") == torch.float32
    assert pick_dtype("mps") == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: False)
    assert pick_dtype("cuda") == torch.float16
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)
    assert pick_dtype("cuda:1") == torch.bfloat16


def test_constructing_the_manager_and_importing_nodes_loads_no_torch() -> None:
    code = (
        "import sys; import studio.engine.models as m; m.ModelManager();"
        "import nodes.keyframe, nodes.image_to_video;"
        "bad = [n for n in ('torch', 'diffusers', 'PySide6') if n in sys.modules];"
        "assert not bad, bad"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent.parent,
    )
    assert result.returncode == 0, result.stderr
