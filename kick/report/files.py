"""The report's files from its model (`kick.report.model`): Markdown, CSV, JSON and one HTML page,
next to the plots (`kick.report.plots`), with the items each compressed cell lost
(`kick.report.lost`).

Every writer takes the pure data model and returns what it wrote, so tests check numbers and
text, never pixels.
"""

from __future__ import annotations

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
from kick.report.footprints import read_rows, size_plots
from kick.report.header import Header, header, task_settings
from kick.report.lmeval import write_lm_eval
from kick.report.lost import SHOWN, CellLost, knowledge_lost
from kick.report.model import MetricCell, ReportData, TaskTable, collect, largest_matching_level, task_tables
from kick.report.overview import FEW_WINDOWS, FLOOR_TEXT, Grid, apply_floors, overview
from kick.report.page import html_page
from kick.report.plots import Drawn, write_plots
from kick.report.text import (
    MATCH,
    MISS,
    UNSURE,
    caption,
    fmt_cell,
    fmt_value,
    grid_text,
    headers,
    level_text,
    matching_lines,
    matching_title,
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


def _md_table(head: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(_md(h) for h in head) + " |", "|" + "---|" * len(head)]
    return out + ["| " + " | ".join(_md(x) for x in r) + " |" for r in rows]


def header_markdown(h: Header) -> list[str]:
    lines = (
        ["## Provenance", ""] + [f"- model: {_md(m)}" for m in h.models] + [f"- versions: {h.versions}", ""]
    )
    rows = [
        [t.task, t.source, (t.sha256 or "-")[:12], str(t.n if t.n is not None else "-"), t.protocol]
        for t in h.tasks
    ]
    lines += _md_table(["task", "data source", "sha256", "n", "protocol"], rows)
    if h.cells:
        rows = [
            [c.label, "-" if c.sparsity is None else f"{c.sparsity:.2%}", c.nm or "-", c.bits or "-",
             c.calibration or "none", "-" if c.seconds is None else f"{c.seconds:.1f}"]
            for c in h.cells
        ]  # fmt: skip
        lines += ["", "Measured compression per cell:", ""]
        lines += _md_table(["cell", "sparsity", "N:M check", "bits", "calibration", "seconds"], rows)
    return [*lines, ""]


def overview_markdown(g: Grid) -> list[str]:
    head = ["configuration"]
    for c in g.columns:
        head.append(f"{c.task} ({c.metric})" + (f" [{FLOOR_TEXT}]" if c.floor is not None else ""))
    rows = [[r.label, *(grid_text(c, col, dense=i == 0) for c, col in zip(r.cells, g.columns, strict=True))]
            for i, r in enumerate(g.rows)]  # fmt: skip
    lines = ["## Overview", "", *_md_table(head, rows), ""]
    lines += [
        f"Warning: {c.task} rests on {c.n} window(s) of text (fewer than {FEW_WINDOWS})."
        for c in g.few_windows
    ]
    return [*lines, ""]


def markdown(
    tables: Sequence[TaskTable],
    images: Mapping[tuple[str, str], str] | None = None,
    lost: Sequence[CellLost] = (),
    head: Header | None = None,
    grid: Grid | None = None,
) -> str:
    lines = ["# kick report", ""]
    lines += header_markdown(head) if head is not None else []
    lines += overview_markdown(grid) if grid is not None else []
    for t in tables:
        lines += [f"## {_md(t.task)} ({_md(t.model)})", "", f"_{_md(caption(t))}_", ""]
        if t.floors:
            lines += [f"**{FLOOR_TEXT}** on {_md(', '.join(t.floors))}.", ""]
        names, rows = headers(t), table_rows(t)
        head_cols = [
            0,
            *(t.metrics.index(m) + 1 for m in t.headline()),
            *range(len(t.metrics) + 1, len(names)),
        ]
        lines += _md_table([names[j] for j in head_cols], [[r[j] for j in head_cols] for r in rows])
        rest = [0, *(j for j in range(1, len(t.metrics) + 1) if j not in head_cols)]
        if len(rest) > 1:
            lines += ["", "Breakdown (per subject / bucket; few items each):", ""]
            lines += _md_table([names[j] for j in rest], [[r[j] for j in rest] for r in rows])
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


def report_json(
    tables: Sequence[TaskTable],
    lost: Sequence[CellLost] = (),
    head: Header | None = None,
    grid: Grid | None = None,
) -> dict[str, Any]:
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
        "provenance": to_jsonable(head) if head is not None else None,
        "overview": {
            "columns": to_jsonable(grid.columns),
            "rows": [
                {
                    "label": r.label,
                    "cells": [
                        grid_text(c, col, dense=i == 0) for c, col in zip(r.cells, grid.columns, strict=True)
                    ],
                }
                for i, r in enumerate(grid.rows)
            ],
        }
        if grid is not None
        else None,
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


# ---- all of it --------------------------------------------------------------------------------
@dataclass(frozen=True)
class ReportFiles:
    tables: list[TaskTable]
    drawn: list[Drawn]
    files: list[Path]
    lost: list[CellLost]
    notes: list[str]  # what could not be done (a missing optional dependency)


def write_report(
    data: ReportData,
    out: Path,
    *,
    rel_tol: float | None = None,
    abs_tol: float | None = None,
    verdict: VerdictRule | None = None,
    footprints: Sequence[Mapping[str, Any]] = (),
) -> ReportFiles:
    """Tables, plots, items lost and exports into `out`. Tolerances and the verdict rule
    default to those the runs recorded. `footprints` (kick.report.footprints rows) go into
    report.json, with a plot of score against size on disk per task."""
    rel = rel_tol if rel_tol is not None else float(data.tolerance.get("relative", 0.05))
    ab = abs_tol if abs_tol is not None else data.tolerance.get("absolute")
    tables = apply_floors(
        task_tables(data, rel_tol=rel, abs_tol=ab, rule=verdict), task_settings(data.summaries)
    )
    lost = knowledge_lost(data.results)
    head, grid = header(data.summaries), overview(tables)
    notes = []
    with staged_folder(out) as tmp:  # a report killed midway leaves the previous one, whole
        try:
            drawn = write_plots(tables, tmp / "plots")
            sized = size_plots(footprints, tmp / "plots")
        except ImportError as e:  # the plots extra is not installed: the tables still carry everything
            if not (e.name or "").startswith("matplotlib"):
                raise
            drawn, sized = [], []
            notes.append("plots not drawn: matplotlib is not installed (pip install 'kick[plots]')")
        images = {(d.series.model, d.series.task): str(d.svg.relative_to(tmp)) for d in drawn}
        (tmp / "report.md").write_text(markdown(tables, images, lost, head, grid), encoding="utf-8")
        write_csv(tmp / "report.csv", tables)
        write_json_atomic(
            tmp / "report.json", {**report_json(tables, lost, head, grid), "footprints": list(footprints)}
        )
        (tmp / "report.html").write_text(html_page(tables, drawn, lost, head, grid), encoding="utf-8")
        lm_eval = [out / p.relative_to(tmp) for p in write_lm_eval(data, tmp / "lm_eval")]
        sized = [out / p.relative_to(tmp) for p in sized]
    drawn = [replace(d, png=out / d.png.relative_to(tmp), svg=out / d.svg.relative_to(tmp)) for d in drawn]
    files = [out / n for n in ("report.html", "report.md", "report.csv", "report.json")]
    files += lm_eval
    files += [p for d in drawn for p in (d.png, d.svg)]
    files += sized
    return ReportFiles(tables, drawn, files, lost, notes)


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
    return write_report(collect(run_dir), out or run_dir / "report", footprints=read_rows(run_dir), **options)
