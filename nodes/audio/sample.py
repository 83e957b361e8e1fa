"""Sample Audio: a short score synthesised in code, so examples have sound with no file to
ship or licence (it is generated, so it is royalty-free by construction).

"pad": a slow four-chord progression of soft sine partials with a fade at each change;
"pulse": the same chords as a gentle 8th-note pulse. Deterministic: same params, same samples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from studio.graph.spec import NodeSpec, Param, ParamKind, Port, RunContext
from studio.graph.types import Audio, PortType

RATE = 32_000
# A-minor-ish progression (Am, F, C, G): MIDI notes of each chord.
CHORDS = ((57, 60, 64, 69), (53, 57, 60, 65), (48, 55, 60, 64), (55, 59, 62, 67))


def _hz(note: int) -> float:
    return 440.0 * 2 ** ((note - 69) / 12)


def synthesise(kind: str, seconds: float, tempo: float) -> Audio:
    count = max(1, round(seconds * RATE))
    t = np.arange(count) / RATE
    bar = 4 * 60.0 / tempo  # one chord a bar of four beats
    out = np.zeros((count, 2), np.float32)
    for index in range(int(np.ceil(seconds / bar))):
        start, end = round(index * bar * RATE), min(count, round((index + 1.15) * bar * RATE))
        if start >= count:
            break
        local = t[start:end] - index * bar
        envelope = np.minimum(1.0, local / 0.4) * np.exp(-local / (2.5 * bar))
        if kind == "pulse":  # an 8th-note pluck on top of a quieter pad
            eighth = bar / 8
            envelope = envelope * (0.35 + 0.65 * np.exp(-(local % eighth) / (0.3 * eighth)))
        for voice, note in enumerate(CHORDS[index % len(CHORDS)]):
            tone = np.sin(2 * np.pi * _hz(note) * local) + 0.3 * np.sin(
                4 * np.pi * _hz(note) * local
            )
            pan = 0.3 + 0.4 * voice / 3  # spread the voices across the stereo field
            out[start:end, 0] += (0.06 * (1 - pan) * envelope * tone).astype(np.float32)
            out[start:end, 1] += (0.06 * pan * envelope * tone).astype(np.float32)
    fade = min(count, round(0.5 * RATE))
    out[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)[:, None]
    return Audio(np.clip(out, -1.0, 1.0), RATE)


def run_sample_audio(
    ctx: RunContext, inputs: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    audio = synthesise(params["sound"], params["seconds"], params["tempo"])
    ctx.info(f"{audio.duration_s:.2f} s of '{params['sound']}' at {RATE} Hz, generated")
    return {"audio": audio}


SAMPLE_AUDIO = NodeSpec(
    type_id="SampleAudio",
    title="Sample Audio",
    category="Input",
    version=1,
    help="A short score generated in code (royalty-free by construction): a soft chord pad or "
    "a gentle pulse, to try sound on without a file.",
    run=run_sample_audio,
    outputs=(Port("audio", PortType.AUDIO, "The generated sound, stereo."),),
    params=(
        Param(
            "sound",
            ParamKind.CHOICE,
            "pad",
            choices=("pad", "pulse"),
            help="A slow chord pad, or the same chords as a gentle pulse.",
        ),
        Param("seconds", ParamKind.FLOAT, 8.0, min=0.5, max=600.0, step=0.5, help="Length."),
        Param(
            "tempo", ParamKind.FLOAT, 72.0, min=30.0, max=200.0, step=1.0, help="Beats a minute."
        ),
    ),
)
