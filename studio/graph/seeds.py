"""Seed control: what happens to a node's seed after each run — fixed, increment or randomise.

Saved per node in the workflow (``"seed_control": {"seed": "increment"}``, absent = fixed) and
kept out of ``params``, so it never enters the cache key: switching a seed to "increment" does
not make a cached result stale; the next *value* does. After a run the editor applies
:func:`advance_seeds` as one undoable step; ``studio queue add --repeat N`` applies it between
the jobs it queues.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from studio.graph.commands import Command, Macro, SetParam
from studio.graph.graph import Graph
from studio.graph.spec import NodeSpec, ParamKind

SEED_KINDS = (ParamKind.SEED, ParamKind.INT)


class SeedControl(StrEnum):
    FIXED = "fixed"
    INCREMENT = "increment"
    RANDOMIZE = "randomize"


def parse_seed_control(
    value: Any, spec: NodeSpec | None, title: str, warnings: list[str]
) -> Iterator[tuple[str, SeedControl]]:
    """The entries of a node record's ``seed_control`` that this install can honour; anything
    else is reported in ``warnings`` and read as fixed (never an error: it only affects what
    happens *after* a run)."""
    if not isinstance(value, dict):
        warnings.append(f"{title!r}: 'seed_control' is not an object; every seed stays fixed")
        return
    for name, mode in value.items():
        param = spec.param(name) if spec is not None else None
        if param is None or param.kind not in SEED_KINDS:
            warnings.append(f"{title!r}: seed control for {name!r}, which is not a seed; ignored")
        elif mode not in SeedControl.__members__.values():
            warnings.append(f"{title!r}: unknown seed control {mode!r} for {name!r}; kept fixed")
        else:
            yield name, SeedControl(mode)


@dataclass
class SetSeedControl(Command):
    """Choose what happens to one seed param after each run."""

    node_id: str
    name: str
    mode: SeedControl
    label: str = "Seed control"
    _old: str = field(default=SeedControl.FIXED, repr=False)

    def apply(self, graph: Graph) -> None:
        node = graph.node(self.node_id)
        self._old = node.seed_control.get(self.name, SeedControl.FIXED)
        node.set_seed_control(self.name, SeedControl(self.mode))

    def revert(self, graph: Graph) -> None:
        graph.node(self.node_id).set_seed_control(self.name, self._old)


def next_seeds(graph: Graph, rng: random.Random | None = None) -> list[tuple[str, str, int]]:
    """(node id, param, new value) for every seed that is not fixed, in graph order."""
    rng = rng or random.SystemRandom()
    changes = []
    for node in graph.nodes:
        for name, mode in node.seed_control.items():
            param = node.spec.param(name) if node.spec is not None else None
            if param is None or mode == SeedControl.FIXED:
                continue
            low = int(param.min) if param.min is not None else 0
            high = int(param.max) if param.max is not None else 2**32 - 1
            value = node.param(name)
            if mode == SeedControl.INCREMENT:
                new = value + 1 if isinstance(value, int) and low <= value < high else low
            else:
                new = rng.randint(low, high)
                while new == value and high > low:  # "randomise" must change it
                    new = rng.randint(low, high)
            changes.append((node.id, name, new))
    return changes


def advance_seeds(graph: Graph, rng: random.Random | None = None) -> Command | None:
    """The undoable step that moves every non-fixed seed on, or None if all are fixed.
    The caller applies it (through the undo stack in the editor)."""
    changes = next_seeds(graph, rng)
    if not changes:
        return None
    return Macro([SetParam(n, p, v, label="Next seed") for n, p, v in changes], label="Next seeds")
