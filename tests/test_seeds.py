"""Seed control: saved in the workflow, outside the cache key, undoable, applied between runs."""

from __future__ import annotations

import json
import random

import pytest
import queue_stubs

from studio.cli import main
from studio.engine import Cache, Engine
from studio.graph.fileformat import dumps, loads, save
from studio.graph.seeds import SeedControl, SetSeedControl, advance_seeds, next_seeds
from studio.queue import JobStore


@pytest.fixture
def graph():
    return queue_stubs.chain(queue_stubs.registry(), "Up", "Scale")


def test_seed_control_is_saved_and_read_back(graph):
    scale = graph.find("Scale")
    SetSeedControl(scale.id, "seed", SeedControl.INCREMENT).apply(graph)
    text = dumps(graph)
    assert json.loads(text)["nodes"][scale.id]["seed_control"] == {"seed": "increment"}
    again = loads(text, graph.registry).graph
    assert again.node(scale.id).seed_control == {"seed": "increment"}
    assert dumps(again) == text
    assert "seed_control" not in json.loads(text)["nodes"][graph.find("Up").id]  # fixed: absent


def test_bad_seed_control_is_a_warning_and_stays_fixed(graph):
    data = json.loads(dumps(graph))
    scale = graph.find("Scale").id
    data["nodes"][scale]["seed_control"] = {"seed": "sometimes", "k": "increment", "zz": "x"}
    loaded = loads(json.dumps(data), graph.registry)
    assert loaded.graph.node(scale).seed_control == {}
    text = " ".join(loaded.warnings)
    assert "unknown seed control 'sometimes'" in text and "'k', which is not a seed" in text


def test_seed_control_is_not_part_of_the_cache_key(graph, tmp_path):
    engine = Engine(graph.registry, Cache(tmp_path, disk=False), device="cpu")
    before = engine.keys(graph)
    SetSeedControl(graph.find("Scale").id, "seed", SeedControl.RANDOMIZE).apply(graph)
    assert engine.keys(graph) == before


def test_advance_increments_wraps_randomises_and_undoes(graph):
    scale = graph.find("Scale")
    assert advance_seeds(graph) is None  # every seed fixed: nothing to do
    command = SetSeedControl(scale.id, "seed", SeedControl.INCREMENT)
    command.apply(graph)
    step = advance_seeds(graph)
    step.apply(graph)
    assert scale.param("seed") == 1
    step.revert(graph)
    assert scale.param("seed") == 0
    scale.set_param("seed", 2**32 - 1)
    assert next_seeds(graph) == [(scale.id, "seed", 0)]  # wraps at the maximum
    SetSeedControl(scale.id, "seed", SeedControl.RANDOMIZE).apply(graph)
    seen = {next_seeds(graph, random.Random(i))[0][2] for i in range(5)}
    assert len(seen) == 5 and 2**32 - 1 not in seen
    command.revert(graph)  # the first command's undo restores "fixed"
    assert scale.seed_control == {}


def test_queue_add_repeat_moves_seeds_on_between_jobs(graph, tmp_path, capsys):
    SetSeedControl(graph.find("Scale").id, "seed", SeedControl.INCREMENT).apply(graph)
    graph.find("Scale").set_param("seed", 7)
    flow = tmp_path / "flow.json"
    save(graph, flow)
    code = main(["queue", "add", str(flow), "--repeat", "3"], registry=graph.registry)
    assert code == 0
    with JobStore() as store:
        jobs = store.jobs()
    seeds = [loads(j.workflow, graph.registry).graph.find("Scale").param("seed") for j in jobs]
    assert seeds == [7, 8, 9]
    assert loads(flow.read_text(), graph.registry).graph.find("Scale").param("seed") == 7
