"""Sound-track arithmetic shared by every node that changes a clip's timing (pure numpy).

A clip's audio starts with its frame 0, so picture time t seconds is sample ``round(t * rate)``.
Each helper returns a new :class:`Audio` (or None for no track) and never changes its input.
"""

from __future__ import annotations

import numpy as np

from studio.graph.types import Audio


def silence(seconds: float, rate: int, channels: int) -> Audio:
    return Audio(np.zeros((max(0, round(seconds * rate)), channels), np.float32), rate)


def cut(audio: Audio | None, start_s: float, end_s: float | None = None) -> Audio | None:
    """The part from ``start_s`` to ``end_s`` (None: to the end); short tracks stay short."""
    if audio is None:
        return None
    begin = max(0, round(start_s * audio.rate))
    end = len(audio) if end_s is None else max(begin, round(end_s * audio.rate))
    return Audio(np.ascontiguousarray(audio.samples[begin:end]), audio.rate)


def fit(audio: Audio, seconds: float) -> Audio:
    """Exactly ``seconds`` long: trimmed, or padded with silence."""
    wanted = max(0, round(seconds * audio.rate))
    samples = audio.samples[:wanted]
    if len(samples) < wanted:
        pad = np.zeros((wanted - len(samples), audio.channels), np.float32)
        samples = np.concatenate([samples, pad])
    return Audio(np.ascontiguousarray(samples), audio.rate)


def conform(audio: Audio, rate: int, channels: int) -> Audio:
    """The same sound at another sample rate (linear) and channel count (mix or copy)."""
    samples = audio.samples
    if audio.channels != channels:
        mono = samples.mean(axis=1, keepdims=True)
        samples = np.repeat(mono, channels, axis=1) if channels > 1 else mono
    if audio.rate != rate:
        return resample(Audio(np.ascontiguousarray(samples, np.float32), audio.rate), rate)
    return Audio(np.ascontiguousarray(samples, np.float32), rate)


def resample(audio: Audio, rate: int) -> Audio:
    """Linear resampling to ``rate``; fine for conforming tracks, not a mastering resampler."""
    if not len(audio):
        return Audio(audio.samples.copy(), rate)
    count = max(1, round(len(audio) * rate / audio.rate))
    return Audio(_stretch(audio.samples, count), rate)


def speed(audio: Audio | None, factor: float) -> Audio | None:
    """Played ``factor`` times faster (tape-style: pitch follows the speed, sync is exact)."""
    if audio is None or not len(audio):
        return audio
    count = max(1, round(len(audio) / factor))
    return Audio(_stretch(audio.samples, count), audio.rate)


def reverse(audio: Audio | None) -> Audio | None:
    if audio is None:
        return None
    return Audio(np.ascontiguousarray(audio.samples[::-1]), audio.rate)


def concat(parts: list[Audio]) -> Audio:
    rate, channels = parts[0].rate, parts[0].channels
    return Audio(np.concatenate([conform(p, rate, channels).samples for p in parts]), rate)


def fade(audio: Audio, fade_in_s: float, fade_out_s: float) -> Audio:
    """Linear gain ramps at both ends."""
    samples = audio.samples.copy()
    n_in = min(len(samples), round(fade_in_s * audio.rate))
    n_out = min(len(samples), round(fade_out_s * audio.rate))
    if n_in:
        samples[:n_in] *= np.linspace(0.0, 1.0, n_in, dtype=np.float32)[:, None]
    if n_out:
        samples[len(samples) - n_out :] *= np.linspace(1.0, 0.0, n_out, dtype=np.float32)[:, None]
    return Audio(samples, audio.rate)


def mix_at(base: Audio, other: Audio, start_s: float) -> Audio:
    """``other`` added onto ``base`` from ``start_s`` (which may extend ``base``)."""
    other = conform(other, base.rate, base.channels)
    begin = max(0, round(start_s * base.rate))
    length = max(len(base), begin + len(other))
    out = np.zeros((length, base.channels), np.float32)
    out[: len(base)] = base.samples
    out[begin : begin + len(other)] += other.samples
    return Audio(out, base.rate)


def _stretch(samples: np.ndarray, count: int) -> np.ndarray:
    source = np.linspace(0.0, len(samples) - 1, count)
    index = np.arange(len(samples))
    columns = [np.interp(source, index, samples[:, c]) for c in range(samples.shape[1])]
    return np.ascontiguousarray(np.stack(columns, axis=1), dtype=np.float32)
