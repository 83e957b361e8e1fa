"""The render queue: jobs as snapshots, the SQLite store, the worker, variations."""

from __future__ import annotations

import random
import sqlite3
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import queue_stubs

from studio.engine import Cache, Engine
from studio.graph.fileformat import loads
from studio.graph.registry import NodeRegistry
from studio.graph.spec import NodeSpec, Param, ParamKind, Port
from studio.graph.types import PortType
from studio.queue import (
    Job,
    JobNotFound,
    JobState,
    JobStore,
    QueueError,
    QueueEventKind,
    QueueWorker,
    VariationError,
    new_job,
    parse_vary,
    variation_jobs,
)
from studio.queue.store import SCHEMA_VERSION
from studio.queue.variations import combinations, parse_values


@pytest.fixture
def registry_() -> NodeRegistry:
    return queue_stubs.registry()


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    with JobStore(tmp_path / "queue.sqlite") as store:
        yield store


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "calls.log"
    monkeypatch.setenv("STUDIO_TEST_LOG", str(path))
    return path


def calls(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


def engine_for(registry: NodeRegistry, tmp_path: Path) -> Engine:
    return Engine(registry, Cache(tmp_path / "cache", disk_min_seconds=0), device="cpu")


def simple_job(registry: NodeRegistry, out: Path, value: float = 1.0, name: str = "job") -> Any:
    graph = queue_stubs.chain(registry, "Up", "Save")
    graph.find("Up").set_param("value", value)
    return new_job(graph, name=name, output_dir=out)


# -- the store ------------------------------------------------------------------------------


def test_store_keeps_order_and_finds_jobs_by_id_prefix(store, registry_, tmp_path):
    jobs = [simple_job(registry_, tmp_path, v, f"j{v:g}") for v in (1, 2, 3)]
    store.add(jobs)
    assert [j.name for j in store.jobs()] == ["j1", "j2", "j3"]
    assert all(j.state is JobState.QUEUED for j in store.jobs())
    assert store.get(jobs[1].id[:10]).name == "j2"
    with pytest.raises(JobNotFound, match="no job"):
        store.get("nope")
    store.move(jobs[2].id, 0)
    assert [j.name for j in store.jobs()] == ["j3", "j1", "j2"]
    store.move(jobs[2].id, 99)
    assert [j.name for j in store.jobs()] == ["j1", "j2", "j3"]


def test_pause_resume_cancel_and_cancel_all(store, registry_, tmp_path):
    jobs = store.add([simple_job(registry_, tmp_path, v) for v in (1, 2, 3)])
    assert store.pause(jobs[0].id).state is JobState.PAUSED
    assert store.claim("w").id == jobs[1].id  # a paused job is skipped
    assert store.resume(jobs[0].id).state is JobState.QUEUED
    assert store.cancel(jobs[2].id).state is JobState.CANCELLED
    with pytest.raises(QueueError, match="cancelled; it cannot become paused"):
        store.pause(jobs[2].id)
    assert store.retry(jobs[2].id).state is JobState.QUEUED
    assert store.cancel_all() == 3  # the queued, the running and the retried one
    assert {j.state for j in store.jobs()} == {JobState.CANCELLED}


def test_a_claimed_job_is_not_claimed_twice(store, registry_, tmp_path):
    store.add([simple_job(registry_, tmp_path, v) for v in (1, 2)])
    with JobStore(store.path) as other:  # another process's connection
        first, second = store.claim("a"), other.claim("b")
        assert first.id != second.id and other.claim("c") is None
    assert first.attempts == 1 and first.state is JobState.RUNNING


def test_schema_version_and_bad_files(tmp_path):
    path = tmp_path / "q.sqlite"
    with JobStore(path) as store:
        assert store.schema_version == SCHEMA_VERSION
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(QueueError, match="newer Studio"):
        JobStore(path)
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(QueueError, match="not a usable queue database"):
        JobStore(junk)


def test_the_store_lives_in_the_data_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path / "data"))
    with JobStore() as store:
        assert store.path == tmp_path / "data" / "queue.sqlite"


# -- jobs are snapshots ---------------------------------------------------------------------


