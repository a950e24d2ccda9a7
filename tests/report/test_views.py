from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from kick.report.files import fmt_cell, write_report
from kick.report.model import (
    Level,
    collect,
    from_summaries,
    largest_matching_level,
    level_from_params,
    task_tables,
)
from kick.report.series import Series, tolerance_band

DENSE_QA = {"acc": 0.5, "em": 0.25, "n": 8, "errors": 0}
DENSE_PPL = {"ppl": 10.0, "n": 8, "errors": 0}

# (method, compression params, qa acc, qa em, ppl): values exact in binary, deltas computed by hand
CELLS = [
    ("magnitude", {"sparsity": 0.3}, 0.4921875, 0.25, 10.25),
    ("magnitude", {"sparsity": 0.5}, 0.375, 0.125, 12.0),
    ("magnitude", {"sparsity": 0.7}, 0.5, 0.125, 40.0),
    ("wanda", {"sparsity": 0.5}, 0.5, 0.25, 9.5),
    ("wanda", {"pattern": "2:4"}, 0.25, 0.0, 20.0),
    ("gptq", {"bits": 4, "group_size": 128}, 0.5, 0.25, 10.5),
    ("gptq", {"bits": 3, "group_size": 128}, 0.375, 0.25, 11.0),
]


def dense_summary() -> dict[str, Any]:
    return {
        "spec": {"model": {"name": "m"}, "compression": None},
        "tolerance": {"relative": 0.05, "absolute": None},
        "variants": ["dense"],
        "tasks": {
            "qa": {"metrics": {"dense": DENSE_QA}, "primary_metric": "acc", "lower_is_better": []},
            "ppl": {"metrics": {"dense": DENSE_PPL}, "primary_metric": "ppl", "lower_is_better": ["ppl"]},
        },
    }


def cell_summary(method: str, params: dict[str, Any], acc: float, em: float, ppl: float) -> dict[str, Any]:
    return {
        "spec": {"model": {"name": "m"}, "compression": {"name": method, "params": params}},
        "tolerance": {"relative": 0.05, "absolute": None},
        "variants": ["dense", "compressed"],
        "tasks": {
            "qa": {
                "metrics": {"dense": DENSE_QA, "compressed": {"acc": acc, "em": em, "n": 8, "errors": 0}},
                "primary_metric": "acc",
            },
            "ppl": {
                "metrics": {"dense": DENSE_PPL, "compressed": {"ppl": ppl, "n": 8, "errors": 0}},
                "primary_metric": "ppl",
                "comparison": {"ppl": {"lower_is_better": True}},  # as `kick run` writes it
            },
        },
    }


def summaries() -> list[dict[str, Any]]:
    return [dense_summary(), *(cell_summary(*c) for c in CELLS)]


def tables(**tol: Any) -> dict[str, Any]:
    return {t.task: t for t in task_tables(from_summaries(summaries()), **tol)}


def test_levels_are_read_from_compression_params() -> None:
    assert level_from_params({"sparsity": 0.5}) == Level("sparsity", 0.5)
    assert level_from_params({"pattern": "2:4", "sparsity": 0.5}).kind == "pattern"
    assert level_from_params({"bits": 4, "group_size": 128}) == Level("bits", 4)
    assert level_from_params({}).kind == "default"


def test_table_rows_have_hand_computed_deltas_and_tolerance_marks() -> None:
    qa = tables()["qa"]
    assert qa.metrics == ("acc", "em")
    assert [r.label for r in qa.rows] == [
        "magnitude @ 30%", "magnitude @ 50%", "magnitude @ 70%", "wanda @ 50%", "wanda @ 2:4",
        "gptq @ 4-bit", "gptq @ 3-bit",
    ]  # fmt: skip
    m30 = qa.rows[0].cell("acc")
    assert (m30.value, m30.dense, m30.delta, m30.rel_delta, m30.matches) == (
        0.4921875,
        0.5,
        -0.0078125,
        -0.015625,
        True,
    )
    m50 = qa.rows[1].cell("acc")
    assert (m50.delta, m50.rel_delta, m50.matches) == (-0.125, -0.25, False)
    assert qa.rows[1].cell("em").matches is False and qa.rows[0].cell("em").matches is True
    assert fmt_cell(m50) == "0.375 (-0.125, -25.0%) ✗"


