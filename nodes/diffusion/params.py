"""Parameters the diffusion nodes declare alike: memory policy, seed, steps, guidance, and the
choices of step cache and attention backend. No torch here: node modules import it at start."""

from __future__ import annotations

from studio.engine.memory import AUTO, POLICIES
from studio.graph.spec import Param, ParamKind

MEMORY_POLICIES = (AUTO, *POLICIES)
STEP_CACHES = ("off", "first-block", "taylorseer")
# Studio's names for diffusers attention backends. The "*_hub" ones fetch kernels from a hub
# at run time, which Studio never does, so they are not offered.
ATTENTION_BACKENDS = {
    "default": "native",
    "cudnn": "_native_cudnn",
    "flash": "flash",
    "sage": "sage",
    "flex": "flex",
}


def memory_param() -> Param:
    return Param(
        "memory",
        ParamKind.CHOICE,
        AUTO,
        choices=MEMORY_POLICIES,
        help="How to fit the model in GPU memory. 'auto' picks from free VRAM.",
    )


def seed_param(result: str) -> Param:
    return Param(
        "seed",
        ParamKind.SEED,
        0,
        min=0,
        max=2**32 - 1,
        help=f"Same seed, same settings: same {result}.",
    )


def steps_param(help: str) -> Param:
    return Param("steps", ParamKind.INT, 30, min=1, max=200, help=help)


def guidance_param(help: str) -> Param:
    return Param("guidance", ParamKind.FLOAT, 5.0, min=0.0, max=30.0, step=0.5, help=help)
