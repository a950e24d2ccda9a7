"""--limit as a count or a fraction (a seeded random subset), --first N (the first N items in
file order): parsed once, refused in one line before any work, recorded as given and resolved."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from kick.plugins import load_plugins
from kick.selection import parse_limit
from kick.types import ComponentSpec, ModelSpec, RunSpec
from kick.validate import build_components

RUN = ("run", "fake-model", "-m", "fake-prune", "-p", "sparsity=0.5", "-t", "fake-qa")


def _ids(**kw: Any) -> list[str]:
    """The sample ids the run would evaluate of the real factoid-qa smoke set (36 questions)."""
    spec = RunSpec(model=ModelSpec("m"), tasks=(ComponentSpec("factoid-qa"),), seed=3, **kw)
    return [s.id for s in build_components(spec, load_plugins()).samples["factoid-qa"]]


def test_a_fraction_is_the_same_seeded_subset_as_its_resolved_count() -> None:
    every = _ids()
    assert len(every) == 36
    quarter = _ids(limit=0.25)
    assert quarter == _ids(limit=9) and len(quarter) == 9  # 0.25 x 36 = 9
    assert quarter != every[:9]  # random, not the first nine
    assert len(_ids(limit=0.001)) == 1  # rounded, at least one
    assert _ids(limit=1.0) == every


def test_first_takes_the_first_items_in_file_order() -> None:
    every = _ids()
    assert _ids(first=5) == every[:5]
    assert _ids(first=500) == every


@pytest.mark.parametrize(
    ("text", "value"), [("10", 10), ("0.1", 0.1), ("1.0", 1.0), (" 3 ", 3), (7, 7), (0.5, 0.5)]
)
def test_limit_parses_a_count_or_a_fraction(text: Any, value: Any) -> None:
    got = parse_limit(text)
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("bad", ["0", "-3", "1.5", "abc", "0.0", "nan", "2.0"])
def test_a_bad_limit_is_one_line_and_exit_2_before_any_work(cli: Any, tmp_path: Path, bad: str) -> None:
    out = tmp_path / "r"
    res = cli(*RUN, f"--limit={bad}", "--out", str(out))
    assert res.exit_code == 2, res.output
    assert res.output.strip().count("\n") == 0 and res.output.startswith("error: --limit")
    assert not out.exists()


def test_limit_and_first_exclude_each_other(cli: Any, tmp_path: Path) -> None:
    res = cli(*RUN, "--limit", "3", "--first", "2", "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "exclude each other" in res.output and res.output.count("\n") == 1
    res = cli(*RUN, "--first", "0", "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "--first must be" in res.output
    spec = tmp_path / "s.toml"
    spec.write_text(
        'model = "fake-model"\nmethod = "fake-prune"\ntasks = ["fake-qa"]\nlimit = 3\nfirst = 2\n'
    )
    res = cli("run", "--spec", str(spec), "--out", str(tmp_path / "r"))
    assert res.exit_code == 2 and "spec file: --limit" in res.output
    assert not (tmp_path / "r").exists()


def test_the_run_records_the_limit_as_given_and_as_resolved(cli: Any, tmp_path: Path) -> None:
    out = tmp_path / "r"
    res = cli(*RUN, "--task-param", "fake-qa.size=10", "--limit", "0.25", "--out", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads((out / "spec.json").read_text())["spec"]["limit"] == 0.25
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["fake-qa"]["selection"] == {"limit": 0.25, "resolved_limit": 3, "n": 3, "of": 10}
    assert summary["tasks"]["fake-qa"]["metrics"]["dense"]["n"] == 3
    res = cli(*RUN, "--limit", "0.25", "--task-param", "fake-qa.size=10", "--out", str(out), "--resume")
    assert res.exit_code == 0, res.output  # the same spec: resumable


def test_first_is_recorded_and_a_spec_file_key(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text('model = "fake-model"\nmethod = "fake-prune"\ntasks = ["fake-qa"]\nfirst = 4\n')
    out = tmp_path / "r"
    res = cli("run", "--spec", str(spec), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert json.loads((out / "spec.json").read_text())["spec"]["first"] == 4
    summary = json.loads((out / "summary.json").read_text())
    assert summary["tasks"]["fake-qa"]["selection"] == {"first": 4, "n": 4, "of": 10}
    res = cli("eval", "fake-model", "-t", "fake-qa", "--first", "2", "--out", str(tmp_path / "e"))
    assert res.exit_code == 0, res.output
    assert (
        json.loads((tmp_path / "e" / "summary.json").read_text())["tasks"]["fake-qa"]["metrics"]["dense"]["n"]
        == 2
    )


def test_sweep_takes_first_and_a_fractional_limit(cli: Any, tmp_path: Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(
        'model = "fake-model"\nmethods = ["fake-magnitude"]\nsparsity = [0.5]\ntasks = ["fake-qa"]\nlimit = 5\n'
    )
    out = tmp_path / "sw"
    res = cli("sweep", "--spec", str(spec), "--out", str(out), "--first", "3")  # replaces the file's limit
    assert res.exit_code == 0, res.output
    cell = json.loads((out / "fake-model" / "fake-magnitude-s0.5" / "spec.json").read_text())["spec"]
    assert cell["first"] == 3 and cell["limit"] is None
    res = cli("sweep", "--spec", str(spec), "--out", str(tmp_path / "sw2"), "--limit", "0.5")
    assert res.exit_code == 0, res.output
    dense = json.loads((tmp_path / "sw2" / "fake-model" / "dense" / "summary.json").read_text())
    assert dense["spec"]["limit"] == 0.5 and dense["tasks"]["fake-qa"]["selection"]["n"] == 5
    res = cli("sweep", "--spec", str(spec), "--out", str(tmp_path / "sw3"), "--limit", "1.5")
    assert res.exit_code == 2 and res.output.startswith("error: --limit")
    res = cli("sweep", "--spec", str(spec), "--out", str(tmp_path / "sw3"), "--limit", "2", "--first", "1")
    assert res.exit_code == 2 and "exclude each other" in res.output
    assert not (tmp_path / "sw3").exists()


def test_help_says_limit_is_a_seeded_subset_and_first_the_first_items(cli: Any) -> None:
    for command in ("run", "eval", "sweep"):
        res = cli(command, "--help")
        text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", res.output))
        assert res.exit_code == 0
        assert "a fraction of them (0.1: 10%" in text and "seeded random subset drawn with --seed" in text
        assert "--first N Evaluate the first N samples of each task in file order" in text, command
        assert "excludes --limit" in text
