"""The report's verdicts from stored intervals: marks in every format, the report's own tolerance
and rule, confident matches only for the largest level, seed spreads, and the items lost."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from rich.console import Console

from kick.console import report_table
from kick.metrics import compare
from kick.report.files import write_report
from kick.report.model import Level, collect, from_summaries, largest_matching_level, task_tables
from kick.report.series import plot_series

DENSE = {"acc": 0.5, "n": 16, "errors": 0}
STATS = {"verdict": "interval", "level": 0.95, "resamples": 2000, "seed": 0, "scipy": "1"}

# (method, params, acc, interval of acc - dense, n): values exact in binary; with the default 5%
# tolerance (tau = 0.025) the verdicts are, in order: matches, inconclusive, worse, matches
CELLS = [
    ("magnitude", {"sparsity": 0.3}, 0.5, (-0.015625, 0.015625), 64),
    ("magnitude", {"sparsity": 0.5}, 0.4375, (-0.125, 0.0), 16),
    ("magnitude", {"sparsity": 0.6}, 0.25, (-0.375, -0.125), 16),
    ("magnitude", {"sparsity": 0.7}, 0.5, (-0.015625, 0.015625), 64),
]
INCONCLUSIVE = "0.4375 (-0.0625 [-0.125, +0]) ? n=16, needs ~45"
MATCHES = "0.5 (+0 [-0.0156, +0.0156]) ✓ n=64"
WORSE = "0.25 (-0.25 [-0.375, -0.125]) ✗ n=16"


def summary(
    method: str | None,
    params: dict[str, Any] | None,
    acc: float | None = None,
    interval: tuple[float, float] | None = None,
    n: int = 16,
    *,
    seed: int | None = None,
    statistics: dict[str, Any] = STATS,
) -> dict[str, Any]:
    metrics: dict[str, Any] = {"dense": DENSE}
    comparison = {}
    if method is not None:
        metrics["compressed"] = {"acc": acc, "n": n, "errors": 0}
        comparison = {
            "acc": {
                "dense": 0.5, "compressed": acc, "delta": acc - 0.5, "interval": list(interval),
                "method": "mcnemar-exact", "n": n, "lost": 3, "gained": 1, "rule": "interval",
            }
        }  # fmt: skip
    cell = {"id": f"m/{method}", "method": method} | ({"seed": seed} if seed is not None else {})
    return {
        "spec": {
            "model": {"name": "m"},
            "compression": {"name": method, "params": params} if method else None,
        },
        "tolerance": {"relative": 0.05, "absolute": None},
        "statistics": statistics,
        "cell": cell,
        "tasks": {
            "qa": {
                "metrics": metrics,
                "comparison": comparison,
                "primary_metric": "acc",
                "lower_is_better": [],
            }
        },
    }


def summaries(**kw: Any) -> list[dict[str, Any]]:
    return [summary(None, None, **kw), *(summary(*c, **kw) for c in CELLS)]


def qa(data: list[dict[str, Any]] | None = None, **tol: Any) -> Any:
    (t,) = task_tables(from_summaries(data or summaries()), **tol)
    return t


def write_dirs(root: Path, data: list[dict[str, Any]]) -> Path:
    for i, s in enumerate(data):
        (root / f"c{i}").mkdir(parents=True)
        (root / f"c{i}" / "summary.json").write_text(json.dumps(s))
    return root


def test_a_known_interval_gives_its_mark_in_every_format(tmp_path: Path) -> None:
    t = qa()
    cells = [r.cell("acc") for r in t.rows]
    assert [c.verdict for c in cells] == ["matches", "inconclusive", "worse", "matches"]
    c = cells[1]
    assert (c.interval, c.n, c.n_needed, c.significant, c.lost, c.gained, c.rule, c.method) == (
        (-0.125, 0.0), 16, 45, False, 3, 1, "interval", "mcnemar-exact",
    )  # fmt: skip
    assert cells[2].significant is True and cells[2].n_needed is None

    rep = write_report(collect(write_dirs(tmp_path / "runs", summaries())), tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text()
    for text in (MATCHES, INCONCLUSIVE, WORSE):
        assert text in md
    assert f"| magnitude @ 50% | {INCONCLUSIVE} |" in md
    assert "95% interval" in md and "exact McNemar" in md and "? inconclusive" in md
    page = (tmp_path / "rep" / "report.html").read_text()
    assert (
        f"<td class='unsure' title='verdict: inconclusive (interval rule); interval: mcnemar-exact; lost 3, gained 1'>{INCONCLUSIVE}</td>"
        in page
    )
    assert "<td class='ok'" in page and "<td class='no'" in page
    console = Console(record=True, width=250)
    console.print(report_table(rep.tables[0]))
    term = console.export_text()
    assert INCONCLUSIVE in term and MATCHES in term and WORSE in term and "95%" in term

    rows = list(csv.DictReader((tmp_path / "rep" / "report.csv").open()))
    m50 = next(r for r in rows if r["method"] == "magnitude" and r["level"] == "0.5")
    assert {k: m50[k] for k in ("interval_low", "interval_high", "verdict", "n", "n_needed", "significant",
                                 "lost", "gained", "rule", "interval_method")} == {
        "interval_low": "-0.125", "interval_high": "0.0", "verdict": "inconclusive", "n": "16",
        "n_needed": "45", "significant": "False", "lost": "3", "gained": "1", "rule": "interval",
        "interval_method": "mcnemar-exact",
    }  # fmt: skip
    data = json.loads((tmp_path / "rep" / "report.json").read_text())
    cell = data["tables"][0]["rows"][1]["cells"][0]
    assert data["tables"][0]["rows"][1]["label"] == "magnitude @ 50%"
    assert {k: cell[k] for k in ("interval_low", "interval_high", "interval", "verdict", "n", "n_needed",
                                 "significant", "lost", "gained")} == {
        "interval_low": -0.125, "interval_high": 0.0, "interval": [-0.125, 0.0], "verdict": "inconclusive",
        "n": 16, "n_needed": 45, "significant": False, "lost": 3, "gained": 1,
    }  # fmt: skip


def test_the_report_tolerance_re_decides_verdicts_from_the_stored_intervals() -> None:
    wide = [r.cell("acc").verdict for r in qa(rel_tol=0.3).rows]  # tau = 0.15
    assert wide == ["matches", "matches", "inconclusive", "matches"]
    absolute = [r.cell("acc").verdict for r in qa(rel_tol=0.05, abs_tol=0.125).rows]  # tau = 0.125
    assert absolute == ["matches", "matches", "inconclusive", "matches"]
    tight = [r.cell("acc").verdict for r in qa(rel_tol=0.01).rows]  # tau = 0.005 < 0.0156
    assert tight == ["inconclusive", "inconclusive", "worse", "inconclusive"]


def test_point_rule_reproduces_the_old_marks(tmp_path: Path, cli: Any) -> None:
    old = [compare({"acc": 0.5}, {"acc": c[2]}, rule="point")["acc"]["matches"] for c in CELLS]
    assert old == [True, False, False, True]
    t = qa(rule="point")
    assert [r.cell("acc").matches for r in t.rows] == old
    assert [r.cell("acc").verdict for r in t.rows] == ["matches", "worse", "worse", "matches"]
    assert {r.cell("acc").rule for r in t.rows} == {"point"}
    # the runs' own rule is the default; --verdict overrides it
    assert qa(summaries(statistics={**STATS, "verdict": "point"})).rule == "point"
    runs = write_dirs(tmp_path / "runs", summaries())
    res = cli("report", runs, "--out", tmp_path / "rep", "--verdict", "point")
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "| magnitude @ 50% | 0.4375 (-0.0625 [-0.125, +0]) ✗ n=16 |" in md and "point rule" in md
    assert "- magnitude still matches dense on qa (acc) at 30% sparsity." in md and "at 50% sparsity" not in md
    res = cli("report", runs, "--out", tmp_path / "rep", "--verdict", "maybe")
    assert res.exit_code != 0 and "interval or point" in res.output


def test_largest_matching_level_counts_confident_matches_only() -> None:
    assert largest_matching_level(qa().rows, "acc") == {"magnitude": {"sparsity": Level("sparsity", 0.3)}}
    # the inconclusive 50% matches once the tolerance is wide enough; 60% (inconclusive) stops it
    assert largest_matching_level(qa(rel_tol=0.3).rows, "acc") == {
        "magnitude": {"sparsity": Level("sparsity", 0.5)}
    }
    assert largest_matching_level(qa(rel_tol=0.01).rows, "acc") == {"magnitude": {"sparsity": None}}


def seeded() -> list[dict[str, Any]]:
    # wanda @ 50% with three calibration seeds: matches, inconclusive, worse
    return [
        summary(None, None),
        summary("wanda", {"sparsity": 0.5}, 0.5, (-0.015625, 0.015625), 64, seed=0),
        summary("wanda", {"sparsity": 0.5}, 0.4375, (-0.125, 0.0), 16, seed=1),
        summary("wanda", {"sparsity": 0.5}, 0.25, (-0.375, -0.125), 16, seed=2),
        summary("magnitude", {"sparsity": 0.5}, 0.4375, (-0.125, 0.0), 16),
    ]


def test_seeds_get_one_row_each_and_a_spread_row(tmp_path: Path) -> None:
    t = qa(seeded())
    assert [r.label for r in t.rows] == [
        "wanda @ 50% seed 0", "wanda @ 50% seed 1", "wanda @ 50% seed 2", "magnitude @ 50%",
    ]  # fmt: skip
    (spread,) = t.spreads
    assert (spread.method, spread.level, spread.seeds, spread.label) == (
        "wanda", Level("sparsity", 0.5), (0, 1, 2), "wanda @ 50% across 3 seeds",
    )  # fmt: skip
    acc = spread.cell("acc")
    assert (acc.low, acc.high, acc.mean, acc.verdicts) == (
        0.25,
        0.5,
        0.395833333333333333,
        ("matches", "inconclusive", "worse"),
    )
    # every seed has to match for a level to count
    assert largest_matching_level(t.rows, "acc")["wanda"] == {"sparsity": None}
    write_report(collect(write_dirs(tmp_path / "runs", seeded())), tmp_path / "rep")
    md = (tmp_path / "rep" / "report.md").read_text().splitlines()
    i = next(j for j, line in enumerate(md) if line.startswith(f"| wanda @ 50% seed 2 | {WORSE} |"))
    assert md[i + 1].startswith("| wanda @ 50% across 3 seeds | 0.25–0.5, mean 0.3958 ✓?✗ |")
    rows = list(csv.DictReader((tmp_path / "rep" / "report.csv").open()))
    (sp,) = [r for r in rows if r["seed"] == "spread"]
    assert (sp["method"], sp["metric"], sp["spread_low"], sp["spread_high"], float(sp["value"])) == (
        "wanda", "acc", "0.25", "0.5", acc.mean,
    )  # fmt: skip
    assert [r["seed"] for r in rows if r["method"] == "wanda"] == ["0", "1", "2", "spread"]
    # a summary without cell.seed stays unseeded
    assert qa().spreads == () and all(r.seed is None for r in qa().rows)


def test_plots_carry_the_intervals_as_error_bars(tmp_path: Path) -> None:
    s = plot_series(qa())
    (line,) = s.lines
    assert line.x == (0.0, 0.3, 0.5, 0.6, 0.7)
    assert line.low == (0.5, 0.484375, 0.375, 0.125, 0.484375)
    assert line.high == (0.5, 0.515625, 0.5, 0.375, 0.515625)
    rep = write_report(collect(write_dirs(tmp_path / "runs", summaries())), tmp_path / "rep")
    ax = rep.drawn[0].figure.axes[0]
    assert len(ax.containers) == 1  # one errorbar container for the one line
    (segments,) = [c for c in ax.containers[0].lines[2]]
    spans = sorted((round(float(p[0][1]), 6), round(float(p[1][1]), 6)) for p in segments.get_segments())
    assert spans == sorted(
        [(0.5, 0.5), (0.484375, 0.515625), (0.375, 0.5), (0.125, 0.375), (0.484375, 0.515625)]
    )


def test_n_m_and_bit_points_carry_error_bars_too(tmp_path: Path) -> None:
    data = [
        summary(None, None),
        summary("wanda", {"pattern": "2:4"}, 0.25, (-0.375, -0.125), 16),
        summary("gptq", {"bits": 4}, 0.4375, (-0.125, 0.0), 16),
    ]
    s = plot_series(qa(data))
    (nm,) = s.nm_points
    (bits,) = s.bit_points
    assert (nm.x, nm.y, nm.low, nm.high) == ((0.5,), (0.25,), (0.125,), (0.375,))
    assert (bits.x, bits.y, bits.low, bits.high) == ((4.0,), (0.4375,), (0.375,), (0.5,))
    assert s.level == 0.95
    rep = write_report(collect(write_dirs(tmp_path / "runs", data)), tmp_path / "rep")
    score_ax, bits_ax = rep.drawn[0].figure.axes[:2]
    assert len(score_ax.containers) == 1 and len(bits_ax.containers) == 1


def test_integer_totals_are_shown_unmarked() -> None:
    from kick.report.files import fmt_cell

    data = summaries()
    for s in data:
        s["tasks"]["qa"]["metrics"]["dense"] = {**DENSE, "tokens": 511}
        if "compressed" in s["tasks"]["qa"]["metrics"]:
            s["tasks"]["qa"]["metrics"]["compressed"]["tokens"] = 509
    t = qa(data)
    tokens = t.rows[0].cell("tokens")
    assert (tokens.verdict, tokens.matches, tokens.delta) == (None, None, -2.0)
    assert fmt_cell(tokens) == "509 (-2)"
    assert largest_matching_level(t.rows, "acc") == {"magnitude": {"sparsity": Level("sparsity", 0.3)}}
