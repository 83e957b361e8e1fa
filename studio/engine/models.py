"""Model discovery and the model manager: which models exist here, and which is loaded.

Models are diffusers folders (with a ``model_index.json``) found in the folders listed in the
settings (``model_folders``), in ``STUDIO_MODELS`` (``os.pathsep``-separated) and in the user's
Hugging Face cache; and single ``.safetensors``/``.gguf`` transformers in a ComfyUI-style
``models/`` tree under those folders, completed by a matching diffusers folder
(:mod:`studio.engine.model_assembly`). Nothing is ever downloaded: a model that is not on disk
is a clear error.

:class:`ModelManager` keeps loaded pipelines keyed by (path, dtype, device, memory policy),
reuses them across runs and unloads the others before a heavy model loads, so that only one
big model is resident unless both fit. Constructing it is cheap (no torch import).
"""

from __future__ import annotations

import json
import os
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from studio.engine.devices import (
    dtype_name,
    empty_cache,
    is_accelerator,
    memory_info,
    pick_device,
    pick_dtype,
)
from studio.engine.memory import MIN_HEADROOM, apply_policy, format_bytes
from studio.engine.model_assembly import (
    expert_slot,
    find_base,
    guess_kind,
    missing_parts,
    partner_file,
    read_json,
)
from studio.engine.model_files import FileInfo, inspect_file, scan_comfy_tree
from studio.graph.spec import NodeError

KINDS = ("text-to-image", "image-to-video", "vace", "video-to-video", "text-to-video", "upscaler")
UPSCALE_MODEL = "upscale-model"  # an upscaler weights file (ESRGAN and kin), not a pipeline

# diffusers pipeline class -> what Studio can do with it.
_KIND_BY_CLASS = {
    "StableDiffusionPipeline": "text-to-image",
    "StableDiffusionXLPipeline": "text-to-image",
    "StableDiffusion3Pipeline": "text-to-image",
    "FluxPipeline": "text-to-image",
    "SanaPipeline": "text-to-image",
    "SanaSprintPipeline": "text-to-image",
    "PixArtSigmaPipeline": "text-to-image",
    "PixArtAlphaPipeline": "text-to-image",
    "QwenImagePipeline": "text-to-image",
    "HunyuanDiTPipeline": "text-to-image",
    "AuraFlowPipeline": "text-to-image",
    "CogView4Pipeline": "text-to-image",
    "Lumina2Pipeline": "text-to-image",
    "KolorsPipeline": "text-to-image",
    "WanImageToVideoPipeline": "image-to-video",
    "LTXImageToVideoPipeline": "image-to-video",
    "LTXConditionPipeline": "image-to-video",
    # LTX's text-to-video checkpoints hold the same transformer the I2V pipeline uses.
    "LTXPipeline": "image-to-video",
    # LTX-2 (picture and sound): its checkpoints are saved as the text-to-video LTX2Pipeline.
    "LTX2Pipeline": "image-to-video",
    "LTX2ConditionPipeline": "image-to-video",
    "CogVideoXImageToVideoPipeline": "image-to-video",
    "WanVACEPipeline": "vace",
    "WanVideoToVideoPipeline": "video-to-video",
    "CogVideoXVideoToVideoPipeline": "video-to-video",
    "WanPipeline": "text-to-video",
    "CogVideoXPipeline": "text-to-video",
    # HunyuanVideo 1.5's text-to-video checkpoints: a transformer without the image inputs of
    # its I2V ones (HunyuanVideo15ImageToVideoPipeline, image-to-video by its name).
    "HunyuanVideo15Pipeline": "text-to-video",
    "HunyuanVideoPipeline": "text-to-video",
    "StableDiffusionUpscalePipeline": "upscaler",
    "StableDiffusionLatentUpscalePipeline": "upscaler",
}
# A node asking for one kind also accepts these (a VACE model animates a keyframe too).
_ACCEPTS = {"image-to-video": ("image-to-video", "vace")}


