"""Console output for the CLI (rich): progress bars for runs and sweeps, the live table of a
sweep's finished cells, the plugin listing, and the dense-vs-compressed table of a run.

`RichProgress` is the one progress display: a bar per key (description, bar, n/N, elapsed, ETA).
`SweepRichProgress` extends it with a live table of finished cells. Nothing here imports the
runner or the sweep: they only call the `kick.interfaces.Progress` methods."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich import box
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


QUIET_ENV = {
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",  # huggingface_hub's, and transformers' "Loading weights" bars
    "TRANSFORMERS_VERBOSITY": "error",
    "HF_DATASETS_DISABLE_PROGRESS_BARS": "1",
}


def quiet_libraries() -> None:
    """Hide the libraries' own bars and warnings (kick draws its own progress); set before they
    are imported, and only where the user has not set them. `kick --verbose` skips this."""
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)


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


PROGRESS_LOG = "kick.progress"
"""Components report progress inside one step (a compressor's blocks) as log records on this
logger with a `kick_progress` attribute (key, text, done, total); plain logging, so a plugin
needs nothing from kick. While a display is open, `ProgressLog` turns them into a bar with ETA."""


class ProgressLog(logging.Handler):
    """Forwards `kick_progress` log records to a Progress: a bar per key, finished at total."""

    def __init__(self, progress: RunnerProgress) -> None:
        super().__init__(logging.INFO)
        self._progress = progress
        self._done: dict[str, int] = {}

    def emit(self, record: logging.LogRecord) -> None:
        info = getattr(record, "kick_progress", None)
        if not (isinstance(info, tuple) and len(info) == 4):
            return
        key, text, done, total = info
        if key not in self._done or done < self._done[key]:
            self._progress.start(key, str(text), int(total))
            self._done[key] = 0
        self._progress.advance(key, int(done) - self._done[key])
        self._done[key] = int(done)
        if done >= total:
            self._progress.finish(key)
            del self._done[key]

    def __enter__(self) -> ProgressLog:
        log = logging.getLogger(PROGRESS_LOG)
        self._saved = (log.level, log.propagate)
        log.setLevel(logging.INFO)
        log.propagate = False  # shown as a bar, never also as text
        log.addHandler(self)
        return self

    def __exit__(self, *exc: Any) -> None:
        log = logging.getLogger(PROGRESS_LOG)
        log.removeHandler(self)
        log.setLevel(self._saved[0])
        log.propagate = self._saved[1]


class RichProgress(RunnerProgress):
    """A run's progress: stages logged above one bar per key."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar = progress_bar(console)
        self._ids: dict[str, Any] = {}
        self._log = ProgressLog(self)

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        self._log.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._log.__exit__(*exc)
        self._bar.__exit__(*exc)

    def _shown(self) -> None:
        """Called before anything is displayed (the sweep starts its live display here)."""

    def stage(self, text: str) -> None:
        self._console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", highlight=False)

    def start(self, key: str, text: str, total: int) -> None:
        self._shown()
        if key in self._ids:  # a bar that runs again (a second compression): start it over
            self._bar.reset(self._ids[key], total=total, description=text)
            return
        self._ids[key] = self._bar.add_task(text, total=total)

    def advance(self, key: str, n: float) -> None:
        if key in self._ids:
            self._bar.advance(self._ids[key], n)

    def finish(self, key: str) -> None:
        if key in self._ids:
            t = self._bar.tasks[self._ids[key]]
            self._bar.update(self._ids[key], completed=t.total)


class SweepRichProgress(RichProgress):
    """A sweep's progress: the cells bar and per-task sample bars (with ETA) above a live grid
    of finished cells (a row per cell, a column per task: the primary metric and its verdict
    mark). The live grid keeps the last `max_rows` cells on screen; when the sweep ends it is
    replaced by the full grid, every cell, dense first."""

    def __init__(self, console: Console, *, max_rows: int = 30) -> None:
        super().__init__(console)
        self._cells: dict[str, dict[str, tuple[str, str]]] = {}  # cell -> task -> (metric, text)
        self._max_rows = max_rows
        self._live = Live(self, console=console, refresh_per_second=4, transient=True)
        self._started = False

    def __rich__(self) -> Group:
        return Group(self._bar, self.table(last=self._max_rows))

    def table(self, last: int | None = None) -> Table:
        """The grid of finished cells (the last `last` of them; None: all), dense first."""
        return cells_grid(self._cells, last=last)

    def __enter__(self) -> SweepRichProgress:
        self._log.__enter__()
        return self

    def _shown(self) -> None:
        """The live display starts with the first event, so an early error prints alone."""
        if not self._started:
            self._live.__enter__()
            self._started = True

    def __exit__(self, *exc: Any) -> None:
        self._log.__exit__(*exc)
        if self._started:
            self._live.__exit__(*exc)
        if self._cells:
            self._console.print(self.table())

    def stage(self, text: str) -> None:
        self._shown()
        self._live.console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", highlight=False)

    def finish(self, key: str) -> None:
        if key == "sweep" or key not in self._ids:
            super().finish(key)
        else:  # finished sample bars go away; the cells bar and the table stay
            self._bar.remove_task(self._ids.pop(key))

    def cell_done(self, cell: str, summary: Mapping[str, Any]) -> None:
        """The finished cell `cell` (its id, e.g. `smollm2-135m/wanda-s0.5`): its primary metric
        per task, with the verdict mark."""
        self._cells[cell] = {
            task: (metric, f"{value} {mark}".strip()) for task, metric, value, mark in cell_marks(summary)
        }


def cells_grid(cells: Mapping[str, Mapping[str, tuple[str, str]]], *, last: int | None = None) -> Table:
    """Cells x tasks, dense first; cell names lose the model prefix when there is one model, so
    they stay apart at 80 columns; the header names each task's metric once."""
    names = list(cells)
    dense = [n for n in names if n.rsplit("/", 1)[-1] == "dense"]
    order = dense + [n for n in names if n not in dense]
    if last is not None and len(order) > last:
        order = dense + order[len(order) - last + len(dense) :]
    models = {n.split("/", 1)[0] for n in names}
    tasks = list(dict.fromkeys(t for c in cells.values() for t in c))
    metric = {t: next(c[t][0] for c in cells.values() if t in c) for t in tasks}
    hidden = len(cells) - len(order)
    table = Table(
        title=f"finished cells ({len(cells)}{f', the last {len(order)} shown' if hidden else ''})",
        title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1),
        caption="✓ matches dense, ? inconclusive, ✗ worse (interval of the delta vs the tolerance)",
        caption_justify="left",
    )  # fmt: skip
    table.add_column("cell", no_wrap=True)
    for t in tasks:  # long task names break after their first hyphen, so five tasks fit 80 columns
        name = t.replace("-", "-\n", 1) if len(t) > 9 else t
        table.add_column(f"{name}\n[dim]{metric[t]}[/]", justify="right", overflow="fold")
    for n in order:
        label = n.split("/", 1)[1] if len(models) == 1 and "/" in n else n
        table.add_row(label, *(cells[n].get(t, ("", "-"))[1] for t in tasks))
    return table


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


