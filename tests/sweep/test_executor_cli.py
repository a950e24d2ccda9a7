"""`kick sweep --executor`: bad input is one line and exit 2 before the sweep directory exists
(no cluster needed: these fail before Ray would start one)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

SPEC = """
model = "fake-model"
methods = ["fake-magnitude"]
sparsity = [0.3]
tasks = ["fake-acc"]
limit = 2
"""


def _spec(tmp_path: Path) -> Path:
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC)
    return spec


def _one_line_exit_2(res, text: str, out: Path) -> None:
    assert res.exit_code == 2, res.output
    lines = [line for line in res.output.splitlines() if line.strip()]
    assert len(lines) == 1 and text in lines[0] and "Traceback" not in res.output
    assert not out.exists()


def test_executor_ray_without_ray_installed(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    out = tmp_path / "sweep"
    res = cli("sweep", "--spec", _spec(tmp_path), "--out", out, "--executor", "ray")
    _one_line_exit_2(res, "--executor ray needs Ray: pip install 'kick[ray]'", out)


def test_unreachable_address(cli, tmp_path: Path) -> None:
    pytest.importorskip("ray")
    out = tmp_path / "sweep"
    res = cli(
        "sweep", "--spec", _spec(tmp_path), "--out", out, "--executor", "ray", "--address", "127.0.0.1:1"
    )
    _one_line_exit_2(res, "cannot reach a Ray cluster at 127.0.0.1:1", out)
    res = cli("sweep", "--spec", _spec(tmp_path), "--out", out, "--executor", "ray", "--address", "nowhere")
    _one_line_exit_2(res, "expected HOST:PORT", out)


def test_ray_options_with_the_local_executor_and_unknown_executor(cli, tmp_path: Path) -> None:
    out = tmp_path / "sweep"
    res = cli("sweep", "--spec", _spec(tmp_path), "--out", out, "--gpus-per-cell", "1")
    _one_line_exit_2(res, "--gpus-per-cell only apply to --executor ray", out)
    res = cli("sweep", "--spec", _spec(tmp_path), "--out", out, "--executor", "dask")
    _one_line_exit_2(res, "--executor must be local or ray", out)
    res = cli("sweep", "--spec", _spec(tmp_path), "--out", out, "--executor", "ray", "--cpus-per-cell", "0")
    _one_line_exit_2(res, "--cpus-per-cell must be > 0", out)


def test_resource_check_uses_the_largest_node() -> None:
    from kick.errors import SpecError
    from kick.sweep_ray import check_resources

    nodes = [{"Alive": True, "Resources": {"CPU": 8, "GPU": 2}}, {"Alive": True, "Resources": {"CPU": 4, "GPU": 4}},
             {"Alive": False, "Resources": {"CPU": 64, "GPU": 8}}]  # fmt: skip
    check_resources({"CPU": 8, "GPU": 0}, nodes, "here")
    check_resources({"CPU": 2, "GPU": 4}, nodes, "here")
    with pytest.raises(SpecError, match="asks for 5 GPU.*more than 4"):
        check_resources({"CPU": 1, "GPU": 5}, nodes, "here")


def test_the_paper_grid_spec_has_34_cells_whose_compressors_all_build() -> None:
    import tomllib
    from support import REPO_ROOT

    from kick.plugins import load_plugins
    from kick.sweep_spec import levels_from, parse_sweep_spec, seeded_from

    plugins = load_plugins()
    data = tomllib.loads((REPO_ROOT / "examples" / "llm-kick-paper.toml").read_text())
    sweep = parse_sweep_spec(data, levels_of=levels_from(plugins), seeded_of=seeded_from(plugins))
    assert len(sweep.cells) == 34 and len(sweep.tasks) == 7 and sweep.judge.name == "pairwise"
    for cell in sweep.cells:
        comp = plugins.registry.create("compressor", cell.method, **dict(cell.params))
        assert comp.config.nsamples == 128 and comp.config.seqlen == 2048 if cell.method != "magnitude" else True
    gptq = [c for c in sweep.cells if c.method == "gptq"]
    assert sorted(dict(c.params)["bits"] for c in gptq) == [2, 3, 4, 8]
    assert {dict(c.params)["group_size"] for c in gptq} == {128}
