"""The suite runs as plain `pytest` (what `make test` calls), not only as `python -m pytest`."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from budgets import FAMILIES, OTHER, SUITE_LIMIT_S, family_of

ROOT = Path(__file__).resolve().parent.parent


def plain_pytest(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The `pytest` script (not `python -m pytest`) in the checkout, without PYTHONPATH."""
    script = Path(sys.executable).with_name("pytest")
    pytest_exe = str(script) if script.exists() else shutil.which("pytest")
    assert pytest_exe, "the pytest script is not installed next to this Python"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHONPATH", "STUDIO_"))}
    return subprocess.run(
        [pytest_exe, "-q", "-p", "no:cacheprovider", *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


HELPER_IMPORT = re.compile(r"^\s*(from\s+tests(\.|\s+import)|import\s+tests\b)", re.MULTILINE)


def test_plain_pytest_collects_modules_that_import_test_helpers():
    # `python -m pytest` puts the working directory on sys.path; the `pytest` script does not,
    # so `from tests.stage_helpers import ...` collected there and failed here.
    modules = ["tests/test_nodes_motion.py", "tests/test_ui_run.py", "tests/test_stabilize.py"]
    done = plain_pytest("--collect-only", *modules)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_the_budget_report_charges_families_and_can_fail_the_run(tmp_path):
    times = tmp_path / "times.json"
    kwargs = {"STUDIO_TEST_TIMES": str(times), "STUDIO_TEST_BUDGETS": "enforce"}
    module = "tests/test_graph_model.py"  # quick to import: the graph model only
    done = plain_pytest(module, **kwargs, STUDIO_TEST_BUDGET_SCALE="0")
    assert done.returncode == 1 and " passed" in done.stdout  # passed, but over budget
    assert "time per test family" in done.stdout and "OVER" in done.stdout
    ran = [f for f in json.loads(times.read_text())["families"] if f["tests"]]
    assert [(f["family"], f["modules"]) for f in ran] == [("core", [module])]
    assert 0 < ran[0]["charged_s"] <= min(ran[0]["wall_s"], ran[0]["cpu_s"]) + 1e-6
    assert plain_pytest(module, **kwargs).returncode == 0


def test_family_budgets_fit_the_suite_limit():
    assert sum(f.budget_s for f in (*FAMILIES, OTHER)) <= SUITE_LIMIT_S - 30  # + collection
    assert family_of("tests/test_queue_cli.py").name == "cli"
    assert family_of("test_ui_canvas_tidy").name == "ui"
    assert family_of("tests/test_brand_new.py") is OTHER
    names = [f.name for f in FAMILIES]
    assert len(set(names)) == len(names)


def test_no_test_module_imports_helpers_through_the_tests_package():
    # Bare names only: `tests.clips` and `clips` would be two modules with two sets of state.
    offenders = [
        path.name
        for path in sorted((ROOT / "tests").glob("*.py"))
        if HELPER_IMPORT.search(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []


def test_production_code_never_imports_the_test_double():
    offenders = [
        str(path.relative_to(ROOT))
        for folder in ("studio", "nodes")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "testing.py" and "engine.testing" in path.read_text(encoding="utf-8")
    ]
    assert offenders == []
