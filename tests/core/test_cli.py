from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.tiny import save_tiny_llama

from kick.hookspecs import hookimpl
from kick.plugins import load_plugins


def test_run_prints_the_dense_vs_compressed_table_and_writes_the_run_dir(cli, tmp_path: Path) -> None:
    out = tmp_path / "run"
    res = cli(
        "run",
        "fake-model",
        "--method",
        "fake-prune",
        "--param",
        "sparsity=0.5",
        "--task",
        "fake-qa",
        "--task-param",
        "fake-qa.size=4",
        "--out",
        str(out),
    )
    assert res.exit_code == 0, res.output
    assert "accuracy" in res.output and "dense" in res.output and "compressed" in res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["spec"]["compression"] == {"name": "fake-prune", "params": {"sparsity": 0.5}}
    assert summary["spec"]["tasks"] == [{"name": "fake-qa", "params": {"size": 4}}]
    assert summary["tasks"]["fake-qa"]["metrics"]["compressed"]["accuracy"] == 0.5


def test_spec_file_gives_the_same_run_as_options(cli, tmp_path: Path) -> None:
    spec = tmp_path / "s.toml"
    spec.write_text(
        'model = "fake-model"\nmethod = "fake-prune"\ntasks = ["fake-qa"]\nlimit = 3\n'
        "[params]\nsparsity = 0.5\n[task_params.fake-qa]\nsize = 4\n"
    )
    assert cli("run", "--spec", str(spec), "--out", str(tmp_path / "a")).exit_code == 0
    assert (
        cli(
            "run",
            "fake-model",
            "-m",
            "fake-prune",
            "-p",
            "sparsity=0.5",
            "-t",
            "fake-qa",
            "--task-param",
            "fake-qa.size=4",
            "--limit",
            "3",
            "--out",
            str(tmp_path / "b"),
        ).exit_code
        == 0
    )
    a = json.loads((tmp_path / "a" / "spec.json").read_text())
    b = json.loads((tmp_path / "b" / "spec.json").read_text())
    assert a == b


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["run", "fake-model", "-m", "nope", "-t", "fake-qa"], "unknown compressor 'nope'"),
        (
            ["run", "fake-model", "-m", "fake-prune", "-t", "fake-qa", "-p", "sparsity=1.0"],
            "sparsity must be in [0, 1)",
        ),
        (["run", "fake-model", "-m", "fake-prune", "-t", "fake-qa", "-p", "sparsity"], "expected key=value"),
        (["run", "fake-model", "-m", "fake-prune", "-t", "fake-qz"], "did you mean 'fake-qa'"),
        (["eval", "fake-model", "-t", "fake-qa", "--task-param", "other.x=1"], "not being run"),
        (["eval", "fake-model", "-t", "fake-qa", "--batch-size", "0"], "--batch-size must be at least 1"),
        (["run", "fake-model", "-t", "fake-qa"], "needs --method"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(cli, tmp_path: Path, args: list[str], message: str) -> None:
    res = cli(*args, "--out", str(tmp_path / "o"))
    assert res.exit_code == 2
    assert message in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "o").exists()


def test_existing_run_dir_needs_resume_or_overwrite(cli, tmp_path: Path) -> None:
    args = ["eval", "fake-model", "-t", "fake-qa", "--out", str(tmp_path / "r")]
    assert cli(*args).exit_code == 0
    res = cli(*args)
    assert res.exit_code == 2 and "already exists" in res.output
    assert cli(*args, "--resume").exit_code == 0
    assert cli(*args, "--overwrite").exit_code == 0
    res = cli(*args, "--resume", "--overwrite")
    assert res.exit_code == 2 and "exclude each other" in res.output


def test_plugins_json_lists_plugins_components_and_failures(cli) -> None:
    res = cli("plugins", "--json")
    data = json.loads(res.output)
    assert data["plugins"][0]["name"] == "fake"
    assert {"kind": "compressor", "name": "fake-prune", "plugin": "fake", "description": "", "levels": [],
            "seeded": False} in data["components"]  # fmt: skip
    assert data["failures"] == []


def test_kick_help_does_not_import_torch() -> None:
    code = "import sys; from kick.cli import make_app; make_app(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.torch
def test_compress_writes_a_loadable_folder_with_a_manifest(tmp_path: Path, cli) -> None:
    class Zero:
        name = "zero-first-row"

        def compress(self, model):
            import torch

            with torch.no_grad():
                model.module.model.layers[0].mlp.up_proj.weight[0].zero_()
            return {"zeros": 64}

    class P:
        @staticmethod
        @hookimpl
        def register_compressors(register):
            register("zero-row", lambda **p: Zero())

    plugins = load_plugins(extra=[("p", P)])  # with the built-ins: the hf model loader
    src = save_tiny_llama(str(tmp_path / "tiny"))
    out = tmp_path / "out"
    res = cli("compress", src, "--method", "zero-row", "--out", out, plugins=plugins)
    assert res.exit_code == 0, res.output
    from transformers import AutoModelForCausalLM

    m = AutoModelForCausalLM.from_pretrained(str(out))
    assert float(m.model.layers[0].mlp.up_proj.weight[0].abs().sum()) == 0.0
    manifest = json.loads((out / "kick_compression.json").read_text())
    assert manifest["compression"]["method"] == "zero-row" and manifest["compression"]["zeros"] == 64
    assert manifest["model"]["architecture"] == "LlamaForCausalLM"
    res = cli("compress", src, "--method", "zero-row", "--out", out, plugins=plugins)
    assert res.exit_code == 2 and "already exists" in res.output
