from __future__ import annotations

import json
from pathlib import Path

import pytest
from support.fake_plugin import FakeModel

from kick.errors import RunDirError, SpecError, UnknownComponentError
from kick.plugins import PluginSet
from kick.rundir import RecordStore
from kick.runner import run
from kick.types import ComponentSpec, ModelSpec, RunSpec


def spec(**kw) -> RunSpec:
    base = dict(
        model=ModelSpec("fake-model"),
        tasks=(ComponentSpec("fake-qa"),),
        compression=ComponentSpec("fake-prune", {"sparsity": 0.5}),
        batch_size=2,
    )
    base.update(kw)
    return RunSpec(**base)


def test_run_writes_summary_with_dense_and_compressed_metrics(tmp_path: Path, plugins: PluginSet) -> None:
    summary = run(spec(), tmp_path / "r", plugins=plugins)
    m = summary["tasks"]["fake-qa"]["metrics"]
    assert m["dense"]["accuracy"] == 1.0
    assert m["compressed"]["accuracy"] == 0.5
    assert m["compressed"]["n"] == 10 and m["compressed"]["errors"] == 0
    cmp = summary["tasks"]["fake-qa"]["comparison"]
    assert cmp["accuracy"]["delta"] == -0.5 and cmp["accuracy"]["matches"] is False
    assert cmp["wrongness"]["lower_is_better"] is True and cmp["wrongness"]["matches"] is False
    assert summary["compression"] == {
        "method": "fake-prune",
        "sparsity": 0.5,
        "zeros": 5,
        "seconds": pytest.approx(summary["compression"]["seconds"]),
        "wall_seconds": pytest.approx(summary["compression"]["seconds"]),  # the fake gives no time of its own
    }
    on_disk = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert on_disk["spec"] == spec().to_dict()
    assert on_disk["model"] == {"id": "fake-model", "revision": "r1"}
    assert "kick" in on_disk["provenance"] and on_disk["provenance"]["plugins"]["fake"]["version"] is None
    lines = (tmp_path / "r" / "records.jsonl").read_text().splitlines()
    assert len(lines) == 20
    rec = json.loads(lines[-1])
    assert set(rec) >= {"variant", "task", "sample_id", "prompt", "output", "reference", "scores", "error"}


