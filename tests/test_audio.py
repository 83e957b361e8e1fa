"""Sound: the Audio type through the disk cache, Load Audio, Set Audio, AAC in Save Video."""

from __future__ import annotations

import json
import wave
from pathlib import Path

import numpy as np
import pytest
from stage_helpers import run_node
from sync_helpers import flash_clip, sync_error_frames, tone_time

from nodes.audio import LOAD_AUDIO, SET_AUDIO
from nodes.audio.files import read_audio, write_aac
from nodes.io.save_video import SAVE_VIDEO
from studio.engine.disk_cache import DiskCache
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import Audio, Video


def write_wav(path: Path, seconds: float = 0.5, rate: int = 8000, channels: int = 1) -> None:
    t = np.arange(round(seconds * rate)) / rate
    tone = (0.4 * np.sin(2 * np.pi * 330 * t) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(channels)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(np.repeat(tone[:, None], channels, axis=1).tobytes())


def test_audio_and_cuts_survive_the_disk_cache(tmp_path: Path) -> None:
    clip = flash_clip()
    clip = Video(clip.frames, clip.fps, clip.audio, (5, 12))
    DiskCache(tmp_path).put("ab" * 20, {"video": clip, "audio": clip.audio})
    loaded = DiskCache(tmp_path).get("ab" * 20)
    video = loaded["video"]
    assert video.cuts == (5, 12) and video.audio.rate == 8000
    np.testing.assert_array_equal(video.audio.samples, clip.audio.samples)
    np.testing.assert_array_equal(loaded["audio"].samples, clip.audio.samples)


def test_audio_type_refuses_bad_tracks() -> None:
    with pytest.raises(ValueError, match="float32"):
        Audio(np.zeros((10, 2), np.float64), 8000)
    with pytest.raises(ValueError, match="rate"):
        Audio(np.zeros((10, 2), np.float32), 0)
    with pytest.raises(ValueError, match="cuts"):
        Video(np.zeros((4, 2, 2, 3), np.uint8), 10.0, cuts=(0,))


def test_load_audio_reads_wav_and_m4a(tmp_path: Path) -> None:
    write_wav(tmp_path / "a.wav", channels=2)
    audio = run_node(LOAD_AUDIO, FakeRunContext(), {}, path=str(tmp_path / "a.wav"))["audio"]
    assert audio.rate == 8000 and audio.channels == 2 and len(audio) == 4000
    assert 0.35 < np.abs(audio.samples).max() < 0.45
    part = run_node(
        LOAD_AUDIO, FakeRunContext(), {}, path=str(tmp_path / "a.wav"), start=0.25, duration=0.125
    )["audio"]
    assert len(part) == 1000
    write_aac(Audio(audio.samples.copy(), 8000), tmp_path / "a.m4a")
    again = read_audio(tmp_path / "a.m4a")
    assert again.rate == 8000 and abs(again.duration_s - 0.5) < 0.3


def test_load_audio_bad_files_say_why(tmp_path: Path) -> None:
    with pytest.raises(NodeError, match="no sound file chosen"):
        run_node(LOAD_AUDIO, FakeRunContext(), {})
    with pytest.raises(NodeError, match="not found"):
        run_node(LOAD_AUDIO, FakeRunContext(), {}, path=str(tmp_path / "missing.wav"))
    (tmp_path / "junk.wav").write_bytes(b"not a sound file at all" * 10)
    with pytest.raises(NodeError, match="cannot read junk.wav"):
        run_node(LOAD_AUDIO, FakeRunContext(), {}, path=str(tmp_path / "junk.wav"))
    write_wav(tmp_path / "short.wav")
    with pytest.raises(NodeError, match="past the end"):
        run_node(LOAD_AUDIO, FakeRunContext(), {}, path=str(tmp_path / "short.wav"), start=5.0)


def test_set_audio_offset_fade_and_trim() -> None:
    clip = flash_clip()  # 2 s of picture
    sound = Audio(np.full((8000, 1), 0.5, np.float32), 8000)  # 1 s of a constant level
    out = run_node(SET_AUDIO, FakeRunContext(), {"video": clip, "audio": sound}, offset=0.5)[
        "video"
    ]
    assert out.audio.duration_s == pytest.approx(2.0)  # padded to the picture
    assert tone_time(out.audio) == pytest.approx(0.5, abs=1e-3)
    faded = run_node(
        SET_AUDIO,
        FakeRunContext(),
        {"video": clip, "audio": sound},
        fade_in=0.5,
        trim_to_picture=False,
    )["video"]
    assert faded.audio.samples[0, 0] == 0 and faded.audio.samples[-1, 0] == pytest.approx(0.5)
    early = run_node(SET_AUDIO, FakeRunContext(), {"video": clip, "audio": sound}, offset=-0.75)
    assert np.count_nonzero(early["video"].audio.samples) == 2000
    gone = run_node(SET_AUDIO, FakeRunContext(), {"video": clip}, mode="remove")["video"]
    assert gone.audio is None and len(gone) == len(clip)


def test_set_audio_bad_input_says_why() -> None:
    clip = flash_clip()
    with pytest.raises(NodeError, match="connect a sound"):
        run_node(SET_AUDIO, FakeRunContext(), {"video": clip})
    sound = Audio(np.ones((800, 1), np.float32), 8000)
    with pytest.raises(NodeError, match="skips the whole sound"):
        run_node(SET_AUDIO, FakeRunContext(), {"video": clip, "audio": sound}, offset=-1.0)
    empty = Video(np.zeros((0, 4, 4, 3), np.uint8), 10.0)
    with pytest.raises(NodeError, match="empty"):
        run_node(SET_AUDIO, FakeRunContext(), {"video": empty, "audio": sound})


def test_save_video_muxes_aac_in_sync(tmp_path: Path) -> None:
    import av

    clip = flash_clip(frames=24, fps=12.0, at=12, size=(64, 48), rate=44100)
    ctx = FakeRunContext(tmp_path, workflow_json='{"nodes": {}}')
    files = run_node(SAVE_VIDEO, ctx, {"video": clip}, filename="sync")["files"]
    with av.open(files[0]) as container:
        assert json.loads(container.metadata.get("comment"))["nodes"] == {}
        stream = container.streams.audio[0]
        assert stream.codec_context.name == "aac"
        assert abs(float(container.duration / 1e6) - 2.0) < 0.1
    audio = read_audio(Path(files[0]))
    decoded = Video(clip.frames, clip.fps, audio)
    assert sync_error_frames(decoded) <= 1.0
    assert not [p for p in (tmp_path / "sync").iterdir() if p.name.startswith(".")]  # no temps


def test_load_video_reads_the_sound_under_the_frames_it_reads(tmp_path: Path) -> None:
    from nodes.io.video import LOAD_VIDEO

    clip = flash_clip(frames=24, fps=12.0, at=12, size=(64, 48), rate=44100)
    ctx = FakeRunContext(tmp_path)
    mp4 = run_node(SAVE_VIDEO, ctx, {"video": clip}, filename="round")["files"][0]
    loaded = run_node(LOAD_VIDEO, FakeRunContext(), path=mp4, start_frame=6)["video"]
    assert len(loaded) == 18 and loaded.audio is not None
    assert abs(loaded.audio.duration_s - loaded.duration_s) < 0.05
    assert sync_error_frames(loaded) <= 1.0  # the flash is at frame 6 now, and so is the tone
    silent = run_node(LOAD_VIDEO, FakeRunContext(), path=mp4, sound=False)["video"]
    assert silent.audio is None
