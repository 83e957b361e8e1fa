"""``studio queue`` and ``studio render --vary``, in-process and through real worker processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import queue_stubs

from studio.cli import main
from studio.graph.fileformat import save
from studio.queue import JobState, JobStore, variation_jobs
from studio.queue.variations import parse_vary

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def flow(tmp_path: Path) -> Path:
    graph = queue_stubs.chain(queue_stubs.registry(), "Up", "Scale", "Save")
    path = tmp_path / "shot.json"
    save(graph, path)
    return path


def events_of(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_queue_add_list_cancel_run(flow, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_TEST_LOG", str(tmp_path / "calls.log"))
    registry = queue_stubs.registry()
    out = tmp_path / "out"
    code = main(
        [
            "queue",
            "add",
            str(flow),
            "--out",
            str(out),
            "--vary",
            "Scale.k=1..3",
            "--set",
            "Up.value=2",
        ],
        registry=registry,
    )
    assert code == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert len(ids) == 3
    assert main(["queue", "cancel", ids[1]], registry=registry) == 0
    capsys.readouterr()
    assert main(["queue", "list", "--json"], registry=registry) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [j["state"] for j in listed] == ["queued", "cancelled", "queued"]
    assert listed[0]["overrides"] == {"Up.value": 2, "Scale.k": 1}

    assert main(["queue", "run", "--events", "jsonl"], registry=registry) == 0
    events = events_of(capsys.readouterr().out)
    kinds = [e["kind"] for e in events]
    assert kinds.count("job_started") == 2 and kinds.count("job_finished") == 2
    assert {e["state"] for e in events if e["kind"] == "job_finished"} == {"done"}
    assert all("job_id" in e for e in events)
    assert (tmp_path / "calls.log").read_text().split().count("Up:2") == 1

    assert main(["queue", "list"], registry=registry) == 0
    text = capsys.readouterr().out
    assert text.count("done") == 2 and "cancelled" in text and "x_2.npy" in text
    assert main(["queue", "cancel", "nope"], registry=registry) == 2
    assert "no job 'nope'" in capsys.readouterr().err
    assert main(["queue", "clear"], registry=registry) == 0
    assert main(["queue", "list"], registry=registry) == 0
    assert "the queue is empty" in capsys.readouterr().out


def test_render_vary_renders_every_variant_and_shares_upstream(flow, tmp_path, capsys, monkeypatch):
    log = tmp_path / "calls.log"
    monkeypatch.setenv("STUDIO_TEST_LOG", str(log))
    out = tmp_path / "out"
    registry = queue_stubs.registry()
    assert main(["queue", "add", str(flow)], registry=registry) == 0  # someone else's job
    capsys.readouterr()
    code = main(
        ["render", str(flow), "--out", str(out), "--vary", "Scale.k=2,3", "--vary", "Up.value=1,5"],
        registry=queue_stubs.registry(),
    )
    assert code == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4
    got = {}
    for line in lines:
        values, path = line.split("\t")
        got[values] = float(np.load(path).flat[0])
    assert got == {
        "Scale.k=2, Up.value=1": 2.0,
        "Scale.k=2, Up.value=5": 10.0,
        "Scale.k=3, Up.value=1": 3.0,
        "Scale.k=3, Up.value=5": 15.0,
    }
    ran = log.read_text().split()
    assert ran.count("Up:1") == 1 and ran.count("Up:5") == 1  # not once per Scale value
    with JobStore() as store:  # the batch is in the user's queue; the other job still waits
        states = [(j.batch is not None, j.state) for j in store.jobs()]
    assert states == [(False, JobState.QUEUED)] + [(True, JobState.DONE)] * 4
    assert not (flow.parent / "renders").exists()  # --out was honoured


def test_render_vary_refuses_a_bad_vary(flow, capsys):
    code = main(["render", str(flow), "--vary", "Scale.k=1..2:0"], registry=queue_stubs.registry())
    assert code == 2
    assert "cannot go in steps of 0" in capsys.readouterr().err


def test_queue_sheet_exports_a_batch_as_one_grid(tmp_path, capsys):
    registry = queue_stubs.registry()
    flow = tmp_path / "png.json"
    save(queue_stubs.chain(registry, "Up", "SavePng"), flow)
    add = ["queue", "add", str(flow), "--out", str(tmp_path / "out"), "--vary", "Up.value=2..4"]
    assert main(add, registry=registry) == 0
    assert main(["queue", "run"], registry=registry) == 0
    sheet = tmp_path / "sheet.png"
    assert main(["queue", "sheet", "--out", str(sheet)], registry=registry) == 0
    image = cv2.imread(str(sheet))
    assert image.shape[1] > 2 * 64 and image.shape[0] > 2 * 48  # 3 variants: 2 x 2 grid
    greys = {int(v) for v in np.unique(image)}
    assert {40, 60, 80} <= greys  # every variant's picture is on it
    assert main(["queue", "sheet", "--out", str(tmp_path / "s.gif")], registry=registry) == 2
    assert main(["queue", "sheet", "zzz", "--out", str(sheet)], registry=registry) == 2
    assert "no batch 'zzz'" in capsys.readouterr().err


WORKER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    import queue_stubs
    from studio.cli.queue import drain
    from studio.engine import Cache, Engine
    from studio.queue import JobStore

    # Results go to disk inside put(): a result the worker finished is on disk when it is killed.
    cache = Cache(Path(sys.argv[2]), disk_min_seconds=0, background=False)
    engine = Engine(queue_stubs.registry(), cache, device="cpu")
    with JobStore(Path(sys.argv[1])) as store:
        sys.exit(drain(store, engine, jsonl=True))
    """
)


