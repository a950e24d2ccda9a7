"""The report read at a glance: the overview grid, the provenance header, the floor rule, the
counters, the breakdown toggle, the perplexity window warning, and the matching sentences."""

from __future__ import annotations

import json
from pathlib import Path

from support.report_sweep import summaries, write_sweep

from kick.report.files import write_report
from kick.report.header import header
from kick.report.model import collect, from_summaries, task_tables
from kick.report.overview import apply_floors, exact_interval, floor_of, overview
from kick.report.text import grid_text, matching_lines


def tables() -> dict[str, object]:
    data = from_summaries(summaries())
    from kick.report.header import task_settings

    return {t.task: t for t in apply_floors(task_tables(data), task_settings(data.summaries))}


def test_the_exact_interval_is_clopper_pearson() -> None:
    lo, hi = exact_interval(6, 24)
    assert round(lo, 4) == 0.0977 and round(hi, 4) == 0.4671  # R: binom.test(6, 24)$conf.int
    assert exact_interval(0, 24)[0] == 0.0 and exact_interval(24, 24)[1] == 1.0


def test_dense_at_chance_is_flagged_and_its_matches_are_not_claimed() -> None:
    t = tables()
    # MMLU at 0.25 on 24 items: the interval of dense's score contains chance (0.25)
    assert t["mmlu"].floors == {"acc": 0.25}
    verdicts = [r.cell("acc").verdict for r in t["mmlu"].rows]
    assert "matches" not in verdicts and verdicts.count("floor") == 3
    # QA at 0.5 of 16 is well above its floor (0); em 0.25 of 16 is 4 items: above 0 too
    assert t["qa"].floors == {}
    assert [r.cell("acc").verdict for r in t["qa"].rows] == ["worse", "matches", "matches"]
    # perplexity has no floor
    assert t["perplexity"].floors == {}
    # a score of 0 (closed-book F1 on the demo) is at its floor; a worse verdict stays
    (qa,) = [x for x in task_tables(from_summaries(summaries())) if x.task == "qa"]
    zero = qa.__class__(**{**qa.__dict__, "dense": {"acc": 0.009, "em": 0.0, "n": 24}})
    assert floor_of(zero, {}) == {"acc": 0.0, "em": 0.0}
    assert matching_lines(t["mmlu"]) == [
        "Dense is at floor on mmlu (acc): no level can show a loss, so none is said to match."
    ]


def test_the_overview_has_dense_first_and_every_cell_with_mark_and_n() -> None:
    g = overview(list(tables().values()))
    assert [c.task for c in g.columns] == ["qa", "mmlu", "perplexity"]
    assert [r.label for r in g.rows] == ["dense", "magnitude @ 50%", "wanda @ 50%", "gptq @ 4-bit"]
    text = [[grid_text(c, col, dense=i == 0) for c, col in zip(r.cells, g.columns, strict=True)]
            for i, r in enumerate(g.rows)]  # fmt: skip
    assert text[0] == ["0.5 n=16", "0.25 n=24", "18 1 window ⚠"]
    assert text[1] == ["0.25 ✗ n=16", "0.25 ⌀ n=24", "393 ✗ 1 window ⚠"]
    assert text[2][0] == "0.5 ✓ n=16"
    assert [c.n for c in g.few_windows] == [1]


def test_the_provenance_header_names_sources_calibration_protocol_and_measured_compression() -> None:
    h = header(summaries())
    assert h.models[0].startswith("smollm2-135m (revision not recorded")
    src = {t.task: (t.source, t.n, t.protocol) for t in h.tasks}
    assert src == {"qa": ("smoke: qa.json", 16, "kick"), "mmlu": ("shared: /shared/mmlu", 24, "paper"),
                   "perplexity": ("smoke: ppl.txt", 1, "kick")}  # fmt: skip
    cells = {c.label: c for c in h.cells}
    assert set(cells) == {"magnitude @ 50%", "wanda @ 50%", "gptq @ 4-bit"}
    assert cells["magnitude @ 50%"].calibration is None and cells["magnitude @ 50%"].sparsity == 0.5
    assert cells["wanda @ 50%"].calibration == (
        "file demo-calibration.txt (sha256 dddddddddddd), random windows, 16 x 256 tokens, seed 0"
    )
    assert cells["gptq @ 4-bit"].bits == "4 bits, groups of 64: at most 16 levels per group (within the grid)"
    assert "kick 0.1.0" in h.versions and "torch 2.13.0" in h.versions
    noted = summaries()
    for s in noted:
        s["model"] = {**(s.get("model") or {}), "note": "a dequantized 4-bit GGUF: quantizing it re-quantizes"}
    assert header(noted).models[0].endswith("a dequantized 4-bit GGUF: quantizing it re-quantizes")


