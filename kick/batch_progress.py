"""Progress within one `Task.predict` call: per batch of generation or scoring, not per chunk.

The callback is an optional, declared part of two interfaces (`kick.interfaces`): a backend with
`reports_progress = True` takes `progress=` in `generate`, `choice_logprobs`, `loglikelihood` and
`token_nll`; a task with `reports_progress = True` takes `progress=` in `predict`. Either way the
callback is given how many items (prompts, requests, windows; samples for a task) were finished
since its last call. A component without the flag is never passed it: the runner then advances
once per chunk, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

ProgressFn = Callable[[float], None]
"""Told `n` more items are done; `n` may be a fraction of an item (a window of a perplexity stream)."""


def progress_kwargs(component: Any, progress: ProgressFn | None) -> dict[str, Any]:
    """`{"progress": progress}` when `component` declares `reports_progress` and there is a
    callback, else `{}`: splice it into a call (`model.generate(..., **progress_kwargs(model, cb))`)."""
    if progress is None or not getattr(component, "reports_progress", False):
        return {}
    return {"progress": progress}


class Ticker:
    """Turns units finished (rows, windows, prompts) into items finished for a callback.

    `units` of work make up `items` (default: one item per unit), so a task whose sample is many
    windows reports fractions of it. With `every`, a call is made only once that many items are
    pending (and at the end): continuous batching finishes rows one at a time, but progress is
    per batch."""

    def __init__(self, progress: ProgressFn | None, units: int, items: float | None = None, every: float = 0):
        self._progress = progress
        self._units = max(0, units)
        self._items = float(self._units if items is None else items)
        self._every = every
        self._done = 0
        self._sent = 0.0

    def add(self, units: int = 1) -> None:
        if self._progress is None or not self._units:
            return
        self._done = min(self._units, self._done + units)
        target = self._items if self._done == self._units else self._done * self._items / self._units
        pending = target - self._sent
        if pending > 0 and (pending >= self._every or self._done == self._units):
            self._sent = target
            self._progress(int(pending) if float(pending).is_integer() else pending)


def scaled(progress: ProgressFn | None, factor: float) -> ProgressFn | None:
    """`progress` with every count multiplied by `factor` (two passes over the same samples: 0.5)."""
    if progress is None:
        return None
    return lambda n: progress(n * factor)
