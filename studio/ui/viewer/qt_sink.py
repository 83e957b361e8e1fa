"""An :class:`~studio.ui.viewer.audio.AudioSink` on QtMultimedia's QAudioSink (16-bit PCM).

Only imported where QtMultimedia exists (PySide6-Addons). Not exercised by the tests here: the
machines this was written on have neither QtMultimedia nor an audio device.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtMultimedia import QAudio, QAudioFormat, QAudioSink, QMediaDevices

from studio.graph.types import Audio


class QtAudioSink:
    def __init__(self) -> None:
        self._sink: QAudioSink | None = None
        self._buffer: QBuffer | None = None
        self._start_s = 0.0

    def play(self, audio: Audio, start_s: float) -> None:
        self.stop()
        fmt = QAudioFormat()
        fmt.setSampleRate(audio.rate)
        fmt.setChannelCount(audio.channels)
        fmt.setSampleFormat(QAudioFormat.SampleFormat.Int16)
        begin = max(0, round(start_s * audio.rate))
        pcm = (np.clip(audio.samples[begin:], -1, 1) * 32767).astype("<i2").tobytes()
        self._buffer = QBuffer()
        self._buffer.setData(QByteArray(pcm))
        self._buffer.open(QIODevice.OpenModeFlag.ReadOnly)
        self._sink = QAudioSink(QMediaDevices.defaultAudioOutput(), fmt)
        self._start_s = begin / audio.rate
        self._sink.start(self._buffer)

    def stop(self) -> None:
        if self._sink is not None and self._sink.state() != QAudio.State.StoppedState:
            self._sink.stop()
        self._sink = None

    def position_s(self) -> float:
        if self._sink is None:
            return self._start_s
        return self._start_s + self._sink.processedUSecs() / 1e6
