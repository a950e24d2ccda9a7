"""Rich rendering for the CLI: progress, plugin listing, and the dense-vs-compressed table."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
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
from kick.plugins import PluginSet


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
    def __init__(self, console: Console) -> None:
        self._console = console
        self._bar = progress_bar(console)
        self._ids: dict[str, Any] = {}

    def __enter__(self) -> RichProgress:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._bar.__exit__(*exc)

    def stage(self, text: str) -> None:
        self._console.log(text)

    def start(self, key: str, text: str, total: int) -> None:
        self._ids[key] = self._bar.add_task(text, total=total)

    def advance(self, key: str, n: int) -> None:
        if key in self._ids:
            self._bar.advance(self._ids[key], n)

    def finish(self, key: str) -> None:
        if key in self._ids:
            t = self._bar.tasks[self._ids[key]]
            self._bar.update(self._ids[key], completed=t.total)


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


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:.4g}"
    return "-" if x is None else str(x)


def headline_metrics(task_entry: Mapping[str, Any]) -> list[str]:
    """The metrics to show per task: the task's primary one first, then other top-level ones."""
    metrics: Mapping[str, Any] = next(iter(task_entry["metrics"].values()), {})
    names = [
        k
        for k, v in metrics.items()
        if isinstance(v, (int, float)) and "/" not in k and k not in ("n", "errors")
    ]
    primary = task_entry.get("primary_metric")
    if primary in names:
        names.remove(primary)
        names.insert(0, primary)
    return names[:8]


def summary_table(summary: Mapping[str, Any]) -> Table:
    variants = summary["variants"]
    comp = summary.get("compression") or {}
    title = f"{summary['model'].get('id', '?')}"
    if comp:
        title += f" - {comp.get('method')}"
    tol = summary.get("tolerance", {})
    caption = f"match = no worse than dense by more than {tol.get('relative', 0.05):.0%}"
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
        for metric in headline_metrics(entry):
            row = [name, metric] + [_fmt(entry["metrics"][v].get(metric)) for v in variants]
            if len(variants) > 1:
                c = entry.get("comparison", {}).get(metric)
                if c:
                    row += [f"{c['delta']:+.4g}", "[green]yes[/]" if c["matches"] else "[red]no[/]"]
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