def test_editing_the_graph_after_queueing_changes_nothing(store, registry_, tmp_path, log):
    graph = queue_stubs.chain(registry_, "Up", "Save")
    graph.find("Up").set_param("value", 4.0)
    store.add(new_job(graph, name="snap", output_dir=tmp_path / "out"))
    graph.find("Up").set_param("value", 99.0)  # the artist goes on editing
    graph.remove(graph.find("Save").id)
    QueueWorker(store, engine_for(registry_, tmp_path)).drain()
    (job,) = store.jobs()
    assert job.state is JobState.DONE
    np.testing.assert_array_equal(np.load(tmp_path / "out" / "x_4.npy"), np.full((2, 2), 4.0))
    assert calls(log) == ["Up:4", "Save:4"]


# -- the worker -----------------------------------------------------------------------------


def test_worker_drains_in_order_records_results_and_goes_on_after_a_failure(
    store, registry_, tmp_path, log
):
    good = simple_job(registry_, tmp_path / "a", 1.0, "good")
    bad_graph = queue_stubs.chain(registry_, "Up", "Save")
    bad_graph.find("Up").set_param("value", 2.0)
    bad = new_job(bad_graph, name="bad", output_dir=tmp_path / "b")
    bad.workflow = bad.workflow.replace('"Save"', '"Missing"', 1)  # a node type nobody has
    last = simple_job(registry_, tmp_path / "c", 3.0, "last")
    store.add([good, bad, last])
    events: list[Any] = []
    ran = QueueWorker(store, engine_for(registry_, tmp_path), on_event=events.append).drain()
    assert [j.state for j in ran] == [JobState.DONE, JobState.FAILED, JobState.DONE]
    assert ran[0].result["files"] == [str(tmp_path / "a" / "x_1.npy")]
    assert ran[0].progress == 1.0 and ran[0].result["executed"]
    assert "Missing" in ran[1].message
    started = [e.job_id for e in events if e.kind is QueueEventKind.JOB_STARTED]
    assert started == [good.id, bad.id, last.id]
    finished = [e for e in events if e.kind is QueueEventKind.JOB_FINISHED]
    assert [e.state for e in finished] == [JobState.DONE, JobState.FAILED, JobState.DONE]
    run_events = [e.to_json() for e in events if e.kind is QueueEventKind.RUN]
    assert all(e["job_id"] for e in run_events) and run_events[0]["kind"] == "run_started"


class Blocking:
    """A node that says it started, then waits for the test to let it go on."""

    def __init__(self) -> None:
        self.started = threading.Event()
        self.proceed = threading.Event()
        self.runs = 0

    def run(self, ctx: Any, inputs: Mapping[str, Any], params: Mapping[str, Any]) -> dict:
        self.runs += 1
        self.started.set()
        assert self.proceed.wait(30)
        ctx.progress(1, 2)  # a cancelled job stops here
        return {"out": inputs["a"]}

    def registry(self) -> NodeRegistry:
        specs = list(queue_stubs.registry()) + [
            NodeSpec(
                "Block",
                "Block",
                "Test",
                self.run,
                inputs=(Port("a", PortType.ANY),),
                outputs=(Port("out", PortType.ANY),),
                params=(Param("n", ParamKind.INT, 0, help="Unused."),),
            )
        ]
        return NodeRegistry(specs)


@pytest.mark.parametrize("action", ["cancel", "pause"])
def test_cancel_or_pause_a_running_job_from_another_connection(tmp_path, log, action):
    block = Blocking()
    registry = block.registry()
    with JobStore(tmp_path / "q.sqlite") as store:
        graph = queue_stubs.chain(registry, "Up", "Block", "Save")
        store.add(new_job(graph, name="long", output_dir=tmp_path / "out"))
        worker = QueueWorker(store, engine_for(registry, tmp_path), report_interval=0.0)
        thread = threading.Thread(target=worker.drain)
        thread.start()
        assert block.started.wait(30)
        with JobStore(store.path) as other:  # `studio queue cancel` in another process
            getattr(other, action)(store.jobs()[0].id)
        block.proceed.set()
        thread.join(30)
        (job,) = store.jobs()
        assert job.state is (JobState.CANCELLED if action == "cancel" else JobState.PAUSED)
        assert not list((tmp_path / "out").glob("*.npy"))
        if action == "pause":  # resumed, it restarts with its finished nodes from the cache
            store.resume(job.id)
            (job,) = QueueWorker(store, engine_for(registry, tmp_path)).drain()
            assert job.state is JobState.DONE and job.attempts == 2
            assert calls(log) == ["Up:1", "Save:1"] and block.runs == 2
            assert job.result["cached"] == [graph.find("Up").id]