def classify(class_name: str) -> str:
    """The Studio kind of a diffusers pipeline class name ("other" when Studio has no use)."""
    if class_name in _KIND_BY_CLASS:
        return _KIND_BY_CLASS[class_name]
    if "VACE" in class_name:
        return "vace"
    if class_name.endswith("ImageToVideoPipeline"):
        return "image-to-video"
    if class_name.endswith("VideoToVideoPipeline"):
        return "video-to-video"
    if "Upscale" in class_name:
        return "upscaler"
    return "other"


@dataclass(frozen=True)
class ModelInfo:
    """One model on disk: a diffusers folder, or a single-file transformer (``path`` is then
    the file and ``base`` the diffusers folder holding the rest of its pipeline)."""

    name: str
    path: Path
    kind: str
    pipeline_class: str
    repo_id: str = ""  # set for models found in the Hugging Face cache
    component_bytes: dict[str, int] = field(default_factory=dict, compare=False)
    base: Path | None = None  # single files: the folder giving tokenizer, encoders, VAE
    # single files: (component, file) pairs replacing the base folder's own weights
    replaces: tuple[tuple[str, Path], ...] = ()
    storage: str = ""  # single files: "bf16", "fp8_e4m3fn", "Q8_0", ...
    problem: str = ""  # why it cannot run ("" when it can): what is missing, what would fit

    @property
    def folder(self) -> Path:
        """The diffusers folder whose configs and components this model uses."""
        return self.base or self.path

    @property
    def size_bytes(self) -> int:
        """Weights on disk: the sum of the safetensors files."""
        return sum(self.component_bytes.values())

    @property
    def largest_component_bytes(self) -> int:
        return max(self.component_bytes.values(), default=0)


