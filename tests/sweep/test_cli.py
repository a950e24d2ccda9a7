from __future__ import annotations

import json
from pathlib import Path

from kick.sweep_options import merge_sweep_options

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


def test_cli_calibration_seed_runs_seeded_methods_once_per_seed(cli, tmp_path: Path) -> None:
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC.replace('"fake-magnitude", "fake-quant"', '"fake-magnitude", "fake-calibrated"'))
    out = tmp_path / "sweep"
    args = ("sweep", "--spec", str(spec), "--out", str(out), "--sparsity", "0.5")
    res = cli(*args, "--calibration-seed", "2", "--calibration-seed", "3")
    assert res.exit_code == 0, res.output
    index = json.loads((out / "index.json").read_text())["cells"]
    assert [(c["id"], c["seed"]) for c in index] == [
        ("fake-model/dense", None), ("fake-model/fake-magnitude-s0.5", None),
        ("fake-model/fake-calibrated-s0.5-seed2", 2), ("fake-model/fake-calibrated-s0.5-seed3", 3),
    ]  # fmt: skip
    assert json.loads((out / "sweep.json").read_text())["sweep"]["seeds"] == [2, 3]
    # the TOML key is `seeds`; the option wins over it
    spec.write_text(spec.read_text() + "seeds = [2, 3]\n")
    res = cli(*args, "--resume")
    assert res.exit_code == 0, res.output
    res = cli(*args, "--resume", "--calibration-seed", "2", "--calibration-seed", "2")
    assert res.exit_code == 2 and "seeds [2, 2] repeats [2]" in res.output


def test_plugins_json_says_which_compressors_are_seeded(cli) -> None:
    components = json.loads(cli("plugins", "--json").output)["components"]
    seeded = {c["name"]: c["seeded"] for c in components if c["kind"] == "compressor"}
    assert seeded["fake-calibrated"] is True and seeded["fake-magnitude"] is False
    assert all(c["seeded"] is False for c in components if c["kind"] != "compressor")
