"""The report's files from its model (`kick.report.model`): Markdown, CSV, JSON and one HTML page,
next to the plots (`kick.report.plots`), with the items each compressed cell lost
(`kick.report.lost`).

Every writer takes the pure data model and returns what it wrote, so tests check numbers and
text, never pixels.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from kick.errors import RunDirError
from kick.metrics import VerdictRule, as_number
from kick.report.lost import SHOWN, CellLost, knowledge_lost
from kick.report.model import MetricCell, ReportData, TaskTable, collect, largest_matching_level, task_tables
from kick.report.plots import Drawn, write_plots
from kick.report.text import (
    MATCH,
    MISS,
    UNSURE,
    caption,
    fmt_cell,
    fmt_value,
    level_text,
    matching_lines,
    matching_title,
    table_lines,
    table_rows,
)
from kick.rundir import write_json_atomic
from kick.types import to_jsonable

__all__ = ["MATCH", "MISS", "UNSURE", "caption", "fmt_cell", "fmt_value", "level_text", "table_rows"]


def _lost_for(t: TaskTable, lost: Sequence[CellLost]) -> list[CellLost]:
    return [c for c in lost if (c.model, c.task) == (t.model, t.task)]


# ---- Markdown / CSV / JSON -----------------------------------------------------------------------
def _md(text: str) -> str:
    """Text from a run (a model name, a question, an answer) as Markdown: HTML in it is shown,
    never rendered (a Markdown viewer renders raw HTML), and `|` does not split a table cell."""
    return html.escape(str(text), quote=False).replace("|", "\\|")


def lost_markdown(t: TaskTable, lost: Sequence[CellLost]) -> list[str]:
    cells = _lost_for(t, lost)
    if not cells:
        return []
    lines = ["", f"### Knowledge lost: {_md(t.task)} (`{cells[0].metric}`: dense right, compressed wrong)"]
    for c in cells:
        shown = f", the first {SHOWN}" if len(c.items) > SHOWN else ""
        lines += ["", f"**{_md(c.label)}**: {len(c.items)} of {c.paired} items lost{shown}", ""]
        if c.items:
            lines += ["| id | question | dense | compressed | reference |", "|---|---|---|---|---|"]
            lines += [
                f"| {_md(i.id)} | {_md(i.question)} | {_md(i.dense_answer)} | {_md(i.compressed_answer)} "
                f"| {_md(i.reference)} |"
                for i in c.items[:SHOWN]
            ]
    return lines


def markdown(
    tables: Sequence[TaskTable],
    images: Mapping[tuple[str, str], str] | None = None,
    lost: Sequence[CellLost] = (),
) -> str:
    lines = ["# kick report", ""]
    for t in tables:
        lines += [f"## {_md(t.task)} ({_md(t.model)})", "", f"_{_md(caption(t))}_", ""]
        header = ["configuration", *t.metrics]
        lines.append("| " + " | ".join(map(_md, header)) + " |")
        lines.append("|" + "---|" * len(header))
        for row in table_rows(t):
            lines.append("| " + " | ".join(map(_md, row)) + " |")
        ml = matching_lines(t)
        if ml:
            lines += ["", _md(matching_title(t)), ""]
            lines += [f"- {_md(x)}" for x in ml]
        if images and (t.model, t.task) in images:
            lines += ["", f"![{_md(t.task)}]({images[(t.model, t.task)]})"]
        lines += lost_markdown(t, lost)
        lines.append("")
    return "\n".join(lines)


CSV_FIELDS = [
    "model", "task", "method", "level_kind", "level", "seed", "metric", "value", "dense", "delta",
    "rel_delta", "interval_low", "interval_high", "interval_method", "n", "verdict", "n_needed",
    "significant", "lost", "gained", "rule", "matches", "lower_is_better", "spread_low", "spread_high",
]  # fmt: skip


def cell_fields(c: MetricCell) -> dict[str, Any]:
    """A MetricCell's columns (the same names as in the JSON)."""
    lo, hi = c.interval if c.interval is not None else (None, None)
    return {
        "value": c.value, "dense": c.dense, "delta": c.delta, "rel_delta": c.rel_delta,
        "interval_low": lo, "interval_high": hi, "interval_method": c.method, "n": c.n,
        "verdict": c.verdict, "n_needed": c.n_needed, "significant": c.significant, "lost": c.lost,
        "gained": c.gained, "rule": c.rule, "matches": c.matches,
    }  # fmt: skip


