"""Time budgets for the test suite, per family of test modules (see docs/testing.md).

`make test` must stay under 5 minutes on 2 idle cores with the features still to come, so each
family gets a share, in seconds of an idle 2-core machine. The conftest hook prints every
family's time against its budget after a run; ``STUDIO_TEST_BUDGETS=enforce`` makes an
over-budget family fail the run (``python -m benchmarks.bench_suite_budget`` does that).

The time charged is ``min(wall, cpu)`` per test, cpu including waited-for subprocesses: on a busy
machine wall-clock time stretches with other processes while CPU time barely moves, and on an
idle one multi-threaded torch burns more CPU than wall time. Either way the smaller of the two
is close to what the test costs on idle cores.

A check that needs more than its family can spare goes to ``benchmarks/`` (``make bench``),
with a fast version of the same behaviour left here.
"""

from __future__ import annotations

from dataclasses import dataclass

SUITE_LIMIT_S = 300.0  # the promise: pytest after setup, 2 idle cores
SUITE_TARGET_S = 150.0  # today's aim, leaving room for what is being added


@dataclass(frozen=True)
class Family:
    name: str
    budget_s: float
    prefixes: tuple[str, ...]  # test module names starting with any of these belong here
    about: str


FAMILIES = (
    Family(
        "core",
        30.0,
        (
            "test_engine",
            "test_cache",
            "test_graph",
            "test_fileformat",
            "test_core",
            "test_fake_context",
            "test_suite_layout",
            "test_settings",
            "test_hostile_workflows",
            "test_fuzz",
            "test_validate",
            "test_seeds",
            "test_variadic",
            "test_session",
            "test_live",
            "test_draft",
            "test_live_draft",
            "test_stream",
        ),
        "graph model, session, file format, engine, cache, validation (stub nodes)",
    ),
    Family(
        "cli",
        40.0,  # 35 until the queue CLI, farm and takes grew it to ~37 s (2026-12-03)
        (
            "test_cli",
            "test_queue",
            "test_takes",
            "test_example",
            "test_two_shots",
            "test_farm",
            "test_plugins",
            "test_contact",
            "test_kill",
            "test_safe_writes",
            "test_credentials",
        ),
        "CLI, queue, farm, takes, safe writes and kills, the example shot end to end",
    ),
    Family(
        "stages",
        40.0,
        (
            "test_nodes",
            "test_animate",
            "test_stabilize",
            "test_real_footage",
            "test_audio",
            "test_timing",
            "test_interpolate",
            "test_hostile_media",
            "test_extend",
            "test_sequence",
        ),
        "image/video nodes on real photos and footage",
    ),
    Family("upscale", 30.0, ("test_upscale",), "Real-ESRGAN weights, tiling, own model files"),
    Family(
        "diffusion",
        40.0,  # 35 until LTX-2 and HunyuanVideo 1.5 (2026-12-03); ui gave 5 s it did not use
        ("test_diffusion", "test_models"),
        "diffusers backends on tiny random models, model discovery and memory policies",
    ),
    Family("ui", 40.0, ("test_ui",), "the Qt editor, offscreen, driven by real events"),
    Family(
        "reuse",
        8.0,
        ("test_subgraph", "test_blueprint"),
        "subgraphs (collapse, expand, seen through by the engine) and blueprints (stub nodes)",
    ),
)
OTHER = Family("other", 10.0, (), "modules no family claims yet: add them to one")


def family_of(module: str) -> Family:
    """The family of a test module, by its name (``test_x`` or a path ending in it)."""
    name = module.replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".py")
    for family in FAMILIES:
        if name.startswith(family.prefixes):
            return family
    return OTHER
