"""Takes: every render that reaches a Save node writes a new numbered take, never overwriting.

``<out>/<shot>/<shot>_v007.mp4`` (+ ``_v007.json`` sidecar, ``_v007_poster.png``), indexed in
``<out>/takes.sqlite``. Qt-free; the CLI (``studio takes``), the editor's panel and the render
queue all use this API:

- :class:`TakesDB` — ``TakesDB(out_dir)``; ``list(shot=None, rating=None, limit=None)`` newest
  first, ``get("shot_v007")``, ``by_key(cache_key)``, ``rate(name, Rating.CIRCLE)``,
  ``set_note(name, text)``; each :class:`Take` has ``name``, ``files``, ``paths()``,
  ``missing``, ``workflow`` (the snapshot), ``changed``, ``seeds``, ``nodes`` (per-node key,
  seconds, cached), ``versions``, ``device``, ``rating``, ``note``.
- :class:`TakeWriter` — stage files privately, then ``publish(take)`` numbers, publishes and
  records atomically (what the Save nodes use).
- :func:`studio.takes.restore.restore_workflow` — the workflow that made a take, through the
  file format's migration chain; :func:`studio.takes.reindex.reindex` rebuilds the index.
"""

from studio.takes.db import Rating, Take, TakesDB, TakesError, parse_take_name, take_name
from studio.takes.publish import TakeWriter, WriteError, sweep_stale

__all__ = [
    "Rating",
    "Take",
    "TakeWriter",
    "TakesDB",
    "TakesError",
    "WriteError",
    "parse_take_name",
    "sweep_stale",
    "take_name",
]
