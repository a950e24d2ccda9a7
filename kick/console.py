"""Console output for the CLI (rich): progress bars for runs and sweeps, the live table of a
sweep's finished cells, the plugin listing, and the dense-vs-compressed table of a run.

`RichProgress` is the one progress display: a bar per key (description, bar, n/N, elapsed, ETA).
`SweepRichProgress` extends it with a live table of finished cells. Nothing here imports the
runner or the sweep: they only call the `kick.interfaces.Progress` methods."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from kick.interfaces import Progress as RunnerProgress
from kick.metrics import headline_metrics
from kick.plugins import PluginSet

if TYPE_CHECKING:
    from kick.report.model import TaskTable


def progress_bar(console: Console) -> Progress:
    """The one progress-bar layout used by runs and sweeps: description, bar, n/N, elapsed, ETA."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )


class RichProgress(RunnerProgress):
    """A run's progress: stages logged above one bar per key."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar = progress_bar(console)
        self._ids: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def _shown(self) -> None:
        """Called before anything is displayed (the sweep starts its live display here)."""

    def stage(self, text: str) -> None:
        self._console.log(text)

    def start(self, key: str, text: str, total: int) -> None:
        self._shown()
        self._ids[key] = self._bar.add_task(text, total=total)

    def advance(self, key: str, n: int) -> None:
        if key in self._ids:
            self._bar.advance(self._ids[key], n)

    def finish(self, key: str) -> None:
        if key in self._ids:
            t = self._bar.tasks[self._ids[key]]
            self._bar.update(self._ids[key], completed=t.total)


class SweepRichProgress(RichProgress):
    """A sweep's progress: the cells bar and per-task sample bars (with ETA) above a live table
    of finished cells (primary metric, delta to dense, match mark)."""

    def __init__(self, console: Console, *, max_rows: int = 30) -> None:
        super().__init__(console)
        self._rows: list[tuple[str, str, str, str, str]] = []
        self._max_rows = max_rows
        self._live = Live(self, console=console, refresh_per_second=4, transient=False)
        self._started = False

    def __rich__(self) -> Group:
        return Group(self._bar, self.table())

    def table(self) -> Table:
        table = Table(title="finished cells", title_justify="left")
        for col in ("cell", "task", "metric", "value", "delta"):
            table.add_column(col, justify="right" if col in ("value", "delta") else "left")
        for row in self._rows[-self._max_rows :]:
            table.add_row(*row)
        return table

    def __enter__(self) -> SweepRichProgress:
        return self

    def _shown(self) -> None:
        """The live display starts with the first event, so an early error prints alone."""
        if not self._started:
            self._live.__enter__()
            self._started = True

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self._live.__exit__(*exc)
            self._console.print()

    def stage(self, text: str) -> None:
        self._shown()
        self._live.console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", highlight=False)

    def finish(self, key: str) -> None:
        if key == "sweep" or key not in self._ids:
            super().finish(key)
        else:  # finished sample bars go away; the cells bar and the table stay
            self._bar.remove_task(self._ids.pop(key))

    def cell_done(self, cell: str, summary: Mapping[str, Any]) -> None:
        """A row per task of the finished cell `cell` (its id, e.g. `smollm2-135m/wanda-s0.5`)."""
        for task, metric, value, delta in cell_rows(summary):
            self._rows.append((cell, task, metric, value, delta))


def plugins_table(ps: PluginSet) -> Table:
    table = Table(title="kick plugins", show_lines=False)
    table.add_column("plugin")
    table.add_column("distribution")
    table.add_column("version")
    table.add_column("provides")
    for p in ps.plugins:
        provides = "; ".join(f"{k}: {', '.join(v)}" for k, v in sorted(p.provides.items()))
        if p.commands:
            provides = (provides + "; " if provides else "") + "commands"
        table.add_row(p.name, p.distribution or "-", p.version or "-", provides or "-")
    for f in ps.failures:
        table.add_row(
            f"[red]{f.name}[/]",
            f.distribution or "-",
            f.version or "-",
            f"[red]FAILED {f.stage}: {f.error}[/]",
        )
    return table


VERDICT_MARKS = {"matches": "[green]✓[/]", "inconclusive": "[yellow]?[/]", "worse": "[red]✗[/]"}


def verdict_mark(c: Mapping[str, Any]) -> str:
    """A comparison entry's verdict as ✓ / ? / ✗ (older summaries: from `matches`), with the
    interval of the delta and n when it has one."""
    state = c.get("verdict") or ("matches" if c.get("matches") else "worse")
    text = VERDICT_MARKS.get(state, "-")
    iv = c.get("interval")
    if iv:
        text += f" [{iv[0]:+.3g}, {iv[1]:+.3g}] n={c.get('n')}".replace("[", "\\[", 1)
    if c.get("n_needed"):
        text += f", needs ~{c['n_needed']}"
    return text


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "-" if x is None else str(x)


def task_headline(task_entry: Mapping[str, Any], limit: int = 8) -> list[str]:
    """The metrics a run's table shows per task: the headline ones of its first variant."""
    metrics: Mapping[str, Any] = next(iter(task_entry["metrics"].values()), {})
    return headline_metrics(metrics, task_entry.get("primary_metric"), limit=limit)


