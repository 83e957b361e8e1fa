"""Getting pictures in and out: LoadImage, SampleImage, SaveImage, LoadVideo, SaveVideo."""

from __future__ import annotations

from nodes.io.images import LOAD_IMAGE, SAMPLE_IMAGE, SAVE_IMAGE
from nodes.io.save_video import SAVE_VIDEO, read_embedded_workflow
from nodes.io.video import LOAD_VIDEO

SPECS = (LOAD_IMAGE, SAMPLE_IMAGE, SAVE_IMAGE, LOAD_VIDEO, SAVE_VIDEO)

__all__ = ["SPECS", "read_embedded_workflow"]
