"""Reading sound files (wav, mp3, flac, m4a/aac, ogg and the sound of movie files) with PyAV,
and encoding a track to AAC for Save Video."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from studio.graph.spec import NodeError
from studio.graph.types import Audio

AUDIO_FILTER = "Sound (*.wav *.mp3 *.flac *.m4a *.aac *.ogg *.opus *.mp4 *.mov);;All files (*)"
MAX_SECONDS = 4 * 3600  # a decoded float32 stereo track of 4 hours is ~5 GB: refuse beyond
MAX_CHANNELS = 8


def read_audio(
    path: Path,
    start_s: float = 0.0,
    max_seconds: float = 0.0,
    progress: Callable[[int, int], None] | None = None,
) -> Audio:
    """The first sound stream of ``path`` as float32 (N, C) at its own sample rate."""
    import av  # only needed when a file is read

    chunks: list[np.ndarray] = []
    try:
        with av.open(str(path)) as container:
            if not container.streams.audio:
                raise NodeError(f"{path.name} has no sound")
            stream = container.streams.audio[0]
            rate = int(stream.rate or 0)
            channels = stream.channels or 0
            if not rate or not 0 < channels <= MAX_CHANNELS:
                raise NodeError(f"{path.name}: unsupported sound ({rate} Hz, {channels} channels)")
            layout = stream.layout.name if stream.layout else None
            resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
            total_s = float(stream.duration * stream.time_base) if stream.duration else 0.0
            end = round((start_s + max_seconds) * rate) if max_seconds else None
            got = 0
            for frame in container.decode(stream):
                for part in resampler.resample(frame):
                    chunks.append(part.to_ndarray().T)
                    got += chunks[-1].shape[0]
                if got > MAX_SECONDS * rate:
                    raise NodeError(f"{path.name} is longer than {MAX_SECONDS // 3600} hours")
                if progress is not None and total_s:
                    progress(min(got, round(total_s * rate)), round(total_s * rate))
                if end is not None and got >= end:
                    break
            for part in resampler.resample(None):
                chunks.append(part.to_ndarray().T)
    except av.error.FFmpegError as error:
        raise NodeError(f"cannot read {path.name} as sound: {error}") from None
    samples = np.concatenate(chunks) if chunks else np.zeros((0, max(1, channels)), np.float32)
    samples = samples[round(start_s * rate) :]
    if max_seconds:
        samples = samples[: round(max_seconds * rate)]
    if not len(samples):
        if start_s:
            raise NodeError(f"start {start_s:g} s is past the end of {path.name}")
        raise NodeError(f"{path.name} holds no sound")
    return Audio(np.ascontiguousarray(samples, np.float32), rate)


def write_aac(audio: Audio, path: Path, bitrate: int = 192_000) -> None:
    """Encode ``audio`` as AAC in an .m4a at ``path`` (for muxing beside a picture)."""
    import av

    layout = {1: "mono", 2: "stereo"}.get(audio.channels)
    samples = audio.samples
    if layout is None:  # AAC in mp4 plays everywhere as stereo; fold wider tracks down
        samples = np.repeat(samples.mean(axis=1, keepdims=True), 2, axis=1)
        layout = "stereo"
    with av.open(str(path), "w", format="ipod") as container:
        stream = container.add_stream("aac", rate=audio.rate)
        stream.layout = layout
        stream.bit_rate = bitrate
        block = 1024 * 16
        for start in range(0, len(samples), block):
            chunk = np.ascontiguousarray(np.clip(samples[start : start + block], -1, 1).T)
            frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=layout)
            frame.rate = audio.rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
