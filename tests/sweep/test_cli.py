from __future__ import annotations

import json
from pathlib import Path

from kick.sweep_spec import merge_sweep_options

SPEC = """
model = "fake-model"
methods = ["fake-magnitude", "fake-quant"]
sparsity = [0.3, 0.6]
bits = [4]
tasks = ["fake-acc", "fake-ppl"]
limit = 4
batch_size = 2
[params.fake-quant]
bits = 8
"""


def test_options_override_the_spec_file_and_add_params() -> None:
    data = merge_sweep_options(
        {"model": "a", "methods": ["x"], "params": {"x": {"k": 1}}},
        models=["b", "c"], methods=None, sparsity=[0.5], params=["x.j=2", "y.k=3"], limit=3,
    )  # fmt: skip
    assert data == {
        "models": ["b", "c"], "methods": ["x"], "sparsity": [0.5], "limit": 3,
        "params": {"x": {"k": 1, "j": 2}, "y": {"k": 3}},
    }  # fmt: skip


def test_cli_sweep_then_report_then_changed_spec_is_refused(cli, tmp_path: Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC)
    out = tmp_path / "sweep"
    res = cli("sweep", "--spec", str(spec), "--out", str(out))
    assert res.exit_code == 0, res.output
    assert "fake-model/fake-quant-4bit" in res.output and "kick report" in res.output
    quant = json.loads((out / "fake-model" / "fake-quant-4bit" / "spec.json").read_text())["spec"]
    assert quant["compression"] == {
        "name": "fake-quant",
        "params": {"bits": 4},
    }  # the level wins over [params]

    res = cli("sweep", "--spec", str(spec), "--out", str(out), "--resume")
    assert res.exit_code == 0, res.output

    res = cli("sweep", "--spec", str(spec), "--out", str(out), "--resume", "--limit", "3")
    assert res.exit_code == 2
    assert "changed since they were written" in res.output and "--overwrite" in res.output
    assert "Traceback" not in res.output

    res = cli("report", str(out), "--out", str(tmp_path / "rep"), "--rel-tol", "0.1")
    assert res.exit_code == 0, res.output
    assert "fake-magnitude @ 30%" in res.output and "10.0% relative" in res.output
    assert (tmp_path / "rep" / "report.html").exists()
    assert (tmp_path / "rep" / "plots" / "fake-model__fake-acc.svg").exists()


def test_cli_sweep_with_a_bad_spec_is_one_line_and_exit_2(cli, tmp_path: Path) -> None:
    spec = tmp_path / "bad.toml"
    spec.write_text('methods = ["fake-magnitude"]\ntasks = ["fake-acc"]\nsparsity = [2]\n')
    res = cli("sweep", "--spec", str(spec), "--out", str(tmp_path / "o"))
    assert res.exit_code == 2 and "sparsity 2 must be a number in [0, 1)" in res.output
