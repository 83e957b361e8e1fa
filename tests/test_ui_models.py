"""The editor side of issue 12: the inspector's memory estimate and the live denoising preview
as the running node's thumbnail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from ui_helpers import close_window, make_window

from nodes.image_to_video import IMAGE_TO_VIDEO
from studio.engine.events import RunEvent, RunEventKind
from studio.graph.commands import AddNode, SetParam
from studio.graph.registry import NodeRegistry
from studio.session import SessionEvent, SessionEventKind


def write_model(folder: Path) -> Path:
    """A Wan-shaped folder whose transformer header says 100 M float32 weights (no data)."""
    import json
    import struct

    (folder / "transformer").mkdir(parents=True)
    (folder / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "WanImageToVideoPipeline",
                "transformer": ["diffusers", "WanTransformer3DModel"],
            }
        )
    )
    (folder / "transformer" / "config.json").write_text(
        json.dumps({"num_attention_heads": 12, "attention_head_dim": 128})
    )
    header = json.dumps(
        {"w": {"dtype": "F32", "shape": [10_000, 10_000], "data_offsets": [0, 400_000_000]}}
    ).encode()
    with (folder / "transformer" / "model.safetensors").open("wb") as handle:
        handle.write(struct.pack("<Q", len(header)) + header)
    return folder


@pytest.fixture
def window(qtbot, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)
    w = make_window(qtbot, tmp_path, NodeRegistry([IMAGE_TO_VIDEO]))
    yield w
    close_window(w)


def test_inspector_shows_the_estimated_peak_for_model_precision_and_size(window, tmp_path):
    folder = write_model(tmp_path / "wan")
    command = AddNode("ImageToVideo", params={"model": str(folder), "width": 832, "height": 480})
    window.session.push(command)
    node_id = command.node_id
    window.scene.select([node_id])
    label = window.inspector.memory_label
    assert label is not None and label.isVisibleTo(window.inspector)
    assert "in bf16" in label.text() and "with fp8 storage" in label.text()
    assert "estimates, not measurements" in label.text()
    window.session.push(SetParam(node_id, "precision", "fp8"))
    assert "weights 95 MiB at fp8" in label.text()  # 100 M weights, one byte each
    assert "an estimate" in label.text()
    window.inspector.grab().save(str(tmp_path / "inspector.png"))


def test_a_preview_event_becomes_the_running_nodes_thumbnail(window):
    command = AddNode("ImageToVideo")
    window.session.push(command)
    item = window.scene.item_for(command.node_id)
    assert item.thumbnail is None
    picture = np.zeros((8, 12, 3), np.uint8)
    picture[:, :, 0] = 255
    event = RunEvent(RunEventKind.NODE_PREVIEW, "run", command.node_id, preview=picture)
    window._on_session_event(SessionEvent(SessionEventKind.RUN_EVENT, run_event=event))
    assert item.thumbnail is not None
    assert item.thumbnail.pixelColor(0, 0).red() == 255
