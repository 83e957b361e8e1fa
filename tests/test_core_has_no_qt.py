"""The core (graph, engine, nodes, takes, CLI) imports no Qt, and no torch until a node runs."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import importlib, json, pkgutil, sys
import nodes, studio.engine, studio.graph, studio.queue, studio.session, studio.takes
from studio.session import default_registry
default_registry()
import studio.cli
for package in (studio.graph, studio.engine, studio.queue, studio.session, studio.takes):
    for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
        importlib.import_module(info.name)
heavy = ("PySide6", "shiboken6", "PyQt5", "PyQt6", "torch", "diffusers", "transformers")
print(json.dumps(sorted(m for m in heavy if m in sys.modules)))
"""


def test_core_imports_neither_qt_nor_torch():
    done = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert not [m for m in loaded if m in ("PySide6", "shiboken6", "PyQt5", "PyQt6")], loaded
    assert not [m for m in loaded if m in ("torch", "diffusers", "transformers")], (
        f"{loaded} imported eagerly: import them inside run() so the editor starts fast"
    )
