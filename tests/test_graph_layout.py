"""The tidy layout and free-spot search, without Qt."""

from __future__ import annotations

import itertools

from studio.graph.layout import Link, free_offset, layered_layout, layers, overlaps


def _rects(positions, sizes):
    return {n: (*positions[n], *sizes[n]) for n in positions}


def test_columns_follow_the_longest_path():
    links = [Link("a", "b"), Link("b", "c"), Link("a", "c"), Link("d", "c")]
    assert layers("abcd", links) == {"a": 0, "b": 1, "c": 2, "d": 0}


def test_layout_puts_inputs_left_of_consumers_without_overlaps():
    # A messy pile: every node on top of the others, one with a tall thumbnail.
    sizes = {n: (232.0, 150.0) for n in "abcdefg"}
    sizes["c"] = (232.0, 300.0)
    rects = {n: (100.0 + i * 5, 50.0 + i * 3, *sizes[n]) for i, n in enumerate("abcdefg")}
    links = [Link("a", "b"), Link("b", "c"), Link("c", "d"), Link("e", "c"), Link("f", "g")]
    placed = layered_layout(rects, links)
    assert set(placed) == set(rects)
    for link in links:
        assert placed[link.src][0] + sizes[link.src][0] < placed[link.dst][0]
    after = _rects(placed, sizes)
    for p, q in itertools.combinations(after, 2):
        assert not overlaps(after[p], after[q]), (p, q)
    # The tidied block starts where the pile started, on the grid.
    assert min(x for x, _ in placed.values()) == 100.0
    assert min(y for _, y in placed.values()) == 50.0
    assert all(x % 10 == 0 and y % 10 == 0 for x, y in placed.values())


def test_barycentre_order_removes_a_crossing():
    sizes = {n: (100.0, 60.0) for n in "abcd"}
    # a feeds d and b feeds c, but c starts above d: the tidy order uncrosses the wires.
    rects = {
        "a": (0, 0, 100, 60),
        "b": (0, 200, 100, 60),
        "c": (300, 0, 100, 60),
        "d": (300, 200, 100, 60),
    }
    placed = layered_layout(rects, [Link("a", "d"), Link("b", "c")])
    assert (placed["a"][1] < placed["b"][1]) == (placed["d"][1] < placed["c"][1])
    assert sizes  # same sizes throughout


def test_single_chain_is_a_straight_row():
    rects = {n: (i * 13.0, i * 170.0, 200.0, 100.0) for i, n in enumerate("abc")}
    placed = layered_layout(rects, [Link("a", "b"), Link("b", "c")])
    assert len({y for _, y in placed.values()}) == 1
    assert placed["a"][0] < placed["b"][0] < placed["c"][0]


def test_free_offset_moves_a_block_off_its_neighbours():
    obstacles = [(0.0, 0.0, 232.0, 120.0), (0.0, 160.0, 232.0, 120.0)]
    assert free_offset([(500.0, 0.0, 232.0, 120.0)], obstacles) == (0.0, 0.0)
    dx, dy = free_offset([(10.0, 10.0, 232.0, 120.0)], obstacles)
    moved = (10.0 + dx, 10.0 + dy, 232.0, 120.0)
    assert not any(overlaps(moved, o, 20.0) for o in obstacles)
    assert abs(dx) + abs(dy) <= 320  # the nearest free spot, not a far one
