"""The report's files from its model (`kick.report.model`): Markdown, CSV, JSON and one HTML page,
next to the plots (`kick.report.plots`).

Every writer takes the pure data model and returns what it wrote, so tests check numbers and
text, never pixels.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.metrics import as_number
from kick.report.model import (
    Level,
    MetricCell,
    ReportData,
    TaskTable,
    collect,
    largest_matching_level,
    task_tables,
)
from kick.report.plots import Drawn, write_plots
from kick.rundir import write_json_atomic
from kick.types import to_jsonable

MATCH, MISS = "✓", "✗"


# ---- formatting ---------------------------------------------------------------------------------
def fmt_value(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def fmt_cell(c: MetricCell) -> str:
    """'0.41 (-0.09, -18.0%) ✗': value, delta to dense, relative delta, match mark."""
    if c.value is None:
        return "-"
    if c.delta is None:
        return fmt_value(c.value)
    rel = f", {c.rel_delta:+.1%}" if c.rel_delta is not None else ""
    return f"{fmt_value(c.value)} ({c.delta:+.3g}{rel}) {MATCH if c.matches else MISS}"


def caption(rel_tol: float, abs_tol: float | None) -> str:
    text = f"{MATCH} = matches dense: no worse than dense by more than {rel_tol:.1%} relative"
    if abs_tol is not None:
        text += f" or {abs_tol:g} absolute"
    return text + "; values are 'score (delta to dense, relative delta)'"


def level_text(level: Level | None) -> str:
    return "none" if level is None else level.label


def table_rows(t: TaskTable) -> list[list[str]]:
    """The table as text: a dense row, then one row per method @ level."""
    rows = [["dense", *(fmt_value(as_number(t.dense.get(m))) for m in t.metrics)]]
    rows += [[r.label, *(fmt_cell(c) for c in r.cells)] for r in t.rows]
    return rows


def matching_lines(t: TaskTable) -> list[str]:
    metric = t.main_metric
    if metric is None:
        return []
    out = []
    for method, kinds in largest_matching_level(t.rows, metric).items():
        parts = [f"{kind}: {level_text(lv)}" for kind, lv in kinds.items()]
        out.append(f"{method}: {'; '.join(parts)}")
    return out


# ---- Markdown / CSV / JSON -----------------------------------------------------------------------
def markdown(tables: Sequence[TaskTable], images: Mapping[tuple[str, str], str] | None = None) -> str:
    lines = ["# kick report", ""]
    for t in tables:
        lines += [f"## {t.task} ({t.model})", "", f"_{caption(t.rel_tol, t.abs_tol)}_", ""]
        header = ["configuration", *t.metrics]
        lines.append("| " + " | ".join(header) + " |")
        lines.append("|" + "---|" * len(header))
        for row in table_rows(t):
            lines.append("| " + " | ".join(row) + " |")
        ml = matching_lines(t)
        if ml:
            lines += [
                "",
                f"Largest level that still matches dense on `{t.primary_metric or t.metrics[0]}`:",
                "",
            ]
            lines += [f"- {x}" for x in ml]
        if images and (t.model, t.task) in images:
            lines += ["", f"![{t.task}]({images[(t.model, t.task)]})"]
        lines.append("")
    return "\n".join(lines)


CSV_FIELDS = [
    "model",
    "task",
    "method",
    "level_kind",
    "level",
    "metric",
    "value",
    "dense",
    "delta",
    "rel_delta",
    "matches",
    "lower_is_better",
]


def csv_rows(tables: Sequence[TaskTable]) -> list[dict[str, Any]]:
    out = []
    for t in tables:
        for m in t.metrics:
            out.append(
                {
                    "model": t.model,
                    "task": t.task,
                    "method": "dense",
                    "level_kind": "",
                    "level": "",
                    "metric": m,
                    "value": as_number(t.dense.get(m)),
                    "dense": as_number(t.dense.get(m)),
                    "delta": 0.0,
                    "rel_delta": 0.0,
                    "matches": True,
                    "lower_is_better": m in t.lower_is_better,
                }
            )
        for r in t.rows:
            for c in r.cells:
                out.append(
                    {
                        "model": t.model,
                        "task": t.task,
                        "method": r.method,
                        "level_kind": r.level.kind,
                        "level": r.level.value,
                        "metric": c.metric,
                        "value": c.value,
                        "dense": c.dense,
                        "delta": c.delta,
                        "rel_delta": c.rel_delta,
                        "matches": c.matches,
                        "lower_is_better": c.metric in t.lower_is_better,
                    }
                )
    return out


def write_csv(path: Path, tables: Sequence[TaskTable]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for row in csv_rows(tables):
        w.writerow({k: "" if v is None else v for k, v in row.items()})
    path.write_text(buf.getvalue(), encoding="utf-8")


def report_json(tables: Sequence[TaskTable]) -> dict[str, Any]:
    return {
        "tables": [to_jsonable(t) for t in tables],
        "largest_matching_level": [
            {
                "model": t.model,
                "task": t.task,
                "metric": t.primary_metric,
                "methods": to_jsonable(
                    largest_matching_level(t.rows, t.primary_metric or (t.metrics[0] if t.metrics else ""))
                ),
            }
            for t in tables
        ],
    }


# ---- HTML -------------------------------------------------------------------------------------
def html_page(tables: Sequence[TaskTable], drawn: Sequence[Drawn]) -> str:
    """A self-contained page: every table, the largest matching level, plots as base64 PNG."""
    by_key = {(d.series.model, d.series.task): d for d in drawn}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kick report</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".ok{color:#186a1e}.no{color:#a11}caption{caption-side:bottom;font-size:small;color:#555}",
        "</style></head><body><h1>kick report</h1>",
    ]
    for t in tables:
        parts.append(f"<h2>{html.escape(t.task)} <small>({html.escape(t.model)})</small></h2>")
        parts.append(
            f"<table><caption>{html.escape(caption(t.rel_tol, t.abs_tol))}</caption><tr><th>configuration</th>"
        )
        parts += [f"<th>{html.escape(m)}</th>" for m in t.metrics]
        parts.append("</tr>")
        for i, row in enumerate(table_rows(t)):
            parts.append("<tr>")
            for j, text in enumerate(row):
                cls = ""
                if i > 0 and j > 0:
                    c = t.rows[i - 1].cells[j - 1]
                    cls = " class='ok'" if c.matches else " class='no'" if c.matches is False else ""
                parts.append(f"<td{cls}>{html.escape(text)}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        ml = matching_lines(t)
        if ml:
            parts.append("<p>Largest level that still matches dense:</p><ul>")
            parts += [f"<li>{html.escape(x)}</li>" for x in ml]
            parts.append("</ul>")
        d = by_key.get((t.model, t.task))
        if d is not None:
            b64 = base64.b64encode(d.png.read_bytes()).decode("ascii")
            parts.append(f"<img alt='{html.escape(t.task)}' src='data:image/png;base64,{b64}'>")
    parts.append("</body></html>")
    return "".join(parts)


# ---- all of it --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    tables: list[TaskTable]
    drawn: list[Drawn]
    files: list[Path]


def write_report(
    data: ReportData, out: Path, *, rel_tol: float | None = None, abs_tol: float | None = None
) -> ReportFiles:
    """Tables, plots and exports into `out`. Tolerances default to those the runs recorded."""
    rel = rel_tol if rel_tol is not None else float(data.tolerance.get("relative", 0.05))
    ab = abs_tol if abs_tol is not None else data.tolerance.get("absolute")
    tables = task_tables(data, rel_tol=rel, abs_tol=ab)
    out.mkdir(parents=True, exist_ok=True)
    drawn = write_plots(tables, out / "plots")
    images = {(d.series.model, d.series.task): str(d.svg.relative_to(out)) for d in drawn}
    (out / "report.md").write_text(markdown(tables, images), encoding="utf-8")
    write_csv(out / "report.csv", tables)
    write_json_atomic(out / "report.json", report_json(tables))
    (out / "report.html").write_text(html_page(tables, drawn), encoding="utf-8")
    files = [out / n for n in ("report.html", "report.md", "report.csv", "report.json")]
    files += [p for d in drawn for p in (d.png, d.svg)]
    return ReportFiles(tables, drawn, files)


def report_dir(run_dir: Path, out: Path | None, **tol: Any) -> ReportFiles:
    return write_report(collect(run_dir), out or run_dir / "report", **tol)
