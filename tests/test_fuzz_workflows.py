"""Fuzzing: a few hundred seeded, structure-aware mutations of the example workflows are
opened, validated and dry-run scheduled with zero tracebacks and zero hangs. The 10,000-case
run is ``python -m benchmarks.bench_fuzz``; both share benchmarks/workflow_fuzz.py."""

from __future__ import annotations

from benchmarks.workflow_fuzz import EXAMPLES, Mutator, fuzz

CASES = 200


def test_mutations_are_seeded_and_varied(registry):
    one, two = Mutator(5, registry), Mutator(5, registry)
    cases = [one.case() for _ in range(20)]
    assert cases == [two.case() for _ in range(20)]
    assert len(set(cases)) == 20 and EXAMPLES


def test_fuzzed_workflows_give_clear_answers_never_tracebacks_or_hangs(registry, tmp_path):
    stats = fuzz(CASES, seed=2026, registry=registry, folder=tmp_path, cli_every=10)
    assert stats.failures == [], stats.failures[:5]
    assert stats.cases == CASES
    # Every kind of answer is exercised: refused files, invalid graphs, planned renders.
    assert all(stats.outcomes.get(k, 0) > 0 for k in ("refused", "invalid", "planned"))