def csv_rows(tables: Sequence[TaskTable]) -> list[dict[str, Any]]:
    out = []
    for t in tables:
        base = {"model": t.model, "task": t.task}
        for m in t.metrics:
            d = as_number(t.dense.get(m))
            out.append(
                {
                    **base, "method": "dense", "level_kind": "", "level": "", "metric": m, "value": d,
                    "dense": d, "delta": 0.0, "rel_delta": 0.0, "matches": True,
                    "lower_is_better": m in t.lower_is_better,
                }
            )  # fmt: skip
        for r in t.rows:
            for c in r.cells:
                out.append(
                    {
                        **base, "method": r.method, "level_kind": r.level.kind, "level": r.level.value,
                        "seed": r.seed, "metric": c.metric, **cell_fields(c),
                        "lower_is_better": c.metric in t.lower_is_better,
                    }
                )  # fmt: skip
        for s in t.spreads:
            for sc in s.cells:
                out.append(
                    {
                        **base, "method": s.method, "level_kind": s.level.kind, "level": s.level.value,
                        "seed": "spread", "metric": sc.metric, "value": sc.mean, "spread_low": sc.low,
                        "spread_high": sc.high, "lower_is_better": sc.metric in t.lower_is_better,
                    }
                )  # fmt: skip
    return out


def write_csv(path: Path, tables: Sequence[TaskTable]) -> None:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=CSV_FIELDS)
    w.writeheader()
    for row in csv_rows(tables):
        w.writerow({k: "" if v is None else v for k, v in row.items()})
    path.write_text(buf.getvalue(), encoding="utf-8")


def report_json(tables: Sequence[TaskTable], lost: Sequence[CellLost] = ()) -> dict[str, Any]:
    """The tables (every MetricCell with the CSV's fields under the same names, `interval` as
    [low, high]) and seed spreads, the largest matching level, and every item lost."""
    out_tables = []
    for t in tables:
        d = to_jsonable(t)
        for row, r in zip(d["rows"], t.rows, strict=True):
            row["label"] = r.label
            for cell, c in zip(row["cells"], r.cells, strict=True):
                lo, hi = c.interval if c.interval is not None else (None, None)
                cell.update(interval_low=lo, interval_high=hi)
        out_tables.append(d)
    return {
        "tables": out_tables,
        "largest_matching_level": [
            {
                "model": t.model,
                "task": t.task,
                "metric": t.main_metric,
                "methods": to_jsonable(largest_matching_level(t.rows, t.main_metric or "")),
            }
            for t in tables
        ],
        "knowledge_lost": [{**to_jsonable(c), "label": c.label, "lost": len(c.items)} for c in lost],
    }


# ---- HTML -------------------------------------------------------------------------------------
CLASSES = {"matches": "ok", "worse": "no", "inconclusive": "unsure"}


def _title(c: MetricCell) -> str:
    """The tooltip of a cell: how its interval was made, and the discordant items."""
    parts = [f"verdict: {c.verdict} ({c.rule} rule)"] if c.verdict else []
    if c.method:
        parts.append(f"interval: {c.method}")
    if c.lost is not None:
        parts.append(f"lost {c.lost}, gained {c.gained}")
    return f" title='{html.escape('; '.join(parts))}'" if parts else ""


def lost_html(t: TaskTable, lost: Sequence[CellLost]) -> list[str]:
    cells = _lost_for(t, lost)
    if not cells:
        return []
    e = html.escape
    parts = [
        f"<h3>Knowledge lost: {e(t.task)} <small>({e(cells[0].metric)}: dense right, compressed wrong)</small></h3>"
    ]
    for c in cells:
        shown = f", the first {SHOWN}" if len(c.items) > SHOWN else ""
        parts.append(
            f"<details><summary>{e(c.label)}: {len(c.items)} of {c.paired} items lost{shown}</summary>"
        )
        if c.items:
            parts.append("<table class='lost'><tr><th>id</th><th>question</th><th>dense</th><th>compressed</th>"
                         "<th>reference</th></tr>")  # fmt: skip
            for i in c.items[:SHOWN]:
                cols = (i.id, i.question, i.dense_answer, i.compressed_answer, i.reference)
                parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cols) + "</tr>")
            parts.append("</table>")
        parts.append("</details>")
    return parts


