"""Colours shared by the viewer and painter, matching the editor's dark theme."""

from __future__ import annotations

BACKGROUND = "#1e1f22"
PANEL = "#2b2d31"
BORDER = "#3a3d43"
TEXT = "#dfe1e5"
MUTED = "#8b8f97"
ACCENT = "#4f8cff"
WARN = "#ffb454"

# One colour per region / motion brush (eight brushes at most).
REGION_COLOURS = (
    "#4f8cff",
    "#ff6b6b",
    "#51cf66",
    "#fcc419",
    "#cc5de8",
    "#22b8cf",
    "#ff922b",
    "#f06595",
)

STYLE = f"""
QWidget {{ background: {PANEL}; color: {TEXT}; font-size: 12px; }}
QGraphicsView, QLabel#picture {{ background: {BACKGROUND}; border: none; }}
QToolButton, QPushButton {{
    background: #35373c; border: 1px solid {BORDER}; border-radius: 4px; padding: 3px 8px;
}}
QToolButton:checked, QPushButton:checked {{ background: {ACCENT}; color: white; }}
QToolButton:hover, QPushButton:hover {{ border-color: {ACCENT}; }}
QComboBox, QSpinBox, QDoubleSpinBox, QLineEdit {{
    background: {BACKGROUND}; border: 1px solid {BORDER}; border-radius: 3px; padding: 2px 4px;
}}
QListWidget {{ background: {BACKGROUND}; border: 1px solid {BORDER}; }}
QListWidget::item:selected {{ background: {ACCENT}; color: white; }}
QLabel[muted="true"] {{ color: {MUTED}; }}
QGroupBox {{ border: 1px solid {BORDER}; border-radius: 4px; margin-top: 14px; padding-top: 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 8px; color: {MUTED}; }}
QSlider::groove:horizontal {{ height: 4px; background: #4a4d55; border-radius: 2px; }}
QSlider::handle:horizontal {{
    background: {ACCENT}; width: 12px; margin: -5px 0; border-radius: 6px;
}}
QDockWidget::title {{ background: {PANEL}; padding: 4px; }}
"""
