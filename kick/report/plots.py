"""The report's plots: one figure per task (score vs sparsity, N:M points, a quantization panel
of score vs bits sharing the y-axis, the dense reference and its tolerance band), every point with
the interval of its delta to dense as an error bar around dense + delta; perplexity is a task of
its own, so it gets its own figure. matplotlib is imported inside the functions, so
importing this module (and `kick --help`) never loads it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.report.model import TaskTable
from kick.report.series import PlotSeries, Series, plot_series


@dataclass(frozen=True)
class Drawn:
    """What one plot file holds: the series drawn and the files written."""

    series: PlotSeries
    png: Path
    svg: Path
    figure: Any


MARKERS = ("o", "s", "^", "D", "v", "P", "X", "h")


def y_limits(series: PlotSeries) -> tuple[float, float, bool]:
    """(bottom, top, log): scores in [0, 1] always show 0 (no panel zoomed on one point);
    a lower-is-better metric spanning more than 5x (perplexity) gets a log axis."""
    ys = [y for s in (*series.lines, *series.nm_points, *series.bit_points) for y in (*s.y, *s.low, *s.high)]
    ys += [series.dense] if series.dense is not None else []
    ys += list(series.band or ())
    if not ys:
        return 0.0, 1.0, False
    lo, hi = min(ys), max(ys)
    if 0.0 <= lo and hi <= 1.0:
        return -0.03, min(1.05, max(hi * 1.25, hi + 0.05, 0.1)), False
    if lo > 0 and hi / lo > 5:
        return lo / 1.3, hi * 1.3, True
    span = max(hi - lo, abs(hi) * 0.1, 1e-9)
    return lo - 0.15 * span, hi + 0.15 * span, False


def draw(series: PlotSeries) -> Any:
    """A matplotlib Figure: score vs sparsity (a line per method, N:M as separate points), and a
    panel of score vs bits when the task has quantized results, the two sharing the y-axis; the
    dense score and its tolerance band in each; error bars where a point has an interval. Each
    method has its own colour and hollow marker, the markers shrinking method by method, so
    methods with equal scores stay visible (concentric) without moving any point. One legend
    names every line and point set."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = 2 if series.bit_points else 1
    fig, axes = plt.subplots(
        1, panels, figsize=(5.6 * panels + 0.6, 4.4), squeeze=False, sharey=True, layout="constrained"
    )
    ax = axes[0][0]
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    methods = list(dict.fromkeys([s.label for s in (*series.lines, *series.nm_points, *series.bit_points)]))
    style = {
        m: {"color": colors[i % len(colors)], "marker": MARKERS[i % len(MARKERS)],
            "markersize": max(4.0, 11.0 - 2.0 * i), "markerfacecolor": "none", "markeredgewidth": 1.6}
        for i, m in enumerate(methods)
    }  # fmt: skip

    def reference(a: Any) -> None:
        if series.band is not None:
            a.axhspan(*series.band, color="grey", alpha=0.2, label="matches dense (tolerance)")
        if series.dense is not None:
            a.axhline(series.dense, color="black", linestyle="--", linewidth=1, label="dense")

    def bars(a: Any, s: Series) -> None:
        """The interval of each point's delta, around dense: an error bar (unlabelled)."""
        if not s.low:
            return
        below = [max(y - lo, 0.0) for y, lo in zip(s.y, s.low, strict=True)]
        above = [max(hi - y, 0.0) for y, hi in zip(s.y, s.high, strict=True)]
        a.errorbar(
            s.x, s.y, yerr=[below, above], fmt="none", ecolor=style[s.label]["color"], capsize=3, alpha=0.6
        )

    reference(ax)
    for s in series.lines:
        ax.plot(s.x, s.y, label=s.label, alpha=0.9, **style[s.label])
        bars(ax, s)
    for s in series.nm_points:
        bars(ax, s)
        st = {**style[s.label], "marker": "*", "markersize": style[s.label]["markersize"] + 3}
        ax.plot(s.x, s.y, linestyle="none", label=f"{s.label} N:M", **st)
    level = f"{series.level:.0%} " if series.level is not None else ""
    note = ""
    if any(s.low for s in (*series.lines, *series.nm_points, *series.bit_points)):
        note = f"\nbars: dense + {level}interval of the delta"
    ax.set_xlabel("sparsity (N:M at 1 - N/M)" + note)
    ax.set_xlim(-0.04, max([0.6, *(x for s in (*series.lines, *series.nm_points) for x in s.x)]) + 0.06)
    ax.set_ylabel(series.metric + (" (lower is better)" if series.lower_is_better else ""))
    ax.set_title("pruning" if series.bit_points else f"{series.task} - {series.model}")
    bottom, top, log = y_limits(series)
    if log:
        ax.set_yscale("log")
    ax.set_ylim(bottom, top)
    if series.bit_points:
        bx = axes[0][1]
        reference(bx)
        for s in series.bit_points:
            bars(bx, s)
            bx.plot(s.x, s.y, linestyle="none", label=s.label, **style[s.label])
        ticks = sorted({x for s in series.bit_points for x in s.x} | {16.0})
        bx.set_xticks(ticks)
        bx.set_xlim(max(ticks) + 1, min(ticks) - 1)  # fewer bits to the right, as sparsity grows
        bx.set_xlabel("bits per weight (dense: 16)")
        bx.set_title("quantization")
        fig.suptitle(f"{series.task} - {series.model}")
    handles: dict[str, Any] = {}
    for a in axes[0]:
        for h, lab in zip(*a.get_legend_handles_labels(), strict=True):
            handles.setdefault(lab, h)
    fig.legend(
        handles.values(),
        handles.keys(),
        loc="outside lower center",
        ncol=min(4, len(handles)),
        fontsize="small",
    )
    return fig


def write_plots(tables: Sequence[TaskTable], out: Path) -> list[Drawn]:
    """One PNG and one SVG per (model, task) table with a numeric metric."""
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    drawn = []
    for t in tables:
        series = plot_series(t)  # perplexity gets its own figure, never a hidden second axis
        if series is None or not (
            series.lines or series.nm_points or series.bit_points or series.dense is not None
        ):
            continue
        fig = draw(series)
        stem = f"{_safe(t.model)}__{_safe(t.task)}"
        png, svg = out / f"{stem}.png", out / f"{stem}.svg"
        fig.savefig(png, dpi=100)
        fig.savefig(svg)
        plt.close(fig)
        drawn.append(Drawn(series, png, svg, fig))
    return drawn


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
