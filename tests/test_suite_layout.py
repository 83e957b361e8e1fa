"""The suite runs as plain `pytest` (what `make test` calls), not only as `python -m pytest`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPER_IMPORT = re.compile(r"^\s*(from\s+tests(\.|\s+import)|import\s+tests\b)", re.MULTILINE)


def test_plain_pytest_collects_modules_that_import_test_helpers():
    # `python -m pytest` puts the working directory on sys.path; the `pytest` script does not,
    # so `from tests.stage_helpers import ...` collected there and failed here.
    script = Path(sys.executable).with_name("pytest")
    pytest_exe = str(script) if script.exists() else shutil.which("pytest")
    assert pytest_exe, "the pytest script is not installed next to this Python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    modules = ["tests/test_nodes_motion.py", "tests/test_ui_run.py", "tests/test_stabilize.py"]
    done = subprocess.run(
        [pytest_exe, "--collect-only", "-q", "-p", "no:cacheprovider", *modules],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


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