def test_interrupting_the_worker_puts_the_job_back(tmp_path, log):
    block = Blocking()
    registry = block.registry()
    with JobStore(tmp_path / "q.sqlite") as store:
        store.add(
            new_job(queue_stubs.chain(registry, "Up", "Block"), name="j", output_dir=tmp_path)
        )
        worker = QueueWorker(store, engine_for(registry, tmp_path))
        worker.start()
        assert block.started.wait(30)
        worker.stop(interrupt=True)
        block.proceed.set()
        assert worker.join(30)
        (job,) = store.jobs()
        assert job.state is JobState.QUEUED and "interrupted" in job.message


def test_a_started_worker_picks_up_jobs_added_later(tmp_path, registry_, log):
    with JobStore(tmp_path / "q.sqlite") as store:
        finished = threading.Event()

        def on_event(event: Any) -> None:
            if event.kind is QueueEventKind.JOB_FINISHED:
                finished.set()

        worker = QueueWorker(store, engine_for(registry_, tmp_path), on_event=on_event)
        worker.start()
        store.add(simple_job(registry_, tmp_path, 7.0))
        worker.notify()
        assert finished.wait(30)
        worker.stop()
        assert worker.join(30)
        assert store.jobs()[0].state is JobState.DONE


# -- variations -----------------------------------------------------------------------------


SEED = Param("seed", ParamKind.SEED, 0, min=0, max=2**32 - 1)
FLOAT = Param("x", ParamKind.FLOAT, 0.0)
CHOICE = Param("c", ParamKind.CHOICE, "a", choices=("a", "b"))


@pytest.mark.parametrize(
    ("text", "param", "values"),
    [
        ("1,2,5", SEED, [1, 2, 5]),
        ("1..8", SEED, [1, 2, 3, 4, 5, 6, 7, 8]),
        ("8..5", SEED, [8, 7, 6, 5]),
        ("0..10:5", SEED, [0, 5, 10]),
        ("0.1..0.5:0.1", FLOAT, [0.1, 0.2, 0.3, 0.4, 0.5]),
        ("-1..1:0.5", FLOAT, [-1.0, -0.5, 0.0, 0.5, 1.0]),
        ("0.5,2", FLOAT, [0.5, 2]),
        ("a,b", CHOICE, ["a", "b"]),
        ("2.0,3", SEED, [2, 3]),
    ],
)
def test_vary_values(text, param, values):
    assert parse_values(text, param) == values


def test_random_seeds_are_distinct_and_in_range():
    seeds = parse_values("rand:8", SEED, random.Random(1))
    assert len(set(seeds)) == 8 and all(0 <= s <= 2**32 - 1 for s in seeds)
    small = Param("seed", ParamKind.SEED, 0, min=0, max=3)
    assert sorted(parse_values("rand:9", small, random.Random(1))) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("Scale.k=", "at least one value"),
        ("Scale.k=1..5:-1", "cannot go in steps"),
        ("Scale.k=1..5:0", "cannot go in steps"),
        ("Scale.k=0..1:0.0000001", "at most 1000"),
        ("Scale.k=rand:3", "use it on a seed"),
        ("Scale.seed=rand:x", "whole number"),
        ("Scale.seed=1.5,2", "expects an integer"),
        ("Scale.nope=1", "no parameter 'nope'"),
        ("Nobody.k=1", "Nobody"),
        ("k=1", "NODE.PARAM=VALUES"),
    ],
)
def test_bad_vary_is_a_clear_error(registry_, text, error):
    graph = queue_stubs.chain(registry_, "Up", "Scale")
    with pytest.raises(VariationError, match=error):
        parse_vary(text, graph)


def test_several_varies_give_their_product(registry_):
    graph = queue_stubs.chain(registry_, "Up", "Scale")
    variations = [parse_vary("Up.value=1,2", graph), parse_vary("Scale.k=10..30:10", graph)]
    combos = combinations(variations)
    assert combos == [{"Up.value": a, "Scale.k": b} for a in (1, 2) for b in (10, 20, 30)]


