"""The render farm on a real local Ray cluster started by this module (no mocks of Ray).

Each farm here gives every worker process a private cache folder (``{pid}``), so a result one
worker made can reach another only through Ray's object store. Threads and processes are
ordered by events the farm reports (a worker's pid, a node's progress), never by a clock.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

ray = pytest.importorskip("ray")

import farm_stubs  # noqa: E402
from PIL import Image  # noqa: E402

from studio.engine import Cache, Engine  # noqa: E402
from studio.farm import FarmError, RayFarm, WorkerConfig  # noqa: E402
from studio.farm.driver import FarmLost  # noqa: E402
from studio.farm.plan import plan_shared  # noqa: E402
from studio.farm.queue_runner import run_queue  # noqa: E402
from studio.graph.fileformat import loads  # noqa: E402
from studio.graph.graph import Graph  # noqa: E402
from studio.queue import JobState, JobStore, QueueWorker, parse_vary, variation_jobs  # noqa: E402
from studio.queue.worker import QueueEventKind  # noqa: E402

TESTS = Path(__file__).parent


@pytest.fixture(scope="module")
def cluster() -> Any:
    """A local Ray cluster with 4 logical CPUs and 4 logical GPUs (stopped at the end)."""
    paths = [str(TESTS.parent), str(TESTS), os.environ.get("PYTHONPATH", "")]
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)
    ray.init(
        num_cpus=4,
        num_gpus=4,
        include_dashboard=False,
        log_to_driver=False,
        _node_ip_address="127.0.0.1",
    )
    yield
    ray.shutdown()


def farm_for(tmp_path: Path, **kwargs: Any) -> RayFarm:
    config = WorkerConfig(registry="farm_stubs:registry", cache_dir=str(tmp_path / "cache-{pid}"))
    farm = RayFarm(config=config, **kwargs)
    farm.start()
    return farm


def shot(*middle: tuple[str, dict[str, Any]]) -> Graph:
    """Source -> Tint -> (middle nodes) -> SaveImage "shot"."""
    graph = Graph(farm_stubs.registry())
    source = graph.add("Source", title="Source")
    tint = graph.add("Tint", title="Tint")
    graph.connect(source.id, "image", tint.id, "image")
    last = tint
    for type_id, params in middle:
        node = graph.add(type_id, title=type_id)
        for name, value in params.items():
            node.set_param(name, value)
        graph.connect(last.id, "image", node.id, "image")
        last = node
    save = graph.add("SaveImage", title="Save")
    save.set_param("filename", "shot")
    graph.connect(last.id, "image", save.id, "image")
    return graph


def batch(graph: Graph, out: Path, seeds: str = "1..4") -> list[Any]:
    return variation_jobs(
        graph, [parse_vary(f"Tint.seed={seeds}", graph)], name="shot", output_dir=out
    )


def take_pictures(out: Path) -> dict[str, np.ndarray]:
    """Every take PNG under ``out``, decoded, by file name."""
    return {
        str(p.relative_to(out)): np.asarray(Image.open(p)) for p in sorted(out.rglob("shot_v*.png"))
    }


def same_pictures(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> bool:
    """The same decoded pictures, whatever take number each got (farm jobs finish in any
    order, and take numbers follow the order takes are published)."""

    def key(p: np.ndarray) -> bytes:
        return p.tobytes()

    return len(a) == len(b) and all(
        np.array_equal(x, y)
        for x, y in zip(sorted(a.values(), key=key), sorted(b.values(), key=key), strict=True)
    )


def render_in_process(jobs: list[Any], tmp_path: Path, out: Path) -> dict[str, np.ndarray]:
    store = JobStore(tmp_path / "local-queue.sqlite")
    store.add(jobs)
    engine = Engine(farm_stubs.registry(), Cache(tmp_path / "local-cache"))
    ran = QueueWorker(store, engine).drain()
    assert [job.state for job in ran] == [JobState.DONE] * len(jobs)
    return take_pictures(out)


def started(events: list[Any], title: str, graph: Graph) -> int:
    node_id = graph.find(title).id
    return sum(
        1
        for e in events
        if e.kind is QueueEventKind.RUN
        and e.run_event.kind == "node_started"
        and e.run_event.node_id == node_id
    )


def test_plan_finds_the_shared_upstream_of_a_batch(tmp_path: Path) -> None:
    graph = shot()
    jobs = batch(graph, tmp_path)
    graphs = [loads(job.workflow, farm_stubs.registry()).graph for job in jobs]
    plan = plan_shared(graphs, [None] * 4)
    assert list(plan.targets) == [0]  # the first job computes it, once
    assert [graphs[0].node(n).title for n in plan.targets[0]] == ["Source"]
    assert all(plan.needs[j] == plan.keys[0] for j in range(4))
    assert not plan_shared(graphs[:1], [None])  # one job shares nothing


def test_a_batch_on_the_farm_equals_the_batch_in_process(cluster: Any, tmp_path: Path) -> None:
    farm = farm_for(tmp_path)
    graph = shot()
    jobs = batch(graph, tmp_path / "farm-out")
    events: list[Any] = []
    outcomes = farm.render(jobs, on_event=events.append)

    assert [outcomes[job.id].state for job in jobs] == [JobState.DONE] * 4
    farm_takes = take_pictures(tmp_path / "farm-out")
    assert len(farm_takes) == 4
    # The shared upstream ran once across the cluster, though every worker has its own cache.
    assert started(events, "Source", graph) == 1
    assert started(events, "Tint", graph) == 4
    caches = [p for p in tmp_path.glob("cache-*") if p.is_dir()]
    assert caches, "the workers kept private caches"

    local = render_in_process(batch(graph, tmp_path / "local"), tmp_path, tmp_path / "local")
    assert same_pictures(farm_takes, local)
    # Results come home: the takes are indexed in the output folder's database.
    from studio.takes import TakesDB

    databases = list((tmp_path / "farm-out").rglob("takes.sqlite"))
    assert sum(len(TakesDB(db.parent).list()) for db in databases) == 4


def test_gpu_jobs_each_see_their_own_device(cluster: Any, tmp_path: Path) -> None:
    barrier = ray.remote(_Barrier).options(name=f"barrier-{os.getpid()}", num_cpus=0).remote()
    graph = shot(("Barrier", {"actor": f"barrier-{os.getpid()}", "parties": 4}))
    farm = farm_for(tmp_path)
    seen: list[Any] = []
    outcomes = farm.render(batch(graph, tmp_path / "out"), on_worker=seen.append)
    assert {o.state for o in outcomes.values()} == {JobState.DONE}
    arrived = ray.get(barrier.devices.remote())
    assert sorted(arrived) == ["0", "1", "2", "3"]  # four at once, one logical GPU each
    jobs_seen = [info for info in seen if not info.job_id.startswith("shared:")]
    assert sorted(info.cuda_visible_devices for info in jobs_seen) == ["0", "1", "2", "3"]


class _Barrier:
    def __init__(self) -> None:
        self.arrived: list[str | None] = []

    def arrive(self, device: str | None) -> None:
        self.arrived.append(device)

    def count(self) -> int:
        return len(self.arrived)

    def devices(self) -> list[str | None]:
        return self.arrived


def test_a_killed_worker_is_retried_and_every_take_is_made_once(
    cluster: Any, tmp_path: Path
) -> None:
    # The first Gate to run (whichever job it is) blocks; the others pass. The test kills the
    # blocked worker as soon as that Gate reports its progress.
    graph = shot(("Gate", {"marker": str(tmp_path / "gate-started")}))
    jobs = batch(graph, tmp_path / "out")
    gate = graph.find("Gate").id
    pids: dict[str, list[int]] = {}
    killed: list[str] = []

    def on_worker(info: Any) -> None:
        pids.setdefault(info.job_id, []).append(info.pid)

    def on_event(event: Any) -> None:
        run = event.run_event
        if run is None or run.kind != "node_progress" or run.node_id != gate:
            return
        if run.message.startswith("first attempt") and not killed:
            killed.append(event.job_id)
            os.kill(pids[event.job_id][-1], signal.SIGKILL)

    outcomes = farm_for(tmp_path).render(jobs, on_event=on_event, on_worker=on_worker)

    assert killed, "a first attempt was killed mid-node"
    assert [outcomes[job.id].state for job in jobs] == [JobState.DONE] * 4
    assert len(pids[killed[0]]) >= 2  # Ray ran it again
    pictures = take_pictures(tmp_path / "out")
    assert len(pictures) == 4  # one take each, none twice
    leftovers = [p for p in (tmp_path / "out").rglob("*") if p.name.startswith(".")]
    assert leftovers == []  # nothing half-written
    local = render_in_process(batch(shot(), tmp_path / "local"), tmp_path, tmp_path / "local")
    assert same_pictures(pictures, local)


def test_cancel_reaches_a_running_task(cluster: Any, tmp_path: Path) -> None:
    graph = shot(("Spin", {}))
    jobs = batch(graph, tmp_path / "out", seeds="1")
    spin = graph.find("Spin").id
    cancel: set[str] = set()

    def on_event(event: Any) -> None:
        run = event.run_event
        if run is not None and run.kind == "node_progress" and run.node_id == spin:
            cancel.add(event.job_id)

    farm = farm_for(tmp_path)
    outcomes = farm.render(jobs, on_event=on_event, cancelled=lambda job_id: job_id in cancel)
    assert outcomes[jobs[0].id].state is JobState.CANCELLED
    assert take_pictures(tmp_path / "out") == {}


def test_the_queue_drains_onto_the_farm(cluster: Any, tmp_path: Path) -> None:
    store = JobStore(tmp_path / "queue.sqlite")
    graph = shot()
    store.add(batch(graph, tmp_path / "out", seeds="5,6"))
    finished = run_queue(store, farm_for(tmp_path))
    assert [job.state for job in finished] == [JobState.DONE] * 2
    assert all(job.result["files"] for job in store.jobs())


def test_a_cluster_that_goes_away_puts_its_jobs_back_in_the_queue(
    cluster: Any, tmp_path: Path
) -> None:
    class Vanishing(RayFarm):
        def render(self, jobs: Any, **kwargs: Any) -> Any:
            raise FarmLost("lost the Ray cluster: connection reset")

    store = JobStore(tmp_path / "queue.sqlite")
    store.add(batch(shot(), tmp_path / "out", seeds="1,2"))
    farm = Vanishing(config=WorkerConfig(registry="farm_stubs:registry"))
    farm.start()
    with pytest.raises(FarmLost):
        run_queue(store, farm)
    jobs = store.jobs()
    assert [job.state for job in jobs] == [JobState.QUEUED] * 2
    assert all("queued again" in job.message for job in jobs)


def test_a_missing_cluster_address_is_a_clear_error() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FarmError, match=f"no Ray cluster answers at 127.0.0.1:{port}"):
        RayFarm(f"127.0.0.1:{port}").start()
    with pytest.raises(FarmError, match="HOST:PORT"):
        RayFarm("not-an-address").start()


def test_without_ray_the_farm_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(FarmError, match=r"pip install -e '\.\[farm\]'"):
        RayFarm().start()


def test_studio_render_vary_on_ray_makes_a_take_per_variant(
    cluster: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from studio.cli import main
    from studio.graph.fileformat import save
    from studio.session.catalog import default_registry

    graph = Graph(default_registry())
    sample = graph.add("SampleImage", title="Photo")
    saver = graph.add("SaveImage", title="Save")
    saver.set_param("filename", "shot")
    graph.connect(sample.id, "image", saver.id, "image")
    workflow = tmp_path / "photos.json"
    save(graph, workflow)

    code = main(
        [
            "render",
            str(workflow),
            "--out",
            str(tmp_path / "out"),
            "--vary",
            "Photo.photo=astronaut,coffee",
            "--ray",
            "--events",
            "jsonl",
        ]
    )
    assert code == 0
    assert len(take_pictures(tmp_path / "out")) == 2
    events = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert any('"job_finished"' in line for line in events)


def test_a_path_map_moves_file_params_and_refuses_bad_entries(tmp_path: Path) -> None:
    from studio.farm.paths import PathMap, PathMapError
    from studio.graph.fileformat import dumps
    from studio.session.catalog import default_registry

    paths = PathMap.parse("/Volumes/shots=/mnt/shots; /Volumes/shots/plates=/fast/plates")
    assert paths.apply("/Volumes/shots/sq010/a.png") == "/mnt/shots/sq010/a.png"
    assert paths.apply("/Volumes/shots/plates/p.mov") == "/fast/plates/p.mov"  # longest first
    assert paths.apply("/Volumes/shotsX/a.png") == "/Volumes/shotsX/a.png"  # whole names only
    with pytest.raises(PathMapError, match="FROM=TO"):
        PathMap.parse("/only/one/side")

    registry = default_registry()
    graph = Graph(registry)
    loader = graph.add("LoadImage", title="Plate")
    loader.set_param("path", "/Volumes/shots/sq010/plate.png")
    mapped = loads(paths.apply_to_workflow(dumps(graph), registry), registry).graph
    assert mapped.find("Plate").params["path"] == "/mnt/shots/sq010/plate.png"


def test_workers_build_the_shipped_node_set_by_default(tmp_path: Path) -> None:
    from studio.farm.remote import worker_engine

    engine = worker_engine(WorkerConfig(cache_dir=str(tmp_path / "cache")))
    assert "ImageToVideo" in engine.registry and "SaveVideo" in engine.registry
    assert engine.cache.disk is not None and engine.cache.disk.root == tmp_path / "cache"


def test_the_queue_panel_renders_on_the_ray_cluster(cluster: Any, qtbot, tmp_path: Path) -> None:
    from studio.ui.queue_panel import QueuePanel

    store = JobStore(tmp_path / "queue.sqlite")
    config = WorkerConfig(registry="farm_stubs:registry", cache_dir=str(tmp_path / "c-{pid}"))
    panel = QueuePanel(
        store,
        lambda: pytest.fail("the local engine is not used when the farm is the target"),
        farm_factory=lambda address: RayFarm(address, config=config),
    )
    qtbot.addWidget(panel)
    panel.resize(520, 300)
    panel.show()
    assert panel.target.itemText(1).startswith("Ray cluster")
    panel.target.setCurrentIndex(1)
    jobs = batch(shot(), tmp_path / "out", seeds="1,2")
    finished: list[str] = []
    panel.job_event.connect(
        lambda e: finished.append(e.job_id) if e.kind is QueueEventKind.JOB_FINISHED else None
    )
    with qtbot.waitSignal(panel._bridge.farm, timeout=60_000) as joined:
        panel.add_jobs(jobs)
    assert "Ray cluster" in joined.args[0] and "4 GPU(s)" in joined.args[0]
    assert panel.target.currentText() == joined.args[0]  # workers and GPUs it sees
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=120_000)
    assert [job.state for job in store.jobs()] == [JobState.DONE] * 2
    assert not panel.target.isEnabled()  # no switching while the queue runs
    panel.refresh()
    panel.grab().save(str(Path(os.environ.get("STUDIO_SHOTS", tmp_path)) / "queue_on_ray.png"))
    panel.shutdown()
    assert panel.target.isEnabled()


def test_a_worker_without_the_model_says_which_and_where(cluster: Any, tmp_path: Path) -> None:
    from studio.session.catalog import default_registry

    graph = Graph(default_registry(plugins=False))
    photo = graph.add("SampleImage", title="Photo")
    animate = graph.add("ImageToVideo", title="Animate")
    animate.set_param("model", "acme/wan-14b-not-installed")
    graph.connect(photo.id, "image", animate.id, "image")
    jobs = variation_jobs(graph, [], name="shot", output_dir=tmp_path / "out")
    config = WorkerConfig(cache_dir=str(tmp_path / "cache-{pid}"))  # the shipped nodes
    outcomes = RayFarm(config=config).render(jobs)
    outcome = outcomes[jobs[0].id]
    assert outcome.state is JobState.FAILED
    assert f"on {socket.gethostname()}:" in outcome.message
    assert "acme/wan-14b-not-installed" in outcome.message
