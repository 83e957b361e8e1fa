"""Shared fixtures. Qt runs offscreen: set before anything imports Qt."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tests never reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import pytest  # noqa: E402
from budget_report import BudgetReport  # noqa: E402

from studio.graph.registry import NodeRegistry  # noqa: E402
from studio.session import default_registry  # noqa: E402


def pytest_configure(config: pytest.Config) -> None:
    # Time per test family against tests/budgets.py, printed after every run.
    config.pluginmanager.register(BudgetReport(), "studio-budgets")


@pytest.fixture(scope="session")
def registry() -> NodeRegistry:
    """Every node type Studio ships."""
    return default_registry()


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    # No test may read or write the user's real cache or settings.
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path_factory.mktemp("cache")))
    monkeypatch.setenv("STUDIO_CONFIG_DIR", str(tmp_path_factory.mktemp("config")))
    monkeypatch.setenv("STUDIO_DATA_DIR", str(tmp_path_factory.mktemp("data")))


@pytest.fixture(scope="module")
def torch_one_thread():
    """One torch thread for a module of tiny-model tests: on 2 cores torch's own threads make
    them several times slower."""
    from tiny_models import one_torch_thread

    with one_torch_thread():
        yield


@pytest.fixture
def offline_models(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No model found outside the test: an empty hub cache, no STUDIO_MODELS folder."""
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("STUDIO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.delenv("STUDIO_MODELS", raising=False)
