"""The spandrel path of Upscale's own-model option.

spandrel cannot import on this machine (it imports torchvision, which fails beside the CPU torch
wheel), so these tests put a stand-in ``spandrel`` module in ``sys.modules`` that implements the
two names Studio uses. They check Studio's side of the contract: the file is read safely, the
descriptor runs through the tiler on the right device and scale, and the artist is told which
path ran. That the real spandrel recognises real files is spandrel's own tested promise.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
import torch
from stage_helpers import run_node

from nodes.upscale import SPECS
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Video

UPSCALE = next(spec for spec in SPECS if spec.type_id == "Upscale")


class FakeDescriptor:
    """What spandrel's ImageModelDescriptor offers Studio: scale, channels, half, device."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self.scale = 2
        self.input_channels = 3
        self.supports_half = False
        self.architecture = types.SimpleNamespace(name="FakeNet")
        self.gain = state["gain"]

    def to(self, device: str) -> FakeDescriptor:
        return self

    def eval(self) -> FakeDescriptor:
        return self

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        up = torch.nn.functional.interpolate(image, scale_factor=2, mode="nearest")
        return (up * self.gain).clamp(0, 1)


@pytest.fixture
def fake_spandrel(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, torch.Tensor]]:
    seen: list[dict[str, torch.Tensor]] = []

    class ModelLoader:
        def load_from_state_dict(self, state: dict[str, torch.Tensor]) -> FakeDescriptor:
            seen.append(state)
            if "gain" not in state:
                raise ValueError("unknown architecture")
            return FakeDescriptor(state)

    module = types.ModuleType("spandrel")
    module.ModelLoader = ModelLoader  # type: ignore[attr-defined]
    module.ImageModelDescriptor = FakeDescriptor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "spandrel", module)
    return seen


def _save(path, tensors: dict[str, torch.Tensor]) -> str:
    from safetensors.torch import save_file

    save_file(tensors, str(path))
    return str(path)


def test_an_architecture_studio_does_not_know_runs_through_spandrel(tmp_path, fake_spandrel):
    model = _save(tmp_path / "fake.safetensors", {"gain": torch.tensor(0.5)})
    frames = np.full((2, 24, 32, 3), 200, np.uint8)
    ctx = FakeRunContext()
    out = run_node(UPSCALE, ctx, {"video": Video(frames, fps=8.0)}, scale=2, model=model)
    result = out["video"].frames
    assert result.shape == (2, 48, 64, 3)
    assert abs(int(result.mean()) - 100) <= 1  # the descriptor's own computation ran
    assert float(fake_spandrel[0]["gain"]) == 0.5  # it received the file's tensors
    assert any("FakeNet" in message and "spandrel" in message for message in ctx.messages)


def test_a_file_spandrel_does_not_recognise_is_a_clear_error(tmp_path, fake_spandrel):
    model = _save(tmp_path / "odd.safetensors", {"weight": torch.zeros(3)})
    frames = np.zeros((1, 16, 16, 3), np.uint8)
    with pytest.raises(NodeError, match="spandrel does not recognise odd.safetensors"):
        run_node(UPSCALE, FakeRunContext(), {"video": Video(frames, fps=8.0)}, model=model)


def test_without_spandrel_the_error_says_why(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "spandrel", None)  # import fails, as it does here
    model = _save(tmp_path / "odd.safetensors", {"weight": torch.zeros(3)})
    frames = np.zeros((1, 16, 16, 3), np.uint8)
    with pytest.raises(NodeError, match="need the 'spandrel' package"):
        run_node(UPSCALE, FakeRunContext(), {"video": Video(frames, fps=8.0)}, model=model)