def read_model(folder: Path, repo_id: str = "") -> ModelInfo | None:
    """A :class:`ModelInfo` for ``folder`` if it holds a readable ``model_index.json``."""
    try:
        index = json.loads((folder / "model_index.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    index = index if isinstance(index, dict) else {}
    class_name = str(index.get("_class_name", ""))
    kind = classify(class_name)
    if class_name == "WanPipeline" and index.get("expand_timesteps"):
        kind = "image-to-video"  # Wan 2.2 TI2V-5B: saved as text-to-video, made for both
    return ModelInfo(
        name=repo_id or folder.name,
        path=folder,
        kind=kind,
        pipeline_class=class_name,
        repo_id=repo_id,
        component_bytes=_component_bytes(folder),
    )


def _component_bytes(folder: Path) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for file in folder.rglob("*.safetensors"):
        component = file.relative_to(folder).parts[0] if file.parent != folder else "."
        try:
            sizes[component] = sizes.get(component, 0) + file.stat().st_size  # follows links
        except OSError:
            continue  # a dangling link in a half-downloaded cache entry
    return sizes


def model_roots(settings: Any = None) -> list[Path]:
    """Folders searched for models: settings ``model_folders`` then ``STUDIO_MODELS``."""
    if settings is None:
        from studio.settings import Settings

        settings = Settings()
    roots = [Path(p).expanduser() for p in settings.get("model_folders", []) or []]
    env = os.environ.get("STUDIO_MODELS", "")
    roots += [Path(p).expanduser() for p in env.split(os.pathsep) if p]
    return roots


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache, honouring HF_HUB_CACHE and HF_HOME like huggingface_hub."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    return Path(os.environ.get("XDG_CACHE_HOME", "~/.cache")).expanduser() / "huggingface" / "hub"


def _hf_snapshot(repo_dir: Path) -> Path | None:
    """The snapshot ``refs/main`` points at, else the most recently written one."""
    snapshots = repo_dir / "snapshots"
    try:
        ref = (repo_dir / "refs" / "main").read_text(encoding="utf-8").strip()
    except OSError:
        ref = ""
    if ref and (snapshots / ref).is_dir():
        return snapshots / ref
    candidates = [p for p in snapshots.glob("*") if p.is_dir()] if snapshots.is_dir() else []
    return max(candidates, key=lambda p: p.stat().st_mtime, default=None)


def scan_hf_cache(cache: Path | None = None) -> list[ModelInfo]:
    """Diffusers models in the Hugging Face cache (``models--org--name/snapshots/<hash>/``)."""
    cache = cache or hf_cache_dir()
    found = []
    for repo_dir in sorted(cache.glob("models--*")) if cache.is_dir() else []:
        snapshot = _hf_snapshot(repo_dir)
        repo_id = repo_dir.name.removeprefix("models--").replace("--", "/")
        info = read_model(snapshot, repo_id) if snapshot else None
        if info is not None:
            found.append(info)
    return found


def scan_files(settings: Any = None) -> list[FileInfo]:
    """Every single model file in the ComfyUI-style trees under the model folders."""
    return [f for root in model_roots(settings) for f in scan_comfy_tree(root)]


def files_of_role(role: str, settings: Any = None) -> list[FileInfo]:
    """Usable files of one role ("lora", "upscaler", "vae", ...) in the model folders."""
    return [f for f in scan_files(settings) if f.role == role and not f.problem]


def single_file_models(files: list[FileInfo], folders: list[ModelInfo]) -> list[ModelInfo]:
    """A :class:`ModelInfo` per diffusion-model file, completed by a folder where one fits."""
    bases = [m.path for m in folders]
    models = []
    for file in files:
        if file.role != "diffusion-model":
            continue
        base, missing = (None, file.problem) if file.problem else find_base(file, bases)
        models.append(_file_model(file, files, base, missing))
    return models


def _file_model(
    file: FileInfo, files: list[FileInfo], base: Path | None, missing: str
) -> ModelInfo:
    if base is None:
        return ModelInfo(
            name=file.path.name,
            path=file.path,
            kind=guess_kind(file),
            pipeline_class="",
            component_bytes={"transformer": file.size_bytes},
            storage=file.storage,
            problem=missing or "no matching diffusers folder",
        )
    info = read_model(base)
    assert info is not None  # find_base only returns folders with a model_index.json
    index = read_json(base / "model_index.json")
    replaces = [(expert_slot(file, index), file.path)]
    partner = partner_file(file, files)
    if "transformer_2" in index and partner is not None and not partner.problem:
        replaces.append((expert_slot(partner, index), partner.path))
    parts, missing = missing_parts(base, files)
    if missing:
        return replace(
            ModelInfo(file.path.name, file.path, info.kind, info.pipeline_class),
            storage=file.storage,
            problem=missing,
        )
    replaces += parts
    sizes = dict(info.component_bytes)
    for component, path in replaces:
        sizes[component] = path.stat().st_size if path.exists() else 0
    return ModelInfo(
        name=file.path.name,
        path=file.path,
        kind=info.kind,
        pipeline_class=info.pipeline_class,
        component_bytes=sizes,
        base=base,
        replaces=tuple(sorted(replaces)),
        storage=file.storage,
    )


def _scan_root(root: Path, depth: int = 2) -> Iterable[ModelInfo]:
    info = read_model(root)
    if info is not None:
        yield info
        return
    if depth == 0 or not root.is_dir():
        return
    for child in sorted(p for p in root.iterdir() if p.is_dir()):
        yield from _scan_root(child, depth - 1)


def discover(kind: str | None = None, settings: Any = None) -> list[ModelInfo]:
    """Every model found, or those a node asking for ``kind`` can use. Kind ``upscale-model``
    lists the upscaler files of the ComfyUI trees (``models/upscale_models``)."""
    if kind == UPSCALE_MODEL:
        return [
            ModelInfo(f.name, f.path, UPSCALE_MODEL, "", component_bytes={"": f.size_bytes})
            for f in files_of_role("upscaler", settings)
        ]
    seen: set[Path] = set()
    models = []
    for info in [m for root in model_roots(settings) for m in _scan_root(root)] + scan_hf_cache():
        if info.path.resolve() not in seen:
            seen.add(info.path.resolve())
            models.append(info)
    models += single_file_models(scan_files(settings), models)
    if kind is None:
        return models
    accepted = _ACCEPTS.get(kind, (kind,))
    return [m for m in models if m.kind in accepted]


def resolve_model(value: str, kind: str = "", settings: Any = None) -> ModelInfo:
    """The model a node's ``model`` param names: a folder path, a cached repo id or a name.

    Raises :class:`NodeError` naming the model and where Studio looked when it is not on disk.
    """
    what = f"{kind} model" if kind else "model"
    if not value.strip():
        raise NodeError(f"no {what} chosen: pick one in the node's 'model' param")
    path = Path(value).expanduser()
    if path.is_dir():
        info = read_model(path)
        if info is None:
            raise NodeError(f"{value!r} is not a diffusers model folder (no model_index.json)")
        return _check_kind(info, kind)
    found = discover(settings=settings)
    if path.is_file():
        info = next((m for m in found if m.path.resolve() == path.resolve()), None)
        if info is None:  # a file outside the model folders: complete it all the same
            folders = [m for m in found if m.base is None and m.path.is_dir()]
            files = [inspect_file(path)]
            if files[0].role != "diffusion-model":
                problem = files[0].problem or f"it is a {files[0].role} file"
                raise NodeError(f"{path.name} is not a diffusion model: {problem}")
            info = single_file_models(files, folders)[0]
        return _check_kind(info, kind)
    for info in found:
        if value in (info.repo_id, info.name):
            return _check_kind(info, kind)
    places = [str(p) for p in model_roots(settings)] + [f"Hugging Face cache {hf_cache_dir()}"]
    raise NodeError(
        f"{what} {value!r} not found. Looked for a folder of that name and in: "
        f"{'; '.join(places)}. Studio never downloads models: put the model in one of these "
        "folders or add its folder to the settings' model_folders."
    )


def _check_kind(info: ModelInfo, kind: str) -> ModelInfo:
    if info.problem:
        raise NodeError(f"model {info.name!r} cannot run: {info.problem}")
    if kind and info.kind not in _ACCEPTS.get(kind, (kind,)):
        raise NodeError(
            f"model {info.name!r} is a {info.kind} model ({info.pipeline_class}); "
            f"this node needs a {kind} model"
        )
    return info


ModelKey = tuple[str, str, str, str, str]  # path, dtype, device, memory policy, variant


@dataclass
class LoadedModel:
    key: ModelKey
    pipeline: Any
    size_bytes: int
    policy: str


class ModelManager:
    """Loads, reuses and unloads pipelines; one heavy model resident unless several fit."""

    def __init__(self, settings: Any = None) -> None:
        self._settings = settings
        self._loaded: OrderedDict[ModelKey, LoadedModel] = OrderedDict()
        self._lock = threading.RLock()
        self.loads = 0  # how many times weights were read from disk (tests and the report)

    # -- what nodes use -------------------------------------------------------------------
    def resolve(self, value: str, kind: str = "") -> ModelInfo:
        return resolve_model(value, kind, self._settings)

    def discover(self, kind: str | None = None) -> list[ModelInfo]:
        return discover(kind, self._settings)

    def device(self) -> str:
        return pick_device()

    def dtype(self, device: str) -> Any:
        return pick_dtype(device)

    def load(
        self,
        model: ModelInfo,
        build: Callable[[], Any],
        *,
        device: str,
        dtype: Any,
        policy: str,
        info: Callable[[str], None] = lambda _m: None,
        vae_tiling: bool = False,
        variant: str = "",
    ) -> Any:
        """The pipeline for ``model`` placed under ``policy``: reused if already loaded,
        otherwise built by ``build()`` (on the CPU) after unloading what would not fit.

        ``variant`` names the task wrapper (an img2img pipeline over text-to-image weights);
        it is part of the key, since a reused pipeline must be the one the node asked for."""
        key = (str(model.path.resolve()), dtype_name(dtype), device, policy, variant)
        with self._lock:
            if key in self._loaded:
                self._loaded.move_to_end(key)
                return self._loaded[key].pipeline
            self._make_room(model, device)
            pipeline = build()
            self.loads += 1
            applied = apply_policy(pipeline, policy, device, info, vae_tiling=vae_tiling)
            self._loaded[key] = LoadedModel(key, pipeline, model.size_bytes, applied)
            return pipeline

    def unload(self, path: Path | str | None = None) -> None:
        """Unload one model (every placement of it), or all models when ``path`` is None."""
        with self._lock:
            wanted = None if path is None else str(Path(path).resolve())
            for key in [k for k in self._loaded if wanted is None or k[0] == wanted]:
                self._drop(key)

    def loaded(self) -> list[LoadedModel]:
        with self._lock:
            return list(self._loaded.values())

    # -- internals ------------------------------------------------------------------------
    def _make_room(self, model: ModelInfo, device: str) -> None:
        # The same model under another dtype/policy never shares memory with itself usefully.
        self.unload(model.path)
        if not self._loaded:
            return
        free = memory_info(device).free if is_accelerator(device) else available_ram()
        if free is not None and model.size_bytes + MIN_HEADROOM <= free:
            return  # both fit: keep the other model for the next run
        for key in list(self._loaded):  # least recently used first
            self._drop(key)

    def _drop(self, key: ModelKey) -> None:
        entry = self._loaded.pop(key)
        remove = getattr(entry.pipeline, "remove_all_hooks", None)
        if callable(remove):
            remove()  # accelerate's offload hooks hold references to the weights
        del entry
        empty_cache(key[2])

    def report(self) -> str:
        return format_model_report(self)


def available_ram() -> int | None:
    """Bytes of system memory available now (Linux), where CPU-resident models live."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def format_model_report(manager: ModelManager | None = None, settings: Any = None) -> str:
    """Human-readable summary for ``studio models``: device, memory, models found, loaded."""
    device = pick_device()
    lines = [f"Device: {device} ({dtype_name(pick_dtype(device))})"]
    memory = memory_info(device)
    if memory.free is not None and memory.total is not None:
        lines.append(f"Free memory: {format_bytes(memory.free)} of {format_bytes(memory.total)}")
    roots = model_roots(settings)
    lines.append("Model folders: " + (", ".join(str(r) for r in roots) or "(none set)"))
    lines.append(f"Hugging Face cache: {hf_cache_dir()}")
    models = discover(settings=settings)
    lines.append(f"Models found: {len(models)}")
    for m in models:
        lines.append(
            f"  {m.name:<40} {m.kind:<15} {m.pipeline_class or '?':<32} "
            f"{format_bytes(m.size_bytes):>10}  {m.path}"
        )
        if m.base is not None:
            lines.append(f"      {m.storage} weights; the rest of the pipeline from {m.base}")
        if m.problem:
            lines.append(f"      cannot run: {m.problem}")
    files = scan_files(settings)
    if files:
        lines.append(f"Model files: {len(files)}")
    for f in files:
        what = f"{f.role} {f.variant or f.family}".strip()
        lines.append(
            f"  {f.name:<40} {what:<32} {f.storage or f.format:<11} "
            f"{format_bytes(f.size_bytes):>10}" + (f"  ({f.problem})" if f.problem else "")
        )
    if manager is not None:
        for entry in manager.loaded():
            lines.append(f"Loaded: {entry.key[0]} ({entry.key[1]}, {entry.key[2]}, {entry.policy})")
    return "\n".join(lines)
