"""How a render reports on the terminal: progress bars for people, JSON lines for programs."""

from __future__ import annotations

import json
import sys
from typing import Any

from studio.cli.common import printable


class JsonlPrinter:
    """One JSON object per line on stdout, flushed so a pipe sees events as they happen."""

    def __call__(self, event: Any) -> None:
        if event.kind == "node_preview":
            return  # a picture per step: nothing a JSON line can carry
        print(json.dumps(event.to_json()), flush=True)


class ProgressPrinter:
    """A tqdm bar per running node on stderr (streaming nodes run several at once); a line per
    cached, failed or skipped node."""

    def __init__(self, titles: dict[str, str]) -> None:
        self.titles = titles
        self.bars: dict[str, Any] = {}  # node id -> its bar, while it runs

    def __call__(self, event: Any) -> None:
        from tqdm import tqdm

        node_id = event.node_id or ""
        title = printable(self.titles.get(node_id, node_id))
        kind = event.kind
        bar = self.bars.get(node_id)
        if kind == "node_started":
            self._close(node_id)
            self.bars[node_id] = tqdm(
                desc=title, total=None, unit="step", file=sys.stderr, leave=True,
                dynamic_ncols=True, position=len(self.bars),
            )  # fmt: skip
        elif kind == "node_progress" and bar is not None:
            if bar.total != event.total:
                bar.total = event.total
            if event.message:
                bar.set_postfix_str(printable(event.message), refresh=False)
            bar.update(event.step - bar.n)  # redraws at most every 0.1 s
        elif kind == "node_finished":
            self._close(node_id)
            done = "bypassed" if event.message == "bypassed" else f"done in {event.elapsed:.2f} s"
            tqdm.write(f"{title}: {done}", file=sys.stderr)
        elif kind == "node_cached":
            said = f" ({printable(event.message)})" if event.message else ""  # "take shot_v003"
            tqdm.write(f"{title}: cached{said}", file=sys.stderr)
        elif kind == "node_info":
            tqdm.write(f"{title}: {printable(event.message)}", file=sys.stderr)
        elif kind in ("node_failed", "node_skipped", "node_cancelled"):
            self._close(node_id)
            label = {
                "node_failed": "FAILED",
                "node_skipped": "skipped",
                "node_cancelled": "cancelled",
            }[kind]
            tqdm.write(f"{title}: {label}: {printable(event.message)}", file=sys.stderr)
            if event.traceback:
                tqdm.write(event.traceback.rstrip(), file=sys.stderr)
        elif kind == "run_finished":
            for running in list(self.bars):
                self._close(running)
            elapsed = f" in {event.elapsed:.2f} s" if event.elapsed is not None else ""
            tqdm.write(f"render {event.status}{elapsed}", file=sys.stderr)

    def _close(self, node_id: str) -> None:
        bar = self.bars.pop(node_id, None)
        if bar is not None:
            bar.close()
