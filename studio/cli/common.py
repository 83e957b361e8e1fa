"""What every ``studio`` command shares: exit codes, usage errors, reading workflows and values."""

from __future__ import annotations

import json
import sys
from typing import Any

from studio.graph.registry import NodeRegistry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the command line: one line on stderr, exit 2."""


class WriteFailed(Exception):
    """An output could not be written (full or read-only disk): one line on stderr, exit 1."""


def registry_or_default(registry: NodeRegistry | None) -> NodeRegistry:
    if registry is not None:
        return registry
    from studio.session import default_registry

    return default_registry()


MAX_VALUE_DEPTH = 32


def printable(text: str) -> str:
    """``text`` safe to print on a terminal: control characters (ANSI escapes, BEL, carriage
    returns) from node titles, file names or messages are shown escaped (``\\x1b``), never
    obeyed."""
    return "".join(
        ch if ch.isprintable() or ch in "\n\t" else ch.encode("unicode_escape").decode()
        for ch in str(text)
    )


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true, lists), otherwise the text itself."""
    from studio.graph.spec import nesting_path

    try:
        value = json.loads(text)
    except ValueError:
        return text
    except RecursionError:
        raise UsageError("that value is nested too deeply") from None
    if nesting_path(value, MAX_VALUE_DEPTH) is not None:
        raise UsageError(f"that value is nested more than {MAX_VALUE_DEPTH} levels deep")
    return value


def split_assignment(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"expected {what}=VALUE, got {text!r}")
    return name, value


def load_workflow(path: str, registry: NodeRegistry, *, keep_errors: bool = False) -> Any:
    """The workflow's graph; a broken file becomes a UsageError (one clear line), or with
    ``keep_errors`` the WorkflowFileError itself (its ``problems`` list every one)."""
    from studio.graph.fileformat import WorkflowFileError, load

    try:
        loaded = load(path, registry)
    except WorkflowFileError as exc:
        if keep_errors:
            raise
        raise UsageError(str(exc)) from None
    for warning in loaded.warnings:
        print(f"studio: warning: {printable(warning)}", file=sys.stderr)
    return loaded.graph
