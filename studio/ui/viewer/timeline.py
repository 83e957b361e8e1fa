"""The timeline under the picture: scrub bar with in/out points, transport and playback clock.

Playback is driven by a wall clock, not by counting timer ticks: each tick shows the frame
that *should* be on screen now. A tick that has to skip frames counts them in ``dropped``,
so a benchmark can tell whether the viewer held the clip's rate. When the clip has sound and an
audio sink is set, the sink's played position is the clock instead (picture follows sound).
Cut markers (a Sequence's) are drawn on the scrub bar, the sound's waveform under it.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QElapsedTimer, QRectF, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QStyle,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from studio.graph.types import Audio
from studio.ui.viewer import theme
from studio.ui.viewer.audio import AudioSink, WaveformBar, cut_marker

SPEEDS = (0.25, 0.5, 1.0, 2.0)


def timecode(frame: int, fps: float) -> str:
    """``HH:MM:SS:FF`` for frame ``frame`` at ``fps`` (rounded to whole frames per second)."""
    per_second = max(1, round(fps))
    seconds, ff = divmod(max(0, frame), per_second)
    minutes, ss = divmod(seconds, 60)
    hh, mm = divmod(minutes, 60)
    return f"{hh:02d}:{mm:02d}:{ss:02d}:{ff:02d}"


class ScrubBar(QWidget):
    """A bar you drag to scrub; shows the playhead, the loop range and cached frames."""

    scrubbed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = 1
        self.frame = 0
        self.in_point = 0
        self.out_point = 0
        self.cuts: tuple[int, ...] = ()
        self.setMinimumHeight(26)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        return QSize(400, 26)

    def frame_at(self, x: float) -> int:
        usable = max(1.0, self.width() - 1.0)
        return min(self.count - 1, max(0, round(x / usable * (self.count - 1))))

    def x_of(self, frame: int) -> float:
        return frame / max(1, self.count - 1) * max(1.0, self.width() - 1.0)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.button() == Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.frame_at(event.position().x()))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 (Qt API)
        if event.buttons() & Qt.MouseButton.LeftButton:
            self.scrubbed.emit(self.frame_at(event.position().x()))

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt API)
        p = QPainter(self)
        h = self.height()
        p.fillRect(self.rect(), QColor(theme.BACKGROUND))
        x_in, x_out = self.x_of(self.in_point), self.x_of(self.out_point)
        p.fillRect(QRectF(x_in, h - 8, max(2.0, x_out - x_in), 6), QColor(theme.ACCENT).darker(170))
        ticks = QPen(QColor(theme.BORDER))
        p.setPen(ticks)
        step = max(1, self.count // 50)
        for f in range(0, self.count, step):
            x = self.x_of(f)
            p.drawLine(int(x), 2, int(x), 6 if f % (step * 5) else 10)
        for cut in self.cuts:
            cut_marker(p, self.x_of(cut), h)
        x = self.x_of(self.frame)
        p.setPen(QPen(QColor(theme.ACCENT), 2))
        p.drawLine(int(x), 0, int(x), h)
        p.end()


class Timeline(QWidget):
    """Transport and scrub bar. ``frame_changed`` fires whenever the shown frame should change.

    Keys (when it or its viewer has focus): Space play/pause, Left/Right step, Home/End jump,
    I/O set the loop's in/out point.
    """

    frame_changed = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = 1
        self.fps = 24.0
        self.frame = 0
        self.in_point = 0
        self.out_point = 0
        self.loop = True
        self.speed = 1.0
        self.dropped = 0
        self.shown = 0
        self._clock = QElapsedTimer()
        self._start_frame = 0
        self.audio: Audio | None = None
        self.sink: AudioSink | None = None  # set by the viewer where sound can play
        self._sounding = False  # the sink is playing and is the clock
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self._tick)

        self.bar = ScrubBar(self)
        self.bar.scrubbed.connect(self._scrub)
        self.waveform = WaveformBar(self)
        self.waveform.hide()
        icons = self.style()
        self._play_icon = icons.standardIcon(QStyle.StandardPixmap.SP_MediaPlay)
        self._pause_icon = icons.standardIcon(QStyle.StandardPixmap.SP_MediaPause)
        self.play_button = QToolButton(icon=self._play_icon, toolTip="Play / pause (Space)")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self.set_playing)
        start = QToolButton(
            icon=icons.standardIcon(QStyle.StandardPixmap.SP_MediaSkipBackward),
            toolTip="First frame of the loop (Home)",
        )
        start.clicked.connect(self.go_start)
        back = QToolButton(
            icon=icons.standardIcon(QStyle.StandardPixmap.SP_MediaSeekBackward),
            toolTip="Previous frame (Left)",
        )
        back.clicked.connect(lambda: self.step(-1))
        fwd = QToolButton(
            icon=icons.standardIcon(QStyle.StandardPixmap.SP_MediaSeekForward),
            toolTip="Next frame (Right)",
        )
        fwd.clicked.connect(lambda: self.step(1))
        end = QToolButton(
            icon=icons.standardIcon(QStyle.StandardPixmap.SP_MediaSkipForward),
            toolTip="Last frame of the loop (End)",
        )
        end.clicked.connect(self.go_end)
        self.loop_button = QToolButton(text="Loop", toolTip="Loop between the in and out points")
        self.loop_button.setCheckable(True)
        self.loop_button.setChecked(True)
        self.loop_button.toggled.connect(lambda on: setattr(self, "loop", on))
        self.frame_box = QSpinBox(toolTip="Current frame")
        self.frame_box.setKeyboardTracking(False)
        self.frame_box.valueChanged.connect(self.seek)
        self.timecode_label = QLabel("00:00:00:00", toolTip="Timecode (HH:MM:SS:FF)")
        self.range_label = QLabel("", toolTip="Loop range: set with I and O")
        self.range_label.setProperty("muted", True)
        self.speed_box = QComboBox(toolTip="Playback speed")
        for s in SPEEDS:
            self.speed_box.addItem(f"{s:g}×", s)
        self.speed_box.setCurrentIndex(SPEEDS.index(1.0))
        self.speed_box.currentIndexChanged.connect(
            lambda i: self.set_speed(float(self.speed_box.itemData(i)))
        )
        row = QHBoxLayout()
        row.setContentsMargins(0, 0, 0, 0)
        for w in (start, back, self.play_button, fwd, end, self.loop_button):
            row.addWidget(w)
        row.addSpacing(8)
        row.addWidget(self.frame_box)
        row.addWidget(self.timecode_label)
        row.addStretch(1)
        row.addWidget(self.range_label)
        row.addWidget(self.speed_box)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 2, 6, 4)
        layout.setSpacing(3)
        layout.addWidget(self.bar)
        layout.addWidget(self.waveform)
        layout.addLayout(row)
        self.set_clip(1, 24.0)

    # -- state ------------------------------------------------------------------------------

    def set_clip(self, count: int, fps: float) -> None:
        """A new clip: keeps the frame (clamped), resets the loop range to the whole clip."""
        self.count, self.fps = max(1, int(count)), float(fps)
        self.in_point, self.out_point = 0, self.count - 1
        self.frame_box.blockSignals(True)
        self.frame_box.setRange(0, self.count - 1)
        self.frame_box.blockSignals(False)
        self.bar.count = self.count
        if self.count <= 1:
            self.set_playing(False)
        self._set_frame(min(self.frame, self.count - 1), force=True)

    def set_marks(self, cuts: tuple[int, ...], audio: Audio | None) -> None:
        """The clip's cut markers and sound (after :meth:`set_clip`)."""
        self.set_playing(False)
        self.bar.cuts = tuple(c for c in cuts if 0 < c < self.count)
        self.audio = audio
        self.waveform.cuts_fraction = tuple(c / max(1, self.count - 1) for c in self.bar.cuts)
        self.waveform.set_track(audio, (self.count - 1) / self.fps if self.fps else 0.0)
        self._sync()
        self.bar.update()

    def set_in(self, frame: int | None = None) -> None:
        self.in_point = min(self.frame if frame is None else frame, self.out_point)
        self._sync()

    def set_out(self, frame: int | None = None) -> None:
        self.out_point = max(self.frame if frame is None else frame, self.in_point)
        self._sync()

    def set_speed(self, speed: float) -> None:
        self.speed = speed
        if self.playing:
            self._restart_clock()

    def _set_frame(self, frame: int, force: bool = False) -> None:
        frame = min(max(int(frame), 0), self.count - 1)
        if frame == self.frame and not force:
            return
        self.frame = frame
        self._sync()
        self.frame_changed.emit(frame)

    def _sync(self) -> None:
        self.frame_box.blockSignals(True)
        self.frame_box.setValue(self.frame)
        self.frame_box.blockSignals(False)
        self.timecode_label.setText(timecode(self.frame, self.fps))
        whole = self.in_point == 0 and self.out_point == self.count - 1
        self.range_label.setText("" if whole else f"in {self.in_point} · out {self.out_point}")
        self.bar.frame, self.bar.in_point, self.bar.out_point = (
            self.frame,
            self.in_point,
            self.out_point,
        )
        self.bar.update()
        if self.waveform.isVisible():
            self.waveform.frame_fraction = self.frame / max(1, self.count - 1)
            self.waveform.update()

    # -- navigation -------------------------------------------------------------------------

    def seek(self, frame: int) -> None:
        self._set_frame(frame)
        if self.playing:
            self._restart_clock()

    def _scrub(self, frame: int) -> None:
        self.set_playing(False)
        self.seek(frame)

    def step(self, delta: int) -> None:
        self.set_playing(False)
        self.seek(self.frame + delta)

    def go_start(self) -> None:
        self.seek(self.in_point if self.frame != self.in_point else 0)

    def go_end(self) -> None:
        self.seek(self.out_point if self.frame != self.out_point else self.count - 1)

    def handle_key(self, key: int) -> bool:
        """Apply a transport key; True when it was one. Viewers forward their keys here."""
        entry = next((k for k in TRANSPORT_KEYS if k[0] == key), None)
        if entry is None:
            return False
        entry[1](self)
        return True

    def keyPressEvent(self, event) -> None:  # noqa: N802 (Qt API)
        if not self.handle_key(event.key()):
            super().keyPressEvent(event)

    # -- playback ---------------------------------------------------------------------------

    @property
    def playing(self) -> bool:
        return self._timer.isActive()

    def toggle_playing(self) -> None:
        self.set_playing(not self.playing)

    def set_playing(self, on: bool) -> None:
        on = on and self.count > 1
        if on == self.playing:
            self.play_button.setChecked(on)
            return
        if on:
            if self.frame >= self.out_point and not self.loop:
                self._set_frame(self.in_point)
            self.dropped = self.shown = 0
            self._restart_clock()
            # Tick at twice the frame rate so a late tick still lands within the frame.
            self._timer.start(max(1, int(500 / (self.fps * self.speed))))
        else:
            self._timer.stop()
            self._stop_sound()
        self.play_button.blockSignals(True)
        self.play_button.setChecked(on)
        self.play_button.setIcon(self._pause_icon if on else self._play_icon)
        self.play_button.blockSignals(False)

    def _restart_clock(self) -> None:
        self._start_frame = self.frame
        self._clock.restart()
        self._stop_sound()
        # Sound plays at normal speed only; sped up or slowed down, the picture plays silent.
        if self.sink is not None and self.audio is not None and self.speed == 1.0:
            start = self.frame / self.fps
            if start < self.audio.duration_s:
                self.sink.play(self.audio, start)
                self._sounding = True

    def _stop_sound(self) -> None:
        if self._sounding and self.sink is not None:
            self.sink.stop()
        self._sounding = False

    def _elapsed(self) -> float:
        """Seconds since playback (re)started: the sink's position while sound plays."""
        if self._sounding and self.sink is not None and self.audio is not None:
            position = self.sink.position_s()
            if position < self.audio.duration_s:
                return position - self._start_frame / self.fps
            # The sound ended before the picture: the wall clock takes over from here.
            self._stop_sound()
            self._start_frame = self.frame
            self._clock.restart()
            return 0.0
        return self._clock.elapsed() / 1000.0

    def _tick(self) -> None:
        elapsed = self._elapsed()
        target = self._start_frame + int(elapsed * self.fps * self.speed)
        first, last = self.in_point, self.out_point
        if not first <= self._start_frame <= last:
            first, last = 0, self.count - 1  # started outside the loop range: play it all
        if target > last:
            if not self.loop:
                self._set_frame(last)
                self.set_playing(False)
                return
            # Wrap to the in point and measure time from there.
            self.shown += 1
            self._set_frame(first)
            self._restart_clock()
            return
        advance = target - self.frame
        if advance <= 0:
            return
        self.dropped += advance - 1
        self.shown += 1
        self._set_frame(target)


# The viewer's keys: the dispatch table and the shortcut sheet's source (so the sheet never lies).
TRANSPORT_KEYS: tuple[tuple[Qt.Key, Callable[[Timeline], object], str, str], ...] = (
    (Qt.Key.Key_Space, lambda t: t.toggle_playing(), "Space", "Play / pause"),
    (Qt.Key.Key_Left, lambda t: t.step(-1), "Left", "Previous frame"),
    (Qt.Key.Key_Right, lambda t: t.step(1), "Right", "Next frame"),
    (Qt.Key.Key_Home, lambda t: t.go_start(), "Home", "Loop start (again: first frame)"),
    (Qt.Key.Key_End, lambda t: t.go_end(), "End", "Loop end (again: last frame)"),
    (Qt.Key.Key_I, lambda t: t.set_in(), "I", "Set the loop's in point"),
    (Qt.Key.Key_O, lambda t: t.set_out(), "O", "Set the loop's out point"),
)
