"""Sound in the viewer: the waveform under the timeline, and the clock sound playback drives.

When a clip has sound and an audio sink exists, the picture follows the sink's played position
(what the listener hears), so picture and sound cannot drift apart; otherwise the timeline's
wall clock runs as before. A sink is anything with the :class:`AudioSink` methods: Qt's
multimedia module provides one where it is installed (PySide6-Addons) and an output device
exists; tests use a fake.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
from PySide6.QtCore import QPointF, QSize
from PySide6.QtGui import QColor, QPainter, QPaintEvent, QPen, QPolygonF
from PySide6.QtWidgets import QWidget

from studio.graph.types import Audio
from studio.ui.viewer import theme

CUT_COLOUR = "#fcc419"


class AudioSink(Protocol):
    """Plays a track and says how far it got (seconds into the track)."""

    def play(self, audio: Audio, start_s: float) -> None: ...

    def stop(self) -> None: ...

    def position_s(self) -> float: ...


def envelope(audio: Audio, bins: int) -> np.ndarray:
    """Peak level per bin (``bins`` of them across the track), in [0, 1]."""
    level = np.abs(audio.samples).max(axis=1) if len(audio) else np.zeros(1, np.float32)
    bins = max(1, min(bins, len(level)))
    edges = np.linspace(0, len(level), bins + 1).astype(np.int64)
    peaks = np.maximum.reduceat(level, edges[:-1]) if len(level) else np.zeros(bins)
    return np.clip(peaks, 0.0, 1.0).astype(np.float32)


class WaveformBar(QWidget):
    """The clip's sound under the scrub bar, on the same frame axis, with the cut markers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.peaks: np.ndarray | None = None
        self.seconds = 0.0  # length of the picture the bar spans
        self.audio_seconds = 0.0
        self.frame_fraction = 0.0
        self.cuts_fraction: tuple[float, ...] = ()
        self.setFixedHeight(28)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(400, 28)

    def set_track(self, audio: Audio | None, picture_seconds: float) -> None:
        self.peaks = envelope(audio, 800) if audio is not None and len(audio) else None
        self.audio_seconds = audio.duration_s if audio is not None else 0.0
        self.seconds = picture_seconds
        self.setVisible(self.peaks is not None)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        p.fillRect(self.rect(), QColor(theme.BACKGROUND))
        width, mid = max(1.0, self.width() - 1.0), self.height() / 2
        if self.peaks is not None and self.seconds > 0:
            # The track drawn to scale against the picture: a short track stops early.
            span = width * min(1.0, self.audio_seconds / self.seconds)
            xs = np.linspace(0, span, len(self.peaks))
            top = [QPointF(x, mid - v * (mid - 2)) for x, v in zip(xs, self.peaks, strict=True)]
            bottom = [QPointF(x, mid + v * (mid - 2)) for x, v in zip(xs, self.peaks, strict=True)]
            p.setPen(QPen(QColor(theme.ACCENT).lighter(120), 1))
            p.setBrush(QColor(theme.ACCENT).darker(150))
            p.drawPolygon(QPolygonF(top + bottom[::-1]))
        p.setPen(QPen(QColor(CUT_COLOUR), 1))
        for fraction in self.cuts_fraction:
            p.drawLine(QPointF(fraction * width, 0), QPointF(fraction * width, self.height()))
        p.setPen(QPen(QColor(theme.ACCENT), 2))
        x = self.frame_fraction * width
        p.drawLine(QPointF(x, 0), QPointF(x, self.height()))
        p.end()


def cut_marker(p: QPainter, x: float, height: float) -> None:
    """A cut on the scrub bar: a yellow line with a notch at the top."""
    p.setPen(QPen(QColor(CUT_COLOUR), 1))
    p.drawLine(QPointF(x, 0), QPointF(x, height))
    p.setBrush(QColor(CUT_COLOUR))
    p.drawPolygon(QPolygonF([QPointF(x - 4, 0), QPointF(x + 4, 0), QPointF(x, 5)]))


def qt_audio_sink() -> AudioSink | None:
    """A sink on the default output device through QtMultimedia, or None where there is no
    QtMultimedia (PySide6-Essentials lacks it) or no output device."""
    try:
        from PySide6.QtMultimedia import QMediaDevices
    except ImportError:  # an optional extra (PySide6-Addons)
        return None
    if QMediaDevices.defaultAudioOutput().isNull():
        return None
    from studio.ui.viewer.qt_sink import QtAudioSink

    return QtAudioSink()
