"""Writing outputs safely: never through a planted symlink, all of a take or none of it, one
clear line for a full or read-only disk, and a database that survives kill -9."""

from __future__ import annotations

import errno
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from stage_helpers import run_node

from nodes.io import save_video
from nodes.io.save_video import SAVE_VIDEO
from studio.cli.common import WriteFailed
from studio.cli.media import write_output
from studio.cli.progress import ProgressPrinter
from studio.engine import RunEvent
from studio.engine.testing import FakeRunContext
from studio.graph.spec import NodeError
from studio.graph.types import PortType, Video
from studio.takes import TakesDB
from studio.takes.db import DB_NAME

ROOT = Path(__file__).resolve().parents[1]


def clip(frames: int = 4, size: tuple[int, int] = (32, 24), seed: int = 0) -> Video:
    rng = np.random.default_rng(seed)
    return Video(rng.integers(0, 255, (frames, size[1], size[0], 3), dtype=np.uint8), 8.0)


def leftovers(folder: Path) -> list[str]:
    """Hidden entries (staging folders, temps) under ``folder``."""
    return [str(p) for p in folder.rglob(".*")] if folder.exists() else []


def test_planted_symlinks_are_never_written_through(tmp_path):
    out = tmp_path / "out"
    folder = out / "shot"
    folder.mkdir(parents=True)
    victims = []
    for name in ("shot_v001.mp4", "shot_v001.json", "shot_v002_poster.png", "shot_v003.json"):
        victim = tmp_path / f"victim-{name}"
        victim.write_text("precious")
        (folder / name).symlink_to(victim)
        victims.append(victim)
    ctx = FakeRunContext(out, '{"nodes": {}}')
    first = run_node(SAVE_VIDEO, ctx, {"video": clip()})
    second = run_node(SAVE_VIDEO, ctx, {"video": clip(seed=1)})
    assert all(v.read_text() == "precious" for v in victims)
    for result in (first, second):
        main = Path(result["files"][0])
        assert not main.is_symlink() and main.stat().st_size > 1000
    assert first["take"] != second["take"]
    assert leftovers(out) == []


def test_a_full_disk_mid_take_fails_in_one_line_and_publishes_nothing(tmp_path, monkeypatch):
    out = tmp_path / "out"
    ctx = FakeRunContext(out, '{"nodes": {}}')
    kept = run_node(SAVE_VIDEO, ctx, {"video": clip()}, also_png_sequence=True)
    before = sorted(p.name for p in (out / "shot").iterdir())
    write_png = save_video._write_png
    written = []

    def fill_up(path: Path, frame: np.ndarray) -> None:
        if len(written) == 2:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        written.append(path)
        write_png(path, frame)

    monkeypatch.setattr(save_video, "_write_png", fill_up)
    with pytest.raises(NodeError) as failure:
        run_node(SAVE_VIDEO, ctx, {"video": clip(seed=2)}, also_png_sequence=True)
    assert str(failure.value) == f"cannot write to {out}: No space left on device"
    assert sorted(p.name for p in (out / "shot").iterdir()) == before  # mp4 + json not replaced
    assert SAVE_VIDEO.still_valid(kept)
    with TakesDB(out) as db:
        assert [t.name for t in db.list()] == ["shot_v001"]
    assert leftovers(out) == []


def test_a_database_that_cannot_be_written_leaves_no_take(tmp_path, monkeypatch):
    import sqlite3

    from studio.takes.db import TakesDB as DB

    def full(self: DB, take: object) -> None:
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr(DB, "record", full)
    with pytest.raises(NodeError, match=r"^cannot record the take in .*takes.sqlite: database or"):
        run_node(SAVE_VIDEO, FakeRunContext(tmp_path, "{}"), {"video": clip()})
    assert not (tmp_path / "shot").exists() and leftovers(tmp_path) == []


def test_an_unwritable_output_folder_is_one_line(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    ctx = FakeRunContext(blocker / "out", '{"nodes": {}}')
    with pytest.raises(NodeError, match=r"^cannot write to .*file/out/shot: Not a directory$"):
        run_node(SAVE_VIDEO, ctx, {"video": clip()})
    with pytest.raises(WriteFailed, match=r"^cannot write to .*: Not a directory$"):
        write_output(PortType.IMAGE, clip().frames[0], blocker / "x", "image")


def test_target_outputs_replace_all_or_nothing(tmp_path, monkeypatch):
    import studio.cli.media as media

    first = write_output(PortType.VIDEO, clip(), tmp_path, "Stabilize_video")
    assert [p.name for p in first] == ["Stabilize_video.mp4", "Stabilize_video_frames"]
    before = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}

    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(media, "write_mp4", full)
    with pytest.raises(WriteFailed, match="No space left on device"):
        write_output(PortType.VIDEO, clip(seed=3), tmp_path, "Stabilize_video")
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == before
    monkeypatch.undo()
    again = write_output(PortType.VIDEO, clip(frames=2), tmp_path, "Stabilize_video")
    assert len(list(again[1].iterdir())) == 2 and leftovers(tmp_path) == []


