"""User settings and folders: a small JSON file under the user's config folder.

``STUDIO_CONFIG_DIR``, ``STUDIO_CACHE_DIR`` and ``STUDIO_DATA_DIR`` override the platform folders
(tests use them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

from studio.graph.fileformat import write_text_atomic


def config_dir() -> Path:
    return Path(os.environ.get("STUDIO_CONFIG_DIR") or user_config_dir("studio", appauthor=False))


def cache_dir() -> Path:
    return Path(os.environ.get("STUDIO_CACHE_DIR") or user_cache_dir("studio", appauthor=False))


def data_dir() -> Path:
    """Per-user data that is not a cache (the render queue)."""
    return Path(os.environ.get("STUDIO_DATA_DIR") or user_data_dir("studio", appauthor=False))


class Settings:
    """Key/value settings persisted as JSON; a corrupt file is set aside, never fatal."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"
        self._values: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            values = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError):
            self.path.replace(self.path.with_suffix(".corrupt.json"))
            return {}
        return values if isinstance(values, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value
        write_text_atomic(self.path, json.dumps(self._values, indent=2) + "\n")
