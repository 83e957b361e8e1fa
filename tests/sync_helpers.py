"""Clips whose picture and sound mark the same instants, to check sync after a timing edit.

A *flash clip* is dark except for a few white frames starting at ``at``; its sound is silent
except for a tone starting at ``at / fps`` seconds. After any edit, the first bright frame and
the tone's onset must still line up within one frame.
"""

from __future__ import annotations

import numpy as np

from studio.graph.types import Audio, Video


def flash_clip(
    frames: int = 24,
    fps: float = 12.0,
    at: int = 9,
    flash: int = 3,
    rate: int = 8000,
    size: tuple[int, int] = (32, 24),
) -> Video:
    width, height = size
    pictures = np.full((frames, height, width, 3), 20, np.uint8)
    pictures[at : at + flash] = 235
    seconds = frames / fps
    samples = np.zeros((round(seconds * rate), 2), np.float32)
    onset = round(at / fps * rate)
    tone = 0.5 * np.sin(np.arange(round(flash / fps * rate)) * 2 * np.pi * 440 / rate)
    samples[onset : onset + len(tone)] = tone[:, None]
    return Video(pictures, fps, Audio(samples, rate))


def flash_time(video: Video) -> float:
    """Seconds at which the first fully bright frame shows (in-between frames that fade up to
    the flash do not count: the flash itself is what the tone marks)."""
    brightness = video.frames.reshape(len(video), -1).mean(axis=1)
    bright = np.flatnonzero(brightness > 220)
    assert len(bright), "the flash is gone"
    return int(bright[0]) / video.fps


def tone_time(audio: Audio) -> float:
    """Seconds at which the tone starts."""
    loud = np.flatnonzero(np.abs(audio.samples).max(axis=1) > 0.05)
    assert len(loud), "the tone is gone"
    return int(loud[0]) / audio.rate


def sync_error_frames(video: Video) -> float:
    """How far the sound is from the picture, in frames."""
    assert video.audio is not None, "the clip lost its sound"
    return abs(tone_time(video.audio) - flash_time(video)) * video.fps