def summary_table(summary: Mapping[str, Any]) -> Table:
    variants = summary["variants"]
    comp = summary.get("compression") or {}
    title = f"{summary['model'].get('id', '?')}"
    if comp:
        title += f" - {comp.get('method')}"
    title += f"\n({summary['model']['note']})" if summary["model"].get("note") else ""
    tol = summary.get("tolerance", {})
    caption = (
        f"✓ matches, ✗ worse: (the paired interval of) the delta is within / beyond "
        f"{tol.get('relative', 0.05):.0%} of dense; ? inconclusive: the interval straddles it"
    )
    if tol.get("absolute") is not None:
        caption += f" or {tol['absolute']} absolute"
    table = Table(title=title, caption=caption if len(variants) > 1 else None)
    table.add_column("task")
    table.add_column("metric")
    for v in variants:
        table.add_column(v, justify="right")
    if len(variants) > 1:
        table.add_column("delta", justify="right")
        table.add_column("match", justify="center")
    for name, entry in summary["tasks"].items():
        for metric in task_headline(entry):
            row = [name, metric] + [_fmt(entry["metrics"][v].get(metric)) for v in variants]
            if len(variants) > 1:
                c = entry.get("comparison", {}).get(metric)
                if c:
                    row += [f"{c['delta']:+.4g}", verdict_mark(c)]
                else:
                    row += ["-", "-"]
            table.add_row(*row)
        counts = [f"{entry['metrics'][v]['n']} / {entry['metrics'][v]['errors']}" for v in variants]
        table.add_row(name, "n / errors", *counts, *(["", ""] if len(variants) > 1 else []), end_section=True)
    return table


def compression_table(manifest: Mapping[str, Any]) -> Table:
    comp = manifest["compression"]
    table = Table(title=f"compression: {comp.get('method')}")
    table.add_column("measure")
    table.add_column("value", justify="right")
    for k, v in comp.items():
        if isinstance(v, (int, float, str)) and k != "method":
            table.add_row(k, _fmt(v))
    return table


def cell_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(task, primary metric, value, delta-and-match) per task of a finished cell's summary."""
    rows = []
    for task, entry in summary.get("tasks", {}).items():
        metric = entry.get("primary_metric")
        metrics = entry.get("metrics", {})
        variant = "compressed" if "compressed" in metrics else "dense"
        values = metrics.get(variant, {})
        if metric not in values:  # no primary metric: the first headline one
            metric = next(iter(headline_metrics(values, None)), None)
        if metric is None:
            continue
        value = values.get(metric)
        comp = (entry.get("comparison") or {}).get(metric)
        delta = "-"
        if comp:
            delta = f"{comp['delta']:+.3g} " + verdict_mark(comp)
        rows.append((task, metric, "-" if value is None else f"{value:.4g}", delta))
    return rows


def report_table(t: TaskTable) -> Table:
    """One task's report table for the terminal: its headline metrics (the per-subject and
    per-bucket breakdowns stay in the report files), dense first, then each method @ level
    (and the spread across seeds), each cell coloured by its verdict."""
    from rich.text import Text

    from kick.report.text import caption, table_lines

    styles = {"matches": "green", "inconclusive": "yellow", "worse": "red"}
    shown = [t.metrics.index(m) for m in t.headline(limit=3 if t.methods else 5)]  # interval cells are wide
    table = Table(title=f"{t.task} ({t.model})", caption=caption(t))
    table.add_column("configuration")
    for i in shown:
        table.add_column(t.metrics[i], justify="right")
    for line in table_lines(t):
        cells = [
            Text(
                line.texts[1 + i],
                style=styles.get(line.cells[i].verdict or "", "") if line.cells else "italic dim"
                if line.kind == "spread" else "",
            )
            for i in shown
        ]  # fmt: skip
        table.add_row(Text(line.texts[0]), *cells)
    return table
