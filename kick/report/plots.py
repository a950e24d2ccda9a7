"""The report's plots: one figure per task (score vs sparsity, N:M points, a quantization panel,
the dense reference and its tolerance band), every point with the interval of its delta to dense
as an error bar around dense + delta. matplotlib is imported inside the functions, so
importing this module (and `kick --help`) never loads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.report.model import TaskTable
from kick.report.series import PlotSeries, Series, perplexity_table, plot_series


@dataclass(frozen=True)
class Drawn:
    """What one plot file holds: the series drawn and the files written."""

    series: PlotSeries
    png: Path
    svg: Path
    figure: Any


def draw(series: PlotSeries) -> Any:
    """A matplotlib Figure: score vs sparsity (one line per method, N:M as hollow points, the
    dense reference with its tolerance band, perplexity on a second axis), and a quantization
    panel (score vs bits) when the task has quantized results."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if series.bit_points else 1
    fig, axes = plt.subplots(1, panels, figsize=(6.4 * panels, 4.2), squeeze=False)
    ax = axes[0][0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys([s.label for s in (*series.lines, *series.nm_points, *series.bit_points)]))
    color = {m: colors[i % len(colors)] for i, m in enumerate(methods)}

    def reference(a: Any) -> None:
        if series.dense is not None:
            a.axhline(series.dense, color="black", linestyle="--", linewidth=1, label="dense")
        if series.band is not None:
            a.axhspan(*series.band, color="grey", alpha=0.2, label="matches dense")

    def bars(a: Any, s: Series) -> None:
        """The interval of each point's delta, around dense: an error bar (unlabelled)."""
        if not s.low:
            return
        below = [max(y - lo, 0.0) for y, lo in zip(s.y, s.low, strict=True)]
        above = [max(hi - y, 0.0) for y, hi in zip(s.y, s.high, strict=True)]
        a.errorbar(s.x, s.y, yerr=[below, above], fmt="none", ecolor=color[s.label], capsize=3, alpha=0.7)

    reference(ax)
    for s in series.lines:
        ax.plot(s.x, s.y, marker="o", color=color[s.label], label=s.label)
        bars(ax, s)
    for s in series.nm_points:
        bars(ax, s)
        ax.plot(
            s.x,
            s.y,
            linestyle="none",
            marker="s",
            markerfacecolor="none",
            markersize=9,
            color=color[s.label],
            label=f"{s.label} N:M",
        )
    level = f"{series.level:.0%} " if series.level is not None else ""
    note = ""
    if any(s.low for s in (*series.lines, *series.nm_points, *series.bit_points)):
        note = f"\nbars: dense + {level}interval of the delta"
    ax.set_xlabel("sparsity (N:M at 1 - N/M)" + note)
    ax.set_ylabel(series.metric + (" (lower is better)" if series.lower_is_better else ""))
    ax.set_title(f"{series.task} - {series.model}")
    if series.secondary:
        ax2 = ax.twinx()
        for s in series.secondary:
            ax2.plot(
                s.x,
                s.y,
                linestyle=":",
                marker="x",
                color=color.get(s.label, "grey"),
                alpha=0.7,
                label=f"{s.label} {series.secondary_metric}",
            )
        ax2.set_ylabel(f"{series.secondary_metric} (dotted)")
    ax.legend(fontsize="small", loc="best")
    if series.bit_points:
        bx = axes[0][1]
        reference(bx)
        for s in series.bit_points:
            bars(bx, s)
            bx.plot(s.x, s.y, linestyle="none", marker="D", color=color[s.label], label=s.label)
        bx.set_xticks(sorted({x for s in series.bit_points for x in s.x}))
        bx.set_xlabel("bits")
        bx.invert_xaxis()
        bx.set_title("quantization")
        bx.legend(fontsize="small", loc="best")
    fig.tight_layout()
    return fig


def write_plots(tables: Sequence[TaskTable], out: Path) -> list[Drawn]:
    """One PNG and one SVG per (model, task) table with a numeric metric."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    for t in tables:
        ppl = perplexity_table(tables, t.model)
        series = plot_series(t, ppl if ppl is not None and ppl.task != t.task else None)
        if series is None or not (
            series.lines or series.nm_points or series.bit_points or series.dense is not None
        ):
            continue
        fig = draw(series)
        stem = f"{_safe(t.model)}__{_safe(t.task)}"
        png, svg = out / f"{stem}.png", out / f"{stem}.svg"
        fig.savefig(png, dpi=110)
        fig.savefig(svg)
        plt.close(fig)
        drawn.append(Drawn(series, png, svg, fig))
    return drawn


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
