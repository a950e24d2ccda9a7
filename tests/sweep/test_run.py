from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from support.fake_plugin import FakeModel, Magnitude, load_fake_model

from kick.errors import RunDirError
from kick.plugins import PluginSet
from kick.sweep import INDEX, LOG, SWEEP, run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec, seeded_from

TESTS = Path(__file__).resolve().parents[1]  # tests/: the child imports `support` from there

CHILD = """
import json, sys
from pathlib import Path
from support.fake_plugin import plugin
from kick.plugins import load_plugins
from kick.sweep import run_sweep
from kick.sweep_spec import levels_from, parse_sweep_spec
plugins = load_plugins(extra=[("fake", plugin)], eps=[])
run_sweep(parse_sweep_spec(json.loads(sys.argv[1]), levels_of=levels_from(plugins)), Path(sys.argv[2]),
          plugins=plugins)
"""


def record_lines(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every cell's records.jsonl, line by line, keyed by the cell's folder."""
    return {
        str(p.parent.relative_to(out)): [json.loads(line) for line in p.read_text().splitlines()]
        for p in sorted(out.rglob("records.jsonl"))
    }


def comparable(lines: dict[str, list[dict[str, Any]]]) -> dict[str, list[tuple[Any, ...]]]:
    return {
        cell: sorted(
            (r["variant"], r["task"], r["sample_id"], r["output"], json.dumps(r["scores"])) for r in recs
        )
        for cell, recs in lines.items()
    }


def count_records(out: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in out.rglob("records.jsonl"))


def test_sweep_killed_midway_resumes_to_the_same_records_without_duplicates(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet
) -> None:
    reference = tmp_path / "reference"
    run_sweep(parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), reference, plugins=plugins)
    expected = record_lines(reference)
    assert sum(len(v) for v in expected.values()) == 5 * 2 * 8  # (dense + 4 cells) x 2 tasks x 8 samples

    out = tmp_path / "killed"
    env = {
        **os.environ,
        "PYTHONPATH": f"{TESTS}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "FAKE_DELAY": "0.04",
    }
    child = subprocess.Popen([sys.executable, "-c", CHILD, json.dumps(sweep_data), str(out)], env=env)
    deadline = time.time() + 60
    while count_records(out) < 20 and child.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL
    written = count_records(out)
    assert 20 <= written < 80, written
    assert not (out / "fake-model" / "fake-first-s0.6" / "summary.json").exists()
    # a write torn by the kill: the store cuts it off on reopening
    with (out / "fake-model" / "fake-magnitude-s0.3" / "records.jsonl").open("a") as f:
        f.write('{"variant": "compressed", "task": "fake-ac')

    run_sweep(
        parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), out, mode="resume", plugins=plugins
    )

    got = record_lines(out)
    for cell, recs in got.items():
        keys = [(r["variant"], r["task"], r["sample_id"]) for r in recs]
        assert len(keys) == len(set(keys)), f"duplicate records in {cell}"
    assert comparable(got) == comparable(expected)
    for cell in ("dense", "fake-magnitude-s0.3", "fake-first-s0.6"):
        a = json.loads((out / "fake-model" / cell / "summary.json").read_text())["tasks"]
        b = json.loads((reference / "fake-model" / cell / "summary.json").read_text())["tasks"]
        assert a == b
    assert "sweep start" in (out / LOG).read_text()


def test_ctrl_c_keeps_finished_chunks_and_resume_does_only_the_rest(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"n": 0}
    real = FakeModel.generate

    def interrupt_after_some(self: FakeModel, prompts: Any, **kw: Any) -> list[str]:
        calls["n"] += 1
        if calls["n"] == 7:
            raise KeyboardInterrupt
        return real(self, prompts, **kw)

    monkeypatch.setattr(FakeModel, "generate", interrupt_after_some)
    out = tmp_path / "sweep"
    with pytest.raises(KeyboardInterrupt):
        run_sweep(parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), out, plugins=plugins)
    assert count_records(out) == 6 * 4  # six chunks of four samples were scored and kept
    calls["n"] = 100
    run_sweep(
        parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), out, mode="resume", plugins=plugins
    )
    assert calls["n"] - 100 == 80 // 4 - 6  # only the missing chunks ran
    assert count_records(out) == 80


def test_dense_runs_once_per_model_and_each_cell_compresses_once(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    loads: list[str] = []
    compressed: list[float] = []
    real_compress = Magnitude.compress

    def counting_compress(self: Magnitude, model: FakeModel) -> Any:
        compressed.append(self.sparsity)
        return real_compress(self, model)

    monkeypatch.setattr(Magnitude, "compress", counting_compress)

    def loader(spec: Any, plugins: Any) -> FakeModel:
        loads.append(spec.name)
        return load_fake_model(spec)

    data = {**sweep_data, "copy": "copy"}  # deep copies: the loader runs exactly once
    result = run_sweep(
        parse_sweep_spec(data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins, model_loader=loader
    )
    assert loads == ["fake-model"]
    assert compressed == [0.3, 0.6]  # magnitude's two cells, each compressed once for both tasks
    dense = record_lines(tmp_path)["fake-model/dense"]
    assert {r["variant"] for r in dense} == {"dense"} and len(dense) == 16
    cell = json.loads((tmp_path / "fake-model" / "fake-magnitude-s0.6" / "summary.json").read_text())
    assert cell["variants"] == ["dense", "compressed"]
    assert cell["tasks"]["fake-ppl"]["comparison"]["ppl"]["lower_is_better"] is True
    assert cell["compression"]["sparsity"] == pytest.approx(0.6)
    assert cell["cell"]["level"] == {"kind": "sparsity", "value": 0.6, "label": "60%"}
    index = json.loads((tmp_path / INDEX).read_text())
    assert [c["id"] for c in index["cells"]] == [
        "fake-model/dense", "fake-model/fake-magnitude-s0.3", "fake-model/fake-magnitude-s0.6",
        "fake-model/fake-first-s0.3", "fake-model/fake-first-s0.6",
    ]  # fmt: skip
    assert all(c["finished"] for c in index["cells"])
    t = result.timings
    assert t.total >= t.load + t.compress + t.model_calls

    # a finished sweep resumed loads nothing and redoes nothing
    run_sweep(
        parse_sweep_spec(data, levels_of=levels_from(plugins)),
        tmp_path,
        mode="resume",
        plugins=plugins,
        model_loader=loader,
    )
    assert loads == ["fake-model"] and compressed == [0.3, 0.6]


def test_each_cell_starts_from_an_unmodified_dense_copy(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet
) -> None:
    run_sweep(
        parse_sweep_spec({**sweep_data, "methods": ["fake-first"]}, levels_of=levels_from(plugins)),
        tmp_path,
        plugins=plugins,
    )
    comp = json.loads((tmp_path / "fake-model" / "fake-first-s0.3" / "compression.json").read_text())
    assert comp["sparsity"] == pytest.approx(13 / 40)  # 12 zeroed + 1 zero in dense; not 0.6 left over
    dense = json.loads((tmp_path / "fake-model" / "dense" / "summary.json").read_text())
    assert dense["tasks"]["fake-ppl"]["metrics"]["dense"]["ppl"] == pytest.approx(10 / (39 / 40))


def test_changed_spec_of_a_finished_cell_is_refused_unless_overwrite(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet
) -> None:
    run_sweep(parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins)
    with pytest.raises(RunDirError, match="already holds a sweep"):
        run_sweep(parse_sweep_spec(sweep_data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins)
    changed = {**sweep_data, "limit": 5}
    with pytest.raises(RunDirError, match=r"spec of 5 cell\(s\) changed.*--overwrite"):
        run_sweep(
            parse_sweep_spec(changed, levels_of=levels_from(plugins)),
            tmp_path,
            mode="resume",
            plugins=plugins,
        )
    assert len(record_lines(tmp_path)["fake-model/dense"]) == 16  # nothing was touched

    # adding a cell to a finished sweep is not a change: only the new cell runs
    more = {**sweep_data, "sparsity": [0.3, 0.6, 0.8]}
    run_sweep(
        parse_sweep_spec(more, levels_of=levels_from(plugins)), tmp_path, mode="resume", plugins=plugins
    )
    assert (tmp_path / "fake-model" / "fake-first-s0.8" / "summary.json").exists()

    run_sweep(
        parse_sweep_spec(changed, levels_of=levels_from(plugins)), tmp_path, mode="overwrite", plugins=plugins
    )
    assert len(record_lines(tmp_path)["fake-model/dense"]) == 10
    saved = json.loads((tmp_path / SWEEP).read_text())["sweep"]
    assert saved["limit"] == 5


def test_a_bad_method_name_fails_before_any_model_is_loaded(
    tmp_path: Path, sweep_data: dict[str, Any], plugins: PluginSet
) -> None:
    from kick.errors import UnknownComponentError

    def loader(spec: Any, plugins: Any) -> Any:
        raise AssertionError("must not load")

    with pytest.raises(UnknownComponentError, match="did you mean 'fake-magnitude'"):
        run_sweep(
            parse_sweep_spec({**sweep_data, "methods": ["fake-magnitud"]}, levels_of=levels_from(plugins)), tmp_path / "s",
            plugins=plugins, model_loader=loader,
        )  # fmt: skip
    assert not (tmp_path / "s").exists()


def test_auto_copy_mode_tries_deep_copy_and_reload_then_keeps_the_faster() -> None:
    from kick.copies import FreshModels

    base = load_fake_model(None)
    reloads: list[int] = []

    def slow_reload() -> FakeModel:
        reloads.append(1)
        time.sleep(0.05)
        return load_fake_model(None)

    fresh = FreshModels(base, slow_reload, "auto", fits=True)
    copies = [fresh.take() for _ in range(4)]
    assert len(reloads) == 1 and set(fresh.seconds) == {"copy", "reload"}
    assert all(c is not base and c.weights == base.weights for c in copies)
    copies[0].weights[0] = 99.0
    assert base.weights[0] != 99.0
    assert FreshModels(base, slow_reload, "auto", fits=False).mode == "reload"


def test_judged_task_compares_each_cell_with_the_dense_answers(tmp_path: Path, plugins: PluginSet) -> None:
    data = {"model": "fake-model", "methods": ["fake-magnitude"], "sparsity": [0.5], "tasks": ["fake-judged"],
            "judge": "fake-mass-judge", "limit": 3}  # fmt: skip
    run_sweep(parse_sweep_spec(data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins)
    dense = record_lines(tmp_path)["fake-model/dense"]
    assert all(not any(k.startswith("judge.") for k in r["scores"]) for r in dense)  # dense is the reference
    cell = json.loads((tmp_path / "fake-model" / "fake-magnitude-s0.5" / "summary.json").read_text())
    m = cell["tasks"]["fake-judged"]["metrics"]["compressed"]
    assert m["judged"] == 3 and m["judge_failed"] == 0
    assert m["judge_overall_ratio"] == pytest.approx(m["judge_overall"] / m["judge_overall_ref"])
    assert m["judge_overall"] < m["judge_overall_ref"]  # pruning removed weight mass


def test_rejudging_a_sweep_cell_finds_the_dense_answers_through_its_dense_run(
    tmp_path: Path, plugins: PluginSet
) -> None:
    from kick.runner import rejudge
    from kick.types import ComponentSpec

    data = {"model": "fake-model", "methods": ["fake-magnitude"], "sparsity": [0.5], "tasks": ["fake-judged"],
            "judge": "fake-mass-judge", "limit": 3}  # fmt: skip
    run_sweep(parse_sweep_spec(data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins)
    cell_dir = tmp_path / "fake-model" / "fake-magnitude-s0.5"
    first = json.loads((cell_dir / "summary.json").read_text())
    assert first["dense_run"] == "../dense" and first["cell"]["id"] == "fake-model/fake-magnitude-s0.5"
    again = rejudge(cell_dir, ComponentSpec("fake-mass-judge"), force=True, plugins=plugins)
    for key in ("metrics", "comparison"):
        assert again["tasks"]["fake-judged"][key] == first["tasks"]["fake-judged"][key]
    assert again["level"] == first["level"] == {"kind": "sparsity", "value": 0.5, "label": "50%"}
    assert again["judged_at"]["force"] is True and again["seconds"] == first["seconds"]


def test_seeds_run_the_seeded_method_once_per_seed_against_one_dense(
    tmp_path: Path, plugins: PluginSet
) -> None:
    data = {"model": "fake-model", "methods": ["fake-calibrated", "fake-magnitude"], "sparsity": [0.3, 0.6],
            "tasks": ["fake-acc", "fake-ppl"], "limit": 8, "batch_size": 1, "seed": 5, "seeds": [0, 1]}  # fmt: skip
    spec = parse_sweep_spec(data, levels_of=levels_from(plugins), seeded_of=seeded_from(plugins))
    run_sweep(spec, tmp_path, plugins=plugins)
    index = json.loads((tmp_path / INDEX).read_text())["cells"]
    assert [(c["id"], c["seed"]) for c in index] == [
        ("fake-model/dense", None),
        ("fake-model/fake-calibrated-s0.3-seed0", 0), ("fake-model/fake-calibrated-s0.3-seed1", 1),
        ("fake-model/fake-calibrated-s0.6-seed0", 0), ("fake-model/fake-calibrated-s0.6-seed1", 1),
        ("fake-model/fake-magnitude-s0.3", None), ("fake-model/fake-magnitude-s0.6", None),
    ]  # fmt: skip
    assert all(c["finished"] for c in index)

    def summary(name: str) -> dict[str, Any]:
        return json.loads((tmp_path / "fake-model" / name / "summary.json").read_text())  # type: ignore[no-any-return]

    s0, s1 = summary("fake-calibrated-s0.3-seed0"), summary("fake-calibrated-s0.3-seed1")
    assert s0["cell"] == {"id": "fake-model/fake-calibrated-s0.3-seed0", "model": "fake-model",
                          "method": "fake-calibrated", "level": {"kind": "sparsity", "value": 0.3, "label": "30%"},
                          "seed": 0}  # fmt: skip
    assert s1["cell"]["seed"] == 1 and summary("fake-magnitude-s0.3")["cell"]["seed"] is None
    assert summary("dense")["cell"]["seed"] is None
    # the compressor got its seed; the task sample seed is the sweep's for every cell
    assert s0["spec"]["compression"]["params"] == {"sparsity": 0.3, "seed": 0}
    assert s1["spec"]["compression"]["params"] == {"sparsity": 0.3, "seed": 1}
    assert {summary(c["id"].split("/")[1])["seed"] for c in index} == {5}
    # each seed zeroed other weights: the compressed metrics differ, the dense ones are the one dense run's
    assert s0["compression"]["zeroed"] != s1["compression"]["zeroed"]
    assert len(s0["compression"]["zeroed"]) == len(s1["compression"]["zeroed"]) == 12
    acc0, acc1 = (s["tasks"]["fake-acc"]["metrics"]["compressed"]["acc"] for s in (s0, s1))
    assert (acc0, acc1) == (0.75, 0.875)
    dense = summary("dense")["tasks"]["fake-acc"]["metrics"]["dense"]
    assert s0["tasks"]["fake-acc"]["metrics"]["dense"] == s1["tasks"]["fake-acc"]["metrics"]["dense"] == dense
    assert s0["dense_run"] == s1["dense_run"] == "../dense"
    assert [p.name for p in (tmp_path / "fake-model").iterdir() if p.name.startswith("dense")] == ["dense"]


def test_a_rejudged_seeded_cell_keeps_its_seed(tmp_path: Path, plugins: PluginSet) -> None:
    from kick.runner import rejudge
    from kick.types import ComponentSpec

    data = {"model": "fake-model", "methods": ["fake-calibrated"], "sparsity": [0.5], "tasks": ["fake-judged"],
            "judge": "fake-mass-judge", "limit": 3, "seeds": [4]}  # fmt: skip
    spec = parse_sweep_spec(data, levels_of=levels_from(plugins), seeded_of=seeded_from(plugins))
    run_sweep(spec, tmp_path, plugins=plugins)
    cell_dir = tmp_path / "fake-model" / "fake-calibrated-s0.5-seed4"
    first = json.loads((cell_dir / "summary.json").read_text())
    again = rejudge(cell_dir, ComponentSpec("fake-mass-judge"), force=True, plugins=plugins)
    assert again["cell"] == first["cell"] and first["cell"]["seed"] == 4


def test_the_sweep_s_verdict_rule_and_resamples_reach_every_cell(tmp_path: Path, plugins: PluginSet) -> None:
    data = {"model": "fake-model", "methods": ["fake-magnitude"], "sparsity": [0.5], "tasks": ["fake-acc"],
            "limit": 8, "verdict": "point", "resamples": 300}  # fmt: skip
    run_sweep(parse_sweep_spec(data, levels_of=levels_from(plugins)), tmp_path, plugins=plugins)
    cell = json.loads((tmp_path / "fake-model" / "fake-magnitude-s0.5" / "summary.json").read_text())
    assert cell["statistics"]["verdict"] == "point" and cell["statistics"]["resamples"] == 300
    assert {c["rule"] for c in cell["tasks"]["fake-acc"]["comparison"].values()} == {"point"}
    with pytest.raises(Exception, match="resamples must be an integer of at least 100"):
        parse_sweep_spec({**data, "resamples": 10}, levels_of=levels_from(plugins))
    with pytest.raises(Exception, match="verdict must be interval or point"):
        parse_sweep_spec({**data, "verdict": "vibes"}, levels_of=levels_from(plugins))
