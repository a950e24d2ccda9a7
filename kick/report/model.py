"""The report's data model: pure functions from run summaries to the paper's views.

Nothing here renders or reads files (except `collect`, which only reads summary.json files):
rows per task (method @ level [seed]), each metric with its delta to dense, the paired interval
of that delta the run stored, and the verdict against the report's tolerance (re-decided here
with `kick.metrics.verdict`, so no records are needed), the spread across calibration seeds,
and the largest level that still matches dense. Plot series: `kick.report.series`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from kick.errors import RunDirError
from kick.metrics import COUNTERS, VerdictRule, as_number, headline_metrics, is_number, verdict
from kick.report.seeds import SeedSpread, seed_spreads
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
    comparison: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # the summary's, per metric
    seed: int | None = None  # the calibration seed of a seeded sweep cell
    run_dir: str | None = None  # where the cell's records are (collect sets it)
    dense_dir: str | None = None  # where its dense records are


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
    matches: bool | None  # None when there is nothing to compare (or a counter)
    verdict: str | None = None  # matches | inconclusive | worse; None: nothing to compare, a counter
    interval: tuple[float, float] | None = None  # of delta = compressed - dense
    n: int | None = None  # paired items behind the interval
    n_needed: int | None = None  # inconclusive only: items that would likely decide it
    significant: bool | None = None  # the interval excludes 0
    lost: int | None = None  # 0/1 metrics: items dense got right and compressed wrong
    gained: int | None = None
    rule: str | None = None  # interval | point: how the verdict was reached
    method: str | None = None  # how the interval was computed (mcnemar-exact, paired-bootstrap, ...)


@dataclass(frozen=True)
class Row:
    method: str
    level: Level
    cells: tuple[MetricCell, ...]
    seed: int | None = None
    counts: Mapping[str, Any] = field(default_factory=dict)  # the counters (n, errors): shown, never judged

    @property
    def label(self) -> str:
        seed = f" seed {self.seed}" if self.seed is not None else ""
        return f"{self.method} @ {self.level.label}{seed}"

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
    rule: str = "interval"  # the verdict rule the report applied
    level: float | None = None  # the intervals' confidence level (the runs' statistics.level)
    methods: tuple[str, ...] = ()  # how the shown intervals were computed
    spreads: tuple[SeedSpread, ...] = ()
    floors: Mapping[str, float] = field(default_factory=dict)  # metric -> chance dense is at (overview.py)

    def spread(self, row: Row) -> SeedSpread | None:
        """The seed spread `row` belongs to (None: an unseeded row)."""
        if row.seed is None:
            return None
        return next((s for s in self.spreads if (s.method, s.level) == (row.method, row.level)), None)

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
    statistics: Mapping[str, Any] = field(default_factory=dict)  # the runs' (verdict rule, level ...)
    summaries: tuple[Mapping[str, Any], ...] = ()  # as read (the provenance header's source)


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


def _seed(summary: Mapping[str, Any]) -> int | None:
    seed = (summary.get("cell") or {}).get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else None


def _dense_dir(summary: Mapping[str, Any], run_dir: Path | None) -> str | None:
    """The dense records' folder: the cell's `dense_run` (relative to it), else the run itself."""
    if run_dir is None:
        return None
    rel = summary.get("dense_run")
    return str((run_dir / rel).resolve()) if rel else str(run_dir)


def from_summaries(
    summaries: Iterable[Mapping[str, Any]], dirs: Sequence[Path | None] | None = None
) -> ReportData:
    """Baselines and results from run summaries (a `kick run` one or a sweep's cells), `dirs` the
    folder of each (to find its records later). Pure."""
    baselines: dict[tuple[str, str], Baseline] = {}
    results: list[Result] = []
    tolerance: dict[str, Any] = {}
    statistics: dict[str, Any] = {}
    summaries = tuple(summaries)
    for i, s in enumerate(summaries):
        run_dir = dirs[i] if dirs is not None else None
        model = (s.get("spec") or {}).get("model", {}).get("name") or s.get("model", {}).get("id", "?")
        tolerance = tolerance or dict(s.get("tolerance") or {})
        statistics = statistics or dict(s.get("statistics") or {})
        comp = (s.get("spec") or {}).get("compression")
        for task, entry in s.get("tasks", {}).items():
            metrics = entry.get("metrics", {})
            comparison = entry.get("comparison") or {}
            lower = tuple(  # `kick run` summaries before 0.2 record it only per comparison
                entry.get("lower_is_better") or [k for k, c in comparison.items() if c.get("lower_is_better")]
            )
            primary = entry.get("primary_metric")
            if DENSE in metrics and (model, task) not in baselines:
                baselines[(model, task)] = Baseline(model, task, metrics[DENSE], primary, lower)
            if COMPRESSED in metrics and comp:
                results.append(
                    Result(
                        model, task, comp["name"], _level(s), metrics[COMPRESSED], metrics.get(DENSE, {}),
                        primary, lower, comparison, _seed(s),
                        str(run_dir) if run_dir is not None else None, _dense_dir(s, run_dir),
                    )
                )  # fmt: skip
    # a cell without its own dense numbers takes the model's baseline
    filled = []
    for r in results:
        b = baselines.get((r.model, r.task))
        if b is not None:
            r = replace(
                r,
                dense=r.dense or b.metrics,
                primary_metric=r.primary_metric or b.primary_metric,
                lower_is_better=r.lower_is_better or b.lower_is_better,
            )
        filled.append(r)
    return ReportData(tuple(baselines.values()), tuple(filled), tolerance, statistics, summaries)


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
    return from_summaries([json.loads(p.read_text()) for p in paths], [p.parent for p in paths])


# ---- tables -------------------------------------------------------------------------------------
def is_counter(metric: str, dense: Any, value: Any) -> bool:
    """Counts rather than quality (n, errors, integer totals such as tokens): shown, never judged."""
    return metric in COUNTERS or (isinstance(dense, int) and isinstance(value, int))


def _interval(entry: Mapping[str, Any]) -> tuple[float, float] | None:
    iv = entry.get("interval")
    if isinstance(iv, (list, tuple)) and len(iv) == 2 and all(is_number(x) for x in iv):
        return (float(iv[0]), float(iv[1]))
    return None


def metric_cell(
    metric: str,
    value: Any,
    dense: Any,
    *,
    rel_tol: float,
    abs_tol: float | None,
    lower_is_better: bool,
    comparison: Mapping[str, Any] | None = None,
    rule: VerdictRule = "interval",
) -> MetricCell:
    """One metric of one row: value, delta to dense, and the verdict from the stored interval of
    the delta (`comparison`: the summary's entry for this metric) against this tolerance."""
    v, d = as_number(value), as_number(dense)
    if v is None or d is None:
        return MetricCell(metric, v, d, None, None, None)
    delta = v - d
    rel = delta / abs(d) if d else None
    if is_counter(metric, dense, value):
        return MetricCell(metric, v, d, delta, rel, None)
    entry = comparison or {}
    interval = _interval(entry)
    n = entry.get("n") if interval is not None else None
    ver = verdict(
        d, delta, interval, n=n, rel_tol=rel_tol, abs_tol=abs_tol, lower_is_better=lower_is_better, rule=rule
    )
    return MetricCell(
        metric, v, d, delta, rel, ver["matches"],
        verdict=ver["verdict"], interval=interval, n=n, n_needed=ver.get("n_needed"),
        significant=ver.get("significant"), lost=entry.get("lost"), gained=entry.get("gained"),
        rule=ver["rule"], method=entry.get("method") if interval is not None else None,
    )  # fmt: skip


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


def sort_key(method_order: Sequence[str], r: Result | Row) -> tuple[int, int, float, str, int]:
    kind_rank = {"sparsity": 0, "pattern": 1, "bits": 2, "default": 3}
    idx = method_order.index(r.method) if r.method in method_order else len(method_order)
    seed = -1 if r.seed is None else r.seed
    return (idx, kind_rank.get(r.level.kind, 9), r.level.strength(), r.level.label, seed)


def task_tables(
    data: ReportData,
    *,
    rel_tol: float = 0.05,
    abs_tol: float | None = None,
    rule: VerdictRule | None = None,
) -> list[TaskTable]:
    """One table per (model, task): rows = method @ level [seed], cells = value, delta, interval,
    verdict (`rule`: default the runs' own, else interval). Pure."""
    rule = rule or ("point" if data.statistics.get("verdict") == "point" else "interval")
    level = as_number(data.statistics.get("level"))
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
                        comparison=r.comparison.get(m),
                        rule=rule,
                    )
                    for m in metrics
                ),  # fmt: skip
                r.seed,
                {k: r.metrics[k] for k in COUNTERS if k in r.metrics},
            )
            for r in results
        )
        methods = tuple(dict.fromkeys(c.method for row in rows for c in row.cells if c.method))
        tables.append(
            TaskTable(
                model, task, metrics, dense, rows, primary, tuple(lower), rel_tol, abs_tol,
                rule, level, methods, seed_spreads(rows, metrics),
            )
        )  # fmt: skip
    return tables


def largest_matching_level(rows: Sequence[Row], metric: str) -> dict[str, dict[str, Level | None]]:
    """Per method and level kind, the most compressed level at which `metric` still matches
    dense with confidence (verdict `matches`: an inconclusive level does not count), reading
    levels from the mildest up and stopping at the first that does not match ("still matches":
    a lucky match above a failure does not count). A level with several seeds counts only when
    every seed matches. None = not even the mildest level matches. Pure."""
    out: dict[str, dict[str, Level | None]] = {}
    by: dict[tuple[str, str], dict[Level, list[Row]]] = {}
    for row in rows:
        by.setdefault((row.method, row.level.kind), {}).setdefault(row.level, []).append(row)
    for (method, kind), levels in by.items():
        if kind == "default":
            continue
        best: Level | None = None
        for lv in sorted(levels, key=lambda lv: lv.strength()):
            cells = [row.cell(metric) for row in levels[lv]]
            if not all(c is not None and c.verdict == "matches" for c in cells):
                break
            best = lv
        out.setdefault(method, {})[kind] = best
    return out