def test_every_format_carries_the_overview_header_and_counters(tmp_path: Path) -> None:
    write_report(collect(write_sweep(tmp_path / "runs")), tmp_path / "rep")
    page = (tmp_path / "rep" / "report.html").read_text()
    assert page.count("<table class='overview'>") == 1 and page.count("id='provenance'") == 1
    assert page.index("id='provenance'") < page.index("class='overview'") < page.index("id='task-qa'")
    # the per-subject columns are behind a toggle, not in the headline table
    head, _, rest = page.partition("<details><summary>per-subject")
    assert "acc/subject_with_a_long_name_0" not in head.split("id='task-mmlu'")[1]
    assert "acc/subject_with_a_long_name_0" in rest
    assert "only 1 window of text (fewer than 10)" in page
    md = (tmp_path / "rep" / "report.md").read_text()
    assert md.index("## Provenance") < md.index("## Overview") < md.index("## qa")
    assert "| dense | 0.5 n=16 | 0.25 n=24 | 18 1 window ⚠ |" in md
    assert "| configuration | acc | em | n | errors |" in md  # counters shown, unmarked
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert data["overview"]["rows"][0] == {"label": "dense", "cells": ["0.5 n=16", "0.25 n=24", "18 1 window ⚠"]}
    assert data["provenance"]["tasks"][1]["protocol"] == "paper"


def test_without_matplotlib_the_report_keeps_its_tables_and_says_why_there_are_no_plots(
    tmp_path: Path, monkeypatch: object
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)  # type: ignore[attr-defined]
    rep = write_report(collect(write_sweep(tmp_path / "runs")), tmp_path / "rep")
    assert rep.drawn == [] and rep.notes == ["plots not drawn: matplotlib is not installed (pip install 'kick[plots]')"]
    assert "class='overview'" in (tmp_path / "rep" / "report.html").read_text()


def test_each_configuration_is_written_in_lm_eval_harness_results_layout(tmp_path: Path) -> None:
    import math

    from kick.report.lmeval import lm_eval_results, stderr

    data = from_summaries(summaries())
    # the fixture's intervals are bootstrap ones, so no metric is known to be 0/1: no stderr
    res = lm_eval_results(data)
    assert set(res) == {"dense", "magnitude-s0.5", "wanda-s0.5", "gptq-4bit"}
    assert res["dense"]["results"]["qa"] == {
        "alias": "qa", "acc,none": 0.5, "acc_stderr,none": "N/A", "em,none": 0.25, "em_stderr,none": "N/A",
    }  # fmt: skip
    assert res["gptq-4bit"]["n-samples"]["mmlu"] == {"original": 24, "effective": 24}
    assert res["gptq-4bit"]["config"]["kick_level"] == "4-bit"
    # with an exact McNemar interval the metric is 0/1 and gets the harness's standard error
    s = summaries()
    s[1]["tasks"]["qa"]["comparison"]["acc"]["method"] = "mcnemar-exact"
    res = lm_eval_results(from_summaries(s))
    assert res["dense"]["results"]["qa"]["acc_stderr,none"] == stderr(0.5, 16) == math.sqrt(0.25 / 15)
    assert res["dense"]["results"]["qa"]["em_stderr,none"] == "N/A"
    write_report(collect(write_sweep(tmp_path / "runs")), tmp_path / "rep")
    saved = json.loads((tmp_path / "rep" / "lm_eval" / "wanda-s0.5" / "results.json").read_text())
    assert saved["results"]["perplexity"]["perplexity,none"] == 37.0


def test_plots_keep_equal_scores_visible_share_y_and_never_zoom_on_one_point() -> None:
    from kick.report.plots import draw, y_limits
    from kick.report.series import PlotSeries, Series

    same = (0.0, 0.5), (0.5, 0.25)
    s = PlotSeries(
        task="qa", model="m", metric="acc", lower_is_better=False, dense=0.5, band=(0.475, 0.5),
        lines=(Series("magnitude", *same), Series("wanda", *same)), nm_points=(),
        bit_points=(Series("gptq", (4.0,), (0.5,)),),
    )  # fmt: skip
    fig = draw(s)
    ax, bx = fig.axes[:2]
    lines = {ln.get_label(): ln for ln in ax.get_lines()}
    # equal scores: both lines drawn, with different markers and sizes, so neither hides the other
    assert lines["magnitude"].get_marker() != lines["wanda"].get_marker()
    assert lines["magnitude"].get_markersize() > lines["wanda"].get_markersize()
    assert ax.get_shared_y_axes().joined(ax, bx) and ax.get_ylim() == bx.get_ylim()
    legend = {t.get_text() for t in fig.legends[0].get_texts()}
    assert legend == {"magnitude", "wanda", "gptq", "dense", "matches dense (tolerance)"}
    # a single point at 0.5: the axis still shows 0, not a zoom on 0.5
    one = PlotSeries("qa", "m", "acc", False, 0.5, None, (), (), ())
    assert y_limits(one)[0] < 0 < 0.5 < y_limits(one)[1]
    # perplexity from 18 to 393: a log axis
    ppl = PlotSeries("ppl", "m", "perplexity", True, 18.0, None, (Series("magnitude", (0.0, 0.5), (18.0, 393.0)),), (), ())
    assert y_limits(ppl)[2] is True
