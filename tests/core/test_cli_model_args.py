"""--model-arg key=value reaches the model's from_pretrained, is recorded in the run's spec, and
is refused in one line for bad syntax or a secret-looking key (the spec is written to disk)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from kick.errors import SpecError
from kick.model_args import parse_model_args
from kick.spec import build_run_spec


def test_values_are_json_when_they_parse_else_text() -> None:
    got = parse_model_args(
        [
            "attn_implementation=eager",
            "low_cpu_mem_usage=true",
            "n=3",
            "f=0.5",
            'device_map={"": "cpu"}',
            "x=a=b",
        ]
    )
    assert got == {
        "attn_implementation": "eager", "low_cpu_mem_usage": True, "n": 3, "f": 0.5, "device_map": {"": "cpu"},
        "x": "a=b",
    }  # fmt: skip


def test_kicks_own_keys_move_into_their_fields_and_a_clash_is_refused() -> None:
    spec = build_run_spec(
        file={}, model="m", tasks=["t"], model_args=["revision=v2", "torch_dtype=bfloat16", "a=1"]
    )
    assert (spec.model.revision, spec.model.dtype, dict(spec.model.args)) == ("v2", "bfloat16", {"a": 1})
    with pytest.raises(SpecError, match="disagree"):
        build_run_spec(file={}, model="m", tasks=["t"], revision="v1", model_args=["revision=v2"])
    from_file = build_run_spec(
        file={"model_args": {"a": 1, "b": 2}}, model="m", tasks=["t"], model_args=["b=3"]
    )
    assert dict(from_file.model.args) == {"a": 1, "b": 3}  # options win, key by key


@pytest.mark.parametrize(
    ("arg", "message"),
    [
        ("attn_implementation", "expected key=value"),
        ("=eager", "expected key=value"),
        ("token=hf_abc", "HF_TOKEN"),
        ("use_auth_token=hf_abc", "HF_TOKEN"),
    ],
)
@pytest.mark.parametrize("command", ["run", "eval", "compress", "sweep"])
def test_bad_or_secret_model_args_are_one_line_and_exit_2(
    cli: Any, tmp_path: Path, arg: str, message: str, command: str
) -> None:
    out = tmp_path / "out"
    args = {
        "run": ["run", "fake-model", "-m", "fake-prune", "-t", "fake-qa"],
        "eval": ["eval", "fake-model", "-t", "fake-qa"],
        "compress": ["compress", "fake-model", "-m", "fake-prune"],
        "sweep": [
            "sweep",
            "--model",
            "fake-model",
            "-m",
            "fake-magnitude",
            "--sparsity",
            "0.5",
            "-t",
            "fake-qa",
        ],
    }[command]
    res = cli(*args, "--model-arg", arg, "--out", str(out))
    assert res.exit_code == 2, res.output
    assert (
        res.output.startswith("error: --model-arg") and message in res.output and res.output.count("\n") == 1
    )
    assert "hf_abc" not in res.output and not out.exists()


@pytest.mark.torch
def test_model_args_reach_from_pretrained(tmp_path: Path) -> None:
    from kick_models.hf import HFModel
    from support.tiny import save_tiny_llama

    from kick.types import ModelSpec

    folder = save_tiny_llama(str(tmp_path / "tiny"))
    default = HFModel.load(ModelSpec(folder)).module.config._attn_implementation
    assert default != "eager"  # else this test could not tell
    loaded = HFModel.load(ModelSpec(folder, args={"attn_implementation": "eager"}))
    assert loaded.module.config._attn_implementation == "eager"


@pytest.mark.torch
def test_model_args_are_recorded_in_the_run(cli: Any, builtin_plugins: Any, tmp_path: Path) -> None:
    from support.tiny import save_tiny_llama

    folder = save_tiny_llama(str(tmp_path / "tiny"))
    out = tmp_path / "run"
    res = cli(
        "eval", folder, "-t", "factoid-qa", "--task-param", "factoid-qa.max_new_tokens=2", "--first", "1",
        "--model-arg", "attn_implementation=eager", "--model-arg", "revision=main", "--out", str(out),
        plugins=builtin_plugins,
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    model = json.loads((out / "spec.json").read_text())["spec"]["model"]
    assert model["args"] == {"attn_implementation": "eager"} and model["revision"] == "main"


def test_sweep_models_take_the_sweeps_model_args_and_their_own() -> None:
    from kick.sweep_spec import parse_sweep_spec

    data = {
        "models": ["a", {"name": "b", "args": {"attn_implementation": "sdpa"}}],
        "model_args": {"attn_implementation": "eager", "revision": "v2"},
        "methods": ["m"], "sparsity": [0.5], "tasks": ["t"],
    }  # fmt: skip
    a, b = parse_sweep_spec(data, levels_of=lambda method: ("sparsity",)).models
    assert (dict(a.args), a.revision) == ({"attn_implementation": "eager"}, "v2")
    assert dict(b.args) == {"attn_implementation": "sdpa"}  # a model's own table wins
    with pytest.raises(SpecError, match="HF_TOKEN"):
        parse_sweep_spec({**data, "model_args": {"token": "x"}}, levels_of=lambda method: ("sparsity",))
