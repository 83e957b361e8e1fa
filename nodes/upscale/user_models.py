"""The artist's own upscaler file: read it safely, then build a network for it.

Tensors are read without running code (safetensors, or ``torch.load(weights_only=True)``).
``spandrel`` recognises dozens of architectures from the tensors alone; where it is missing or
cannot import (it imports torchvision, which does not load beside every torch build), Studio
recognises Real-ESRGAN's compact SRVGGNetCompact by itself. Imported lazily: imports torch.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

from nodes.upscale import srvgg

SUFFIXES = (".pth", ".pt", ".safetensors")
# Training checkpoints wrap the weights; Real-ESRGAN prefers the EMA copy.
WRAPPER_KEYS = ("params_ema", "params", "state_dict", "model", "net_g")


class ModelFileError(ValueError):
    """The file cannot be used as an upscaler; the message says why, for the artist."""


@dataclass
class LoadedModel:
    """A ready network: ``forward`` maps (1, 3, h, w) in [0, 1] to (1, 3, h*scale, w*scale)."""

    forward: Callable[[torch.Tensor], torch.Tensor]
    scale: int
    name: str
    dtype: torch.dtype
    receptive_radius: int  # input pixels of context a tile needs for seamless results
    exact_tiles: bool  # whether that radius is known exactly (tiles then match untiled)


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """The tensors in ``path``, loaded without executing anything from the file."""
    if path.suffix.lower() not in SUFFIXES:
        raise ModelFileError(f"{path.name}: expected a .pth or .safetensors upscaler")
    if not path.is_file():
        raise ModelFileError(f"model file not found: {path}")
    try:
        if path.suffix.lower() == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path), device="cpu")
        else:
            state = torch.load(str(path), map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelFileError(
            f"{path.name} holds more than tensors (Python objects that would run code on "
            f"loading); Studio only loads plain weights. Re-save it as .safetensors."
        ) from exc
    except Exception as exc:  # corrupt or truncated files raise many different errors
        raise ModelFileError(f"could not read {path.name}: {exc}") from exc
    for key in WRAPPER_KEYS:
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
            break
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelFileError(f"{path.name} does not contain a dictionary of weight tensors")
    return state


def spandrel_problem() -> str | None:
    """Why spandrel cannot be used here, or None when it imports."""
    try:
        import spandrel  # noqa: F401
    except Exception as exc:  # a broken torchvision raises RuntimeError, not ImportError
        return f"{type(exc).__name__}: {exc}"
    return None


def load_model(path: Path, device: str, half: bool) -> LoadedModel:
    """Build the network stored in ``path`` on ``device`` (fp16 when ``half`` and supported)."""
    state = read_state_dict(path)
    if srvgg.config_from_state_dict(state) is not None:
        net = srvgg.from_state_dict(state).to(device).to(memory_format=torch.channels_last)
        dtype = torch.float16 if half else torch.float32
        return LoadedModel(
            forward=net.to(dtype),
            scale=net.upscale,
            name=f"SRVGGNetCompact from {path.name}",
            dtype=dtype,
            receptive_radius=net.receptive_radius,
            exact_tiles=True,
        )
    problem = spandrel_problem()
    if problem is not None:
        raise ModelFileError(
            f"{path.name}: not an SRVGGNetCompact (Real-ESRGAN compact) model, the only kind "
            f"Studio reads by itself; other architectures need the 'spandrel' package, which "
            f"is unavailable here ({problem})"
        )
    return _load_with_spandrel(path, state, device, half)


def _load_with_spandrel(
    path: Path, state: dict[str, torch.Tensor], device: str, half: bool
) -> LoadedModel:
    from spandrel import ImageModelDescriptor, ModelLoader

    try:
        descriptor = ModelLoader().load_from_state_dict(state)
    except Exception as exc:  # spandrel raises its own error types per architecture
        raise ModelFileError(f"spandrel does not recognise {path.name}: {exc}") from exc
    if not isinstance(descriptor, ImageModelDescriptor) or descriptor.input_channels != 3:
        raise ModelFileError(f"{path.name} is not an RGB image upscaler")
    descriptor.to(device).eval()
    dtype = torch.float32
    if half and descriptor.supports_half:
        descriptor.half()
        dtype = torch.float16
    return LoadedModel(
        forward=descriptor,  # its __call__ pads to the architecture's size rules and crops
        scale=int(descriptor.scale),
        name=f"{descriptor.architecture.name} from {path.name} (spandrel)",
        dtype=dtype,
        receptive_radius=32,  # unknown for attention models: enough to hide seams in practice
        exact_tiles=False,
    )
