"""The overview grid (methods x levels x tasks in one table, dense first) and the floor rule.

**Dense at floor.** A compressed model cannot be shown to lose what dense never had. A task's
metric is *at floor* when the exact (Clopper-Pearson) 95% interval of dense's score, counted as
k = round(score * n) successes of n items, contains the metric's chance level: dense's score
cannot then be told apart from chance, so no compressed cell can show a loss on it, and a
"matches" or "inconclusive" verdict there says nothing. Those verdicts become `floor` (shown as
"dense at floor: cannot show a loss"); a `worse` verdict stays, since it is evidence of a loss all
the same. Chance: the task's `chance` setting when it records one, else 1/len(`choices`), else
1/4 for MMLU's accuracies (four choices, A-D), else 0 for a higher-is-better score in [0, 1]
(EM, F1, contains). Lower-is-better metrics and unbounded ones (perplexity) have no floor.

Pure: tables in, tables and the grid out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from kick.metrics import as_number
from kick.report.model import MetricCell, Row, TaskTable, sort_key

FLOOR = "floor"
FLOOR_TEXT = "dense at floor: cannot show a loss"
CHANCE_BY_TASK = {"mmlu": 0.25}  # four answer letters
FEW_WINDOWS = 10  # perplexity over fewer windows gets a warning


def chance_level(task: str, metric: str, settings: Mapping[str, Any], dense: float) -> float | None:
    if isinstance(settings.get("chance"), (int, float)):
        return float(settings["chance"])
    if not 0.0 <= dense <= 1.0:
        return None
    choices = settings.get("choices")
    if isinstance(choices, (list, tuple)) and choices:
        return 1.0 / len(choices)
    if task in CHANCE_BY_TASK and metric.startswith("acc"):
        return CHANCE_BY_TASK[task]
    return 0.0


def exact_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Clopper-Pearson interval of k successes in n."""
    from scipy.stats import beta

    a = (1 - level) / 2
    lo = 0.0 if k == 0 else float(beta.ppf(a, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - a, k + 1, n - k))
    return lo, hi


def floor_of(t: TaskTable, settings: Mapping[str, Any]) -> dict[str, float]:
    """The metrics of `t` whose dense score is at floor, with their chance level."""
    n = t.dense.get("n")
    if not isinstance(n, int) or n <= 0:
        return {}
    out = {}
    for m in t.metrics:
        d = as_number(t.dense.get(m))
        if d is None or m in t.lower_is_better or "/" in m:
            continue
        chance = chance_level(t.task, m, settings, d)
        if chance is None:
            continue
        lo, hi = exact_interval(min(n, max(0, round(d * n))), n)
        if lo <= chance <= hi:
            out[m] = chance
    return out


def _floored(c: MetricCell, floors: Mapping[str, float]) -> MetricCell:
    if c.metric in floors and c.verdict in ("matches", "inconclusive"):
        return replace(c, verdict=FLOOR, matches=None, n_needed=None)
    return c


def apply_floors(
    tables: Sequence[TaskTable], settings: Mapping[tuple[str, str], Mapping[str, Any]]
) -> list[TaskTable]:
    """Each table with its floors set and the verdicts on floored metrics replaced (see above)."""
    out = []
    for t in tables:
        floors = floor_of(t, settings.get((t.model, t.task), {}))
        rows = tuple(replace(r, cells=tuple(_floored(c, floors) for c in r.cells)) for r in t.rows)
        out.append(replace(t, rows=rows, floors=floors))
    return out


# ---- the grid -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Column:
    model: str
    task: str
    metric: str
    n: int | None  # dense's items (perplexity: windows)
    unit: str  # what n counts: items | windows
    floor: float | None  # chance level when dense is at floor
    lower_is_better: bool


@dataclass(frozen=True)
class GridRow:
    label: str  # 'dense' or 'method @ level [seed]'
    cells: tuple[MetricCell | None, ...]  # per column; the dense row: value only


@dataclass(frozen=True)
class Grid:
    columns: tuple[Column, ...]
    rows: tuple[GridRow, ...]  # dense first

    @property
    def few_windows(self) -> list[Column]:
        return [c for c in self.columns if c.unit == "windows" and (c.n or 0) < FEW_WINDOWS]


def _count(t: TaskTable) -> tuple[int | None, str]:
    w = t.dense.get("windows")
    if isinstance(w, int):
        return w, "windows"
    n = t.dense.get("n")
    return (n if isinstance(n, int) else None), "items"


def overview(tables: Sequence[TaskTable]) -> Grid:
    """Rows: dense, then every method @ level [seed] of any task, in the tables' order; columns:
    each (model, task)'s main metric."""
    tabs = [t for t in tables if t.main_metric is not None]
    models = list(dict.fromkeys(t.model for t in tabs))
    columns = []
    for t in tabs:
        n, unit = _count(t)
        m = t.main_metric or ""
        columns.append(Column(t.model, t.task, m, n, unit, t.floors.get(m), m in t.lower_is_better))
    rows_by: dict[tuple[str, str, Any, Any], Row] = {}
    order: dict[tuple[str, str, Any, Any], tuple[Any, ...]] = {}
    methods = list(dict.fromkeys(r.method for t in tabs for r in t.rows))
    for t in tabs:
        for r in t.rows:
            key = (t.model, r.method, r.level, r.seed)
            rows_by.setdefault(key, r)
            order.setdefault(key, (models.index(t.model), *sort_key(methods, r)))
    dense_cells = []
    for t, col in zip(tabs, columns, strict=True):
        v = as_number(t.dense.get(col.metric))
        dense_cells.append(MetricCell(col.metric, v, v, None, None, None, n=col.n))
    rows = [GridRow("dense" if len(models) == 1 else "dense (each model)", tuple(dense_cells))]
    for key in sorted(rows_by, key=lambda k: order[k]):
        model, method, level, seed = key
        cells = []
        for t in tabs:
            row = next((r for r in t.rows if (t.model, r.method, r.level, r.seed) == key), None)
            cells.append(row.cell(t.main_metric or "") if row is not None else None)
        label = rows_by[key].label + (f" ({model})" if len(models) > 1 else "")
        rows.append(GridRow(label, tuple(cells)))
    return Grid(tuple(columns), tuple(rows))
