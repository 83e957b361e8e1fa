"""A settings file with values of the wrong type gives a message naming the key, never a
traceback; unreadable settings files (a pipe, deep nesting) fall back to the defaults."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from studio.cli import main
from studio.engine.cache import Cache
from studio.settings import Settings, config_dir


def write_settings(values: object) -> Path:
    path = config_dir() / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    return path


@pytest.mark.parametrize("value", [5, "models", [1, 2], {"a": "b"}, None])
def test_studio_models_names_a_wrongly_typed_key(capsys, value):
    write_settings({"model_folders": value})
    assert main(["models"]) == 0
    captured = capsys.readouterr()
    if value is not None:
        assert "'model_folders' must be a list of folder paths" in captured.err
    assert "Traceback" not in captured.err and "Model folders: " in captured.out


def test_wrong_types_fall_back_to_the_defaults_and_other_keys_survive(tmp_path):
    write_settings({"cache_disk_bytes": "lots", "cache_memory_bytes": -1, "theme": "dark"})
    settings = Settings()
    assert settings.get("cache_disk_bytes", 7) == 7 and settings.get("theme") == "dark"
    assert settings.get("cache_memory_bytes", 3) == 3
    assert len(settings.problems) == 2 and "'cache_disk_bytes'" in settings.problems[0]
    cache = Cache(tmp_path / "c")
    assert cache.memory.budget > 0 and cache.disk is not None and cache.disk.budget > 0


def test_a_settings_file_that_is_a_pipe_or_too_deep_is_ignored():
    path = config_dir() / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    settings = Settings()  # no hang on a pipe with no writer
    assert settings.get("model_folders", []) == [] and "not a settings file" in settings.problems[0]
    path.unlink()
    path.write_text("[" * 100_000 + "]" * 100_000)
    assert Settings().get("model_folders") is None
