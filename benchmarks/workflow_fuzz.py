"""Structure-aware fuzzing of workflow files, shared by the fuzz test and ``bench_fuzz``.

:class:`Mutator` starts from the example workflows in ``resources/workflows`` and applies one to
four mutations that know the file's structure: wrong types anywhere, deep nesting (up to
100,000 levels), huge sizes (strings, lists, thousands of nodes), broken and cyclic links,
swapped node types, hostile unicode and paths, and a few raw-text cuts. :func:`check_case`
opens each case the way Studio does (a file on disk), validates it and plans a dry-run render
(keys and plan, no node runs) under a per-case time limit; anything but a clear refusal or a
result is a failure to report.
"""

from __future__ import annotations

import copy
import io
import json
import random
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from studio.cli import main as cli_main
from studio.engine import Cache, Engine
from studio.graph.fileformat import WorkflowFileError, load
from studio.graph.registry import NodeRegistry
from studio.graph.validate import validate

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "resources" / "workflows").glob("*.json"))
CASE_LIMIT_S = 10.0
_DEEP = "@@studio-fuzz-deep-{}@@"  # a marker swapped for deep nesting after encoding

STRINGS = [
    "",
    " ",
    "..",
    ".",
    "/",
    "/dev/zero",
    "/dev/stdin",
    "/proc/self/status",
    "/etc/passwd",
    "../../../../etc/passwd",
    "-rf",
    "--out",
    "a\0b",
    "\x1b[31mred\x1b[0m",
    "\u202eevil.mp4",
    "e\u0301te\u0301",
    "日本語のノード",
    "💥" * 50,
    "\ud800",
    "x" * 100_000,
    "NaN",
    "1e999",
    "rocket",
    "fail",
    "warn",
    "input",
    "add",
    "subtract",
    "rect",
    "stroke",
    "#ff8800",
    "Reroute",
]
NUMBERS = [0, 1, -1, 2, 7, 33, 2**31, 2**63, 10**30, -(10**30), 0.5, -0.5, 1e308, -1e308, 5e-324]


@dataclass
class Stats:
    """What a fuzz run saw."""

    cases: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (case, what went wrong)
    slowest: float = 0.0
    retried: int = 0  # cases that ran out of time once, then finished


class CaseTimeout(Exception):
    pass


