"""What a task's plot draws, from its table (pure): per method a line of score vs sparsity, N:M
points, quantization points vs bits, each point with the interval of its delta placed around
the dense score (dense + [low, high]) for error bars, the dense reference and its tolerance
band, and optionally perplexity on a second axis."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kick.metrics import as_number
from kick.report.model import Row, TaskTable
from kick.types import Level


@dataclass(frozen=True)
class Series:
    """One method's points; `low`/`high` (empty when no point has an interval): the bounds of
    dense + interval of the delta per point (a point without an interval: its own y)."""

    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]
    low: tuple[float, ...] = ()
    high: tuple[float, ...] = ()


@dataclass(frozen=True)
class PlotSeries:
    """Everything a task's plot draws: lines per method vs sparsity, N:M points, quantization
    points vs bits, the dense reference and its tolerance band, and (optionally) perplexity."""

    task: str
    model: str
    metric: str
    lower_is_better: bool
    dense: float | None
    band: tuple[float, float] | None
    lines: tuple[Series, ...]
    nm_points: tuple[Series, ...]
    bit_points: tuple[Series, ...]
    secondary: tuple[Series, ...] = ()
    secondary_metric: str | None = None
    level: float | None = None  # of the error bars


def tolerance_band(
    dense: float, *, rel_tol: float, abs_tol: float | None, lower_is_better: bool
) -> tuple[float, float]:
    """The range of scores that still match dense (the worse side only: better always matches)."""
    slack = max(rel_tol * abs(dense), abs_tol or 0.0)
    return (dense, dense + slack) if lower_is_better else (dense - slack, dense)


def _points(rows: Sequence[Row], metric: str, kind: str, x_of: Callable[[Level], Any]) -> tuple[Series, ...]:
    """One series per method (and seed), sorted by x, with error-bar bounds when intervals exist."""
    out = []
    for method, seed in dict.fromkeys((r.method, r.seed) for r in rows):
        pts = []
        for r in rows:
            c = r.cell(metric)
            if (r.method, r.seed) != (method, seed) or r.level.kind != kind or c is None or c.value is None:
                continue
            lo, hi, bar = c.value, c.value, False
            if c.interval is not None and c.dense is not None:
                lo, hi, bar = c.dense + c.interval[0], c.dense + c.interval[1], True
            pts.append((x_of(r.level), c.value, lo, hi, bar))
        if not pts:
            continue
        pts.sort()
        label = method if seed is None else f"{method} seed {seed}"
        bars = any(p[4] for p in pts)
        out.append(
            Series(
                label,
                tuple(p[0] for p in pts),
                tuple(p[1] for p in pts),
                tuple(p[2] for p in pts) if bars else (),
                tuple(p[3] for p in pts) if bars else (),
            )
        )
    return tuple(out)


def _from_dense(s: Series, dense: float) -> Series:
    """The series starting at sparsity 0 with the dense score (its bar: none)."""
    if 0.0 in s.x:
        return s
    low = (dense, *s.low) if s.low else ()
    high = (dense, *s.high) if s.high else ()
    return Series(s.label, (0.0, *s.x), (dense, *s.y), low, high)


def plot_series(table: TaskTable, secondary: TaskTable | None = None) -> PlotSeries | None:
    """The series of one task's plot (None when the task has no numeric primary metric).
    Lines start at sparsity 0 with the dense score, so each line shows the drop from dense."""
    metric = table.main_metric
    if metric is None:
        return None
    dense = as_number(table.dense.get(metric))
    lower = metric in table.lower_is_better
    lines = _points(table.rows, metric, "sparsity", lambda lv: lv.sparsity)
    if dense is not None:
        lines = tuple(_from_dense(s, dense) for s in lines)
    sec: tuple[Series, ...] = ()
    sec_metric = None
    if secondary is not None and secondary.task != table.task:
        sec_metric = secondary.primary_metric or (secondary.metrics[0] if secondary.metrics else None)
        if sec_metric:
            sec = _points(secondary.rows, sec_metric, "sparsity", lambda lv: lv.sparsity)
            sd = as_number(secondary.dense.get(sec_metric))
            if sd is not None:  # the secondary axis stays a plain line (no bars)
                sec = tuple(Series(s.label, (0.0, *s.x), (sd, *s.y)) for s in sec)
    return PlotSeries(
        task=table.task,
        model=table.model,
        metric=metric,
        lower_is_better=lower,
        dense=dense,
        band=tolerance_band(dense, rel_tol=table.rel_tol, abs_tol=table.abs_tol, lower_is_better=lower)
        if dense is not None
        else None,
        lines=lines,
        nm_points=_points(table.rows, metric, "pattern", lambda lv: lv.sparsity),
        bit_points=_points(table.rows, metric, "bits", lambda lv: float(lv.value or 0)),
        secondary=sec,
        secondary_metric=sec_metric if sec else None,
        level=table.level,
    )


def perplexity_table(tables: Sequence[TaskTable], model: str) -> TaskTable | None:
    """The model's perplexity-like table: the first whose primary metric is lower-is-better."""
    return next((t for t in tables if t.model == model and t.primary_metric in t.lower_is_better), None)
