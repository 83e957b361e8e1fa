"""Memory policies: how a pipeline is spread between GPU and CPU, and what to do on OOM.

Policies, from fastest to most frugal:

* ``none`` -- the whole pipeline on the accelerator.
* ``model offload`` -- one component (text encoder, transformer, VAE) on the GPU at a time.
* ``group offload`` -- groups of transformer blocks streamed to the GPU as they run.
* ``sequential offload`` -- every leaf module streamed; slowest, smallest.

``auto`` picks from free VRAM against the model's size on disk. When a run runs out of memory,
:func:`run_with_oom_retry` retries once with the next stricter policy, then fails with a
:class:`~studio.graph.spec.NodeError` that says what was tried.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any, TypeVar

from studio.engine.devices import MemoryInfo, empty_cache, is_accelerator
from studio.graph.spec import NodeError

AUTO = "auto"
POLICIES = ("none", "model offload", "group offload", "sequential offload")
GIB = 1024**3

# Activations, latents and the VAE decode need room beyond the weights: keep this much
# headroom (a fraction of the weights, and at least a fixed amount) before choosing a policy.
HEADROOM_FRACTION = 0.25
MIN_HEADROOM = 2 * GIB
# Group offload keeps a couple of block groups resident; below this, stream every leaf.
GROUP_OFFLOAD_MIN_FREE = 3 * GIB

T = TypeVar("T")


def choose_policy(
    requested: str, memory: MemoryInfo, total_bytes: int, largest_component_bytes: int
) -> str:
    """The policy to use: ``requested`` unless it is ``auto``, then the fastest one that fits.

    ``total_bytes`` is the whole pipeline's weights (sum of its safetensors), and
    ``largest_component_bytes`` its biggest single component (usually the transformer).
    """
    if requested != AUTO:
        if requested not in POLICIES:
            raise NodeError(f"unknown memory policy {requested!r}; use auto or {POLICIES}")
        return requested
    if memory.free is None:
        # No accelerator (CPU) -- nothing to offload to -- or a device that cannot tell.
        return "none" if memory.total is None else "model offload"
    if _fits(total_bytes, memory.free):
        return "none"
    if _fits(largest_component_bytes, memory.free):
        return "model offload"
    if memory.free >= GROUP_OFFLOAD_MIN_FREE:
        return "group offload"
    return "sequential offload"


def _fits(weights: int, free: int) -> bool:
    return weights + max(int(weights * HEADROOM_FRACTION), MIN_HEADROOM) <= free


def stricter(policy: str) -> str | None:
    """The next policy that uses less memory, or None after the strictest."""
    index = POLICIES.index(policy)
    return POLICIES[index + 1] if index + 1 < len(POLICIES) else None


def apply_policy(
    pipe: Any, policy: str, device: str, info: Callable[[str], None], *, vae_tiling: bool = False
) -> str:
    """Place ``pipe`` on ``device`` under ``policy``; returns the policy actually in force.

    diffusers' offload calls raise on a machine with no accelerator, so there they are skipped
    (the artist is told) and the pipeline simply stays on the CPU.
    """
    if policy != "none" and not is_accelerator(device):
        info(f"memory policy '{policy}' skipped: there is no GPU, the model runs on the CPU")
        policy = "none"
    if policy == "none":
        pipe.to(device)
    elif policy == "model offload":
        pipe.enable_model_cpu_offload(device=device)
    elif policy == "group offload":
        import torch

        # Block-level groups with a CUDA stream prefetch the next group while one computes.
        pipe.enable_group_offload(
            onload_device=torch.device(device),
            offload_device=torch.device("cpu"),
            offload_type="block_level",
            num_blocks_per_group=1,
            use_stream=device.startswith("cuda"),
        )
    elif policy == "sequential offload":
        pipe.enable_sequential_cpu_offload(device=device)
    else:
        raise NodeError(f"unknown memory policy {policy!r}")
    # Offloading saves weights but the VAE decode of a long clip can still spike: tile it.
    if (vae_tiling or policy != "none") and hasattr(getattr(pipe, "vae", None), "enable_tiling"):
        pipe.vae.enable_tiling()
    return policy


def is_out_of_memory(error: BaseException) -> bool:
    """torch's OutOfMemoryError, or a RuntimeError whose message says the device ran out."""
    try:
        import torch

        if isinstance(error, torch.OutOfMemoryError):
            return True
    except (ImportError, AttributeError):  # pragma: no cover - torch always has it here
        pass
    return isinstance(error, RuntimeError) and "out of memory" in str(error).lower()


_ALLOCATE = re.compile(r"tried to allocate\s+([\d.]+)\s*([KMGT]i?B)", re.IGNORECASE)
_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}


def requested_bytes(error: BaseException) -> int | None:
    """How much the failed allocation asked for, when the message says ("Tried to allocate")."""
    match = _ALLOCATE.search(str(error))
    if match is None:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2)[0].lower()])


def format_bytes(n: int) -> str:
    return f"{n / GIB:.2f} GiB" if n >= GIB / 10 else f"{n / 1024**2:.0f} MiB"


def run_with_oom_retry(
    attempt: Callable[[str], T],
    policy: str,
    *,
    device: str,
    info: Callable[[str], None],
    cleanup: Callable[[], None] = lambda: None,
) -> T:
    """Run ``attempt(policy)``; on out-of-memory, clean up and retry once with a stricter policy.

    ``cleanup`` runs after each OOM (unload the half-placed model, free hooks) before the cache
    is emptied. Any other exception -- including a cancel -- passes straight through.
    """
    tried: list[str] = []
    needed: int | None = None
    current: str | None = policy
    while current is not None and len(tried) < 2:
        try:
            return attempt(current)
        except Exception as error:
            if not is_out_of_memory(error):
                raise
            needed = requested_bytes(error) or needed
        # Past the except block the traceback is gone, and with it the frames that still held
        # the failed attempt's tensors: only now can cleanup really give memory back.
        tried.append(current)
        cleanup()
        empty_cache(device)
        current = stricter(current)
        if current is not None and len(tried) < 2:
            info(f"out of GPU memory with '{tried[-1]}'; retrying with '{current}'")
    what = " then ".join(f"'{p}'" for p in tried)
    need = f" (an allocation of {format_bytes(needed)} failed)" if needed else ""
    raise NodeError(
        f"out of GPU memory on {device} with memory policy {what}{need}. "
        "Try fewer frames, a smaller size, or close other programs using the GPU."
    )
