"""The few numeric rules every summary, report and console view shares, each written once:
what counts as a number, NaN/inf in JSON, the headline metrics of a task, and the
dense-vs-compressed comparison."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

COUNTERS = ("n", "errors")
"""Metrics that count items rather than measure quality: shown, never compared or marked."""


def is_number(x: Any) -> bool:
    """A finite int or float that is not a bool."""
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def as_number(x: Any) -> float | None:
    """`x` as a float when it is a number (see `is_number`), else None."""
    return float(x) if is_number(x) else None


def clean_number(x: Any) -> Any:
    """NaN/inf are not JSON: they become None (and are reported as missing)."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def headline_metrics(
    metrics: Mapping[str, Any], primary: str | None, *, limit: int | None = None
) -> list[str]:
    """The metrics worth a column: numeric, not a counter, not a per-subject/bucket breakdown
    (names with '/'), the task's primary metric first."""
    names = [k for k, v in metrics.items() if is_number(v) and "/" not in k and k not in COUNTERS]
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)
    return names[:limit] if limit is not None else names


def compare(
    dense: Mapping[str, Any],
    compressed: Mapping[str, Any],
    *,
    rel_tol: float = 0.05,
    abs_tol: float | None = None,
    lower_is_better: Iterable[str] = (),
) -> dict[str, dict[str, Any]]:
    """Per numeric metric: dense, compressed, absolute and relative delta, and whether the
    compressed score still matches dense: it is no worse than dense by more than `rel_tol` of the
    dense value, or (if given) by more than `abs_tol` absolute. Being better always matches."""
    lower = set(lower_is_better)
    out: dict[str, dict[str, Any]] = {}
    for key, d in dense.items():
        c = compressed.get(key)
        if not is_number(d) or not is_number(c):
            continue
        delta = c - d
        rel = delta / abs(d) if d else None
        worse = delta if key in lower else -delta  # > 0 means compressed is worse
        ok_rel = worse <= rel_tol * abs(d)
        ok_abs = abs_tol is not None and worse <= abs_tol
        out[key] = {
            "dense": d,
            "compressed": c,
            "delta": delta,
            "rel_delta": rel,
            "lower_is_better": key in lower,
            "matches": bool(ok_rel or ok_abs),
        }
    return out
