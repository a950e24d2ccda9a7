"""Rich rendering of a sweep: a cells bar and per-task sample bars (with ETA) above a live table
of finished cells (primary metric, delta to dense, match mark)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from kick.interfaces import Progress as SweepProgress
from kick.render import progress_bar


def cell_rows(summary: Mapping[str, Any]) -> list[tuple[str, str, str, str]]:
    """(task, primary metric, value, delta-and-match) per task of a finished cell's summary."""
    rows = []
    for task, entry in summary.get("tasks", {}).items():
        metric = entry.get("primary_metric")
        metrics = entry.get("metrics", {})
        variant = "compressed" if "compressed" in metrics else "dense"
        values = metrics.get(variant, {})
        if metric not in values:
            metric = next((k for k, v in values.items() if isinstance(v, float)), None)
        if metric is None:
            continue
        value = values.get(metric)
        comp = (entry.get("comparison") or {}).get(metric)
        delta = "-"
        if comp:
            delta = f"{comp['delta']:+.3g} " + ("[green]match[/]" if comp["matches"] else "[red]no[/]")
        rows.append((task, metric, "-" if value is None else f"{value:.4g}", delta))
    return rows


class SweepRichProgress(SweepProgress):
    def __init__(self, console: Console, *, max_rows: int = 30) -> None:
        self._console = console
        self._bar = progress_bar(console)
        self._ids: dict[str, Any] = {}
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

    def _ensure_live(self) -> None:
        """The live display starts with the first event, so an early error prints alone."""
        if not self._started:
            self._live.__enter__()
            self._started = True

    def __exit__(self, *exc: Any) -> None:
        if self._started:
            self._live.__exit__(*exc)
            self._console.print()

    def stage(self, text: str) -> None:
        self._ensure_live()
        self._live.console.print(f"[dim]{datetime.now():%H:%M:%S}[/] {text}", highlight=False)

    def start(self, key: str, text: str, total: int) -> None:
        self._ensure_live()
        self._ids[key] = self._bar.add_task(text, total=total)

    def advance(self, key: str, n: int) -> None:
        if key in self._ids:
            self._bar.advance(self._ids[key], n)

    def finish(self, key: str) -> None:
        tid = self._ids.get(key)
        if tid is None:
            return
        if key == "sweep":
            self._bar.update(tid, completed=self._bar.tasks[self._ids[key]].total)
        else:  # finished sample bars go away; the cells bar and the table stay
            self._bar.remove_task(tid)
            del self._ids[key]

    def cell_done(self, cell: str, summary: Mapping[str, Any]) -> None:
        for task, metric, value, delta in cell_rows(summary):
            self._rows.append((cell, task, metric, value, delta))
