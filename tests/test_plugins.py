"""Node packages from other people: the example package installs, registers through its entry
point and renders through the CLI; broken packages are skipped without stopping Studio; a
package's version enters its nodes' cache keys; its workflows open without it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from studio.engine.keys import compute_keys
from studio.graph.fileformat import dumps, loads, save
from studio.graph.graph import Graph
from studio.graph.registry import NodeRegistry
from studio.session.catalog import default_registry
from studio.session.plugins import load_plugins

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "studio-example-nodes"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example package installed with pip into a folder of its own (as a user would
    install it into Studio's environment, without touching the test environment)."""
    target = tmp_path_factory.mktemp("site")
    build = tmp_path_factory.mktemp("build")
    subprocess.run(
        [
            sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
            "--no-build-isolation", "--target", str(target), str(EXAMPLE),
        ],
        check=True,
        cwd=build,
        env={**os.environ, "PIP_NO_INPUT": "1"},
    )  # fmt: skip
    return target


@pytest.fixture
def with_example(site: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(site))
    return site


def test_the_example_package_registers_through_its_entry_point(with_example: Path) -> None:
    registry = default_registry()
    vignette = registry["example.Vignette"]
    assert (vignette.package, vignette.package_version) == ("studio-example-nodes", "1.0.0")
    assert registry["SaveVideo"].package == "studio"
    [report] = [r for r in registry.plugin_reports if r.package == "studio-example-nodes"]
    assert report.loaded and report.types == ("example.Vignette", "example.Posterize")


def test_the_example_package_renders_through_the_cli(with_example: Path, tmp_path: Path) -> None:
    registry = default_registry()
    graph = Graph(registry)
    photo = graph.add("SampleImage", title="Photo")
    poster = graph.add("example.Posterize", title="Poster")
    poster.set_param("levels", 2)
    saver = graph.add("SaveImage", title="Save")
    saver.set_param("filename", "poster")
    graph.connect(photo.id, "image", poster.id, "image")
    graph.connect(poster.id, "image", saver.id, "image")
    workflow = tmp_path / "poster.json"
    save(graph, workflow)

    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(with_example), str(REPO)])}
    env["STUDIO_CACHE_DIR"] = str(tmp_path / "cache")
    render = [sys.executable, "-m", "studio", "render", str(workflow), "--out", str(tmp_path / "o")]
    subprocess.run(render, check=True, env=env, capture_output=True, text=True)
    [take] = (tmp_path / "o").rglob("poster_v001.png")
    pixels = np.asarray(Image.open(take))
    assert set(np.unique(pixels)) <= {64, 192}  # two levels per channel: posterized

    listing = subprocess.run(
        [sys.executable, "-m", "studio", "nodes"], env=env, capture_output=True, text=True
    )
    assert "example.Posterize  (Example, v1, from studio-example-nodes 1.0.0)" in listing.stdout


class _Entry:
    """An entry point as importlib.metadata gives it (a name, its distribution, load())."""

    def __init__(self, name: str, target: Any, package: str = "", version: str = "") -> None:
        self.name = name
        self.dist = SimpleNamespace(name=package or name, version=version or "0.1")
        self._target = target

    def load(self) -> Any:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target() if callable(self._target) else self._target


def _specs_of(package: str) -> Any:
    import importlib

    return importlib.import_module(package).SPECS


def test_broken_packages_are_skipped_with_a_clear_message(with_example: Path) -> None:
    registry = default_registry(plugins=False)
    shipped = len(registry)

    def raising() -> Any:
        raise RuntimeError("cannot find my CUDA kernels")

    save_image = registry["SaveImage"]
    reports = load_plugins(
        registry,
        [
            _Entry("broken_import", ModuleNotFoundError("No module named 'onnxruntime'")),
            _Entry("raises", raising),
            _Entry("clash", lambda: (save_image,)),  # a type id Studio already has
            _Entry("not_specs", lambda: ("Vignette",)),
            _Entry("example", lambda: _specs_of("studio_example_nodes"), "studio-example-nodes"),
        ],
    )
    messages = {r.name: r.describe() for r in reports}
    assert (
        "skipped: ModuleNotFoundError: No module named 'onnxruntime'" in messages["broken_import"]
    )
    assert "skipped: RuntimeError: cannot find my CUDA kernels" in messages["raises"]
    assert "SaveImage already exist" in messages["clash"]
    assert "expected NodeSpec objects, got str" in messages["not_specs"]
    assert [r.loaded for r in reports] == [False, False, False, False, True]
    assert len(registry) == shipped + 2  # only the good package's two nodes were added


