"""The report's tables as text, shared by the Markdown, HTML and terminal views: each cell as
'score (delta [interval]) mark n=..', the spread rows of seeded cells, the captions that say what
the marks and intervals mean, and the largest matching level per method."""

from __future__ import annotations

from dataclasses import dataclass

from kick.metrics import COUNTERS, as_number
from kick.report.model import Level, MetricCell, TaskTable, largest_matching_level
from kick.report.overview import FEW_WINDOWS, Column
from kick.report.seeds import SpreadCell

MATCH, UNSURE, MISS, FLOORED = "✓", "?", "✗", "⌀"
MARKS = {"matches": MATCH, "inconclusive": UNSURE, "worse": MISS, "floor": FLOORED}
METHODS = {
    "mcnemar-exact": "exact McNemar (Clopper-Pearson on the items the two models disagree on) for 0/1 scores",
    "paired-bootstrap": "paired bootstrap over items (percentile)",
    "identical": "a point where every item moved alike",
}


def fmt_count(x: object) -> str:
    return str(x) if isinstance(x, int) else "-"


def headers(t: TaskTable) -> list[str]:
    """The column names of `table_lines(t)`: the configuration, the metrics, the counters."""
    return ["configuration", *t.metrics, *COUNTERS]


def fmt_value(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def mark(c: MetricCell) -> str:
    return MARKS.get(c.verdict or "", "")


def fmt_cell(c: MetricCell) -> str:
    """'0.21 (-0.04 [-0.12, +0.04]) ? n=24, needs ~180': value, delta to dense, the interval of
    the delta, the verdict's mark, paired items and (inconclusive) the items that would decide
    it. Without an interval: '0.41 (-0.09, -18.0%) ✗' (value, delta, relative delta, mark);
    counters: '511 (+0)', unmarked."""
    if c.value is None:
        return "-"
    if c.delta is None:
        return fmt_value(c.value)
    if c.verdict is None:
        return f"{fmt_value(c.value)} ({c.delta:+.3g})"
    if c.interval is None:
        rel = f", {c.rel_delta:+.1%}" if c.rel_delta is not None else ""
        return f"{fmt_value(c.value)} ({c.delta:+.3g}{rel}) {mark(c)}"
    lo, hi = c.interval
    text = f"{fmt_value(c.value)} ({c.delta:+.3g} [{lo:+.3g}, {hi:+.3g}]) {mark(c)}"
    if c.n is not None:
        text += f" n={c.n}"
    if c.verdict == "inconclusive" and c.n_needed is not None:
        text += f", needs ~{c.n_needed}"
    return text


def grid_text(c: MetricCell | None, col: Column, *, dense: bool = False) -> str:
    """An overview cell: '0.375 ✓ n=8' (score, verdict mark, items; the dense row: no mark),
    perplexity '23.5 ✗ 1 window ⚠' (windows, warned below FEW_WINDOWS)."""
    if c is None or c.value is None:
        return "-"
    n = col.n if dense or c.n is None else c.n
    if col.unit == "windows":
        count = f" {n} window{'' if n == 1 else 's'}" + (" ⚠" if (n or 0) < FEW_WINDOWS else "")
    else:
        count = f" n={n}" if n is not None else ""
    m = "" if dense else mark(c)
    return f"{fmt_value(c.value)}{' ' + m if m else ''}{count}"


def fmt_spread(c: SpreadCell) -> str:
    """'0.41–0.47, mean 0.44 ✓✓?': the range across seeds, its mean, each seed's mark."""
    if c.mean is None:
        return "-"
    marks = "".join(MARKS.get(v or "", "") for v in c.verdicts)
    return f"{fmt_value(c.low)}–{fmt_value(c.high)}, mean {fmt_value(c.mean)}" + (
        f" {marks}" if marks else ""
    )


def tolerance_text(t: TaskTable) -> str:
    text = f"no worse than dense by more than {t.rel_tol:.1%} relative"
    return text + (f" or {t.abs_tol:g} absolute" if t.abs_tol is not None else "")


def caption(t: TaskTable) -> str:
    """What the marks, values and intervals of `t` mean."""
    level = f"{t.level:.0%} " if t.level is not None else ""
    cells = [c for r in t.rows for c in r.cells if c.verdict is not None]
    with_interval = any(c.interval is not None for c in cells)
    without = any(c.interval is None for c in cells)
    if t.rule == "point" or not with_interval:  # no interval stored (older runs): the point rule decided
        text = (
            f"{MATCH} = matches dense, {MISS} = worse: the delta alone is within the tolerance "
            f"({tolerance_text(t)}), blind to n (point rule)"
        )
    else:
        text = (
            f"{MATCH} matches dense: all of the {level}interval of compressed - dense is within the "
            f"tolerance ({tolerance_text(t)}); {MISS} worse: all of it beyond; {UNSURE} inconclusive: "
            "it straddles the tolerance ('needs ~N': items that would likely decide it)"
        )
    if with_interval:
        how = "; ".join(METHODS.get(m, m) for m in t.methods)
        text += f"; cells are 'score (delta to dense [{level}interval]) n=paired items', intervals by {how}"
    if without or not cells:
        text += "; values are 'score (delta to dense, relative delta)'"
        if with_interval and t.rule != "point":
            text += " where there is no interval (judged on the delta alone)"
    if any(r.seed is not None for r in t.rows):
        text += "; seeded rows: one per calibration seed, then their range, mean and marks"
    if t.floors:
        text += (
            f"; {FLOORED} {', '.join(t.floors)}: dense at floor, cannot show a loss (the exact 95% interval of "
            "dense's score contains chance, " + ", ".join(f"{v:g}" for v in t.floors.values()) + ")"
        )
    return text + "; counters unmarked"


def level_text(level: Level | None) -> str:
    return "none" if level is None else level.label


@dataclass(frozen=True)
class Line:
    """One table row as text; `cells` the row's MetricCells (None for the dense and spread rows)."""

    kind: str  # dense | row | spread
    texts: list[str]
    cells: tuple[MetricCell, ...] | None = None


def table_lines(t: TaskTable) -> list[Line]:
    """A dense row, one per method @ level [seed], and after the seeds of one method @ level
    their spread."""
    counts = [fmt_count(t.dense.get(k)) for k in COUNTERS]
    lines = [Line("dense", ["dense", *(fmt_value(as_number(t.dense.get(m))) for m in t.metrics), *counts])]
    for i, r in enumerate(t.rows):
        counts = [fmt_count(r.counts.get(k)) for k in COUNTERS]
        lines.append(Line("row", [r.label, *(fmt_cell(c) for c in r.cells), *counts], r.cells))
        spread = t.spread(r)
        after = t.rows[i + 1] if i + 1 < len(t.rows) else None
        if spread is not None and (after is None or t.spread(after) is not spread):
            texts = [fmt_spread(c) if (c := spread.cell(m)) else "-" for m in t.metrics] + [
                "" for _ in COUNTERS
            ]
            lines.append(Line("spread", [spread.label, *texts]))
    return lines


def table_rows(t: TaskTable) -> list[list[str]]:
    """The table as text: a dense row, then one row per method @ level (and seed spreads)."""
    return [line.texts for line in table_lines(t)]


def _levels(levels: list[str]) -> str:
    return levels[0] if len(levels) == 1 else ", ".join(levels[:-1]) + " and " + levels[-1]


def _phrase(lv: Level) -> str:
    return {"sparsity": f"{lv.label} sparsity", "pattern": f"the {lv.label} pattern"}.get(lv.kind, lv.label)


KIND_WORDS = {"sparsity": "unstructured sparsity", "pattern": "N:M pattern", "bits": "bit width"}


def matching_lines(t: TaskTable) -> list[str]:
    """One sentence per method: the most compressed level of each kind that still matches dense
    with confidence ('wanda: no tested level matches dense on factoid-qa (contains).')."""
    metric = t.main_metric
    if metric is None:
        return []
    where = f"on {t.task} ({metric})"
    if metric in t.floors:
        return [f"Dense is at floor {where}: no level can show a loss, so none is said to match."]
    out = []
    for method, kinds in largest_matching_level(t.rows, metric).items():
        ok = [_phrase(lv) for lv in kinds.values() if lv is not None]
        missed = [KIND_WORDS.get(k, k) for k, lv in kinds.items() if lv is None]
        if not ok:
            out.append(f"{method}: no tested level matches dense {where}.")
            continue
        text = f"{method} still matches dense {where} at {_levels(ok)}"
        if missed:
            text += f", and at no tested {_levels(missed)} level"
        out.append(text + ".")
    return out


def matching_title(t: TaskTable) -> str:
    sure = " with confidence (✓ only)" if t.rule != "point" and t.methods else ""
    return f"Largest level that still matches dense{sure}:"
