"""LoRAs on the diffusion nodes: a list of (file, strength, on/off), loaded with diffusers' own
LoRA loader mixins (which also convert ComfyUI/original key layouts), fused or as adapters.

Wan 2.2 A14B has two experts: a LoRA goes into both unless its file (or its ``expert`` field)
says it is for the high-noise (``transformer``) or low-noise (``transformer_2``) expert, as
the paired high/low step-distillation LoRAs are.

A step-distillation LoRA (lightx2v, CausVid, Lightning, ...) in the list makes the
"fast draft" preset possible: 4-8 steps at guidance 1.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.engine.model_files import inspect_file
from studio.graph.spec import NodeError, Param, ParamKind, RunContext

EXPERTS = ("both", "high", "low")
_SLOTS = {"high": ("transformer",), "low": ("transformer_2",)}
_HIGH = re.compile(r"high[_-]?noise|[_-]high[_.-]|_hn[_.]", re.IGNORECASE)
_LOW = re.compile(r"low[_-]?noise|[_-]low[_.-]|_ln[_.]", re.IGNORECASE)
# File names of step-distillation LoRAs, the ones a fast draft runs with.
DISTILL = re.compile(
    r"lightx2v|causvid|distill|lightning|turbo|hyper[_-]?sd|lcm|fastwan|4steps?|8steps?",
    re.IGNORECASE,
)
DRAFT_STEPS = (4, 8)  # fewest and most steps a fast draft runs
DRAFT_GUIDANCE = 1.0


@dataclass(frozen=True)
class Lora:
    """One enabled LoRA of the list."""

    file: Path
    strength: float
    expert: str = "both"  # Wan 2.2: "high", "low" or "both"

    @property
    def is_distill(self) -> bool:
        return bool(DISTILL.search(self.file.name))


def lora_param() -> Param:
    return Param(
        "loras",
        ParamKind.JSON,
        [],
        reads_file=True,  # each file's content enters the cache key
        label="LoRAs",
        help="LoRAs, each {file, strength, enabled} (strength -4..4; Wan 2.2: optional "
        "expert 'high'/'low', else taken from a 'high_noise'/'low_noise' file name, else both).",
    )


def fast_draft_param() -> Param:
    return Param(
        "fast_draft",
        ParamKind.BOOL,
        False,
        help="Fast draft: run with the step-distillation LoRA in the list (lightx2v, CausVid, "
        "Lightning...) at 4-8 steps and guidance 1.",
    )


def fuse_param() -> Param:
    return Param(
        "fuse_loras",
        ParamKind.BOOL,
        False,
        label="Fuse LoRAs",
        help="Merge the LoRAs into the weights: no per-step cost, but changing a strength "
        "re-merges (not possible with GGUF weights, which then keep them as adapters).",
    )


def check_loras(value: Any) -> list[Lora]:
    """The enabled LoRAs with a non-zero strength; a clear error for a malformed entry or a
    file that is missing, pickled or not a LoRA."""
    if value in (None, ""):
        return []
    if not isinstance(value, list):
        raise NodeError(f"loras: expected a list of {{file, strength}}, got {value!r}")
    loras = []
    for number, item in enumerate(value, 1):
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            raise NodeError(f"LoRA {number}: expected {{file, strength}}, got {item!r}")
        if not item.get("enabled", True):
            continue
        strength = item.get("strength", 1.0)
        if isinstance(strength, bool) or not isinstance(strength, (int, float)):
            raise NodeError(f"LoRA {number}: strength must be a number, got {strength!r}")
        if not -4.0 <= strength <= 4.0:
            raise NodeError(f"LoRA {number}: strength {strength:g} is outside -4..4")
        expert = item.get("expert", "")
        if expert not in ("", *EXPERTS):
            raise NodeError(f"LoRA {number}: expert must be one of {', '.join(EXPERTS)}")
        path = Path(item["file"]).expanduser()
        if strength == 0:
            continue  # no effect at all: not even loaded
        if not path.is_file():
            raise NodeError(f"LoRA {number}: file not found: {path}")
        info = inspect_file(path, "lora")
        if info.problem or info.role != "lora":
            why = info.problem or f"it holds a {info.role} ({info.variant or info.family})"
            raise NodeError(f"LoRA {number} ({path.name}) cannot be used: {why}")
        loras.append(Lora(path, float(strength), expert or _expert_from_name(path.name)))
    return loras


def _expert_from_name(name: str) -> str:
    if _HIGH.search(name):
        return "high"
    if _LOW.search(name):
        return "low"
    return "both"


def fast_draft(
    ctx: RunContext, loras: list[Lora], steps: int, guidance: float
) -> tuple[int, float]:
    """The steps and guidance of a fast draft (needs a step-distillation LoRA in the list)."""
    if not any(lora.is_distill for lora in loras):
        from studio.engine.models import files_of_role

        found = [f.name for f in files_of_role("lora") if DISTILL.search(f.name)]
        hint = f" (found in your LoRA folders: {', '.join(found[:4])})" if found else ""
        raise NodeError(
            "fast draft needs a step-distillation LoRA (lightx2v, CausVid, Lightning...) in "
            f"the LoRA list{hint}"
        )
    # Steps already in the draft range are the artist's choice; otherwise the distilled 4.
    low, high = DRAFT_STEPS
    draft_steps = steps if low <= steps <= high else low
    ctx.info(f"fast draft: {draft_steps} steps at guidance {DRAFT_GUIDANCE:g}")
    return draft_steps, DRAFT_GUIDANCE


def apply_loras(pipe: Any, loras: list[Lora], ctx: RunContext, fuse: bool = False) -> None:
    """Make ``pipe`` (possibly reused, possibly holding another run's LoRAs) carry exactly
    ``loras``: unchanged lists cost nothing, changed ones are unloaded and reloaded."""
    wanted = (tuple((str(x.file), x.strength, x.expert) for x in loras), fuse)
    current = getattr(pipe, "_studio_loras", ((), False))
    if wanted == current:
        return
    if current[0]:
        if current[1]:
            pipe.unfuse_lora(components=list(_loaded_components(pipe)))
        pipe.unload_lora_weights()
    pipe._studio_loras = ((), False)
    if not loras:
        return
    if not hasattr(pipe, "load_lora_weights"):
        raise NodeError(f"{type(pipe).__name__} takes no LoRAs")
    adapters: dict[str, tuple[list[str], list[float]]] = {}
    two_experts = getattr(pipe, "transformer_2", None) is not None
    for number, lora in enumerate(loras):
        slots = _SLOTS.get(lora.expert, ("transformer", "transformer_2"))
        slots = tuple(s for s in slots if two_experts or s != "transformer_2") or ("transformer",)
        for slot in slots:
            name = f"lora{number}_{slot}"
            kwargs = {"load_into_transformer_2": True} if slot == "transformer_2" else {}
            try:
                pipe.load_lora_weights(str(lora.file), adapter_name=name, **kwargs)
            except (ValueError, KeyError, RuntimeError) as error:
                pipe.unload_lora_weights()
                raise NodeError(
                    f"LoRA {lora.file.name} does not fit this model: {error}"
                ) from error
            component = _denoiser(pipe, slot)
            if name not in _adapters_of(component):
                pipe.unload_lora_weights()
                raise NodeError(
                    f"LoRA {lora.file.name} matches no layer of {type(component).__name__}: "
                    "it is for another model family"
                )
            names, weights = adapters.setdefault(slot, ([], []))
            names.append(name)
            weights.append(lora.strength)
    for slot, (names, weights) in adapters.items():
        _denoiser(pipe, slot).set_adapters(names, weights)
    if fuse and not _quantized(pipe):
        pipe.fuse_lora(components=list(adapters))
    elif fuse:
        ctx.info("LoRAs kept as adapters: GGUF weights cannot be merged")
        fuse = False
    pipe._studio_loras = (wanted[0], fuse)
    ctx.info(
        f"{len(loras)} LoRA{'s' if len(loras) > 1 else ''}: "
        + ", ".join(
            f"{x.file.stem} x{x.strength:g}"
            + (f" ({x.expert} noise)" if x.expert != "both" else "")
            for x in loras
        )
    )


def _denoiser(pipe: Any, slot: str) -> Any:
    # SD-style pipelines have a UNet where the others have a transformer.
    return getattr(pipe, slot, None) or pipe.unet


def _adapters_of(model: Any) -> set[str]:
    return set(getattr(model, "peft_config", {}) or {})


def _loaded_components(pipe: Any) -> list[str]:
    return [
        slot
        for slot in ("transformer", "transformer_2", "unet")
        if getattr(pipe, slot, None) is not None and _adapters_of(getattr(pipe, slot))
    ]


def _quantized(pipe: Any) -> bool:
    return any(
        getattr(getattr(pipe, slot, None), "is_quantized", False)
        for slot in ("transformer", "transformer_2")
    )


def loras_of(params: Mapping[str, Any]) -> list[Lora]:
    return check_loras(params.get("loras", []))
