"""Sound: Load Audio reads a file, Sample Audio generates a score, Set Audio lays a track
under a clip.

A clip's track rides on its :class:`~studio.graph.types.Video` (``video.audio``), so every node
after Set Audio carries it: the timing nodes cut and retime it, Sequence joins it across cuts,
Interpolate keeps it, Save Video muxes it as AAC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nodes.audio import track
from nodes.audio.files import AUDIO_FILTER, read_audio
from nodes.audio.sample import SAMPLE_AUDIO
from studio.graph.spec import NodeError, NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Audio, PortType, Video

# -- LoadAudio -----------------------------------------------------------------------------------


def run_load_audio(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    if not params["path"]:
        raise NodeError("no sound file chosen: set 'path' to a wav, mp3, flac or m4a file")
    path = Path(params["path"]).expanduser()
    if not path.is_file():
        raise NodeError(f"sound file not found: {path}")
    audio = read_audio(path, params["start"], params["duration"], ctx.progress)
    ctx.info(f"{audio.duration_s:.2f} s, {audio.rate} Hz, {audio.channels} channel(s)")
    return {"audio": audio}


LOAD_AUDIO = NodeSpec(
    type_id="LoadAudio",
    title="Load Audio",
    category="Input",
    version=1,
    help="Reads a sound file (wav, mp3, flac, m4a/aac, ogg, or the sound of a movie file) at its "
    "own sample rate.",
    run=run_load_audio,
    outputs=(Port("audio", PortType.AUDIO, "The sound, float samples per channel."),),
    params=(
        Param(
            "path",
            ParamKind.FILE,
            "",
            file_filter=AUDIO_FILTER,
            reads_file=True,
            help="The sound file.",
        ),
        Param(
            "start",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=36_000.0,
            step=0.1,
            help="Skip this many seconds from the start of the file.",
        ),
        Param(
            "duration",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=36_000.0,
            step=0.1,
            help="Read at most this many seconds; 0 reads to the end.",
        ),
    ),
)


# -- SetAudio ------------------------------------------------------------------------------------


def set_audio(video: Video, audio: Audio | None, params: Mapping[str, Any]) -> Video:
    mode = params["mode"]
    if mode == "remove":
        return dataclasses.replace(video, audio=None)
    if audio is None:
        raise NodeError("connect a sound to 'audio' (or choose mode 'remove')")
    if not len(audio):
        raise NodeError("the sound on 'audio' is empty (0 samples)")
    offset = params["offset"]
    # A positive offset starts the sound later; a negative one starts partway into it.
    if offset >= 0:
        placed = track.concat([track.silence(offset, audio.rate, audio.channels), audio])
    else:
        placed = track.cut(audio, -offset)
        if not len(placed):
            raise NodeError(
                f"an offset of {offset:g} s skips the whole sound ({audio.duration_s:.2f} s)"
            )
    gain = 10 ** (params["gain_db"] / 20)
    if gain != 1:
        placed = Audio((placed.samples * gain).astype("float32"), placed.rate)
    if params["trim_to_picture"]:
        placed = track.fit(placed, video.duration_s)
    if mode == "mix" and video.audio is not None:
        placed = track.mix_at(video.audio, placed, 0.0)
    placed = track.fade(placed, params["fade_in"], params["fade_out"])
    return dataclasses.replace(video, audio=placed)


def run_set_audio(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    video = inputs.get("video")
    if not isinstance(video, Video) or len(video) == 0:
        raise NodeError("the clip on 'video' is empty (0 frames)")
    out = set_audio(video, inputs.get("audio"), params)
    if out.audio is not None:
        ctx.info(f"{out.audio.duration_s:.2f} s of sound under {video.duration_s:.2f} s of picture")
    return {"video": out}


SET_AUDIO = NodeSpec(
    type_id="SetAudio",
    title="Set Audio",
    category="Audio",
    version=1,
    help="Lays a sound under a clip: replace its track, mix with it, or remove it; shift it, "
    "fade it in and out, and trim it to the picture.",
    run=run_set_audio,
    inputs=(
        Port("video", PortType.VIDEO, "The clip."),
        Port("audio", PortType.AUDIO, "The sound to lay under it.", optional=True),
    ),
    outputs=(Port("video", PortType.VIDEO, "The clip with its new sound."),),
    params=(
        Param(
            "mode",
            ParamKind.CHOICE,
            "replace",
            choices=("replace", "mix", "remove"),
            help="Replace the clip's sound, mix the new sound into it, or remove the sound.",
        ),
        Param(
            "offset",
            ParamKind.FLOAT,
            0.0,
            min=-36_000.0,
            max=36_000.0,
            step=0.1,
            help="Seconds: positive starts the sound later, negative starts partway into it.",
        ),
        Param(
            "gain_db",
            ParamKind.FLOAT,
            0.0,
            min=-60.0,
            max=24.0,
            step=1.0,
            label="Gain (dB)",
            help="Loudness change in decibels (0 keeps it).",
        ),
        Param("fade_in", ParamKind.FLOAT, 0.0, min=0.0, max=600.0, step=0.1, help="Seconds."),
        Param(
            "fade_out",
            ParamKind.FLOAT,
            0.0,
            min=0.0,
            max=600.0,
            step=0.1,
            help="Seconds, ending at the end of the sound (the picture's end when trimmed).",
        ),
        Param(
            "trim_to_picture",
            ParamKind.BOOL,
            True,
            help="Cut (or pad with silence) the sound to the clip's length.",
        ),
    ),
)


SPECS = (LOAD_AUDIO, SAMPLE_AUDIO, SET_AUDIO)