def test_an_output_folder_starting_with_a_dash_is_a_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_node(SAVE_VIDEO, FakeRunContext(Path("-out"), "{}"), {"video": clip()})
    assert (tmp_path / "-out" / "shot" / "shot_v001.mp4").stat().st_size > 1000
    assert result["take"] == "shot_v001"


def test_a_clip_one_pixel_high_is_refused_clearly(tmp_path):
    thin = Video(np.zeros((3, 1, 500, 3), np.uint8), 8.0)
    with pytest.raises(NodeError, match=r"the clip is 500x1 px: H.264 video \(yuv420p\) needs"):
        run_node(SAVE_VIDEO, FakeRunContext(tmp_path, "{}"), {"video": thin})
    assert leftovers(tmp_path) == [] and not (tmp_path / "shot").exists()


def test_a_file_size_limit_names_the_reason(tmp_path):
    script = textwrap.dedent(
        f"""
        import resource, sys
        import numpy as np
        sys.path.insert(0, {str(ROOT / "tests")!r})
        from stage_helpers import run_node
        from nodes.io.save_video import SAVE_VIDEO
        from studio.engine.testing import FakeRunContext
        from studio.graph.spec import NodeError
        from studio.graph.types import Video
        frames = np.random.default_rng(0).integers(0, 255, (24, 128, 128, 3), dtype=np.uint8)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))
        try:
            ctx = FakeRunContext({str(tmp_path)!r}, "{{}}")
            run_node(SAVE_VIDEO, ctx, {{"video": Video(frames, 8.0)}})
        except NodeError as error:
            print(error)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    message = done.stdout.strip()
    assert message.startswith("ffmpeg could not write a new take of shot: "), done.stderr
    assert "file size limit" in message or "File too large" in message
    assert leftovers(tmp_path) == []


def test_titles_with_terminal_escapes_print_escaped(capsys):
    printer = ProgressPrinter({"n": "evil\x1b[2J\x1b]0;pwned\x07title"})
    printer(RunEvent("node_info", "run", "n", message="ok\x1b[31m"))
    err = capsys.readouterr().err
    assert "\x1b" not in err and "\x07" not in err
    assert "evil\\x1b[2J" in err and "ok\\x1b[31m" in err


WRITER = """
import sys
from pathlib import Path
from studio.takes import Take, TakeWriter
out = Path(sys.argv[1])
for index in range(10_000):
    with TakeWriter(out, "shot") as writer:
        writer.staged(".json").write_text("{}")
        writer.staged(".png").write_bytes(b"x" * (index % 7 + 1) * 1000)
        take = writer.publish(Take(shot="shot", number=0, note=str(index)))
    print(take.number, flush=True)
"""


@pytest.mark.parametrize("kill_after", [0, 1, 4])
def test_the_takes_database_survives_kill_9_mid_write(tmp_path, kill_after):
    process = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(tmp_path)],
        stdout=subprocess.PIPE,
        text=True,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
    )
    assert process.stdout is not None
    for _ in range(kill_after):
        process.stdout.readline()
    process.send_signal(signal.SIGKILL)  # wherever it is: staging, publishing or committing
    process.wait()
    check = sqlite3.connect(tmp_path / DB_NAME)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    check.close()
    # The next writer sweeps what the killed one left and adopts what it published.
    proc = subprocess.run(
        [sys.executable, "-c", WRITER.replace("10_000", "1"), str(tmp_path)],
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    with TakesDB(tmp_path) as db:
        takes = db.list()
    on_disk = sorted(p.name for p in (tmp_path / "shot").glob("shot_v*.png"))
    assert sorted(t.paths()[0].name for t in takes) == on_disk  # no lost take, no phantom
    assert len(takes) >= kill_after + 1
    assert leftovers(tmp_path / "shot") == []
    assert not [
        p
        for p in (tmp_path / "shot").iterdir()
        if p.suffix == ".json" and not p.with_suffix(".png").exists()
    ]
