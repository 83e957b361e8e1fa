"""The ``precision`` param: how the denoiser's weights are held.

* ``bf16`` -- the device's compute dtype (bf16 on recent GPUs, fp16 on older ones and MPS,
  fp32 on a CPU, where half precision is emulated).
* ``fp8`` -- fp8 (e4m3) storage, upcast a layer at a time to compute (diffusers'
  ``enable_layerwise_casting``): about half of bf16's weight memory, on any device.
* ``gguf`` -- a GGUF file's quantized weights as stored (dequantized a layer at a time).
* ``int8`` -- int8 weights through torchao (or optimum-quanto) on CUDA only.
* ``auto`` -- GGUF files as stored; else bf16 if the estimate fits free VRAM, else fp8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from studio.engine.devices import dtype_name, is_accelerator, memory_info
from studio.engine.memory import format_bytes
from studio.engine.memory_estimate import PRECISIONS, choose_precision, estimate
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError, Param, ParamKind, RunContext

_SHORT = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def precision_param() -> Param:
    return Param(
        "precision",
        ParamKind.CHOICE,
        "auto",
        choices=PRECISIONS,
        help="How the model's weights are held: bf16 (the device's dtype; fp32 on a CPU), fp8 "
        "storage (half the memory, upcast per layer), gguf (a .gguf file as stored), int8 "
        "(CUDA with torchao or optimum-quanto). auto: GGUF as stored, else what fits free VRAM.",
    )


def compute_name(dtype: Any) -> str:
    name = dtype_name(dtype)
    return _SHORT.get(name, name)


def resolve_precision(
    ctx: RunContext, model: ModelInfo, requested: str, dtype: Any, **size: int
) -> str:
    """The precision to run with; a clear error where the requested one cannot be had."""
    if requested not in PRECISIONS:
        raise NodeError(f"unknown precision {requested!r}; use one of {', '.join(PRECISIONS)}")
    quantized_file = model.storage.startswith(("Q", "IQ"))
    cuda = ctx.device.startswith("cuda")
    if requested == "auto":
        free = memory_info(ctx.device).free if is_accelerator(ctx.device) else None
        requested = choose_precision(model, free, compute_name(dtype), cuda=cuda, **size)
    if requested == "gguf" and not quantized_file:
        raise NodeError(
            f"precision 'gguf' keeps a .gguf file's weights as stored, but {model.name!r} is "
            f"{model.storage or 'a diffusers folder'}: choose bf16 or fp8, or a .gguf model"
        )
    if quantized_file and requested != "gguf":
        raise NodeError(
            f"{model.name} holds {model.storage}-quantized weights: only precision 'gguf' "
            "(or auto) runs it"
        )
    if requested == "int8" and not cuda:
        raise NodeError(
            f"int8 weights need CUDA (torchao or optimum-quanto); unavailable on this "
            f"{ctx.device}: choose fp8 for less memory"
        )
    if requested != "bf16" or is_accelerator(ctx.device):  # on a CPU, plain runs stay quiet
        guess = estimate(model, requested, compute_name(dtype), **size)
        ctx.info(f"precision {requested}: {guess.describe()}")
    return requested


def apply_precision(pipe: Any, precision: str, dtype: Any, info: Callable[[str], None]) -> None:
    """Put the freshly built pipeline's denoisers under ``precision`` (bf16/gguf: as loaded)."""
    from nodes.diffusion.pipelines import denoisers

    models = denoisers(pipe)
    if precision == "fp8":
        import torch

        for model in models:
            model.enable_layerwise_casting(storage_dtype=torch.float8_e4m3fn, compute_dtype=dtype)
            _own_storage(model, torch.float8_e4m3fn)
    elif precision == "int8":
        _int8(models, info)


def _own_storage(model: Any, cast: Any) -> None:
    """Copy the tensors layerwise casting left alone (norms, embeddings): while any of them
    still points into the memory-mapped safetensors file, the whole file stays mapped and the
    full-precision pages read while casting stay resident."""
    import torch

    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.dtype != cast:
                tensor.data = tensor.data.clone()


def _int8(models: list[Any], info: Callable[[str], None]) -> None:
    try:
        from torchao.quantization import int8_weight_only, quantize_
    except ImportError:
        quantize_ = None
    if quantize_ is not None:
        for model in models:
            quantize_(model, int8_weight_only())
        info("int8 weights through torchao")
        return
    try:
        from optimum.quanto import freeze, qint8, quantize
    except ImportError as error:
        raise NodeError(
            "precision int8 needs torchao or optimum-quanto installed (pip install torchao)"
        ) from error
    for model in models:
        quantize(model, weights=qint8)
        freeze(model)
    info("int8 weights through optimum-quanto")


@contextmanager
def measured_peak(ctx: RunContext) -> Iterator[None]:
    """On CUDA, report the measured peak VRAM of the run afterwards (the run panel shows it)."""
    if not ctx.device.startswith("cuda"):
        yield
        return
    import torch

    torch.cuda.reset_peak_memory_stats()
    yield
    ctx.info(f"measured peak VRAM {format_bytes(torch.cuda.max_memory_allocated())}")
