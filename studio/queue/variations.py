"""Variations: "vary" any param over a list, a range or random seeds; several give their product.

    ImageToVideo.seed=1..8          1, 2, ..., 8 (a range is inclusive)
    Stabilize.smoothing=10,30       a list (each value JSON, else text)
    Upscale.strength=0.1..0.5:0.1   a range with a step
    ImageToVideo.seed=rand:8        8 random seeds (drawn once, then recorded like any value)

Each combination becomes one variant: a copy of the graph with those values set, recorded in the
copy's ``metadata["variation"]`` (so a Save node embeds them in the take it writes) and in the
job's overrides. Variants share the output folder: each Save writes a new numbered take.
Upstream nodes no variation touches keep their cache keys, so a batch renders them once.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import uuid4

from studio.graph.fileformat import from_dict, graph_to_dict
from studio.graph.graph import Graph, GraphError
from studio.graph.spec import Param, ParamKind
from studio.queue.jobs import Job, new_job

MAX_VARIANTS = 1000  # a typo like 1..100000 should be an error, not a week of renders
SEED_MAX = 2**32 - 1
_RANGE = re.compile(r"^\s*(-?[\d.eE+-]+?)\s*\.\.\s*(-?[\d.eE+-]+?)\s*(?::\s*(-?[\d.eE+-]+)\s*)?$")


class VariationError(ValueError):
    """A --vary that cannot be used, with the reason."""


@dataclass(frozen=True)
class Variation:
    """One varied param: which node (by id), which param, and its values in order."""

    node_id: str
    param: str
    label: str  # "Node title.param", how people and files name it
    values: tuple[Any, ...]


def parse_vary(text: str, graph: Graph, rng: random.Random | None = None) -> Variation:
    """``NODE.PARAM=VALUES`` (NODE by id, id prefix or title, like --set) against ``graph``."""
    name, sep, spec = text.partition("=")
    node_key, dot, param_name = name.rpartition(".")
    if not sep or not dot or not node_key or not param_name:
        raise VariationError(f"--vary needs NODE.PARAM=VALUES, got {text!r}")
    try:
        node = graph.find(node_key)
    except GraphError as exc:
        raise VariationError(str(exc)) from None
    param = node.spec.param(param_name) if node.spec is not None else None
    if param is None:
        raise VariationError(f"{node.title} has no parameter {param_name!r}")
    label = f"{node.title}.{param_name}"
    values = parse_values(spec, param, rng)
    for value in values:
        problem = param.problem(value)
        if problem:
            raise VariationError(f"{label}: {value!r} {problem}")
    return Variation(node.id, param_name, label, tuple(values))


def parse_values(spec: str, param: Param, rng: random.Random | None = None) -> list[Any]:
    """The values a VALUES text stands for, typed for ``param``."""
    spec = spec.strip()
    if not spec:
        raise VariationError("--vary needs at least one value after '='")
    if spec.startswith("rand:"):
        return _random_seeds(spec[5:], param, rng or random.SystemRandom())
    match = _RANGE.match(spec)
    if match and param.kind in (ParamKind.INT, ParamKind.SEED, ParamKind.FLOAT):
        return _range(*match.groups(), param)
    if spec.startswith("["):
        try:
            values = json.loads(spec)
        except ValueError:
            raise VariationError(f"{spec!r} is not a JSON list") from None
        if not isinstance(values, list) or not values:
            raise VariationError(f"{spec!r} must be a non-empty JSON list")
    else:
        values = [_value(part.strip()) for part in spec.split(",")]
    if len(values) > MAX_VARIANTS:
        raise VariationError(f"{len(values)} values; at most {MAX_VARIANTS} per --vary")
    return [_typed(v, param) for v in values]


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _typed(value: Any, param: Param) -> Any:
    # "2.0" for an int param means 2; a float param takes ints as they are.
    if param.kind in (ParamKind.INT, ParamKind.SEED) and isinstance(value, float):
        if value.is_integer():
            return int(value)
    return value


def _number(text: str, integer: bool) -> float:
    try:
        return int(text) if integer else float(text)
    except ValueError:
        raise VariationError(f"{text!r} is not a number") from None


def _range(start_text: str, stop_text: str, step_text: str | None, param: Param) -> list[Any]:
    integer = param.kind in (ParamKind.INT, ParamKind.SEED)
    start, stop = _number(start_text, integer), _number(stop_text, integer)
    step = _number(step_text, integer) if step_text is not None else (1 if stop >= start else -1)
    if step == 0 or (stop - start) * step < 0:
        raise VariationError(f"a range from {start:g} to {stop:g} cannot go in steps of {step:g}")
    count = math.floor((stop - start) / step + 1e-9) + 1
    if count > MAX_VARIANTS:
        raise VariationError(f"{start:g}..{stop:g} is {count} values; at most {MAX_VARIANTS}")
    if integer:
        return [int(start + i * step) for i in range(count)]
    # Rounded so 0.1..0.5:0.1 gives 0.3, not 0.30000000000000004 (which would print and key oddly).
    return [round(start + i * step, 10) for i in range(count)]


def _random_seeds(count_text: str, param: Param, rng: random.Random) -> list[int]:
    if param.kind not in (ParamKind.SEED, ParamKind.INT):
        raise VariationError("rand:N makes random whole numbers; use it on a seed")
    try:
        count = int(count_text)
    except ValueError:
        raise VariationError(f"rand:N needs a whole number, got {count_text!r}") from None
    if not 1 <= count <= MAX_VARIANTS:
        raise VariationError(f"rand:{count}: use 1 to {MAX_VARIANTS} seeds")
    low = int(param.min) if param.min is not None else 0
    high = int(param.max) if param.max is not None else SEED_MAX
    seeds: list[int] = []
    while len(seeds) < min(count, high - low + 1):
        seed = rng.randint(low, high)
        if seed not in seeds:  # distinct: two equal seeds would make two equal takes
            seeds.append(seed)
    return seeds


def combinations(variations: Sequence[Variation]) -> list[dict[str, Any]]:
    """Every combination, the first variation outermost: ``{label: value}`` each."""
    total = math.prod(len(v.values) for v in variations)
    if total > MAX_VARIANTS:
        raise VariationError(f"these --vary options make {total} variants; at most {MAX_VARIANTS}")
    labels = [v.label for v in variations]
    return [
        dict(zip(labels, values, strict=True))
        for values in itertools.product(*(v.values for v in variations))
    ]


def variant_graph(
    graph: Graph, variations: Sequence[Variation], values: Mapping[str, Any], info: dict[str, Any]
) -> Graph:
    """A copy of ``graph`` with one combination set and recorded in its metadata."""
    copy = from_dict(graph_to_dict(graph), graph.registry).graph
    for variation in variations:
        copy.node(variation.node_id).set_param(variation.param, values[variation.label])
    copy.metadata = {**copy.metadata, "variation": {**info, "values": dict(values)}}
    return copy


def variant_label(values: Mapping[str, Any]) -> str:
    """``seed=3, smoothing=10``: short enough for a tile or a folder name."""
    return ", ".join(f"{label.rpartition('.')[2]}={_short(v)}" for label, v in values.items())


def _short(value: Any) -> str:
    if isinstance(value, float):
        text = format(value, ".10g")  # 1.0 -> "1", 0.3 -> "0.3"
    else:
        text = value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= 24 else text[:21] + "..."


def variation_jobs(
    graph: Graph,
    variations: Sequence[Variation],
    *,
    name: str,
    output_dir: Path,
    targets: Sequence[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> list[Job]:
    """One job per combination (a single plain job when ``variations`` is empty)."""
    if not variations:
        return [
            new_job(graph, name=name, output_dir=output_dir, targets=targets, overrides=overrides)
        ]
    batch = uuid4().hex
    combos = combinations(variations)
    jobs = []
    for index, values in enumerate(combos):
        info = {"batch": batch, "index": index, "count": len(combos)}
        copy = variant_graph(graph, variations, values, info)
        jobs.append(
            new_job(
                copy,
                name=f"{name} [{variant_label(values)}]",
                output_dir=output_dir,  # Save nodes write each variant as a take of its own
                targets=targets,
                overrides={**(overrides or {}), **values},
                batch=batch,
                variant=index,
            )
        )
    return jobs
