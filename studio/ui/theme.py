"""Colours and sizes shared by the canvas and the panels (one place to tune the look)."""

from __future__ import annotations

import hashlib

from PySide6.QtGui import QColor

from studio.graph.types import PortType

PORT_COLORS: dict[PortType, str] = {
    PortType.IMAGE: "#5fb3f9",
    PortType.MASK: "#c8c8c8",
    PortType.VIDEO: "#f0a34a",
    PortType.MOTION: "#b48ef5",
    PortType.CAMERA_PATH: "#63d5a0",
    PortType.AUDIO: "#e8d44d",
    PortType.ANY: "#9aa0a6",
}

CATEGORY_COLORS: dict[str, str] = {
    "Input": "#3c6e47",
    "Output": "#7a4b2a",
    "IO": "#3c6e47",
    "Image": "#2f5f8a",
    "Keyframe": "#2f5f8a",
    "Mask": "#5a5f66",
    "Masks": "#5a5f66",
    "Motion": "#634a8f",
    "Video": "#8a5a26",
    "Stabilize": "#2d7560",
    "Upscale": "#7f3552",
    "Utility": "#4a4f57",
    "Timing": "#8a6d26",
    "Audio": "#7a7a2a",
}

STATUS_COLORS: dict[str, str] = {
    "stale": "#7d848c",
    "cached": "#4caf6e",
    "queued": "#d4b24c",
    "running": "#4aa3f0",
    "failed": "#e0524f",
    "bypassed": "#b07cd8",
    "placeholder": "#e0524f",
    "skipped": "#7d848c",
    "cancelled": "#d08a3a",
}

BACKGROUND = "#1e2024"
GRID_MINOR = "#24272c"
GRID_MAJOR = "#2b2f35"
NODE_BODY = "#2c3036"
NODE_BORDER = "#15171a"
SELECTION = "#f2c14e"
TEXT = "#e6e8eb"
TEXT_DIM = "#9aa1a9"
PLACEHOLDER = "#8c2f2f"


def port_color(port_type: PortType) -> QColor:
    return QColor(PORT_COLORS.get(port_type, PORT_COLORS[PortType.ANY]))


def category_color(category: str) -> QColor:
    if category in CATEGORY_COLORS:
        return QColor(CATEGORY_COLORS[category])
    # Categories added later still get a stable, muted colour of their own.
    hue = int(hashlib.md5(category.encode()).hexdigest()[:4], 16) % 360
    return QColor.fromHsl(hue, 90, 80)