def test_lower_is_better_metrics_match_when_lower_and_at_the_tolerance_edge() -> None:
    ppl = tables()["ppl"]
    assert ppl.lower_is_better == ("ppl",)
    marks = {r.label: (r.cell("ppl").delta, r.cell("ppl").matches) for r in ppl.rows}
    assert marks["magnitude @ 30%"] == (0.25, True)  # +2.5% < 5%
    assert marks["magnitude @ 50%"] == (2.0, False)
    assert marks["wanda @ 50%"] == (-0.5, True)  # better than dense always matches
    assert marks["gptq @ 4-bit"] == (0.5, True)  # exactly +5%
    assert marks["gptq @ 3-bit"] == (1.0, False)


def test_absolute_tolerance_widens_the_match() -> None:
    qa = tables(rel_tol=0.05, abs_tol=0.125)["qa"]
    assert qa.rows[1].cell("acc").matches is True  # -0.125 within 0.125 absolute
    assert qa.rows[4].cell("acc").matches is False  # -0.25


def test_largest_level_that_still_matches_dense() -> None:
    t = tables()
    qa = largest_matching_level(t["qa"].rows, "acc")
    assert qa["magnitude"] == {"sparsity": Level("sparsity", 0.3)}  # 70% matches again: not counted
    assert qa["wanda"] == {"sparsity": Level("sparsity", 0.5), "pattern": None}
    assert qa["gptq"] == {"bits": Level("bits", 4)}
    ppl = largest_matching_level(t["ppl"].rows, "ppl")
    assert ppl["magnitude"]["sparsity"] == Level("sparsity", 0.3)
    assert ppl["gptq"]["bits"] == Level("bits", 4)


def test_tolerance_band_lies_on_the_worse_side() -> None:
    assert tolerance_band(0.5, rel_tol=0.05, abs_tol=None, lower_is_better=False) == (0.475, 0.5)
    assert tolerance_band(10.0, rel_tol=0.05, abs_tol=1.0, lower_is_better=True) == (10.0, 11.0)


def write_run_dirs(root: Path) -> None:
    for i, s in enumerate(summaries()):
        d = root / f"cell{i}"
        d.mkdir(parents=True)
        (d / "summary.json").write_text(json.dumps(s))


