"""The Qt-free session: history, files, statuses per job, snapshots, ETA (no Qt imported)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ui_helpers import canonical, chain, stub_registry

from studio.engine.cache import Cache
from studio.engine.events import RunEvent, RunStatus
from studio.engine.scheduler import Engine
from studio.graph.commands import SetNodeAttribute, SetParam
from studio.graph.fileformat import WorkflowFileError
from studio.graph.graph import GraphError
from studio.session import NodeStatus, Session, SessionEventKind, Timings


@pytest.fixture
def session() -> Session:
    s = Session(stub_registry())
    s.events = []
    s.subscribe(s.events.append)
    return s


def kinds(session: Session) -> list[SessionEventKind]:
    return [e.kind for e in session.events]


def test_history_undo_redo_merge_and_clean(session):
    src, blur, _ = chain(session.graph, session)
    assert session.dirty and session.history.undo_label() == "Edit"
    for value in (3.0, 4.0, 5.0):
        session.push(SetParam(blur, "radius", value, label="Change radius"), merge_key="drag")
    assert session.history.count == 2  # the drag merged into one step
    session.undo()
    assert session.graph.node(blur).param("radius") == 2.0
    session.redo()
    assert session.graph.node(blur).param("radius") == 5.0
    session.set_clean()
    assert not session.dirty
    # No merging into the saved state: the next drag is its own step, and undo is dirty again.
    session.push(SetParam(blur, "radius", 6.0), merge_key="drag")
    assert session.history.count == 3 and session.dirty
    session.undo()
    assert not session.dirty
    assert SessionEventKind.HISTORY_CHANGED in kinds(session)
    assert SessionEventKind.FILE_CHANGED in kinds(session)


def test_refused_edit_records_nothing(session):
    src, blur, _ = chain(session.graph, session)
    before = canonical(session.graph)
    with pytest.raises(GraphError, match="no parameter"):
        session.push(SetParam(blur, "no_such_param", 1))
    assert session.history.count == 1 and canonical(session.graph) == before


def test_snapshot_is_independent(session):
    src, blur, _ = chain(session.graph, session)
    snap = session.snapshot()
    assert canonical(snap) == canonical(session.graph)
    session.push(SetParam(blur, "radius", 9.0))
    session.push(SetNodeAttribute(src, "title", "Plate"))
    assert snap.node(blur).param("radius") == 2.0 and snap.node(src).title == "Source"


def test_open_save_dirty_and_outputs_beside_workflow(session, tmp_path):
    chain(session.graph, session)
    with pytest.raises(ValueError):
        session.save()
    path = session.save(tmp_path / "shot" / "wf.json")
    assert path.exists() and not session.dirty
    assert session.output_dir == (tmp_path / "shot" / "renders").resolve()
    other = Session(stub_registry())
    assert other.open(path) == []
    assert canonical(other.graph) == canonical(session.graph) and other.path == path
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(WorkflowFileError):
        other.open(bad)
    assert other.path == path and len(other.graph.nodes) == 3  # nothing lost
    assert Session(stub_registry(), output_dir=tmp_path / "o").output_dir == tmp_path / "o"


def test_autosave_writes_only_new_unsaved_work(session, tmp_path):
    target = tmp_path / "recovery.json"
    assert not session.autosave(target)
    chain(session.graph, session)
    assert session.autosave(target)
    assert json.loads(target.read_text())["workflow"]
    assert not session.autosave(target)  # nothing new since
    session.undo()
    session.redo()
    session.set_clean()
    assert not session.autosave(target)


def _run(session: Session, engine: Engine, targets=None):
    job, snapshot = session.start_job(targets)
    result = engine.run(
        snapshot, targets, output_dir=session.output_dir, on_event=lambda e: session.feed(job.id, e)
    )
    return job, result


def test_statuses_follow_run_events_and_edits(session, tmp_path):
    engine = Engine(session.registry, Cache(disk=False), device="cpu")
    src, blur, anim = chain(session.graph, session)
    assert {session.node_status(n) for n in (src, blur, anim)} == {NodeStatus.STALE}
    job, result = _run(session, engine)
    assert result.status == "ok" and not job.running
    assert [session.node_status(n) for n in (src, blur, anim)] == [NodeStatus.CACHED] * 3
    session.push(SetParam(blur, "radius", 3.0))
    assert [session.node_status(n) for n in (src, blur, anim)] == [
        NodeStatus.CACHED,
        NodeStatus.STALE,
        NodeStatus.STALE,
    ]
    changed = [e for e in session.events if e.kind is SessionEventKind.STATUS_CHANGED]
    assert set(changed[-1].node_ids) == {blur, anim}


def test_failure_belongs_to_its_job_and_edit_clears_it(session):
    engine = Engine(session.registry, Cache(disk=False), device="cpu")
    src, blur, anim = chain(session.graph, session)
    session.push(SetParam(blur, "radius", 45.0))
    failed, _ = _run(session, engine)
    assert session.node_status(blur) is NodeStatus.FAILED
    assert "too large" in session.failure(blur)
    # A cache-state answer (the engine says "stale") does not hide the viewed job's failure.
    session.apply_cache_states({blur: "stale"}, session.state_token)
    assert session.node_status(blur) is NodeStatus.FAILED
    session.push(SetParam(blur, "radius", 4.0))
    assert session.node_status(blur) is NodeStatus.STALE and session.failure(blur) is None
    ok, _ = _run(session, engine)
    assert session.node_status(blur) is NodeStatus.CACHED
    assert [j.status for j in session.jobs.values()] == [RunStatus.FAILED, RunStatus.OK]
    session.undo()  # back to radius 45: the failed job is the one viewed, but edited since
    session.view_job(failed.id)
    assert session.viewed_job is failed


def test_jobs_keep_their_own_statuses(session):
    src, blur, anim = chain(session.graph, session)
    first, _ = session.start_job()
    second, _ = session.start_job([blur])
    session.feed(first.id, RunEvent("run_started", "r1", node_ids=(src, blur, anim)))
    session.feed(second.id, RunEvent("run_started", "r2", node_ids=(src, blur)))
    session.feed(first.id, RunEvent("node_started", "r1", anim))
    session.feed(first.id, RunEvent("node_progress", "r1", anim, step=1, total=4))
    # The latest job is viewed by default: anim is not in it, so it shows its cache state.
    assert session.viewed_job is second and session.node_status(anim) is NodeStatus.STALE
    assert session.node_status(src) is NodeStatus.QUEUED
    session.view_job(first.id)
    told = next(e for e in reversed(session.events) if e.kind is SessionEventKind.STATUS_CHANGED)
    assert set(told.node_ids) == {src, blur, anim}  # views redraw every badge
    assert session.node_status(anim) is NodeStatus.RUNNING
    assert session.node_progress(anim) == 0.25
    session.feed(first.id, RunEvent("run_finished", "r1", status="cancelled"))
    assert first.states[src] == "not run" and session.node_status(src) is NodeStatus.STALE


def test_stale_cache_answer_is_ignored(session):
    src, blur, _ = chain(session.graph, session)
    token = session.state_token
    session.push(SetParam(blur, "radius", 3.0))
    assert not session.apply_cache_states({blur: "cached"}, token)
    assert session.node_status(blur) is NodeStatus.STALE
    assert session.apply_cache_states({blur: "cached"}, session.state_token)
    assert session.node_status(blur) is NodeStatus.CACHED


def test_eta_estimates_from_history_and_says_estimating_until_it_can(session, tmp_path):
    src, blur, anim = chain(session.graph, session)
    job, _ = session.start_job()
    session.feed(job.id, RunEvent("run_started", "r", node_ids=(src, blur, anim)))
    assert session.remaining() is None  # no history: "estimating"
    timings = Timings(tmp_path / "t.json")
    timings.record(src, "Source", 1.0)
    timings.record(blur, "Blur", 2.0)
    timings.record("elsewhere", "Animate", 10.0)
    timings.save()
    session.timings = Timings(tmp_path / "t.json")  # read back from disk
    remaining = session.remaining()
    assert remaining == pytest.approx(13.0)  # anim known only by its type
    session.feed(job.id, RunEvent("node_cached", "r", src))
    assert session.remaining() == pytest.approx(12.0)


def test_keyframe_lookup_prefers_image_input(session):
    engine = Engine(session.registry, Cache(disk=False), device="cpu")
    src, blur, anim = chain(session.graph, session)
    assert session.keyframe_for(anim, engine.output) is None
    _run(session, engine)
    picture = session.keyframe_for(anim, engine.output)
    assert isinstance(picture, np.ndarray) and picture.shape == (24, 32, 3)


def test_open_video_without_workflow_is_a_clear_error(session, tmp_path):
    clip = tmp_path / "x.mp4"
    clip.write_bytes(b"not a movie")
    with pytest.raises(WorkflowFileError, match="no Studio workflow"):
        session.open(clip)


def test_session_imports_no_qt():
    probe = (
        "import sys, studio.session, studio.session.session; "
        "print([m for m in ('PySide6', 'shiboken6') if m in sys.modules])"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_registry_module_does_not_import_nodes():
    probe = "import sys, studio.graph.registry; print('nodes' in sys.modules)"
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.stdout.strip() == "False", done.stderr


def test_viewing_another_job_redraws_every_badge_of_an_opened_graph():
    from studio.graph.graph import Graph

    graph = Graph(stub_registry())
    ids = chain(graph)
    session = Session(stub_registry())
    session.set_graph(graph)  # as after Open: no node has been edited in this session
    events = []
    session.subscribe(events.append)
    job, _ = session.start_job()
    session.view_job(job.id)
    told = [e for e in events if e.kind is SessionEventKind.STATUS_CHANGED]
    assert told and set(told[-1].node_ids) == set(ids)
