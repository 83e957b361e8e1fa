"""The ``studio`` command: render, validate and inspect workflows without the editor.

    studio render WORKFLOW [--out DIR] [--target NODE] [--set NODE.PARAM=VALUE] [--events jsonl]
    studio validate WORKFLOW
    studio nodes [--json]
    studio node TYPE --input PORT=PATH ... [--set PARAM=VALUE ...] --out DIR
    studio cache info|clear
    studio models
    studio open [WORKFLOW] [--run] [--screenshot PNG]

Exit status: 0 ok, 1 failed (or invalid), 2 unusable input (a broken workflow file, an unknown
node), 130 cancelled with Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from studio import __version__
from studio.graph.registry import NodeRegistry

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_CANCELLED = 0, 1, 2, 130


class UsageError(Exception):
    """Bad input from the command line: one line on stderr, exit 2."""


def main(argv: Sequence[str] | None = None, *, registry: NodeRegistry | None = None) -> int:
    """Entry point. ``registry`` replaces the shipped node types (tests pass stub nodes)."""
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args, registry)
    except UsageError as exc:
        print(f"studio: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("studio: cancelled", file=sys.stderr)
        return EXIT_CANCELLED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="studio", description="Direct AI video with a node graph: render and inspect."
    )
    parser.add_argument("--version", action="version", version=f"studio {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    render = sub.add_parser("render", help="render a workflow file")
    render.add_argument("workflow", help="the workflow .json file")
    render.add_argument("--out", type=Path, default=Path("out"), help="output folder (./out)")
    many: dict[str, Any] = {"action": "append", "default": []}  # repeatable options
    render.add_argument(
        "--target", metavar="NODE", **many, help="render only up to NODE (id, id prefix or title)"
    )
    render.add_argument(
        "--set",
        metavar="NODE.PARAM=VALUE",
        **many,
        help="override a parameter (VALUE is JSON, else text)",
    )
    render.add_argument(
        "--events", choices=["jsonl"], help="print one JSON event per line instead of progress bars"
    )
    render.set_defaults(handler=cmd_render)

    validate = sub.add_parser("validate", help="check a workflow file and list its problems")
    validate.add_argument("workflow")
    validate.set_defaults(handler=cmd_validate)

    nodes = sub.add_parser("nodes", help="list every node type with its ports and params")
    nodes.add_argument("--json", action="store_true", help="machine-readable output")
    nodes.set_defaults(handler=cmd_nodes)

    node = sub.add_parser("node", help="run one node on files")
    node.add_argument("type", help="node type, e.g. Upscale")
    node.add_argument(
        "--input",
        metavar="PORT=PATH",
        **many,
        help="an input from a file: PNG/JPEG for images and masks; an mp4, a "
        "folder of numbered PNGs or one image for videos",
    )
    node.add_argument("--set", metavar="PARAM=VALUE", **many)
    node.add_argument("--out", type=Path, required=True, help="folder for the outputs")
    node.add_argument(
        "--fps", type=float, default=16.0, help="frame rate for videos read from images (16)"
    )
    node.set_defaults(handler=cmd_node)

    cache = sub.add_parser("cache", help="show or empty the render cache")
    cache.add_argument("action", choices=["info", "clear"])
    cache.set_defaults(handler=cmd_cache)

    models = sub.add_parser("models", help="the device and the models Studio can find")
    models.set_defaults(handler=cmd_models)

    open_ = sub.add_parser("open", help="open the editor")
    open_.add_argument("workflow", nargs="?")
    open_.add_argument("--run", action="store_true", help="render as soon as it opens")
    open_.add_argument("--screenshot", metavar="PNG", help="save a screenshot and quit")
    open_.set_defaults(handler=cmd_open)
    return parser


# -- helpers ----------------------------------------------------------------------------------


def _registry(registry: NodeRegistry | None) -> NodeRegistry:
    if registry is not None:
        return registry
    from studio.graph.registry import default_registry

    return default_registry()


def parse_value(text: str) -> Any:
    """A --set value: JSON when it parses (numbers, true, lists), otherwise the text itself."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _split_assignment(text: str, what: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    if not sep or not name:
        raise UsageError(f"expected {what}=VALUE, got {text!r}")
    return name, value


