"""The report's HTML page (self-contained): the provenance header, the overview grid (methods x
levels x tasks, dense first), then one section per task: its headline table, the per-subject
or per-bucket breakdown behind a toggle, the largest matching level as sentences, the plot, and
the items lost.

Laid out for a 1280 px laptop screen: the page never scrolls sideways; a wide table scrolls
inside its own box (`.scroll`), images shrink to the page (checked in headless Chromium by
`kick.report.browser`)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence

from kick.report.header import Header
from kick.report.lost import SHOWN, CellLost
from kick.report.model import MetricCell, TaskTable
from kick.report.overview import FEW_WINDOWS, FLOOR_TEXT, Grid
from kick.report.plots import Drawn
from kick.report.text import caption, grid_text, headers, matching_lines, matching_title, table_lines

CLASSES = {"matches": "ok", "worse": "no", "inconclusive": "unsure", "floor": "floor"}
e = html.escape

CSS = (
    "body{font-family:system-ui,sans-serif;margin:0 auto;padding:1em 1.5em;max-width:1180px;line-height:1.35}"
    "h1{margin:.2em 0}.scroll{overflow-x:auto;max-width:100%;margin:.6em 0}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right;"
    "white-space:nowrap}td:first-child,th:first-child{text-align:left}th{background:#f4f4f4}"
    ".ok{color:#186a1e}.no{color:#a11}.unsure{color:#8a6d00}.floor{color:#666;background:#f3f3f3}"
    ".spread{color:#555;font-style:italic}table.lost td,table.prov td{text-align:left;white-space:normal;"
    "overflow-wrap:anywhere}caption{caption-side:bottom;font-size:small;color:#555;text-align:left;"
    "white-space:normal}.cap{font-size:small;color:#555;margin-top:0}img{max-width:100%;height:auto}#provenance{background:#fafafa;border:1px solid #ddd;"
    "padding:.4em 1em;overflow-wrap:anywhere}.warn{color:#a11}th small{font-weight:normal;color:#555}"
    "table.overview td.dense{font-weight:bold}summary{cursor:pointer}"
)


def _title(c: MetricCell) -> str:
    """The tooltip of a cell: how its interval was made, and the discordant items."""
    parts = [f"verdict: {c.verdict} ({c.rule} rule)"] if c.verdict else []
    if c.method:
        parts.append(f"interval: {c.method}")
    if c.lost is not None:
        parts.append(f"lost {c.lost}, gained {c.gained}")
    return f" title='{e('; '.join(parts))}'" if parts else ""


def _cls(c: MetricCell | None) -> str:
    cls = CLASSES.get((c.verdict if c else None) or "")
    return f" class='{cls}'" if cls else ""


def provenance_html(h: Header) -> list[str]:
    parts = ["<section id='provenance'><h2>Provenance</h2><ul>"]
    parts += [f"<li><b>model</b>: {e(m)}</li>" for m in h.models]
    parts.append(f"<li><b>versions</b>: {e(h.versions)}</li></ul>")
    parts.append("<div class='scroll'><table class='prov'><tr><th>task</th><th>data source</th><th>sha256</th>"
                 "<th>n</th><th>protocol</th></tr>")  # fmt: skip
    for t in h.tasks:
        sha = (t.sha256 or "-")[:12]
        parts.append(f"<tr><td>{e(t.task)}</td><td>{e(t.source)}</td><td>{e(sha)}</td>"
                     f"<td>{t.n if t.n is not None else '-'}</td><td>{e(t.protocol)}</td></tr>")  # fmt: skip
    parts.append("</table></div>")
    if h.cells:
        parts.append("<details open><summary>measured compression per cell</summary><div class='scroll'>"
                     "<table class='prov'><tr><th>cell</th><th>sparsity</th><th>N:M check</th><th>bits</th>"
                     "<th>calibration (source, sampler, N x L, seed)</th><th>seconds</th></tr>")  # fmt: skip
        for c in h.cells:
            sp = "-" if c.sparsity is None else f"{c.sparsity:.2%}"
            secs = "-" if c.seconds is None else f"{c.seconds:.1f}"
            cols = (c.label, sp, c.nm or "-", c.bits or "-", c.calibration or "none (no calibration)", secs)
            parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cols) + "</tr>")
        parts.append("</table></div></details>")
    parts.append("</section>")
    return parts


def overview_html(g: Grid) -> list[str]:
    parts = ["<h2>Overview</h2><div class='scroll'><table class='overview'><tr><th>configuration</th>"]
    for col in g.columns:
        sub = f"{col.metric}{' (lower is better)' if col.lower_is_better else ''}"
        note = f"<br><small class='floor'>{FLOOR_TEXT}</small>" if col.floor is not None else ""
        parts.append(f"<th>{e(col.task)}<br><small>{e(sub)}</small>{note}</th>")
    parts.append("</tr>")
    for i, row in enumerate(g.rows):
        parts.append("<tr>" + f"<td{' class=dense' if i == 0 else ''}>{e(row.label)}</td>")
        for c, col in zip(row.cells, g.columns, strict=True):
            attrs = (" class='dense'" if i == 0 else _cls(c)) + (_title(c) if c and i else "")
            parts.append(f"<td{attrs}>{e(grid_text(c, col, dense=i == 0))}</td>")
        parts.append("</tr>")
    parts.append("</table></div><p class='cap'>Each cell: the task's headline score, its verdict against dense (✓ matches, "
                 "? inconclusive, ✗ worse, ⌀ dense at floor: cannot show a loss) and n, the items (perplexity: "
                 "windows) behind it. Details, deltas and intervals per task below.</p>")  # fmt: skip
    for col in g.few_windows:
        parts.append(f"<p class='warn'>{e(col.task)}: only {col.n} window{'s' if col.n != 1 else ''} of text "
                     f"(fewer than {FEW_WINDOWS}): its score and intervals rest on too little text to "
                     "compare.</p>")  # fmt: skip
    return parts


def _table(t: TaskTable, columns: Sequence[int], cls: str = "") -> list[str]:
    """The rows of `t` restricted to `columns` (indices into table_lines' texts)."""
    names = headers(t)
    parts = [f"<div class='scroll'><table{cls}><tr>"]
    parts += [f"<th>{e(names[j])}</th>" for j in columns]
    parts.append("</tr>")
    for line in table_lines(t):
        parts.append("<tr class='spread'>" if line.kind == "spread" else "<tr>")
        for j in columns:
            c = line.cells[j - 1] if line.cells is not None and 0 < j <= len(line.cells) else None
            attrs = (_cls(c) + _title(c)) if c is not None else ""
            parts.append(f"<td{attrs}>{e(line.texts[j])}</td>")
        parts.append("</tr>")
    parts.append(f"</table></div><p class='cap'>{e(caption(t))}</p>")  # outside the box: never scrolled away
    return parts


def lost_html(t: TaskTable, lost: Sequence[CellLost]) -> list[str]:
    cells = [c for c in lost if (c.model, c.task) == (t.model, t.task)]
    if not cells:
        return []
    parts = [
        f"<h3>Knowledge lost: {e(t.task)} <small>({e(cells[0].metric)}: dense right, compressed wrong)</small></h3>"
    ]
    for c in cells:
        shown = f", the first {SHOWN}" if len(c.items) > SHOWN else ""
        parts.append(
            f"<details><summary>{e(c.label)}: {len(c.items)} of {c.paired} items lost{shown}</summary>"
        )
        if c.items:
            parts.append("<div class='scroll'><table class='lost'><tr><th>id</th><th>question</th><th>dense</th>"
                         "<th>compressed</th><th>reference</th></tr>")  # fmt: skip
            for i in c.items[:SHOWN]:
                cols = (i.id, i.question, i.dense_answer, i.compressed_answer, i.reference)
                parts.append("<tr>" + "".join(f"<td>{e(x)}</td>" for x in cols) + "</tr>")
            parts.append("</table></div>")
        parts.append("</details>")
    return parts


def task_html(t: TaskTable, drawn: Drawn | None, lost: Sequence[CellLost]) -> list[str]:
    parts = [f"<h2 id='task-{e(t.task)}'>{e(t.task)} <small>({e(t.model)})</small></h2>"]
    if t.floors:
        parts.append(f"<p class='floor'>{e(FLOOR_TEXT)} on {e(', '.join(t.floors))}.</p>")
    n_metrics = len(t.metrics)
    head = [t.metrics.index(m) + 1 for m in t.headline()]
    counters = list(range(n_metrics + 1, len(headers(t))))
    parts += _table(t, [0, *head, *counters])
    rest = [j for j in range(1, n_metrics + 1) if j not in head]
    if rest:
        parts.append(f"<details><summary>per-subject / per-bucket breakdown ({len(rest)} columns; few items "
                     "each)</summary>")  # fmt: skip
        parts += _table(t, [0, *rest], " class='breakdown'")
        parts.append("</details>")
    ml = matching_lines(t)
    if ml:
        parts.append(f"<p>{e(matching_title(t))}</p><ul>" + "".join(f"<li>{e(x)}</li>" for x in ml) + "</ul>")
    if drawn is not None:
        b64 = base64.b64encode(drawn.png.read_bytes()).decode("ascii")
        parts.append(f"<img alt='{e(t.task)} plot' src='data:image/png;base64,{b64}'>")
    return parts + lost_html(t, lost)


def html_page(
    tables: Sequence[TaskTable], drawn: Sequence[Drawn], lost: Sequence[CellLost], head: Header, grid: Grid
) -> str:
    by_key = {(d.series.model, d.series.task): d for d in drawn}
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><meta name='viewport' "
        f"content='width=device-width, initial-scale=1'><title>kick report</title><style>{CSS}</style></head>"
        "<body><h1>kick report</h1>"
    ]
    parts += provenance_html(head)
    parts += overview_html(grid)
    for t in tables:
        parts += task_html(t, by_key.get((t.model, t.task)), lost)
    parts.append("</body></html>")
    return "".join(parts)
