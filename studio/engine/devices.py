"""Which device and dtype a model runs on, and how much accelerator memory is free.

torch is imported inside the functions so that importing this module (the editor does, at start)
stays cheap. ``STUDIO_DEVICE`` overrides the automatic choice ("cpu" forces the CPU).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

ACCELERATORS = ("cuda", "mps")


@dataclass(frozen=True)
class MemoryInfo:
    """Free and total memory of a device in bytes; None where the device cannot tell."""

    free: int | None
    total: int | None


def pick_device(preferred: str | None = None) -> str:
    """ "cuda" if a CUDA GPU is present, else "mps" on Apple silicon, else "cpu"."""
    choice = preferred or os.environ.get("STUDIO_DEVICE", "")
    if choice in ("cpu", "cuda", "mps"):
        return choice
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def is_accelerator(device: str) -> bool:
    return device.split(":")[0] in ACCELERATORS


def pick_dtype(device: str) -> Any:
    """bf16 where the device computes it natively, fp16 on older GPUs and MPS, fp32 on the CPU.

    CPU half precision is emulated and slow, so the CPU always gets fp32.
    """
    import torch

    kind = device.split(":")[0]
    if kind == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if kind == "mps":
        return torch.float16
    return torch.float32


def dtype_name(dtype: Any) -> str:
    """ "bfloat16" for torch.bfloat16: a short, hashable, printable name."""
    return str(dtype).removeprefix("torch.")


def memory_info(device: str) -> MemoryInfo:
    """Free and total memory of ``device``; on the CPU the accelerator budget is unknown."""
    kind = device.split(":")[0]
    if kind == "cuda":
        import torch

        free, total = torch.cuda.mem_get_info(torch.device(device))
        return MemoryInfo(int(free), int(total))
    if kind == "mps":
        import torch

        # MPS shares system memory; the recommended working set is what Metal lets us use.
        total = int(torch.mps.recommended_max_memory())
        return MemoryInfo(max(total - int(torch.mps.driver_allocated_memory()), 0), total)
    return MemoryInfo(None, None)


def empty_cache(device: str) -> None:
    """Give cached blocks back to the driver after a model was unloaded or an OOM.

    Only for accelerators: on the CPU freed tensors go back at once, and a full ``gc.collect``
    over a heap holding torch and transformers costs most of a second.
    """
    kind = device.split(":")[0]
    if kind not in ACCELERATORS:
        return
    import gc

    import torch

    gc.collect()  # reference cycles in the unloaded pipeline would pin its tensors
    if kind == "cuda":
        torch.cuda.empty_cache()
    else:
        torch.mps.empty_cache()


def peak_memory(device: str) -> int | None:
    """Peak allocated bytes since the last :func:`reset_peak_memory` (CUDA only)."""
    if device.split(":")[0] != "cuda":
        return None
    import torch

    return int(torch.cuda.max_memory_allocated(torch.device(device)))


def reset_peak_memory(device: str) -> None:
    if device.split(":")[0] == "cuda":
        import torch

        torch.cuda.reset_peak_memory_stats(torch.device(device))