def test_interrupted_run_resumes_to_the_same_summary_without_duplicates(
    tmp_path: Path, plugins: PluginSet
) -> None:
    full = run(spec(), tmp_path / "a", plugins=plugins)
    out = tmp_path / "b"
    run(spec(), out, plugins=plugins)
    rec_file = out / "records.jsonl"
    lines = rec_file.read_text().splitlines(keepends=True)
    # keep 7 records and half of the 8th (a torn write), drop the summary
    rec_file.write_text("".join(lines[:7]) + lines[7][: len(lines[7]) // 2])
    (out / "summary.json").unlink()
    resumed = run(spec(), out, mode="resume", plugins=plugins)
    assert resumed["tasks"] == full["tasks"]
    keys = [
        tuple(json.loads(x)[k] for k in ("variant", "task", "sample_id"))
        for x in rec_file.read_text().splitlines()
    ]
    assert len(keys) == len(set(keys)) == 20


def test_resume_only_generates_missing_samples(tmp_path: Path, plugins: PluginSet) -> None:
    out = tmp_path / "r"
    run(spec(compression=None), out, plugins=plugins)
    lines = (out / "records.jsonl").read_text().splitlines(keepends=True)
    (out / "records.jsonl").write_text("".join(lines[:6]))
    model = FakeModel()
    run(spec(compression=None), out, mode="resume", plugins=plugins, model=model)
    assert sum(model.calls) == 4


def test_existing_run_dir_is_refused_without_resume_or_overwrite(tmp_path: Path, plugins: PluginSet) -> None:
    run(spec(), tmp_path / "r", plugins=plugins)
    with pytest.raises(RunDirError, match="--resume"):
        run(spec(), tmp_path / "r", plugins=plugins)
    again = run(spec(), tmp_path / "r", mode="overwrite", plugins=plugins)
    assert again["tasks"]["fake-qa"]["metrics"]["dense"]["n"] == 10


def test_resume_with_a_changed_spec_is_refused(tmp_path: Path, plugins: PluginSet) -> None:
    run(spec(), tmp_path / "r", plugins=plugins)
    changed = spec(compression=ComponentSpec("fake-prune", {"sparsity": 0.3}))
    with pytest.raises(RunDirError, match="different spec"):
        run(changed, tmp_path / "r", mode="resume", plugins=plugins)


def test_overwrite_refuses_a_folder_that_is_not_a_run(tmp_path: Path, plugins: PluginSet) -> None:
    (tmp_path / "precious.txt").write_text("keep me")
    with pytest.raises(RunDirError, match="not a kick run"):
        run(spec(), tmp_path, mode="overwrite", plugins=plugins)
    assert (tmp_path / "precious.txt").read_text() == "keep me"


def test_unwritable_run_dir_is_one_clear_error(tmp_path: Path, plugins: PluginSet) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(RunDirError, match="cannot write"):
        run(spec(), blocker / "sub", plugins=plugins)


def test_bad_names_and_params_fail_before_the_model_loads(tmp_path: Path, plugins: PluginSet) -> None:
    model = FakeModel()
    with pytest.raises(UnknownComponentError, match="did you mean 'fake-qa'"):
        run(spec(tasks=(ComponentSpec("fake-q"),)), tmp_path / "a", plugins=plugins, model=model)
    with pytest.raises(SpecError, match=r"sparsity must be in \[0, 1\)"):
        run(
            spec(compression=ComponentSpec("fake-prune", {"sparsity": 1.5})),
            tmp_path / "b",
            plugins=plugins,
            model=model,
        )
    with pytest.raises(SpecError, match="unknown parameter 'sparsty'.*did you mean 'sparsity'"):
        run(
            spec(compression=ComponentSpec("fake-prune", {"sparsty": 0.5})),
            tmp_path / "c",
            plugins=plugins,
            model=model,
        )
    assert sum(model.calls) == 0
    assert not (tmp_path / "a").exists()


def test_limit_applies_to_every_task(tmp_path: Path, plugins: PluginSet) -> None:
    s = run(spec(limit=3), tmp_path / "r", plugins=plugins)
    assert s["tasks"]["fake-qa"]["metrics"]["dense"]["n"] == 3


def test_judged_task_uses_dense_answers_as_reference_and_reports_the_ratio(
    tmp_path: Path, plugins: PluginSet
) -> None:
    s = run(
        spec(tasks=(ComponentSpec("fake-chat"),), judge=ComponentSpec("fake-judge")),
        tmp_path / "r",
        plugins=plugins,
    )
    m = s["tasks"]["fake-chat"]["metrics"]["compressed"]
    # 5 right answers judged 8/8, 5 wrong ones 2/8 -> (5*8 + 5*2) / (10*8)
    assert m["judge_overall_ratio"] == pytest.approx(50 / 80)
    assert m["judged"] == 10 and m["judge_failed"] == 0
    store = RecordStore(tmp_path / "r" / "records.jsonl")
    assert len(store.all()) == 20


def test_record_store_ignores_and_cuts_a_torn_last_line(tmp_path: Path) -> None:
    from kick.types import Record

    path = tmp_path / "records.jsonl"
    store = RecordStore(path)
    store.append([Record("dense", "t", "a", "p", "o", None, {"x": 1.0})])
    with path.open("a") as f:
        f.write('{"variant": "dense", "task": "t", "sample_id": "b", "pro')
    reopened = RecordStore(path)
    assert [r.sample_id for r in reopened.all()] == ["a"]
    reopened.append([Record("dense", "t", "c", "p", "o", None, {"x": float("nan")})])
    lines = path.read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[1])["scores"] == {"x": None}


def test_a_task_can_ask_for_longer_chunks(tmp_path: Path, plugins: PluginSet, monkeypatch) -> None:
    from support.fake_plugin import QATask

    sizes: list[int] = []
    predict = QATask.predict

    def recording(self, model, samples, *, batch_size):  # type: ignore[no-untyped-def]
        sizes.append(len(samples))
        return predict(self, model, samples, batch_size=batch_size)

    monkeypatch.setattr(QATask, "predict", recording)
    run(spec(compression=None), tmp_path / "default", plugins=plugins)
    assert sizes == [8, 2]  # 10 samples in chunks of 4 x batch size 2
    sizes.clear()
    monkeypatch.setattr(QATask, "chunk_size", 10, raising=False)
    run(spec(compression=None), tmp_path / "longer", plugins=plugins)
    assert sizes == [10]
    assert (tmp_path / "longer" / "records.jsonl").read_text().count("\n") == 10


def test_footprint_can_be_left_out(tmp_path: Path, plugins: PluginSet) -> None:
    summary = run(spec(compression=None), tmp_path / "r", plugins=plugins, footprint=False)
    assert not (summary.get("footprint") or {}).get("dense")


def test_the_footprint_measurement_shows_progress(tmp_path: Path, tiny_llama) -> None:  # type: ignore[no-untyped-def]
    from kick.interfaces import Progress
    from kick.plugins import load_plugins

    class Recording(Progress):
        def __init__(self) -> None:
            self.events: list[tuple[str, str, float]] = []

        def start(self, key: str, text: str, total: int) -> None:
            self.events.append(("start", key, total))

        def advance(self, key: str, n: float) -> None:
            self.events.append(("advance", key, n))

    progress = Recording()
    task = ComponentSpec("mmlu", {"subjects": "world_religions", "shots": 1, "limit": 2})
    tiny = RunSpec(model=ModelSpec("tiny"), tasks=(task,), batch_size=2)
    summary = run(tiny, tmp_path / "r", plugins=load_plugins(), model=tiny_llama, progress=progress)
    assert summary["footprint"]["dense"]["generation"]["batch_8"]["tokens"] > 0
    speed = [e for e in progress.events if e[1] == "dense/speed"]
    assert speed[0] == ("start", "dense/speed", 16)  # 8 prompts at batch 1 and at batch 8
    assert sum(n for kind, _, n in speed if kind == "advance") == 16
