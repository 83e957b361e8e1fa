"""User settings and folders: a small JSON file under the user's config folder.

``STUDIO_CONFIG_DIR``, ``STUDIO_CACHE_DIR`` and ``STUDIO_DATA_DIR`` override the platform folders
(tests use them).
"""

from __future__ import annotations

import json
import logging
import os
import reprlib
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from platformdirs import user_cache_dir, user_config_dir, user_data_dir

from studio.graph.fileformat import write_text_atomic

log = logging.getLogger(__name__)


def config_dir() -> Path:
    return Path(os.environ.get("STUDIO_CONFIG_DIR") or user_config_dir("studio", appauthor=False))


def cache_dir() -> Path:
    return Path(os.environ.get("STUDIO_CACHE_DIR") or user_cache_dir("studio", appauthor=False))


def data_dir() -> Path:
    """Per-user data that is not a cache (the render queue)."""
    return Path(os.environ.get("STUDIO_DATA_DIR") or user_data_dir("studio", appauthor=False))


MAX_SETTINGS_BYTES = 1024 * 1024


def _whole_bytes(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


@dataclass(frozen=True)
class Setting:
    """A known setting: what its value must be, in words for the message if it is not."""

    valid: Callable[[Any], bool]
    expects: str


# Settings Studio reads. A value of the wrong type is ignored (the default is used) and named
# in ``Settings.problems``; unknown keys are kept and saved back untouched.
KNOWN: dict[str, Setting] = {
    "model_folders": Setting(_texts, "a list of folder paths"),
    # Blueprint libraries (saved subgraphs), searched before the shipped resources/blueprints;
    # new blueprints are saved into the first.
    "blueprint_folders": Setting(_texts, "a list of folder paths"),
    "cache_memory_bytes": Setting(_whole_bytes, "a whole number of bytes"),
    "cache_disk_bytes": Setting(_whole_bytes, "a whole number of bytes"),
    "recent_files": Setting(_texts, "a list of file paths"),
    "ray_address": Setting(lambda v: isinstance(v, str), "a Ray address like 10.0.0.5:6379"),
    "path_map": Setting(_texts, 'a list of "FROM=TO" path prefixes'),
    "strip_local_paths": Setting(lambda v: isinstance(v, bool), "true or false"),
    # Where the editor renders to, instead of a renders/ folder beside the saved workflow.
    "output_dir": Setting(lambda v: isinstance(v, str) and bool(v), "a folder path"),
}


class Settings:
    """Key/value settings persisted as JSON; a corrupt file is set aside, and a value of the
    wrong type ignored, never fatal: :attr:`problems` says what was wrong, naming the key."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or config_dir() / "settings.json"
        self.problems: list[str] = []
        self._values: dict[str, Any] = self._read()

    def _read(self) -> dict[str, Any]:
        try:
            info = self.path.stat()
        except OSError:
            return {}  # no settings yet
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_SETTINGS_BYTES:
            self._problem(f"{self.path} is not a settings file; using the defaults")
            return {}
        try:
            values = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, RecursionError) as exc:
            self._problem(f"{self.path} could not be read ({exc}); using the defaults")
            try:
                self.path.replace(self.path.with_suffix(".corrupt.json"))
            except OSError:
                pass  # a read-only config folder: it stays, and is ignored again next time
            return {}
        if not isinstance(values, dict):
            self._problem(f"{self.path} does not hold an object of settings; using the defaults")
            return {}
        return values

    def _problem(self, message: str) -> None:
        if message not in self.problems:
            self.problems.append(message)
            log.warning("%s", message)

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._values:
            return default
        value = self._values[key]
        known = KNOWN.get(key)
        if known is not None and not known.valid(value):
            self._problem(
                f"settings.json: {key!r} must be {known.expects}, got {_brief(value)}; "
                "using the default"
            )
            return default
        return value

    def set(self, key: str, value: Any) -> None:
        self._values[key] = value
        write_text_atomic(self.path, json.dumps(self._values, indent=2) + "\n")


def _brief(value: Any) -> str:
    text = reprlib.repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
