"""Which items of a task a run evaluates: all, `limit` (a count, or a fraction of the task's items:
a seeded random subset, the task's own selection) or `first` (the first N items in file order, as
lm-evaluation-harness's --limit does). Parsed once at the edge, resolved per task in phase 1."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from kick.errors import SpecError
from kick.interfaces import Task
from kick.types import RunSpec, Sample

Limit = int | float
"""A count (an int >= 1) or a fraction of the task's items (a float in (0, 1])."""


def parse_limit(value: Any, where: str = "--limit") -> Limit | None:
    """A count or a fraction from an option's text or a spec value: "100" -> 100, "0.1" -> 0.1.
    Anything else (0, a negative, a fraction above 1, text) is one SpecError."""
    if value is None:
        return None
    shown = value
    if isinstance(value, str):
        text = value.strip()
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                value = None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecError(
            f"{where} must be a count (e.g. 100) or a fraction of the items (e.g. 0.1), got {shown!r}"
        )
    if isinstance(value, int):
        if value < 1:
            raise SpecError(f"{where} must be at least 1 (or a fraction such as 0.1), got {shown}")
        return value
    if not 0 < value <= 1:  # nan fails too
        raise SpecError(f"{where}: a fraction must be in (0, 1] (a count is a whole number), got {shown}")
    return value


def parse_first(value: Any, where: str = "--first") -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SpecError(f"{where} must be a whole number of at least 1, got {value!r}")
    return value


def choose(
    limit: Any, first: Any, file: Mapping[str, Any], file_name: str = "spec file"
) -> tuple[Limit | None, int | None]:
    """The run's (limit, first): the options' when either is given, else the spec file's; both at
    once is one SpecError (a random subset and the first N items exclude each other)."""
    if limit is None and first is None:
        limit, first = file.get("limit"), file.get("first")
        where = f"{file_name}: "
    else:
        where = ""
    if limit is not None and first is not None:
        raise SpecError(
            f"{where}--limit (a seeded random subset) and --first (the first N items in file order) "
            "exclude each other: give one"
        )
    return parse_limit(limit, f"{where}--limit"), parse_first(first, f"{where}--first")


def resolved_count(fraction: float, total: int) -> int:
    """A fraction of `total` items, rounded half up, at least 1."""
    return max(1, math.floor(fraction * total + 0.5))


def first_params(spec: RunSpec, params: Mapping[str, Any]) -> dict[str, Any]:
    """A task's parameters as first built: with the run's count `limit` (a task's own wins), else
    without one (a fraction, or `first`, is resolved against all the task's items)."""
    out = dict(params)
    if isinstance(spec.limit, int) and spec.first is None:
        out.setdefault("limit", spec.limit)
    return out


def select_samples(
    spec: RunSpec, params: Mapping[str, Any], task: Task, build: Callable[[dict[str, Any]], Task]
) -> tuple[Task, list[Sample], dict[str, Any]]:
    """The run's selection of a task's samples: (the task, its samples, what was selected, for
    the summary). `task` was built with `first_params`; a fraction rebuilds it with the resolved
    count, so `--limit 0.1` evaluates exactly the items `--limit N` would (N: 10% of them)."""
    items = list(task.samples())
    fraction = spec.limit if isinstance(spec.limit, float) and "limit" not in params else None
    if spec.first is not None:
        return (
            task,
            items[: spec.first],
            {"first": spec.first, "n": min(spec.first, len(items)), "of": len(items)},
        )
    if fraction is None:
        return task, items, {"limit": first_params(spec, params).get("limit"), "n": len(items)}
    n = resolved_count(fraction, len(items))
    task = build({**params, "limit": n})
    chosen = list(task.samples())
    return task, chosen, {"limit": fraction, "resolved_limit": n, "n": len(chosen), "of": len(items)}
