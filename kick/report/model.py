"""The report's data model: pure functions from run summaries to the paper's views.

Nothing here renders or reads files (except `collect`, which only reads summary.json files):
rows per task (method @ level), each metric with its delta to dense and whether it still matches
dense within tolerance, the series a plot draws, and the largest level that still matches dense.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kick.errors import RunDirError
from kick.metrics import COUNTERS, as_number, compare, headline_metrics, is_number
from kick.rundir import SUMMARY
from kick.types import COMPRESSED, DENSE, Level


@dataclass(frozen=True)
class Result:
    """One compressed configuration's metrics on one task, with its model's dense metrics."""

    model: str
    task: str
    method: str
    level: Level
    metrics: Mapping[str, Any]
    dense: Mapping[str, Any]
    primary_metric: str | None = None
    lower_is_better: tuple[str, ...] = ()


@dataclass(frozen=True)
class Baseline:
    model: str
    task: str
    metrics: Mapping[str, Any]
    primary_metric: str | None = None
    lower_is_better: tuple[str, ...] = ()


@dataclass(frozen=True)
class MetricCell:
    metric: str
    value: float | None
    dense: float | None
    delta: float | None
    rel_delta: float | None
    matches: bool | None  # None when there is nothing to compare


@dataclass(frozen=True)
class Row:
    method: str
    level: Level
    cells: tuple[MetricCell, ...]

    @property
    def label(self) -> str:
        return f"{self.method} @ {self.level.label}"

    def cell(self, metric: str) -> MetricCell | None:
        return next((c for c in self.cells if c.metric == metric), None)


@dataclass(frozen=True)
class TaskTable:
    model: str
    task: str
    metrics: tuple[str, ...]
    dense: Mapping[str, Any]
    rows: tuple[Row, ...]
    primary_metric: str | None
    lower_is_better: tuple[str, ...]
    rel_tol: float
    abs_tol: float | None

    @property
    def main_metric(self) -> str | None:
        """The metric a plot draws and "still matches" is judged on: the primary one, or the first."""
        if self.primary_metric in self.metrics:
            return self.primary_metric
        return self.metrics[0] if self.metrics else None

    def headline(self, limit: int | None = None) -> list[str]:
        """The columns without the per-subject/bucket breakdowns, primary first (the terminal's)."""
        numeric = dict.fromkeys(self.metrics, 0.0)  # every column is numeric by construction
        return headline_metrics(numeric, self.primary_metric, limit=limit)


@dataclass(frozen=True)
class ReportData:
    baselines: tuple[Baseline, ...]
    results: tuple[Result, ...]
    tolerance: Mapping[str, Any] = field(default_factory=dict)


# ---- reading ------------------------------------------------------------------------------------
def level_from_params(params: Mapping[str, Any]) -> Level:
    """The level a compressor was run at, from its parameters (sweep cells set exactly one)."""
    return Level.from_params(params)


def _level(summary: Mapping[str, Any]) -> Level:
    """The summary's own `level`; older summaries: the sweep cell's, else the compression params."""
    recorded = summary.get("level") or (summary.get("cell") or {}).get("level")
    if recorded:
        return Level.from_dict(recorded)
    comp = (summary.get("spec") or {}).get("compression") or {}
    return Level.from_params(comp.get("params") or {})


def from_summaries(summaries: Iterable[Mapping[str, Any]]) -> ReportData:
    """Baselines and results from run summaries (a `kick run` one or a sweep's cells). Pure."""
    baselines: dict[tuple[str, str], Baseline] = {}
    results: list[Result] = []
    tolerance: dict[str, Any] = {}
    for s in summaries:
        model = (s.get("spec") or {}).get("model", {}).get("name") or s.get("model", {}).get("id", "?")
        tolerance = tolerance or dict(s.get("tolerance") or {})
        comp = (s.get("spec") or {}).get("compression")
        for task, entry in s.get("tasks", {}).items():
            metrics = entry.get("metrics", {})
            lower = tuple(  # `kick run` summaries before 0.2 record it only per comparison
                entry.get("lower_is_better")
                or [k for k, c in (entry.get("comparison") or {}).items() if c.get("lower_is_better")]
            )
            primary = entry.get("primary_metric")
            if DENSE in metrics and (model, task) not in baselines:
                baselines[(model, task)] = Baseline(model, task, metrics[DENSE], primary, lower)
            if COMPRESSED in metrics and comp:
                results.append(
                    Result(
                        model,
                        task,
                        comp["name"],
                        _level(s),
                        metrics[COMPRESSED],
                        metrics.get(DENSE, {}),
                        primary,
                        lower,
                    )
                )
    # a cell without its own dense numbers takes the model's baseline
    filled = []
    for r in results:
        b = baselines.get((r.model, r.task))
        if b is not None:
            r = Result(
                r.model,
                r.task,
                r.method,
                r.level,
                r.metrics,
                r.dense or b.metrics,
                r.primary_metric or b.primary_metric,
                r.lower_is_better or b.lower_is_better,
            )
        filled.append(r)
    return ReportData(tuple(baselines.values()), tuple(filled), tolerance)


def collect(run_dir: Path) -> ReportData:
    """Read every summary.json in a run or sweep directory (sorted, so the order is stable)."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    index = run_dir / "index.json"
    if index.exists():  # a sweep: exactly its current cells, not stale ones from an older spec
        cells = json.loads(index.read_text())["cells"]
        paths = [run_dir / c["path"] / SUMMARY for c in cells if (run_dir / c["path"] / SUMMARY).exists()]
    else:
        paths = sorted(run_dir.rglob(SUMMARY))
    if not paths:
        raise RunDirError(f"{run_dir} holds no {SUMMARY}: nothing finished to report yet")
    return from_summaries(json.loads(p.read_text()) for p in paths)


# ---- tables -------------------------------------------------------------------------------------
def metric_cell(
    metric: str, value: Any, dense: Any, *, rel_tol: float, abs_tol: float | None, lower_is_better: bool
) -> MetricCell:
    v, d = as_number(value), as_number(dense)
    if v is None or d is None:
        return MetricCell(metric, v, d, None, None, None)
    c = compare(
        {metric: d},
        {metric: v},
        rel_tol=rel_tol,
        abs_tol=abs_tol,
        lower_is_better=[metric] if lower_is_better else [],
    )[metric]
    return MetricCell(metric, v, d, c["delta"], c["rel_delta"], c["matches"])


def table_metrics(
    primary: str | None, dense: Mapping[str, Any], results: Sequence[Result]
) -> tuple[str, ...]:
    """The numeric metrics to show: the headline ones (primary first), then the per-subject or
    per-bucket breakdowns ('acc/anatomy'), never the counters. A metric counts when dense or any
    result has a number for it."""
    seen: dict[str, Any] = {}
    for m in [dense, *(r.metrics for r in results)]:
        for k, v in m.items():
            if is_number(v):
                seen.setdefault(k, v)
    headline = headline_metrics(seen, primary)
    return (*headline, *(k for k in seen if k not in headline and k not in COUNTERS))


def sort_key(method_order: Sequence[str], r: Result | Row) -> tuple[int, int, float, str]:
    kind_rank = {"sparsity": 0, "pattern": 1, "bits": 2, "default": 3}
    idx = method_order.index(r.method) if r.method in method_order else len(method_order)
    return (idx, kind_rank.get(r.level.kind, 9), r.level.strength(), r.level.label)


def task_tables(data: ReportData, *, rel_tol: float = 0.05, abs_tol: float | None = None) -> list[TaskTable]:
    """One table per (model, task): rows = method @ level, cells = value, delta, match. Pure."""
    method_order = list(dict.fromkeys(r.method for r in data.results))
    keys = list(
        dict.fromkeys([(b.model, b.task) for b in data.baselines] + [(r.model, r.task) for r in data.results])
    )
    tables = []
    for model, task in keys:
        base = next((b for b in data.baselines if (b.model, b.task) == (model, task)), None)
        results = sorted(
            (r for r in data.results if (r.model, r.task) == (model, task)),
            key=lambda r: sort_key(method_order, r),
        )
        dense = base.metrics if base else (results[0].dense if results else {})
        primary = base.primary_metric if base else (results[0].primary_metric if results else None)
        lower = base.lower_is_better if base else (results[0].lower_is_better if results else ())
        metrics = table_metrics(primary, dense, results)
        rows = tuple(
            Row(
                r.method,
                r.level,
                tuple(
                    metric_cell(
                        m,
                        r.metrics.get(m),
                        dense.get(m),
                        rel_tol=rel_tol,
                        abs_tol=abs_tol,
                        lower_is_better=m in lower,
                    )
                    for m in metrics
                ),
            )
            for r in results
        )
        tables.append(TaskTable(model, task, metrics, dense, rows, primary, tuple(lower), rel_tol, abs_tol))
    return tables


def largest_matching_level(rows: Sequence[Row], metric: str) -> dict[str, dict[str, Level | None]]:
    """Per method and level kind, the most compressed level at which `metric` still matches
    dense, reading levels from the mildest up and stopping at the first that does not match
    ("still matches": a lucky match above a failure does not count). None = not even the
    mildest level matches. Pure."""
    out: dict[str, dict[str, Level | None]] = {}
    by: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        by.setdefault((row.method, row.level.kind), []).append(row)
    for (method, kind), group in by.items():
        if kind == "default":
            continue
        best: Level | None = None
        for row in sorted(group, key=lambda r: r.level.strength()):
            cell = row.cell(metric)
            if cell is None or not cell.matches:
                break
            best = row.level
        out.setdefault(method, {})[kind] = best
    return out


# ---- plot series ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Series:
    label: str
    x: tuple[float, ...]
    y: tuple[float, ...]


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


def tolerance_band(
    dense: float, *, rel_tol: float, abs_tol: float | None, lower_is_better: bool
) -> tuple[float, float]:
    """The range of scores that still match dense (the worse side only: better always matches)."""
    slack = max(rel_tol * abs(dense), abs_tol or 0.0)
    return (dense, dense + slack) if lower_is_better else (dense - slack, dense)


def _points(rows: Sequence[Row], metric: str, kind: str, x_of: Any) -> tuple[Series, ...]:
    out = []
    for method in dict.fromkeys(r.method for r in rows):
        pts = sorted(
            (x_of(r.level), c.value)
            for r in rows
            if r.method == method
            and r.level.kind == kind
            and (c := r.cell(metric)) is not None
            and c.value is not None
        )
        if pts:
            out.append(Series(method, tuple(p[0] for p in pts), tuple(p[1] for p in pts)))
    return tuple(out)


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
        lines = tuple(Series(s.label, (0.0, *s.x), (dense, *s.y)) if 0.0 not in s.x else s for s in lines)
    sec: tuple[Series, ...] = ()
    sec_metric = None
    if secondary is not None and secondary.task != table.task:
        sec_metric = secondary.primary_metric or (secondary.metrics[0] if secondary.metrics else None)
        if sec_metric:
            sec = _points(secondary.rows, sec_metric, "sparsity", lambda lv: lv.sparsity)
            sd = as_number(secondary.dense.get(sec_metric))
            if sd is not None:
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
        bit_points=_points(table.rows, metric, "bits", lambda lv: float(lv.value)),
        secondary=sec,
        secondary_metric=sec_metric if sec else None,
    )


def perplexity_table(tables: Sequence[TaskTable], model: str) -> TaskTable | None:
    """The model's perplexity-like table: the first whose primary metric is lower-is-better."""
    return next((t for t in tables if t.model == model and t.primary_metric in t.lower_is_better), None)
