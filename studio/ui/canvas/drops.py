"""Files dropped on the editor: pictures and clips become Load nodes where they land; workflows
and Studio renders (which carry their workflow) open.

:func:`classify` decides from the file itself (its suffix, and for a movie whether Studio
embedded a workflow in it), so a PNG is never read as a workflow document.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from pathlib import Path

from studio.graph.commands import AddNode, Command, Macro

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset({".mp4", ".mov", ".mkv", ".webm", ".avi"})
STACK_STEP = 170.0  # several dropped files land one under another


class DropKind(StrEnum):
    WORKFLOW = "workflow"  # a .json workflow: open it
    STUDIO_VIDEO = "studio_video"  # a render that carries its workflow: reopen that
    IMAGE = "image"  # a picture: a Load Image node
    VIDEO = "video"  # a clip or a folder of PNG frames: a Load Video node
    UNKNOWN = "unknown"


NODE_FOR = {DropKind.IMAGE: "LoadImage", DropKind.VIDEO: "LoadVideo"}


def classify(path: Path) -> DropKind:
    suffix = path.suffix.lower()
    if path.is_dir():
        has_frames = any(p.suffix.lower() == ".png" for p in path.iterdir())
        return DropKind.VIDEO if has_frames else DropKind.UNKNOWN
    if suffix == ".json":
        return DropKind.WORKFLOW
    if suffix in IMAGE_SUFFIXES:
        return DropKind.IMAGE
    if suffix in VIDEO_SUFFIXES:
        from nodes.io import read_embedded_workflow

        return DropKind.STUDIO_VIDEO if read_embedded_workflow(path) else DropKind.VIDEO
    return DropKind.UNKNOWN


def load_nodes(
    paths: Iterable[tuple[Path, DropKind]], at: tuple[float, float]
) -> tuple[Command | None, list[AddNode]]:
    """One undoable command adding a Load node per picture or clip, stacked from ``at``.
    Returns it and its AddNode steps (their ``node_id`` is set once it is pushed)."""
    steps: list[AddNode] = []
    for path, kind in paths:
        if kind in NODE_FOR:
            x, y = at[0], at[1] + len(steps) * STACK_STEP
            steps.append(
                AddNode(
                    NODE_FOR[kind],
                    (round(x / 10) * 10.0, round(y / 10) * 10.0),
                    params={"path": str(path)},
                    label=f"Add {path.name}",
                )
            )
    if not steps:
        return None, []
    command = steps[0] if len(steps) == 1 else Macro(list(steps), label=f"Add {len(steps)} files")
    return command, steps


def refusal(path: Path) -> str:
    return (
        f"Cannot open {path.name}: drop a workflow (.json), a Studio render, a picture "
        f"({', '.join(sorted(IMAGE_SUFFIXES))}) or a clip ({', '.join(sorted(VIDEO_SUFFIXES))})"
    )