def test_a_variation_batch_runs_shared_upstream_once(store, registry_, tmp_path, log):
    graph = queue_stubs.chain(registry_, "Up", "Scale", "Save")
    graph.find("Up").set_param("value", 3.0)
    jobs = variation_jobs(
        graph,
        [parse_vary("Scale.k=1..4", graph)],
        name="shot",
        output_dir=tmp_path / "out",
    )
    store.add(jobs)
    events: list[Any] = []
    ran = QueueWorker(store, engine_for(registry_, tmp_path), on_event=events.append).drain()
    assert [j.state for j in ran] == [JobState.DONE] * 4
    up = graph.find("Up").id
    started = [
        e.run_event.node_id for e in events if e.run_event and e.run_event.kind == "node_started"
    ]
    assert started.count(up) == 1  # the upstream node executed once for the whole batch
    cached = [
        e.run_event.node_id for e in events if e.run_event and e.run_event.kind == "node_cached"
    ]
    assert cached.count(up) == 3
    assert calls(log).count("Up:3") == 1 and sorted(c for c in calls(log) if "Scale" in c) == [
        "Scale:1",
        "Scale:2",
        "Scale:3",
        "Scale:4",
    ]
    # Each variant wrote its own file and carries its values, in the job and in the workflow.
    files = [Path(j.result["files"][0]) for j in ran]
    assert len(set(files)) == 4
    for k, (job, path) in enumerate(zip(ran, files, strict=True), start=1):
        np.testing.assert_array_equal(np.load(path), np.full((2, 2), 3.0 * k))
        assert job.overrides == {"Scale.k": k} and job.batch == jobs[0].batch
        snapshot = loads(job.workflow, registry_).graph
        assert snapshot.metadata["variation"]["values"] == {"Scale.k": k}
        assert snapshot.find("Scale").param("k") == k
    assert graph.find("Scale").param("k") == 1.0  # the artist's graph is untouched


def test_render_job_is_plain_python_without_a_store(registry_, tmp_path, log):
    """What a farm worker calls: a job (JSON-ready text) and an engine, no database."""
    from studio.queue import render_job

    job = simple_job(registry_, tmp_path / "farm", 9.0)
    copy = Job(**{**job.__dict__})  # e.g. rebuilt from to_json() + workflow on another machine
    events: list[str] = []
    outcome = render_job(
        engine_for(registry_, tmp_path), copy, on_event=lambda e: events.append(e.kind)
    )
    assert outcome.state is JobState.DONE and outcome.result["files"] == [
        str(tmp_path / "farm" / "x_9.npy")
    ]
    assert events[0] == "run_started" and events[-1] == "run_finished"
    broken = simple_job(registry_, tmp_path, 1.0)
    broken.workflow = "{not json"
    failed = render_job(engine_for(registry_, tmp_path), broken)
    assert failed.state is JobState.FAILED and "not valid JSON" in failed.message


def test_a_worker_beats_while_a_slow_node_reports_nothing(tmp_path, log):
    block = Blocking()
    registry = block.registry()
    beats = threading.Event()

    class Store(JobStore):
        def heartbeat(self, job_id: str, worker: str) -> None:
            super().heartbeat(job_id, worker)
            beats.set()

    with Store(tmp_path / "q.sqlite") as store:
        store.add(
            new_job(queue_stubs.chain(registry, "Up", "Block"), name="j", output_dir=tmp_path)
        )
        worker = QueueWorker(store, engine_for(registry, tmp_path), heartbeat_interval=0.01)
        thread = threading.Thread(target=worker.drain)
        thread.start()
        assert block.started.wait(30)
        claimed = store.jobs()[0].started
        assert beats.wait(30)  # the node is still blocked: no progress, yet a beat
        block.proceed.set()
        thread.join(30)
        (job,) = store.jobs()
        assert job.state is JobState.DONE and claimed is not None


def test_a_job_cleared_the_moment_it_finishes_does_not_stop_the_worker(registry_, tmp_path, log):
    class Store(JobStore):
        def finish(self, job_id: str, *args: Any, **kwargs: Any) -> JobState:
            final = super().finish(job_id, *args, **kwargs)
            self.remove_finished()  # the artist pressed "Clear" right then
            return final

    with Store(tmp_path / "q.sqlite") as store:
        store.add([simple_job(registry_, tmp_path, v) for v in (1, 2)])
        ran = QueueWorker(store, engine_for(registry_, tmp_path)).drain()
        assert [j.state for j in ran] == [JobState.DONE, JobState.DONE]
        assert store.jobs() == []
