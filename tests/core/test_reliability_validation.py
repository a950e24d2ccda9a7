"""Validation before work and no traceback for bad input (issue 14, items 5, 6, 7 and 9): what a
spec names is built and every task's samples read before a model loads; what depends on the
model is checked right after it loads, before the dense evaluation; a refused command leaves no
directory behind; wrong TOML types, a file where a folder belongs, truncated or pickle
checkpoints are one line; every sweep cell stays inside --out; report.md shows HTML as text and
a report that fails midway leaves the previous one whole."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from support.fake_plugin import load_fake_model

from kick.errors import DataError, ModelLoadError, SpecError
from kick.plugins import PluginSet
from kick.runner import run
from kick.spec import build_run_spec
from kick.sweep import run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec
from kick.types import ComponentSpec, ModelSpec, RunSpec


def _spec(
    model: str, method: str | None, params: dict[str, Any], task: str = "perplexity", **tp: Any
) -> RunSpec:
    return RunSpec(
        model=ModelSpec(model),
        tasks=(ComponentSpec(task, tp),),
        compression=ComponentSpec(method, params) if method else None,
    )


class _Counting:
    """A model whose every use is counted (a phase that ran before the check would show)."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    WORK = ("generate", "loglikelihood", "token_nll", "choice_logprobs", "count_tokens", "truncate", "encode")

    def __getattr__(self, name: str) -> Any:
        if name in self.WORK:
            self.calls += 1
        return getattr(self.inner, name)


@pytest.mark.parametrize(
    ("method", "params", "says"),
    [
        ("magnitude", {"pattern": "3:7", "sparsity": 0.5}, "3:7"),
        ("rtn", {"group_size": 100}, "group_size=100"),
    ],
)
def test_a_setting_the_model_cannot_take_is_refused_before_the_dense_evaluation(
    tmp_path: Path,
    builtin_plugins: PluginSet,
    tiny_llama: Any,
    method: str,
    params: dict[str, Any],
    says: str,
) -> None:
    model = _Counting(tiny_llama)
    out = tmp_path / "run"
    with pytest.raises(SpecError, match=says):
        run(_spec("tiny", method, params), out, plugins=builtin_plugins, model=model)
    assert model.calls == 0  # nothing was generated or scored
    assert not out.exists()  # and the identical rerun is not "already exists"


def test_a_sweep_checks_every_cell_against_the_model_before_its_dense_cell(
    tmp_path: Path, builtin_plugins: PluginSet, tiny_llama: Any
) -> None:
    data = {"model": "tiny", "methods": ["magnitude"], "patterns": ["2:4", "3:7"], "tasks": ["perplexity"]}
    sweep = parse_sweep_spec(data, levels_of=levels_from(builtin_plugins))
    model = _Counting(tiny_llama)
    out = tmp_path / "sweep"
    with pytest.raises(SpecError, match="3:7"):
        run_sweep(sweep, out, plugins=builtin_plugins, model_loader=lambda spec, plugins: model)
    assert model.calls == 0 and not out.exists()


def test_data_errors_come_before_the_model_is_loaded(tmp_path: Path, builtin_plugins: PluginSet) -> None:
    broken = tmp_path / "mmlu.json"
    broken.write_text('{"test": [{"subject": "x", "question": "q", "answer": "A"}], "dev": []}')
    out = tmp_path / "run"
    # the model does not exist: had it been loaded first, this would be a ModelLoadError
    with pytest.raises(DataError, match="reading its samples: KeyError"):
        run(
            _spec(str(tmp_path / "no-model"), None, {}, "mmlu", data=str(broken)),
            out,
            plugins=builtin_plugins,
        )
    assert not out.exists()