def load_workflow(path: str, registry: NodeRegistry) -> Any:
    """The workflow's graph; a broken file becomes a UsageError (one clear line)."""
    from studio.graph.fileformat import WorkflowFileError, load

    try:
        loaded = load(path, registry)
    except WorkflowFileError as exc:
        raise UsageError(str(exc)) from None
    for warning in loaded.warnings:
        print(f"studio: warning: {warning}", file=sys.stderr)
    return loaded.graph


def _make_engine(registry: NodeRegistry) -> Any:
    from studio.engine import Engine

    try:
        from studio.engine.models import ModelManager
    except ImportError:
        models = None
    else:
        models = ModelManager()
    return Engine(registry, models=models)


# -- render -----------------------------------------------------------------------------------


def cmd_render(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import RenderJob
    from studio.graph.graph import GraphError

    registry = _registry(registry)
    graph = load_workflow(args.workflow, registry)
    try:
        for assignment in args.set:
            key, value = _split_assignment(assignment, "NODE.PARAM")
            node_key, dot, param = key.rpartition(".")
            if not dot:
                raise UsageError(f"--set needs NODE.PARAM=VALUE, got {assignment!r}")
            graph.find(node_key).set_param(param, parse_value(value))
        targets = [graph.find(t).id for t in args.target] or None
    except GraphError as exc:
        raise UsageError(str(exc)) from None

    titles = {n.id: n.title for n in graph.nodes}
    printer = JsonlPrinter() if args.events == "jsonl" else ProgressPrinter(titles)
    job = RenderJob(_make_engine(registry), graph, targets, output_dir=args.out, on_event=printer)
    job.start()
    interrupted = False
    while job.running:
        try:
            job.wait(0.2)
        except KeyboardInterrupt:
            if interrupted:  # a second Ctrl-C: stop waiting for the node to notice
                return EXIT_CANCELLED
            interrupted = True
            print("studio: cancelling at the next step (Ctrl-C again to quit now)", file=sys.stderr)
            job.cancel()
    result = job.result
    if result is None:
        print(f"studio: error: the engine failed: {job.error}", file=sys.stderr)
        return EXIT_FAILED
    files = [p for outputs in result.outputs.values() for p in outputs.get("files", [])]
    for node_id in targets or []:  # "up to node X": write X's outputs for the artist to see
        node = graph.node(node_id)
        for port in node.outputs if node_id in result.outputs else ():
            if port.name in result.outputs[node_id]:
                stem = re.sub(r"[^\w-]+", "_", f"{node.title}_{port.name}").strip("_")
                args.out.mkdir(parents=True, exist_ok=True)
                value = result.outputs[node_id][port.name]
                files += write_output(port.type, value, args.out, stem)[:1]
    if args.events != "jsonl":
        for path in files:
            print(path)
    return {"ok": EXIT_OK, "cancelled": EXIT_CANCELLED}.get(result.status, EXIT_FAILED)


class JsonlPrinter:
    """One JSON object per line on stdout, flushed so a pipe sees events as they happen."""

    def __call__(self, event: Any) -> None:
        print(json.dumps(event.to_json()), flush=True)


class ProgressPrinter:
    """A tqdm bar per running node on stderr; a line per cached, failed or skipped node."""

    def __init__(self, titles: dict[str, str]) -> None:
        self.titles = titles
        self.bar: Any = None

    def __call__(self, event: Any) -> None:
        from tqdm import tqdm

        title = self.titles.get(event.node_id or "", event.node_id or "")
        kind = event.kind
        if kind == "node_started":
            self._close()
            self.bar = tqdm(
                desc=title, total=None, unit="step", file=sys.stderr, leave=True, dynamic_ncols=True
            )
        elif kind == "node_progress" and self.bar is not None:
            if self.bar.total != event.total:
                self.bar.total = event.total
            if event.message:
                self.bar.set_postfix_str(event.message, refresh=False)
            self.bar.update(event.step - self.bar.n)  # redraws at most every 0.1 s
        elif kind == "node_finished":
            self._close()
            done = "bypassed" if event.message == "bypassed" else f"done in {event.elapsed:.2f} s"
            tqdm.write(f"{title}: {done}", file=sys.stderr)
        elif kind == "node_cached":
            tqdm.write(f"{title}: cached", file=sys.stderr)
        elif kind == "node_info":
            tqdm.write(f"{title}: {event.message}", file=sys.stderr)
        elif kind in ("node_failed", "node_skipped", "node_cancelled"):
            self._close()
            label = {
                "node_failed": "FAILED",
                "node_skipped": "skipped",
                "node_cancelled": "cancelled",
            }[kind]
            tqdm.write(f"{title}: {label}: {event.message}", file=sys.stderr)
            if event.traceback:
                tqdm.write(event.traceback.rstrip(), file=sys.stderr)
        elif kind == "run_finished":
            self._close()
            elapsed = f" in {event.elapsed:.2f} s" if event.elapsed is not None else ""
            tqdm.write(f"render {event.status}{elapsed}", file=sys.stderr)

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# -- validate, nodes, cache, models, open -----------------------------------------------------


def cmd_validate(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.graph.validate import validate

    graph = load_workflow(args.workflow, _registry(registry))
    problems = validate(graph)
    for problem in problems:
        print(f"{problem.severity}: {problem}")
    failed = any(p.severity == "error" for p in problems)
    if not failed:
        print(f"{args.workflow}: valid ({len(graph.nodes)} nodes)")
    return EXIT_FAILED if failed else EXIT_OK


def describe_spec(spec: Any) -> dict[str, Any]:
    def port(p: Any) -> dict[str, Any]:
        return {"name": p.name, "type": p.type.value, "optional": p.optional, "help": p.help}

    params = []
    for p in spec.params:
        entry = {"name": p.name, "kind": p.kind.value, "default": p.default, "help": p.help}
        entry.update(
            {k: getattr(p, k) for k in ("min", "max", "step") if getattr(p, k) is not None}
        )
        if p.choices:
            entry["choices"] = list(p.choices)
        params.append(entry)
    return {
        "type": spec.type_id,
        "title": spec.title,
        "category": spec.category,
        "version": spec.version,
        "help": spec.help,
        "output_node": spec.output_node,
        "always_run": spec.always_run,
        "inputs": [port(p) for p in spec.inputs],
        "outputs": [port(p) for p in spec.outputs],
        "params": params,
    }


def cmd_nodes(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    specs = [describe_spec(s) for s in _registry(registry)]
    if args.json:
        print(json.dumps(specs, indent=2, default=str))
        return EXIT_OK
    for spec in specs:
        print(f"{spec['type']}  ({spec['category']}, v{spec['version']})  {spec['title']}")
        for group in ("inputs", "outputs"):
            for p in spec[group]:
                optional = ", optional" if p["optional"] else ""
                print(f"    {group[:-1]:6} {p['name']}: {p['type']}{optional}")
        for p in spec["params"]:
            limits = "".join(f" {k}={p[k]}" for k in ("min", "max") if k in p)
            choices = f" one of {', '.join(p['choices'])}" if "choices" in p else ""
            print(f"    param  {p['name']}: {p['kind']} = {p['default']!r}{limits}{choices}")
    return EXIT_OK


def cmd_cache(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import Cache

    cache = Cache()
    if args.action == "clear":
        print(f"removed {cache.clear()} cached results from {cache.info()['path']}")
        return EXIT_OK
    info = cache.info()
    print(f"location: {info['path']}")
    print(f"entries:  {info['disk_entries']}")
    print(f"size:     {_size(info['disk_bytes'])} of {_size(info['disk_budget'])}")
    return EXIT_OK


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def cmd_models(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    try:
        from studio.engine.models import format_model_report
    except ImportError as exc:
        print(f"studio: model support is not available ({exc})", file=sys.stderr)
        return EXIT_FAILED
    print(format_model_report())
    return EXIT_OK


def cmd_open(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    try:
        from studio.ui.app import open_editor
    except ImportError as exc:
        print(f"studio: the editor is not available ({exc})", file=sys.stderr)
        return EXIT_FAILED
    return int(open_editor(args.workflow, args.run, args.screenshot))


# -- node: one node on files ------------------------------------------------------------------


def cmd_node(args: argparse.Namespace, registry: NodeRegistry | None) -> int:
    from studio.engine import CancelToken, RunEvent
    from studio.engine.context import NodeContext
    from studio.engine.scheduler import output_problem
    from studio.graph.spec import Cancelled, NodeError

    registry = _registry(registry)
    spec = registry.get(args.type)
    if spec is None:
        known = ", ".join(s.type_id for s in registry)
        raise UsageError(f"unknown node type {args.type!r}; known: {known}")
    inputs: dict[str, Any] = {}
    for assignment in args.input:
        name, path = _split_assignment(assignment, "PORT")
        port = spec.input(name)
        if port is None:
            raise UsageError(f"{spec.title} has no input {name!r}")
        inputs[name] = read_input(port.type, Path(path), args.fps)
    missing = [p.name for p in spec.inputs if not p.optional and p.name not in inputs]
    if missing:
        raise UsageError(f"{spec.title} needs --input for {', '.join(missing)}")
    params = spec.default_params()
    for assignment in args.set:
        name, value = _split_assignment(assignment, "PARAM")
        param = spec.param(name)
        if param is None:
            raise UsageError(f"{spec.title} has no parameter {name!r}")
        params[name] = parse_value(value)
        problem = param.problem(params[name])
        if problem:
            raise UsageError(f"{param.display_name}: {problem}")

    printer = ProgressPrinter({"node": spec.title})
    ctx = NodeContext(
        run_id="cli",
        node_id="node",
        output_dir=args.out,
        cancel=CancelToken(),
        emit=printer,
        device=_device,
        workflow_json=lambda: "{}",
        models=_make_engine(registry).models,
    )
    printer(RunEvent("node_started", "cli", "node"))
    start = time.perf_counter()
    try:
        outputs = spec.run(ctx, inputs, params)
        problem = output_problem(spec, outputs)
        if problem:
            raise NodeError(problem)
    except (NodeError, Cancelled) as exc:
        printer(RunEvent("node_failed", "cli", "node", message=str(exc) or "cancelled"))
        return EXIT_FAILED
    except Exception as exc:  # a bug in the node: its message and where it happened
        message = f"{type(exc).__name__}: {exc}"
        printer(
            RunEvent(
                "node_failed", "cli", "node", message=message, traceback=traceback.format_exc()
            )
        )
        return EXIT_FAILED
    printer(RunEvent("node_finished", "cli", "node", elapsed=time.perf_counter() - start))
    args.out.mkdir(parents=True, exist_ok=True)
    for port in spec.outputs:
        if port.name in outputs:
            for path in write_output(port.type, outputs[port.name], args.out, port.name):
                print(path)
    for path in outputs.get("files", []):
        print(path)
    return EXIT_OK


def _device() -> str:
    from studio.engine.context import detect_device

    return detect_device()


# -- reading and writing media for ``studio node`` (cv2 and PyAV directly) -----------------

VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".gif"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


def read_input(port_type: Any, path: Path, fps: float) -> Any:
    from studio.graph.types import PortType

    if not path.exists():
        raise UsageError(f"{path} does not exist")
    if port_type is PortType.IMAGE:
        return read_image(path)
    if port_type is PortType.MASK:
        return read_mask(path)
    if port_type is PortType.VIDEO:
        return read_video(path, fps)
    raise UsageError(f"inputs of type {port_type.value} cannot be read from files")


def read_image(path: Path) -> Any:
    import cv2

    data = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if data is None:
        raise UsageError(f"cannot read {path} as an image")
    return cv2.cvtColor(data, cv2.COLOR_BGR2RGB)


def read_mask(path: Path) -> Any:
    import cv2
    import numpy as np

    data = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if data is None:
        raise UsageError(f"cannot read {path} as a mask")
    if data.ndim == 3:
        data = cv2.cvtColor(data[..., :3], cv2.COLOR_BGR2GRAY)
    scale = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}.get(data.dtype, 1.0)
    return np.clip(data.astype(np.float32) / scale, 0.0, 1.0)


def read_video(path: Path, fps: float) -> Any:
    import numpy as np

    from studio.graph.types import Video

    if path.is_dir():
        files = sorted(
            (f for f in path.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key
        )
        if not files:
            raise UsageError(f"{path} holds no numbered images")
        frames = [read_image(f) for f in files]
        if len({f.shape for f in frames}) != 1:
            raise UsageError(f"the images in {path} differ in size")
        return Video(np.stack(frames), fps)
    if path.suffix.lower() in VIDEO_SUFFIXES:
        import av

        try:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate
                frames = [f.to_ndarray(format="rgb24") for f in container.decode(stream)]
        except (av.error.FFmpegError, IndexError) as exc:
            raise UsageError(f"cannot read {path} as a video ({exc})") from None
        if not frames:
            raise UsageError(f"{path} has no frames")
        return Video(np.stack(frames), float(rate) if rate else fps)
    return Video(read_image(path)[None], fps)  # a single image: a one-frame clip


def _natural_key(path: Path) -> list[Any]:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]


def write_output(port_type: Any, value: Any, folder: Path, name: str) -> list[Path]:
    """Write one output: PNG for images and masks, mp4 plus PNG frames for videos."""
    import cv2
    import numpy as np

    from studio.graph.types import PortType

    if port_type is PortType.IMAGE:
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), cv2.cvtColor(np.ascontiguousarray(value), cv2.COLOR_RGB2BGR))
        return [path]
    if port_type is PortType.MASK:
        path = folder / f"{name}.png"
        cv2.imwrite(str(path), np.round(np.clip(value, 0, 1) * 255).astype(np.uint8))
        return [path]
    if port_type is PortType.VIDEO:
        frames_dir = folder / f"{name}_frames"
        frames_dir.mkdir(parents=True, exist_ok=True)
        for index, frame in enumerate(value.frames):
            cv2.imwrite(
                str(frames_dir / f"{index:05d}.png"),
                cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2BGR),
            )
        path = folder / f"{name}.mp4"
        write_mp4(path, value.frames, value.fps)
        return [path, frames_dir]
    path = folder / f"{name}.json"
    path.write_text(json.dumps(value, default=_jsonable, indent=2))
    return [path]


def write_mp4(path: Path, frames: Any, fps: float) -> None:
    """H.264 (yuv420p, so even sizes: an odd edge row or column is repeated)."""
    from fractions import Fraction

    import av
    import numpy as np

    height, width = frames.shape[1:3]
    pad = ((0, 0), (0, height % 2), (0, width % 2), (0, 0))
    frames = np.pad(frames, pad, mode="edge") if any(p[1] for p in pad) else frames
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=Fraction(fps).limit_denominator(1001))
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "17"}
        for frame in frames:
            container.mux(
                stream.encode(
                    av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
                )
            )
        container.mux(stream.encode())


def _jsonable(value: Any) -> Any:
    import dataclasses

    import numpy as np

    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    return str(value)