def listing_tables(items: list[Any], what: str) -> list[Table]:
    """`kick list`: a table of parameters per component (name, type, default, description)."""
    tables = []
    for c in items:
        levels = f"; sweeps over {', '.join(c.levels)}" if c.levels else ""
        table = Table(title=f"[bold]{c.name}[/] ({c.plugin}): {c.description}{levels}", title_justify="left")
        for col in ("parameter", "type", "default", "description"):
            table.add_column(col, overflow="fold")
        if c.params is None:
            table.add_row("-", "-", "-", "parameters not declared through a config dataclass")
        for p in c.params or ():
            table.add_row(
                p.name,
                p.type,
                repr(p.default) if isinstance(p.default, str) else str(p.default),
                p.description,
            )
        tables.append(table)
    return tables


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


def cell_marks(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(task, primary metric, value to 3 significant digits, verdict mark) per task of a cell."""
    marks = {"matches": "✓", "inconclusive": "?", "worse": "✗"}
    out = []
    for task, entry in summary.get("tasks", {}).items():
        metrics = entry.get("metrics", {})
        values = metrics.get("compressed" if "compressed" in metrics else "dense", {})
        metric = entry.get("primary_metric")
        if metric not in values:
            metric = next(iter(headline_metrics(values, None)), None)
        if metric is None:
            continue
        comp = (entry.get("comparison") or {}).get(metric) or {}
        state = comp.get("verdict") or (("matches" if comp.get("matches") else "worse") if comp else "")
        v = values.get(metric)
        out.append((task, metric, "-" if v is None else f"{v:.3g}", marks.get(state, "")))
    return out


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
