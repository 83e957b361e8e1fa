"""Single-file transformers (``.safetensors`` in the original or diffusers key layout, and
GGUF-quantized ``.gguf``) loaded with diffusers' own ``from_single_file``.

The config comes from the matching diffusers folder (``model.base``), never from a hub: the
file's key layout is converted by diffusers, and a GGUF file keeps its quantized weights
(``GGUFQuantizationConfig``), dequantized layer by layer as each runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from studio.engine.model_assembly import read_json
from studio.engine.models import ModelInfo
from studio.graph.spec import NodeError


def load_replaced_components(model: ModelInfo, dtype: Any) -> dict[str, Any]:
    """The components ``model``'s files replace in its base folder, ready to pass to
    ``from_pretrained(base, **components)`` (which then skips reading those weights)."""
    import diffusers
    import torch

    if model.base is None:
        raise NodeError(f"model {model.name!r} cannot run: {model.problem}")
    components = {}
    index = read_json(model.base / "model_index.json")
    for component, path in model.replaces:
        declared = index.get(component)
        if not (isinstance(declared, list) and len(declared) == 2):
            raise NodeError(f"{model.base} has no {component!r} to replace with {path.name}")
        compute = dtype.get("default", torch.float32) if isinstance(dtype, dict) else dtype
        if isinstance(dtype, dict):
            compute = dtype.get(component, compute)
        if declared[0] == "transformers":
            components[component] = _transformers_model(
                model.base, component, declared[1], path, compute
            )
            continue
        cls = getattr(diffusers, declared[1])
        kwargs: dict[str, Any] = dict(
            config=str(model.base),
            subfolder=component,
            local_files_only=True,
            torch_dtype=compute,
        )
        if path.suffix.lower() == ".gguf":
            kwargs["quantization_config"] = diffusers.GGUFQuantizationConfig(compute_dtype=compute)
        try:
            components[component] = cls.from_single_file(str(path), **kwargs).eval()
        except (ValueError, KeyError, RuntimeError, OSError) as error:
            raise NodeError(
                f"could not load {path.name} as the {component} of {model.base.name}: {error}"
            ) from error
    return components


def _transformers_model(base: Path, component: str, class_name: str, path: Path, dtype: Any) -> Any:
    """A transformers encoder (UMT5/T5) from one safetensors file (ComfyUI's text_encoders keep
    Hugging Face's names) and the config in the base folder; every weight must be in the file."""
    import torch
    import transformers
    from safetensors.torch import load_file

    config = transformers.AutoConfig.from_pretrained(base / component, local_files_only=True)
    with torch.device("meta"):
        encoder = getattr(transformers, class_name)(config)
    state = {k: v.to(dtype) for k, v in load_file(str(path)).items()}
    encoder.load_state_dict(state, strict=False, assign=True)
    encoder.tie_weights()  # the token embedding is saved once, as ``shared``
    left = [n for n, t in [*encoder.named_parameters(), *encoder.named_buffers()] if t.is_meta]
    if left:
        raise NodeError(
            f"{path.name} lacks {len(left)} weights of the {component} ({', '.join(left[:3])}...)"
        )
    return encoder.eval()