def test_a_broken_installed_package_does_not_stop_the_cli(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "broken_nodes-0.1.dist-info").mkdir(parents=True)
    (site / "broken_nodes-0.1.dist-info" / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: broken-nodes\nVersion: 0.1\n"
    )
    (site / "broken_nodes-0.1.dist-info" / "entry_points.txt").write_text(
        "[studio.nodes]\nbroken = broken_nodes\n"
    )
    (site / "broken_nodes.py").write_text("raise ImportError('needs a library you do not have')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(site), str(REPO)])}
    done = subprocess.run(
        [sys.executable, "-m", "studio", "nodes", "--json"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0
    assert any(node["type"] == "SaveVideo" for node in json.loads(done.stdout))
    assert "node package 'broken-nodes 0.1' was skipped" in done.stderr
    assert "needs a library you do not have" in done.stderr


def test_a_package_update_invalidates_what_its_nodes_made(with_example: Path) -> None:
    from dataclasses import replace

    def keys_with(version: str) -> dict[str, str]:
        registry = default_registry(plugins=False)
        for spec in _specs_of("studio_example_nodes"):
            registry.register(
                replace(spec, package="studio-example-nodes", package_version=version)
            )
        graph = Graph(registry)
        photo = graph.add("SampleImage", node_id="photo")
        poster = graph.add("example.Posterize", node_id="poster")
        graph.connect(photo.id, "image", poster.id, "image")
        return compute_keys(graph, ["photo", "poster"], output_dir=Path("o"), nonce="n").key

    old, new = keys_with("1.0.0"), keys_with("1.1.0")
    assert old["photo"] == new["photo"]  # Studio's own node: unchanged
    assert old["poster"] != new["poster"]


def test_a_workflow_using_a_missing_package_opens_and_saves_back_unchanged(
    with_example: Path,
) -> None:
    graph = Graph(default_registry())
    photo = graph.add("SampleImage", title="Photo")
    poster = graph.add("example.Posterize", title="Poster", params={"levels": 3})
    graph.connect(photo.id, "image", poster.id, "image")
    text = dumps(graph)

    without = NodeRegistry(list(default_registry(plugins=False)))
    reopened = loads(text, without).graph
    assert reopened.node(poster.id).is_placeholder
    record = json.loads(dumps(reopened))["nodes"][poster.id]
    assert record == json.loads(text)["nodes"][poster.id]


def test_the_node_search_lists_a_package_and_filters_by_it(with_example: Path, qtbot) -> None:
    from PySide6.QtCore import Qt

    from studio.ui.canvas.search_popup import CATEGORY_ROLE, SearchPopup

    popup = SearchPopup(list(default_registry()))
    qtbot.addWidget(popup)
    popup.show()
    qtbot.keyClicks(popup.field, "package:example")
    offered = [popup.list.item(i) for i in range(popup.list.count())]
    assert [i.data(Qt.ItemDataRole.UserRole) for i in offered] == [
        "example.Posterize",
        "example.Vignette",
    ]
    assert offered[0].data(CATEGORY_ROLE) == "Example · studio-example-nodes"
    popup.field.clear()
    qtbot.keyClicks(popup.field, "vignet")
    assert popup.list.item(0).data(Qt.ItemDataRole.UserRole) == "example.Vignette"
    popup.grab().save(str(Path(os.environ.get("STUDIO_SHOTS", "/tmp")) / "plugin_search.png"))