def html_page(tables: Sequence[TaskTable], drawn: Sequence[Drawn], lost: Sequence[CellLost] = ()) -> str:
    """A self-contained page: every table, the largest matching level, plots as base64 PNG, and
    the items lost per cell."""
    by_key = {(d.series.model, d.series.task): d for d in drawn}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>kick report</title><style>",
        "body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin:1em 0}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}"
        ".ok{color:#186a1e}.no{color:#a11}.unsure{color:#8a6d00}.spread{color:#555;font-style:italic}"
        "table.lost td{text-align:left}caption{caption-side:bottom;font-size:small;color:#555}",
        "</style></head><body><h1>kick report</h1>",
    ]
    for t in tables:
        parts.append(f"<h2>{html.escape(t.task)} <small>({html.escape(t.model)})</small></h2>")
        parts.append(f"<table><caption>{html.escape(caption(t))}</caption><tr><th>configuration</th>")
        parts += [f"<th>{html.escape(m)}</th>" for m in t.metrics]
        parts.append("</tr>")
        for line in table_lines(t):
            parts.append("<tr class='spread'>" if line.kind == "spread" else "<tr>")
            for j, text in enumerate(line.texts):
                attrs = ""
                if line.cells is not None and j > 0:
                    c = line.cells[j - 1]
                    cls = CLASSES.get(c.verdict or "")
                    attrs = (f" class='{cls}'" if cls else "") + _title(c)
                parts.append(f"<td{attrs}>{html.escape(text)}</td>")
            parts.append("</tr>")
        parts.append("</table>")
        ml = matching_lines(t)
        if ml:
            parts.append(f"<p>{html.escape(matching_title(t))}</p><ul>")
            parts += [f"<li>{html.escape(x)}</li>" for x in ml]
            parts.append("</ul>")
        d = by_key.get((t.model, t.task))
        if d is not None:
            b64 = base64.b64encode(d.png.read_bytes()).decode("ascii")
            parts.append(f"<img alt='{html.escape(t.task)}' src='data:image/png;base64,{b64}'>")
        parts += lost_html(t, lost)
    parts.append("</body></html>")
    return "".join(parts)


# ---- all of it --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    tables: list[TaskTable]
    drawn: list[Drawn]
    files: list[Path]
    lost: list[CellLost]


def write_report(
    data: ReportData,
    out: Path,
    *,
    rel_tol: float | None = None,
    abs_tol: float | None = None,
    verdict: VerdictRule | None = None,
) -> ReportFiles:
    """Tables, plots, items lost and exports into `out`. Tolerances and the verdict rule
    default to those the runs recorded."""
    rel = rel_tol if rel_tol is not None else float(data.tolerance.get("relative", 0.05))
    ab = abs_tol if abs_tol is not None else data.tolerance.get("absolute")
    tables = task_tables(data, rel_tol=rel, abs_tol=ab, rule=verdict)
    lost = knowledge_lost(data.results)
    with staged_folder(out) as tmp:  # a report killed midway leaves the previous one, whole
        drawn = write_plots(tables, tmp / "plots")
        images = {(d.series.model, d.series.task): str(d.svg.relative_to(tmp)) for d in drawn}
        (tmp / "report.md").write_text(markdown(tables, images, lost), encoding="utf-8")
        write_csv(tmp / "report.csv", tables)
        write_json_atomic(tmp / "report.json", report_json(tables, lost))
        (tmp / "report.html").write_text(html_page(tables, drawn, lost), encoding="utf-8")
    drawn = [replace(d, png=out / d.png.relative_to(tmp), svg=out / d.svg.relative_to(tmp)) for d in drawn]
    files = [out / n for n in ("report.html", "report.md", "report.csv", "report.json")]
    files += [p for d in drawn for p in (d.png, d.svg)]
    return ReportFiles(tables, drawn, files, lost)


REPORT_FILES = ("report.json", "report.md", "report.html", "report.csv")


@contextmanager
def staged_folder(out: Path) -> Iterator[Path]:
    """A temporary sibling of `out` to write the report set into; renamed into place (the old
    report replaced) only when the block finishes, removed when it fails. Refuses an `out` that
    is a file, or a folder with other things in it than a report (it would be replaced)."""
    if out.exists() and not out.is_dir():
        raise RunDirError(f"--out {out} is a file; give a folder for the report")
    if out.is_dir() and any(out.iterdir()) and not any((out / n).is_file() for n in REPORT_FILES):
        raise RunDirError(f"{out} is not empty and holds no kick report; refusing to replace it")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    except OSError as e:
        raise RunDirError(f"cannot write the report to {out}: {e.strerror or e}") from None
    try:
        yield tmp
        old = out.with_name(f"{tmp.name}.old")
        if out.exists():
            os.replace(out, old)
        os.replace(tmp, out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def report_dir(run_dir: Path, out: Path | None, **options: Any) -> ReportFiles:
    return write_report(collect(run_dir), out or run_dir / "report", **options)
