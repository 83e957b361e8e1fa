"""The viewer's timeline: cut markers and waveform from a clip, and a picture that follows the
audio clock (a fake sink stands in for a sound device, which these machines lack)."""

from __future__ import annotations

import numpy as np
import pytest
from test_ui_viewer import settle

from studio.graph.types import Audio, Video
from studio.ui.viewer.audio import envelope
from studio.ui.viewer.dock import ViewerDock


class FakeSink:
    """Records what it was asked to play; its position is whatever the test says was heard."""

    def __init__(self) -> None:
        self.plays: list[float] = []
        self.stops = 0
        self.heard = 0.0

    def play(self, audio: Audio, start_s: float) -> None:
        self.plays.append(start_s)
        self.heard = start_s

    def stop(self) -> None:
        self.stops += 1

    def position_s(self) -> float:
        return self.heard


def clip_with_sound() -> Video:
    frames = np.zeros((48, 36, 48, 3), np.uint8)
    frames[:, 0, 0, 0] = np.arange(48)
    t = np.arange(2 * 8000) / 8000
    tone = (0.8 * np.sin(2 * np.pi * 220 * t) * (t < 1.0)).astype(np.float32)  # 1 s, then quiet
    return Video(frames, 24.0, Audio(tone[:, None], 8000), cuts=(12, 30))


@pytest.fixture
def dock(qtbot):
    outputs = {
        "seq": {"video": clip_with_sound()},
        "plain": {"video": Video(np.zeros((5, 8, 8, 3), np.uint8), 24.0)},
    }
    dock = ViewerDock(outputs.get)
    qtbot.addWidget(dock)
    dock.resize(640, 520)
    dock.show()
    qtbot.waitExposed(dock)
    yield dock
    dock.shutdown()


def test_cut_markers_and_waveform_come_with_the_clip(dock, qtbot, tmp_path) -> None:
    settle(qtbot, dock, dock.show_node, "seq")
    timeline = dock.panel.timeline
    assert timeline.bar.cuts == (12, 30)
    assert timeline.waveform.isVisible() and timeline.waveform.peaks is not None
    peaks = timeline.waveform.peaks
    assert peaks[: len(peaks) // 2 - 5].min() > 0.5 and peaks[len(peaks) // 2 + 5 :].max() == 0
    dock.grab().save(str(tmp_path / "viewer_sequence.png"))
    settle(qtbot, dock, dock.show_node, "plain")
    assert timeline.bar.cuts == () and not timeline.waveform.isVisible()


def test_the_picture_follows_the_audio_clock(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "seq")
    timeline = dock.panel.timeline
    sink = FakeSink()
    timeline.sink = sink
    timeline.seek(6)
    timeline.set_playing(True)
    assert sink.plays == [0.25]  # sound starts where the picture is: frame 6 at 24 fps
    sink.heard = 0.25 + 0.5  # half a second heard: 12 frames on, whatever the wall clock says
    timeline._tick()
    assert timeline.frame == 18
    sink.heard = 0.25 + 0.5  # the device stalls: the picture waits for the sound
    timeline._tick()
    assert timeline.frame == 18
    timeline.seek(24)  # a seek restarts the sound at the new place
    assert sink.plays[-1] == pytest.approx(1.0)
    timeline.set_playing(False)
    assert sink.stops >= 2 and not timeline.playing


def test_sound_plays_only_at_normal_speed(dock, qtbot) -> None:
    settle(qtbot, dock, dock.show_node, "seq")
    timeline = dock.panel.timeline
    timeline.sink = sink = FakeSink()
    timeline.set_speed(2.0)
    timeline.set_playing(True)
    assert sink.plays == []  # the wall clock drives a sped-up picture
    timeline.set_playing(False)


def test_envelope_is_peak_per_bin() -> None:
    samples = np.zeros((1000, 2), np.float32)
    samples[500, 1] = -0.9
    peaks = envelope(Audio(samples, 1000), 10)
    assert (
        peaks.shape == (10,)
        and peaks[5] == pytest.approx(0.9)
        and peaks.sum() == pytest.approx(0.9)
    )