@pytest.mark.parametrize(
    ("task", "name", "text"),
    [
        ("factoid-qa", "fb.json", '{"Dataset": "FreebaseQA-eval", "Questions": []}'),
    ],
)
def test_a_task_with_no_samples_is_refused(
    tmp_path: Path, builtin_plugins: PluginSet, task: str, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    out = tmp_path / "run"
    with pytest.raises(DataError, match="has no samples"):
        run(_spec("fake-model", None, {}, task, data=str(tmp_path / name)), out, plugins=builtin_plugins)
    assert not out.exists()


@pytest.mark.parametrize(
    "toml",
    [{"limit": "ten"}, {"limit": 2.5}, {"limit": True}, {"params": 5}, {"task_params": 5},
     {"task_params": {"fake-acc": 5}}, {"judge_params": 5}, {"batch_size": "big"}, {"seed": "x"}, {"tasks": 5},
     {"tasks": [1]}, {"method": 5}, {"model": 5}, {"judge": 5}, {"dtype": 5}, {"trust_remote_code": "yes"},
     {"model": {"name": "m", "dtype": 16}}],
)  # fmt: skip
def test_a_wrong_type_in_a_run_spec_is_a_spec_error(toml: dict[str, Any]) -> None:
    file = {"tasks": ["fake-acc"], "method": "fake-prune", **toml}
    with pytest.raises(SpecError, match=f"spec file.*{next(iter(toml))}.* must be "):
        build_run_spec(file=file)


@pytest.mark.parametrize(
    "toml",
    [{"rel_tol": "five percent"}, {"abs_tol": "x"}, {"task_params": 5}, {"task_params": {"fake-acc": 5}},
     {"models": 5}, {"models": [5]}, {"judge_params": 5}, {"seed": "x"}, {"params": {"fake-magnitude": 5}},
     {"levels": 5}, {"cells": [5]}, {"limit": "ten"}, {"verdict": 5}],
)  # fmt: skip
def test_a_wrong_type_in_a_sweep_spec_is_a_spec_error(toml: dict[str, Any], plugins: PluginSet) -> None:
    data = {"methods": ["fake-magnitude"], "sparsity": [0.5], "tasks": ["fake-acc"], **toml}
    if "models" not in toml:
        data["model"] = "fake-model"
    with pytest.raises(SpecError, match="sweep spec"):
        parse_sweep_spec(data, levels_of=levels_from(plugins))


class _NoSamples:
    name, judge_kind = "no-samples", None

    def settings(self) -> dict[str, Any]:
        return {}

    def samples(self) -> list[Any]:
        return []

    def predict(self, model: Any, samples: Any, *, batch_size: int) -> list[Any]:
        raise AssertionError("never asked to predict")

    def score(self, sample: Any, prediction: Any) -> dict[str, float]:
        return {}

    def aggregate(self, records: Any) -> dict[str, Any]:
        return {"n": len(records)}


def test_any_plugins_task_with_no_samples_is_refused(tmp_path: Path) -> None:
    from support.fake_plugin import plugin

    from kick.hookspecs import hookimpl
    from kick.plugins import load_plugins

    class Empty:
        @staticmethod
        @hookimpl
        def register_tasks(register: Any) -> None:
            register("no-samples", lambda **p: _NoSamples())

    ps = load_plugins(extra=[("fake", plugin), ("empty", Empty)], eps=[])
    with pytest.raises(DataError, match="'no-samples' has no samples"):
        run(_spec("fake-model", "fake-prune", {}, "no-samples"), tmp_path / "run", plugins=ps)
    assert not (tmp_path / "run").exists()


def test_out_pointing_at_a_file_is_one_line_for_every_command(tmp_path: Path, cli: Any) -> None:
    afile = tmp_path / "afile"
    afile.write_text("mine\n")
    run_args = ("fake-model", "--method", "fake-prune", "--task", "fake-acc", "--limit", "2")
    res = cli("run", *run_args, "--out", afile)
    assert res.exit_code == 2 and "afile" in res.output, res.output
    res = cli("sweep", "--model", "fake-model", "--method", "fake-magnitude", "--sparsity", "0.5", "--task",
              "fake-acc", "--out", afile)  # fmt: skip
    assert res.exit_code == 2, res.output
    done = tmp_path / "done"
    assert cli("run", *run_args, "--out", done).exit_code == 0
    res = cli("report", done, "--out", afile)
    assert res.exit_code == 2 and "is a file" in res.output, res.output
    assert afile.read_text() == "mine\n"  # never replaced


def test_every_sweep_cell_stays_inside_out(tmp_path: Path, plugins: PluginSet) -> None:
    out = tmp_path / "a" / "sweep"
    data = {"models": ["..", "../../x"], "methods": ["fake-magnitude"], "sparsity": [0.5], "tasks": ["fake-acc"],
            "limit": 2}  # fmt: skip
    run_sweep(parse_sweep_spec(data, levels_of=levels_from(plugins)), out, plugins=plugins,
              model_loader=lambda spec, ps: load_fake_model())  # fmt: skip
    written = {p.parent for p in tmp_path.rglob("records.jsonl")}
    assert written and all(out in p.parents for p in written), written
    with pytest.raises(SpecError, match="cell name"):
        parse_sweep_spec({**data, "methods": [], "cells": [{"method": "fake-magnitude", "name": ".."}]},
                         levels_of=levels_from(plugins))  # fmt: skip


def test_report_md_shows_html_in_a_model_name_as_text(tmp_path: Path, cli: Any) -> None:
    out = tmp_path / "run"
    assert (
        cli("run", "fake-model", "--method", "fake-prune", "--task", "fake-acc", "--out", out).exit_code == 0
    )
    summary = json.loads((out / "summary.json").read_text())
    summary["spec"]["model"]["name"] = "<img src=x onerror=alert(1)>"
    (out / "summary.json").write_text(json.dumps(summary))
    assert cli("report", out).exit_code == 0
    md = (out / "report" / "report.md").read_text()
    assert "<img" not in md and "&lt;img src=x onerror=alert(1)&gt;" in md
    assert "<img src=x" not in (out / "report" / "report.html").read_text()


def test_a_report_that_fails_midway_leaves_the_previous_one_whole(
    tmp_path: Path, cli: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "run"
    assert (
        cli("run", "fake-model", "--method", "fake-prune", "--task", "fake-acc", "--out", out).exit_code == 0
    )
    assert cli("report", out).exit_code == 0
    before = {p.name: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    import kick.report.files as files

    def boom(*a: Any, **k: Any) -> None:
        raise KeyboardInterrupt  # as if killed after the plots were drawn

    monkeypatch.setattr(files, "write_csv", boom)
    assert cli("report", out).exit_code == 130
    after = {p.name: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    assert after == before and all(after.values())  # no 0-byte file, nothing half-written
    assert [p.name for p in out.iterdir() if p.name.startswith(".report")] == []


@pytest.mark.torch
def test_pickle_checkpoints_load_only_when_asked_and_truncated_weights_are_one_line(
    tmp_path: Path, builtin_plugins: PluginSet
) -> None:
    from support.tiny import save_tiny_llama, tiny_llama

    folder = Path(save_tiny_llama(str(tmp_path / "tiny")))
    import torch

    pickled = tmp_path / "pickled"  # the same model, its weights a pickle
    shutil.copytree(folder, pickled)
    (pickled / "model.safetensors").unlink()
    torch.save(tiny_llama().module.state_dict(), pickled / "pytorch_model.bin")
    assert (pickled / "pytorch_model.bin").exists() and not (pickled / "model.safetensors").exists()
    spec = _spec(str(pickled), None, {}, limit=1)
    with pytest.raises(ModelLoadError):
        run(spec, tmp_path / "r1", plugins=builtin_plugins)
    assert not (tmp_path / "r1").exists()
    allowed = RunSpec(model=ModelSpec(str(pickled), allow_pickle=True), tasks=spec.tasks, limit=1)
    assert run(allowed, tmp_path / "r2", plugins=builtin_plugins)["tasks"]["perplexity"]
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(ModelLoadError, match="loading"):
        run(_spec(str(folder), None, {}, limit=1), tmp_path / "r3", plugins=builtin_plugins)


class _LongPrompt(_NoSamples):
    """One sample whose prompt is an instruction, a very long content and a question."""

    name = "long-prompt"
    PROMPT = "Answer in one word. " + "filler text " * 3000 + "Question: what colour is the sky?"

    def samples(self) -> list[Any]:
        from kick.types import Sample

        return [Sample(id="s0", prompt=self.PROMPT)]

    def predict(self, model: Any, samples: Any, *, batch_size: int) -> list[Any]:
        from kick.types import Prediction

        outs = model.generate([s.prompt for s in samples], max_new_tokens=4)
        return [Prediction(s.id, o) for s, o in zip(samples, outs, strict=True)]


def test_a_prompt_longer_than_the_context_keeps_its_instruction_and_question_and_is_counted(
    tmp_path: Path, tiny_llama: Any
) -> None:
    ids = tiny_llama.encode(_LongPrompt.PROMPT)
    limit = tiny_llama.context_length - 4
    kept = tiny_llama._fit(list(ids), limit)
    text = tiny_llama._tok.decode(kept)
    assert len(kept) == limit and text.startswith("Answer in one word.") and text.endswith("what colour is the sky?")

    from support.fake_plugin import plugin

    from kick.hookspecs import hookimpl
    from kick.plugins import load_plugins

    class Long:
        @staticmethod
        @hookimpl
        def register_tasks(register: Any) -> None:
            register("long-prompt", lambda **p: _LongPrompt())

    ps = load_plugins(extra=[("fake", plugin), ("long", Long)], eps=[])
    spec = RunSpec(model=ModelSpec("tiny"), tasks=(ComponentSpec("long-prompt"),))
    summary = run(spec, tmp_path / "run", plugins=ps, model=tiny_llama)
    clipped = summary["prompts_clipped"]["dense/long-prompt"]
    assert clipped["prompts"] == 1 and clipped["tokens"] == len(tiny_llama._tok(_LongPrompt.PROMPT)["input_ids"]) - limit


def test_a_judge_that_cannot_take_a_tasks_paper_settings_is_refused_before_the_model_loads(
    tmp_path: Path, builtin_plugins: PluginSet
) -> None:
    # summarization under protocol=paper judges in one order at the paper's temperature; the fake
    # judge has no `with_overrides`: refused while validating (the model path does not even exist)
    spec = RunSpec(
        model=ModelSpec(str(tmp_path / "no-model")),
        tasks=(ComponentSpec("summarization", {"protocol": "paper", "limit": 2}),),
        judge=ComponentSpec("fake-judge", {}),
    )
    out = tmp_path / "run"
    with pytest.raises(SpecError, match="cannot apply"):
        run(spec, out, plugins=builtin_plugins)
    assert not out.exists()