class Mutator:
    """Seeded, structure-aware mutations of the example workflows."""

    def __init__(self, seed: int, registry: NodeRegistry) -> None:
        self.rng = random.Random(seed)
        self.registry = registry
        self.bases = [json.loads(p.read_text(encoding="utf-8")) for p in EXAMPLES]
        self.types = sorted(spec.type_id for spec in registry)
        self.mutations = [
            self.wrong_type,
            self.wrong_type,
            self.delete_key,
            self.nest,
            self.grow,
            self.many_nodes,
            self.retype_node,
            self.add_node,
            self.param_values,
            self.param_values,
            self.link,
            self.link,
            self.unicode,
            self.top_level,
        ]

    # -- one case ----------------------------------------------------------------------------

    def case(self) -> str:
        """One mutated workflow as JSON text."""
        data = copy.deepcopy(self.rng.choice(self.bases))
        for _ in range(self.rng.randint(1, 4)):
            self.rng.choice(self.mutations)(data)
        text = json.dumps(data)
        for depth in (40, 65, 500, 100_000):
            marker = json.dumps(_DEEP.format(depth))
            if marker in text:
                text = text.replace(marker, "[" * depth + "0.5" + "]" * depth)
        if self.rng.random() < 0.05:
            text = self.cut(text)
        return text

    # -- helpers ------------------------------------------------------------------------------

    def value(self) -> Any:
        choice = self.rng.randrange(8)
        if choice == 0:
            return self.rng.choice(STRINGS)
        if choice == 1:
            return self.rng.choice(NUMBERS)
        if choice == 2:
            return self.rng.choice([True, False, None])
        if choice == 3:
            return [self.rng.choice(NUMBERS) for _ in range(self.rng.randint(0, 5))]
        if choice == 4:
            return {self.rng.choice(STRINGS[:20]): self.value() for _ in range(2)}
        if choice == 5:
            return [[self.rng.random(), self.rng.random()] for _ in range(self.rng.randint(0, 4))]
        if choice == 6:
            return {}
        return []

    def spots(self, data: Any) -> list[tuple[Any, Any]]:
        """Every (container, key) in ``data``, breadth first, at most a few thousand."""
        found: list[tuple[Any, Any]] = []
        level = [data]
        while level and len(found) < 5000:
            below = []
            for item in level:
                keys = list(item) if isinstance(item, dict) else range(len(item))
                for key in keys:
                    found.append((item, key))
                    if isinstance(item[key], (dict, list)):
                        below.append(item[key])
            level = below
        return found

    def spot(self, data: Any) -> tuple[Any, Any] | None:
        spots = self.spots(data)
        return self.rng.choice(spots) if spots else None

    def nodes(self, data: dict[str, Any]) -> dict[str, Any]:
        nodes = data.get("nodes")
        return nodes if isinstance(nodes, dict) else {}

    def node_ids(self, data: dict[str, Any]) -> list[str]:
        return list(self.nodes(data))

    # -- mutations ------------------------------------------------------------------------------

    def wrong_type(self, data: dict[str, Any]) -> None:
        spot = self.spot(data)
        if spot is not None:
            container, key = spot
            container[key] = self.value()

    def delete_key(self, data: dict[str, Any]) -> None:
        spot = self.spot(data)
        if spot is not None and isinstance(spot[0], dict):
            del spot[0][spot[1]]

    def nest(self, data: dict[str, Any]) -> None:
        spot = self.spot(data)
        if spot is None:
            return
        container, key = spot
        if self.rng.random() < 0.5:
            container[key] = _DEEP.format(self.rng.choice([40, 65, 500, 100_000]))
        else:
            value = container[key]
            for _ in range(self.rng.choice([1, 3, 31, 33])):
                value = [value]
            container[key] = value

    def grow(self, data: dict[str, Any]) -> None:
        spot = self.spot(data)
        if spot is None:
            return
        container, key = spot
        size = self.rng.choice([1_000, 20_000])
        container[key] = self.rng.choice(
            [
                "y" * size * 10,
                [[self.rng.random(), self.rng.random()] for _ in range(size)],
                [container[key]] * min(size, 2_000),
            ]
        )

    def many_nodes(self, data: dict[str, Any]) -> None:
        nodes = self.nodes(data)
        if not nodes:
            return
        count = self.rng.choice([10, 10, 100, 1_000])
        edges = data.get("edges") if isinstance(data.get("edges"), list) else []
        source = self.rng.choice(list(nodes))
        previous = source
        for i in range(count):
            node_id = f"dup{i}"
            if self.rng.random() < 0.5:  # a chain of Reroute dots
                nodes[node_id] = {"type": "Reroute", "position": [i, 0]}
                edges.append(
                    {
                        "from": {"node": previous, "port": "out" if i else "image"},
                        "to": {"node": node_id, "port": "in"},
                    }
                )
                previous = node_id
            else:
                nodes[node_id] = nodes[source]  # shared: only ever serialised
        data["edges"] = edges

    def retype_node(self, data: dict[str, Any]) -> None:
        nodes = self.nodes(data)
        if nodes:
            record = nodes[self.rng.choice(list(nodes))]
            if isinstance(record, dict):
                record["type"] = self.rng.choice(self.types + ["Bogus", "", 5])

    def add_node(self, data: dict[str, Any]) -> None:
        nodes = self.nodes(data)
        type_id = self.rng.choice(self.types)
        spec = self.registry.get(type_id)
        params = {p.name: copy.deepcopy(p.default) for p in spec.params} if spec else {}
        nodes[f"new{self.rng.randrange(10**6)}"] = {"type": type_id, "params": params}
        data["nodes"] = nodes

    def param_values(self, data: dict[str, Any]) -> None:
        nodes = self.nodes(data)
        if not nodes:
            return
        record = nodes[self.rng.choice(list(nodes))]
        if not isinstance(record, dict):
            return
        spec = (
            self.registry.get(record.get("type")) if isinstance(record.get("type"), str) else None
        )
        params = record.get("params") if isinstance(record.get("params"), dict) else {}
        names = ([p.name for p in spec.params] if spec else list(params)) or ["x"]
        name = self.rng.choice(names)
        param = spec.param(name) if spec else None
        roll = self.rng.random()
        if param is not None and param.choices and roll < 0.3:
            params[name] = self.rng.choice(list(param.choices))
        elif param is not None and param.min is not None and roll < 0.5:
            params[name] = self.rng.choice([param.min, param.max, param.min - 1, param.max + 1])
        elif isinstance(params.get(name), list) and params[name] and roll < 0.8:
            self.wrong_type(params[name] if isinstance(params[name], (list, dict)) else params)
        else:
            params[name] = self.value()
        record["params"] = params

    def link(self, data: dict[str, Any]) -> None:
        edges = data.get("edges")
        if not isinstance(edges, list):
            edges = data["edges"] = []
        ids = self.node_ids(data) + ["ghost"]
        roll = self.rng.random()
        if edges and roll < 0.25:
            edges.pop(self.rng.randrange(len(edges)))
        elif edges and roll < 0.4:
            edges.append(copy.deepcopy(self.rng.choice(edges)))
        elif edges and roll < 0.6:  # reversed: often a cycle
            edge = copy.deepcopy(self.rng.choice(edges))
            if isinstance(edge, dict):
                edge["from"], edge["to"] = edge.get("to"), edge.get("from")
                edges.append(edge)
        else:
            ports = ["image", "mask", "motion", "video", "out", "in", "path", "nope", ""]
            edges.append(
                {
                    "from": {"node": self.rng.choice(ids), "port": self.rng.choice(ports)},
                    "to": {"node": self.rng.choice(ids), "port": self.rng.choice(ports)},
                }
            )

    def unicode(self, data: dict[str, Any]) -> None:
        nodes = self.nodes(data)
        if not nodes:
            return
        node_id = self.rng.choice(list(nodes))
        text = self.rng.choice(STRINGS[10:20])
        if self.rng.random() < 0.5 and isinstance(nodes[node_id], dict):
            nodes[node_id]["title"] = text
        else:  # a unicode node id, with the edges following it
            nodes[text[:64] or "x"] = nodes.pop(node_id)
            for edge in data.get("edges", []) if isinstance(data.get("edges"), list) else []:
                for end in (edge.get("from"), edge.get("to")) if isinstance(edge, dict) else ():
                    if isinstance(end, dict) and end.get("node") == node_id:
                        end["node"] = text[:64] or "x"

    def top_level(self, data: dict[str, Any]) -> None:
        key = self.rng.choice(["format_version", "metadata", "groups", "nodes", "edges"])
        data[key] = self.rng.choice([1, 3, "2", None, [], {}, self.value()])

    def cut(self, text: str) -> str:
        where = self.rng.randrange(len(text) + 1)
        return self.rng.choice([text[:where], text[:where] + "\ufeff" + text[where:], text[::-1]])


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise :class:`CaseTimeout` in the main thread after ``seconds`` (a hang is a failure)."""

    def expired(signum: int, frame: Any) -> None:
        raise CaseTimeout(f"took more than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def check_case(
    text: str,
    registry: NodeRegistry,
    folder: Path,
    *,
    cli: bool = False,
    limit: float = CASE_LIMIT_S,
) -> str:
    """Open, validate and dry-run one workflow text; returns the outcome ("refused",
    "invalid", "planned"). Raises on a traceback or a hang."""
    path = folder / "case.json"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with time_limit(limit):
        if cli:  # the command line must say the same thing, as an exit status
            with redirect_stdout(io.StringIO()), redirect_stderr(io.StringIO()) as err:
                status = cli_main(["validate", str(path)], registry=registry)
            if status not in (0, 1, 2) or "Traceback" in err.getvalue():
                raise AssertionError(f"studio validate exited {status}: {err.getvalue()[-500:]}")
        try:
            graph = load(path, registry).graph
        except WorkflowFileError as exc:
            if not str(exc) or not exc.problems:
                raise AssertionError("a refusal without a reason") from None
            return "refused"
        problems = validate(graph)
        engine = Engine(registry, Cache(disk=False), models=None, device="cpu")
        dry = engine.dry_run(graph, output_dir=folder / "out")
        if any(p.severity == "error" for p in problems):
            assert not dry.plan, "a dry run planned a graph that validate refuses"
            return "invalid"
        assert set(dry.keys) >= set(dry.plan)
        return "planned"


def fuzz(count: int, seed: int, registry: NodeRegistry, folder: Path, cli_every: int = 0) -> Stats:
    """Run ``count`` cases; every failure is recorded with its case number, never raised."""
    mutator = Mutator(seed, registry)
    stats = Stats()
    for index in range(count):
        text = mutator.case()
        start = time.perf_counter()
        cli = bool(cli_every) and index % cli_every == 0
        try:
            try:
                outcome = check_case(text, registry, folder, cli=cli)
            except CaseTimeout:
                # On a machine shared with other work a quick case can miss its slot for
                # seconds: a hang is a case that also runs out of three times the time.
                stats.retried += 1
                outcome = check_case(text, registry, folder, cli=cli, limit=3 * CASE_LIMIT_S)
        except Exception as exc:  # noqa: BLE001 - a fuzz run reports every kind of failure
            outcome = "FAILED"
            stats.failures.append((index, f"{type(exc).__name__}: {str(exc)[:300]}"))
        stats.slowest = max(stats.slowest, time.perf_counter() - start)
        stats.cases += 1
        stats.outcomes[outcome] = stats.outcomes.get(outcome, 0) + 1
    return stats