def test_a_killed_worker_resumes_with_nothing_lost_or_run_twice(tmp_path):
    registry = queue_stubs.registry()
    graph = queue_stubs.chain(registry, "Up", "Gate", "Save")
    graph.find("Gate").set_param("block_on", 2.0)
    db, cache, log = tmp_path / "queue.sqlite", tmp_path / "cache", tmp_path / "calls.log"
    jobs = variation_jobs(
        graph, [parse_vary("Up.value=1,2,3", graph)], name="shot", output_dir=tmp_path / "out"
    )
    with JobStore(db) as store:
        store.add(jobs)
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        STUDIO_TEST_LOG=str(log),
    )
    command = [sys.executable, "-c", WORKER, str(db), str(cache)]

    read_end, write_end = os.pipe()
    first = subprocess.Popen(
        command,
        env={**env, "STUDIO_TEST_GATE_FD": str(write_end)},
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"x", "the worker died before the second job's Gate ran"
    finally:
        os.close(read_end)
        first.send_signal(signal.SIGKILL)
        first.communicate(timeout=60)
    assert first.returncode == -signal.SIGKILL

    with JobStore(db) as store:
        states = [j.state for j in store.jobs()]
        assert states == [JobState.DONE, JobState.RUNNING, JobState.QUEUED]
        assert [j.id for j in store.interrupted()] == [jobs[1].id]
    assert log.read_text().split() == ["Up:1", "Gate:1", "Save:1", "Up:2", "Gate:2"]

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert second.returncode == 0, second.stderr
    events = events_of(second.stdout)
    assert [e["job_id"] for e in events if e["kind"] == "job_requeued"] == [jobs[1].id]
    assert [e["job_id"] for e in events if e["kind"] == "job_started"] == [jobs[1].id, jobs[2].id]
    # Up:2 finished before the kill: it came from the cache; Gate:2 was cut short, so it reran.
    assert log.read_text().split() == [
        "Up:1", "Gate:1", "Save:1", "Up:2", "Gate:2",
        "Gate:2", "Save:2", "Up:3", "Gate:3", "Save:3",
    ]  # fmt: skip
    with JobStore(db) as store:
        done = sorted(store.jobs(), key=lambda j: j.variant)  # the restarted job moved first
    assert [j.state for j in done] == [JobState.DONE] * 3
    assert [j.attempts for j in done] == [1, 2, 1]
    up = graph.find("Up").id
    assert done[1].result["cached"] == [up]
    for value, job in zip((1, 2, 3), done, strict=True):
        np.testing.assert_array_equal(np.load(job.result["files"][0]), np.full((2, 2), value))


def test_each_variant_is_a_take_with_its_values(tmp_path, registry):
    from studio.graph.graph import Graph

    graph = Graph(registry)
    photo = graph.add("SampleImage", title="Photo")
    keep = graph.add("SaveImage", title="Keep", params={"filename": "still"})
    graph.connect(photo.id, "image", keep.id, "image")
    flow = tmp_path / "still.json"
    save(graph, flow)
    out = tmp_path / "out"
    vary = ["--vary", "Photo.photo=astronaut,coffee"]
    assert main(["queue", "add", str(flow), "--out", str(out), *vary], registry=registry) == 0
    assert main(["queue", "run"], registry=registry) == 0
    with JobStore() as store:
        jobs = store.jobs()
    assert [j.state for j in jobs] == [JobState.DONE] * 2
    takes = [j.result["takes"] for j in jobs]
    assert len({t[0] for t in takes}) == 2 and all(len(t) == 1 for t in takes)
    for job, photo_name in zip(jobs, ("astronaut", "coffee"), strict=True):
        png = next(Path(f) for f in job.result["files"] if f.endswith(".png"))
        assert png.parent.parent == out  # one shot folder for the batch: numbered takes
        sidecar = json.loads(png.with_suffix(".json").read_text())
        text = json.dumps(sidecar)
        assert f'"Photo.photo": "{photo_name}"' in text  # the variant's values travel with it


RENDER = textwrap.dedent(
    """
    import signal, sys
    # Ctrl-C as a terminal delivers it, even where the suite runs with SIGINT ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    import queue_stubs
    from studio.cli import main

    sys.exit(main(sys.argv[1:], registry=queue_stubs.registry()))
    """
)


def test_ctrl_c_on_render_vary_cancels_the_variants_not_rendered(tmp_path):
    graph = queue_stubs.chain(queue_stubs.registry(), "Up", "Gate", "Save")
    graph.find("Gate").set_param("block_on", 2.0)
    flow = tmp_path / "gate.json"
    save(graph, flow)
    read_end, write_end = os.pipe()
    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "tests")]),
        STUDIO_TEST_GATE_FD=str(write_end),
    )
    command = [sys.executable, "-c", RENDER, "render", str(flow), "--out", str(tmp_path)]
    process = subprocess.Popen(
        [*command, "--vary", "Up.value=1,2,3", "--events", "jsonl"],
        env=env,
        pass_fds=(write_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    os.close(write_end)
    try:
        assert os.read(read_end, 1) == b"x"  # the second variant is under way
    finally:
        os.close(read_end)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    assert "stopping" in process.stderr.readline()
    process.send_signal(signal.SIGINT)  # the Gate never checks for cancel: quit now
    process.communicate(timeout=60)
    assert process.returncode == 130
    with JobStore() as store:
        jobs = sorted(store.jobs(), key=lambda j: j.variant)
    assert [j.state for j in jobs] == [JobState.DONE, JobState.CANCELLED, JobState.CANCELLED]


def test_queue_run_for_people_says_what_each_job_did(flow, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STUDIO_TEST_LOG", str(tmp_path / "calls.log"))
    registry = queue_stubs.registry()
    assert main(["queue", "run"], registry=registry) == 0
    assert "nothing is queued" in capsys.readouterr().err
    add = ["queue", "add", str(flow), "--out", str(tmp_path), "--vary", "Scale.k=1,2"]
    assert main(add, registry=registry) == 0
    ids = [line.split()[0] for line in capsys.readouterr().out.splitlines()]
    assert main(["queue", "run"], registry=registry) == 0
    err = capsys.readouterr().err
    for job_id in ids:
        assert f"job {job_id}: shot [k=" in err and f"job {job_id} done" in err
    assert "Scale: done in" in err  # the render's own per-node lines
