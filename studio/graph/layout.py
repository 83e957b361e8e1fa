"""Tidy layouts of a node graph, and free spots for new nodes. Pure geometry: no Qt.

The canvas measures its items and hands their rectangles in; what comes back are top-left
positions, which the editor pushes as one undoable move.

:func:`layered_layout` is a small Sugiyama-style layout, the kind node editors call "arrange":
each node sits one column right of its furthest upstream node, columns are ordered by the
mean row of each node's neighbours (a few sweeps each way cut most crossings), and each node
is placed level with its inputs where the column has room. Separate chains stack vertically.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

Rect = tuple[float, float, float, float]  # x, y, width, height
Size = tuple[float, float]

COLUMN_GAP = 90.0  # between the widest node of a column and the next column
ROW_GAP = 40.0  # between nodes stacked in one column
COMPONENT_GAP = 80.0  # between separate chains
SWEEPS = 4
GRID = 10.0


@dataclass(frozen=True)
class Link:
    """A wire between two nodes, as the layout sees it (ports do not matter here)."""

    src: str
    dst: str


def _snap(value: float) -> float:
    return round(value / GRID) * GRID


def layers(nodes: Iterable[str], links: Iterable[Link]) -> dict[str, int]:
    """Column of each node: 0 for nodes fed by nothing (among ``nodes``), else one more than
    the furthest of its inputs (longest path). Cycles cannot occur in a Studio graph, but a
    malformed list would still terminate: each node is placed at most once."""
    nodes = list(nodes)
    wanted = set(nodes)
    preds: dict[str, list[str]] = {n: [] for n in nodes}
    succs: dict[str, list[str]] = {n: [] for n in nodes}
    for link in links:
        if link.src in wanted and link.dst in wanted and link.src != link.dst:
            preds[link.dst].append(link.src)
            succs[link.src].append(link.dst)
    waiting = {n: len(preds[n]) for n in nodes}
    ready = [n for n in nodes if waiting[n] == 0]
    column: dict[str, int] = {}
    while ready:
        node = ready.pop(0)
        column[node] = max((column[p] + 1 for p in preds[node]), default=0)
        for nxt in succs[node]:
            waiting[nxt] -= 1
            if waiting[nxt] == 0:
                ready.append(nxt)
    for node in nodes:  # only reached on a cycle
        column.setdefault(node, 0)
    return column


def _components(nodes: list[str], links: list[Link]) -> list[list[str]]:
    parent = {n: n for n in nodes}

    def find(n: str) -> str:
        while parent[n] != n:
            parent[n] = parent[parent[n]]
            n = parent[n]
        return n

    for link in links:
        parent[find(link.src)] = find(link.dst)
    groups: dict[str, list[str]] = {}
    for node in nodes:
        groups.setdefault(find(node), []).append(node)
    return list(groups.values())


def layered_layout(
    rects: Mapping[str, Rect], links: Iterable[Link], origin: tuple[float, float] | None = None
) -> dict[str, tuple[float, float]]:
    """New top-left positions for the nodes in ``rects`` (their current rectangles).

    ``links`` between them set the columns; links to nodes outside ``rects`` are ignored.
    The result's top-left corner is ``origin`` (default: the nodes' current top-left), so a
    tidied selection stays where it was.
    """
    if not rects:
        return {}
    nodes = list(rects)
    links = [lk for lk in links if lk.src in rects and lk.dst in rects and lk.src != lk.dst]
    if origin is None:
        origin = (min(r[0] for r in rects.values()), min(r[1] for r in rects.values()))
    # Chains keep the vertical order they had: the artist's own arrangement is a good start.
    components = sorted(_components(nodes, links), key=lambda c: min(rects[n][1] for n in c))
    positions: dict[str, tuple[float, float]] = {}
    top = origin[1]
    for component in components:
        members = set(component)
        placed = _layout_component(
            {n: rects[n] for n in component},
            [lk for lk in links if lk.src in members],
        )
        height = max(y + rects[n][3] for n, (_, y) in placed.items())
        for node, (x, y) in placed.items():
            positions[node] = (_snap(origin[0] + x), _snap(top + y))
        top += height + COMPONENT_GAP
    return positions


def _layout_component(rects: Mapping[str, Rect], links: list[Link]) -> dict[str, Size]:
    column = layers(rects, links)
    count = max(column.values()) + 1
    columns: list[list[str]] = [[] for _ in range(count)]
    for node in sorted(rects, key=lambda n: (rects[n][1], rects[n][0])):
        columns[column[node]].append(node)
    preds: dict[str, list[str]] = {n: [] for n in rects}
    succs: dict[str, list[str]] = {n: [] for n in rects}
    for link in links:
        preds[link.dst].append(link.src)
        succs[link.src].append(link.dst)

    # Barycentre ordering: sweep right using inputs, then left using outputs.
    def reorder(layer: list[str], neighbours: dict[str, list[str]]) -> list[str]:
        rank = {n: i for col in columns for i, n in enumerate(col)}

        def key(node: str) -> float:
            near = [rank[m] for m in neighbours[node]]
            return sum(near) / len(near) if near else rank[node]

        return sorted(layer, key=lambda n: (key(n), rank[n]))

    for _ in range(SWEEPS):
        for i in range(1, count):
            columns[i] = reorder(columns[i], preds)
        for i in range(count - 2, -1, -1):
            columns[i] = reorder(columns[i], succs)

    # x: each column starts after the widest node of the previous one.
    xs, x = [], 0.0
    for col in columns:
        xs.append(x)
        x += max(rects[n][2] for n in col) + COLUMN_GAP
    # y: level with the mean centre of the inputs, pushed down to keep the column's order.
    centre: dict[str, float] = {}
    placed: dict[str, Size] = {}
    for i, col in enumerate(columns):
        floor = 0.0
        for node in col:
            h = rects[node][3]
            inputs = [centre[p] for p in preds[node] if p in centre]
            want = (sum(inputs) / len(inputs) - h / 2) if inputs else floor
            y = max(floor, want)
            placed[node] = (xs[i], y)
            centre[node] = y + h / 2
            floor = y + h + ROW_GAP
    return placed


def overlaps(a: Rect, b: Rect, margin: float = 0.0) -> bool:
    return (
        a[0] < b[0] + b[2] + margin
        and b[0] < a[0] + a[2] + margin
        and a[1] < b[1] + b[3] + margin
        and b[1] < a[1] + a[3] + margin
    )


def free_offset(
    block: Iterable[Rect], obstacles: Iterable[Rect], margin: float = 20.0, step: float = 40.0
) -> tuple[float, float]:
    """The smallest shift (down first, then right) that keeps every rect of ``block`` clear of
    every obstacle by ``margin``: where a new, pasted or spliced node can land without
    covering another. (0, 0) when the block is already clear."""
    block = list(block)
    obstacles = list(obstacles)
    if not block or not obstacles:
        return (0.0, 0.0)

    def clear(dx: float, dy: float) -> bool:
        return not any(
            overlaps((x + dx, y + dy, w, h), o, margin) for x, y, w, h in block for o in obstacles
        )

    # Rings of growing distance; within a ring, downward and rightward shifts come first.
    for ring in range(0, 200):
        reach = ring * step
        candidates = sorted(
            {
                (dx * step, dy * step)
                for dx in range(-ring, ring + 1)
                for dy in range(-ring, ring + 1)
                if max(abs(dx), abs(dy)) == ring
            },
            key=lambda d: (abs(d[0]) + abs(d[1]), d[1] < 0, d[0] < 0, abs(d[0])),
        )
        for dx, dy in candidates:
            if clear(dx, dy):
                return (dx, dy)
        if reach > 20_000:
            break
    return (0.0, 0.0)