def test_report_writes_plots_with_the_expected_series_and_all_exports(tmp_path: Path) -> None:
    write_run_dirs(tmp_path / "runs")
    rep = write_report(collect(tmp_path / "runs"), tmp_path / "report")
    for name in ("report.html", "report.md", "report.csv", "report.json"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    drawn = {d.series.task: d for d in rep.drawn}
    assert set(drawn) == {"qa", "ppl"}
    qa = drawn["qa"].series
    assert qa.metric == "acc" and qa.dense == 0.5 and qa.band == (0.475, 0.5)
    assert qa.lines == (
        Series("magnitude", (0.0, 0.3, 0.5, 0.7), (0.5, 0.4921875, 0.375, 0.5)),
        Series("wanda", (0.0, 0.5), (0.5, 0.5)),
    )
    assert qa.nm_points == (Series("wanda", (0.5,), (0.25,)),)
    assert qa.bit_points == (Series("gptq", (3.0, 4.0), (0.375, 0.5)),)
    # perplexity has its own figure, never a second axis on another task's
    assert qa.secondary == () and len(drawn["qa"].figure.axes) == 2
    assert drawn["ppl"].series.lower_is_better and drawn["ppl"].series.secondary == ()
    # the figure really holds those lines
    score_ax, bits_ax = drawn["qa"].figure.axes[0], drawn["qa"].figure.axes[1]
    lines = {ln.get_label(): (tuple(ln.get_xdata()), tuple(ln.get_ydata())) for ln in score_ax.get_lines()}
    assert lines["magnitude"] == ((0.0, 0.3, 0.5, 0.7), (0.5, 0.4921875, 0.375, 0.5))
    assert lines["wanda N:M"] == ((0.5,), (0.25,))
    assert lines["dense"][1] == (0.5, 0.5)
    assert {ln.get_label() for ln in bits_ax.get_lines()} >= {"gptq", "dense"}
    for d in rep.drawn:
        assert d.png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and b"<svg" in d.svg.read_bytes()[:500]
    html = (tmp_path / "report" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 2 and "magnitude @ 50%" in html
    md = (tmp_path / "report" / "report.md").read_text()
    assert "| magnitude @ 50% | 0.375 (-0.125, -25.0%) ✗ | 0.125 (-0.125, -50.0%) ✗ |" in md
    assert "- magnitude still matches dense on qa (acc) at 30% sparsity." in md and "5.0% relative" in md
    rows = list(csv.DictReader((tmp_path / "report" / "report.csv").open()))
    assert len(rows) == 2 + 1 + 7 * 2 + 7  # dense rows (qa: 2 metrics, ppl: 1) + cells
    gptq3 = next(r for r in rows if r["method"] == "gptq" and r["level"] == "3" and r["metric"] == "acc")
    assert (float(gptq3["delta"]), gptq3["matches"]) == (-0.125, "False")
    data = json.loads((tmp_path / "report" / "report.json").read_text())
    assert {t["task"] for t in data["tables"]} == {"qa", "ppl"}


def test_report_of_a_directory_without_results_is_a_clear_error(tmp_path: Path) -> None:
    from kick.errors import RunDirError

    with pytest.raises(RunDirError, match="nothing finished"):
        collect(tmp_path)


def test_table_columns_are_the_headline_metrics_then_the_breakdowns() -> None:
    dense = {"acc/b": 0.5, "acc": 0.5, "n": 8, "errors": 0, "flag": True, "acc_macro": 0.25}
    data = from_summaries(
        [{**dense_summary(), "tasks": {"mmlu": {"metrics": {"dense": dense}, "primary_metric": "acc"}}}]
    )
    (t,) = task_tables(data)
    assert t.metrics == ("acc", "acc_macro", "acc/b")
    assert t.headline() == ["acc", "acc_macro"] and t.headline(limit=1) == ["acc"]
    assert t.main_metric == "acc"


def test_report_and_console_modules_load_neither_matplotlib_nor_the_runner_or_sweep() -> None:
    import subprocess
    import sys

    code = (
        "import sys, kick.report.files, kick.report.plots, kick.console; "
        "print(sorted(m for m in ('matplotlib', 'kick.runner', 'kick.sweep', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def unified(summary: dict[str, Any]) -> dict[str, Any]:
    """The same summary in the unified shape: a top-level level, lower_is_better on every task."""
    comp = summary["spec"]["compression"]
    level = Level.from_params(comp["params"]).to_dict() if comp else None
    tasks = {
        name: {**e, "lower_is_better": ["ppl"] if name == "ppl" else []}
        for name, e in summary["tasks"].items()
    }
    return {**summary, "level": level, "tasks": tasks}


def test_unified_summaries_give_the_same_tables_as_older_ones() -> None:
    old = task_tables(from_summaries(summaries()))
    new = task_tables(from_summaries([unified(s) for s in summaries()]))
    assert new == old


def test_the_summary_level_wins_over_the_cell_and_the_params() -> None:
    s = unified(cell_summary("wanda", {"sparsity": 0.5}, 0.5, 0.25, 9.5))
    s["level"] = Level("pattern", "2:4").to_dict()
    s["cell"] = {"level": Level("sparsity", 0.7).to_dict()}
    assert {r.level for r in from_summaries([s]).results} == {Level("pattern", "2:4")}
    del s["level"]
    assert {r.level for r in from_summaries([s]).results} == {Level("sparsity", 0.7)}


def test_a_kick_run_summary_without_task_level_lower_is_better_reads_it_from_its_comparison() -> None:
    run = cell_summary(
        "wanda", {"sparsity": 0.5}, 0.5, 0.25, 9.5
    )  # dense and compressed, as `kick run` wrote it
    assert "lower_is_better" not in run["tasks"]["ppl"]
    (ppl,) = (t for t in task_tables(from_summaries([run])) if t.task == "ppl")
    assert ppl.lower_is_better == ("ppl",) and ppl.rows[0].cell("ppl").matches is True
