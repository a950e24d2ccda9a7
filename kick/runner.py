"""THE protocol: every evaluation `kick` does goes through `run()`, in these phases.

1. **build**: every component (tasks, compressor, judge) is created from the spec before any
   model is loaded or any file written, so a bad name or parameter fails in a second.
2. **open** the run directory (`new`, `resume`, `overwrite`, or `rejudge`: see `kick.rundir`).
3. **dense**: with `spec.include_dense`, every task is evaluated on the model as loaded. A sweep
   cell instead passes `dense=`, the directory of the dense run of the same model: its
   metrics and records (judge references) are read from there.
4. **compress** (when the spec has a compression): once, its measured statistics written to
   compression.json; skipped on resume when every compressed record is already there.
5. **compressed**: every task evaluated on the compressed model.
6. **save** (`save_model`): the compressed model is written into the run directory.
7. **judge**: every judged task's records not yet judged (all of them with `force_judge`).
8. **summary**: one shape for `kick run`, `kick eval`, `kick compress`, `kick judge` and every
   sweep cell (`build_summary`).

Every sample's record is appended to records.jsonl as soon as its chunk is scored, so an
interrupted run resumes where it stopped and ends with the same summary as an uninterrupted
one. The model is loaded only when a phase needs it (a finished run re-judged loads none).
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kick.errors import KickError, RunDirError, SpecError
from kick.interfaces import Compressor, Judge, Progress, Task, optional_member
from kick.judging import DenseReferences, judge_task
from kick.metrics import VerdictRule
from kick.plugins import PluginSet, check_offload, load_model, load_plugins
from kick.provenance import seed_everything
from kick.rundir import (
    COMPRESSION,
    RECORDS,
    SPEC,
    SUMMARY,
    Mode,
    RecordStore,
    prepare_run_dir,
    read_json,
    write_json_atomic,
)
from kick.stats import StatSettings
from kick.summary import build_summary
from kick.types import COMPRESSED, DENSE, ComponentSpec, Level, Prediction, Record, RunSpec, Sample


@dataclass
class Components:
    """What a spec names, built and validated: tasks with their samples, compressor, judge."""

    tasks: list[Task]
    samples: dict[str, list[Sample]]
    compressor: Compressor | None
    judge: Judge | None


def build_components(spec: RunSpec, plugins: PluginSet) -> Components:
    """Create every component from the spec (phase 1): a bad name or parameter fails here, in
    a second, with one message. Each task's samples are read once, here, for the whole run."""
    names = [t.name for t in spec.tasks]
    if len(set(names)) != len(names):
        raise SpecError(f"a task is listed twice: {', '.join(names)}")
    reg = plugins.registry
    tasks: list[Task] = []
    for t in spec.tasks:
        params = dict(t.params)
        if spec.limit is not None:
            params.setdefault("limit", spec.limit)
        params.setdefault("seed", spec.seed)
        tasks.append(reg.create("task", t.name, **params))
    compressor = None
    if spec.compression is not None:
        compressor = reg.create("compressor", spec.compression.name, **dict(spec.compression.params))
    judge = reg.create("judge", spec.judge.name, **dict(spec.judge.params)) if spec.judge else None
    samples = {}
    for task in tasks:
        samples[task.name] = list(task.samples())
        _check_unique_ids(task.name, samples[task.name])
    return Components(tasks, samples, compressor, judge)


def check_spec(spec: RunSpec, *, dense: Path | None = None, save_model: bool = False) -> None:
    """The spec-level rules, before anything is built."""
    if not spec.tasks and not save_model:
        raise SpecError("no task given: pass at least one --task")
    if not spec.include_dense and spec.compression is None:
        raise SpecError("nothing to evaluate: no compression and the dense baseline is off")
    if dense is not None and spec.include_dense:
        raise SpecError("a run given a dense directory does not evaluate dense itself (include_dense=False)")
    if save_model and spec.compression is None:
        raise SpecError("no compression method given")


def run(
    spec: RunSpec,
    out: Path,
    *,
    plugins: PluginSet | None = None,
    model: Any = None,
    dense: Path | None = None,
    mode: Mode = "new",
    progress: Progress | None = None,
    rel_tol: float = 0.05,
    abs_tol: float | None = None,
    cell: str | None = None,
    level: Level | None = None,
    seed: int | None = None,
    save_model: bool = False,
    force_judge: bool = False,
    verdict: VerdictRule = "interval",
    resamples: int = 2000,
    offload: bool = False,
) -> dict[str, Any]:
    """Run one evaluation and write its run directory; returns the summary.

    `model`: a ready model (the sweep hands each cell a fresh copy); default: loaded from
    `spec.model` through the plugins, and only when a phase needs it. `dense`: the finished
    run directory of the dense model, for a run that evaluates only the compressed variant.
    `cell` and `level` name a sweep cell (the level defaults to the compression's parameters);
    `seed` is its calibration seed when the sweep varies it (`summary["cell"]["seed"]`; the task
    sampling seed stays `spec.seed`).
    `verdict` and `resamples`: how "matches dense" is decided (`kick.metrics.verdict`; the
    bootstrap is seeded with `spec.seed`). `offload`: a model loaded here keeps its decoder
    blocks on disk until compressed (`kick.plugins.check_offload`).
    """
    plugins = plugins if plugins is not None else load_plugins()
    progress = progress or Progress()
    check_spec(spec, dense=dense, save_model=save_model)
    comps = build_components(spec, plugins)
    if offload and model is None:
        check_offload(spec.model, plugins)
    if mode == "rejudge" and not any(t.judge_kind for t in comps.tasks):
        names = ", ".join(t.name for t in comps.tasks)
        raise RunDirError(f"{out}: none of its tasks ({names}) is judged")
    dense_summary, dense_store = _dense_reference(dense)
    previous = prepare_run_dir(out, spec, mode)
    store = RecordStore(out / RECORDS)
    started = time.time()
    seed_everything(spec.seed)
    loaded = _ModelSlot(spec, plugins, model, progress, offload)
    evaluating = mode != "rejudge"

    variants: list[str] = []
    if spec.include_dense:  # phase 3
        variants.append(DENSE)
        if evaluating:
            _evaluate_all(comps, loaded, DENSE, store, spec.batch_size, progress)

    compression: dict[str, Any] | None = None
    if comps.compressor is not None:  # phases 4-6
        variants.append(COMPRESSED)
        compression = _compression(
            comps, loaded, spec, out, store, progress, reuse=not save_model, evaluating=evaluating
        )
        if evaluating:
            _evaluate_all(comps, loaded, COMPRESSED, store, spec.batch_size, progress)
        if save_model:
            progress.stage(f"saving the compressed model to {out}")
            loaded.get().save(str(out))

    if comps.judge is not None:  # phase 7
        bind = optional_member(comps.judge, "bind_run_dir", None)
        if callable(bind):
            bind(out)
        refs = DenseReferences(dense_store if dense_store is not None else store)
        for task in comps.tasks:
            if task.judge_kind:
                samples = comps.samples[task.name]
                judge_task(comps.judge, task, samples, variants, store, refs, progress, force=force_judge)
        store.compact()

    # phase 8
    model_info = loaded.info() if loaded.ready or not previous else dict(previous.get("model") or {})
    summary = build_summary(
        spec, comps.tasks, comps.samples, comps.judge, store, variants, model_info, compression, plugins,
        dense_summary=dense_summary, dense_store=dense_store, rel_tol=rel_tol, abs_tol=abs_tol,
        rule=verdict, stats=StatSettings(resamples=resamples, seed=spec.seed), cell=cell, level=level,
        seed=seed,
    )  # fmt: skip
    summary["dense_run"] = os.path.relpath(dense, out) if dense is not None else None
    if mode == "rejudge":
        summary["seconds"] = previous.get("seconds") if previous else None
        summary["judged_at"] = {"time": time.time(), "seconds": time.time() - started, "force": force_judge}
    else:
        summary["seconds"] = time.time() - started
    write_json_atomic(out / SUMMARY, summary)
    return summary


class _ModelSlot:
    """The run's model: the one given, or loaded from the spec on first use."""

    def __init__(self, spec: RunSpec, plugins: PluginSet, model: Any, progress: Progress, offload: bool) -> None:
        self._spec, self._plugins, self._model, self._progress = spec, plugins, model, progress
        self._offload = offload

    @property
    def ready(self) -> bool:
        return self._model is not None

    def get(self) -> Any:
        if self._model is None:
            self._progress.stage(f"loading model {self._spec.model.name}")
            seed_everything(self._spec.seed)
            self._model = load_model(self._spec.model, self._plugins, offload=self._offload)
        return self._model

    def info(self) -> dict[str, Any]:
        return dict(self.get().info())


def _compression(
    comps: Components,
    model: _ModelSlot,
    spec: RunSpec,
    out: Path,
    store: RecordStore,
    progress: Progress,
    *,
    reuse: bool,
    evaluating: bool,
) -> dict[str, Any] | None:
    """The compression's statistics: compress now, or reuse compression.json when every
    compressed record is already there (a resumed run) or nothing is evaluated (rejudge)."""
    stats_file = out / COMPRESSION
    done = all(_all_done(store, COMPRESSED, t.name, comps.samples[t.name]) for t in comps.tasks)
    if not evaluating or (reuse and done and stats_file.exists()):
        return read_json(stats_file) if stats_file.exists() else None
    assert comps.compressor is not None
    stats = compress(comps.compressor, model.get(), spec, progress)
    write_json_atomic(stats_file, stats)
    return stats


def _evaluate_all(
    comps: Components,
    model: _ModelSlot,
    variant: str,
    store: RecordStore,
    batch_size: int,
    progress: Progress,
) -> None:
    for task in comps.tasks:
        evaluate_task(task, comps.samples[task.name], model, variant, store, batch_size, progress)


def compress(compressor: Compressor, model: Any, spec: RunSpec, progress: Progress) -> dict[str, Any]:
    """Compress `model` in place (phase 4); the statistics the compressor measured, its
    method name first. `seconds` is the compressor's own figure when it gives one (else the
    wall time); `wall_seconds` is always the wall time of the whole call, measurement included."""
    progress.stage(f"compressing with {compressor.name}")
    seed_everything(spec.seed)
    t0 = time.perf_counter()
    stats = dict(compressor.compress(model))
    wall = time.perf_counter() - t0
    stats.setdefault("seconds", wall)
    return {
        "method": spec.compression.name if spec.compression else compressor.name,
        **stats,
        "wall_seconds": wall,
    }


def evaluate_task(
    task: Task,
    samples: Sequence[Sample],
    model: _ModelSlot,
    variant: str,
    store: RecordStore,
    batch_size: int,
    progress: Progress,
) -> None:
    """Predict and score every sample of `task` not yet in the store, in chunks, appending as we go."""
    done = store.done_ids(variant, task.name)
    todo = [s for s in samples if s.id not in done]
    key = f"{variant}/{task.name}"
    progress.start(key, f"{variant:10s} {task.name}", len(samples))
    progress.advance(key, len(samples) - len(todo))
    chunk = max(1, batch_size) * 4
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        preds = task.predict(model.get(), part, batch_size=batch_size)
        if len(preds) != len(part):
            raise KickError(f"task {task.name!r} returned {len(preds)} predictions for {len(part)} samples")
        store.append(make_record(variant, task, s, p) for s, p in zip(part, preds, strict=True))
        progress.advance(key, len(part))
    progress.finish(key)


def _all_done(store: RecordStore, variant: str, task: str, samples: Sequence[Sample]) -> bool:
    return store.done_ids(variant, task) >= {s.id for s in samples}


def _check_unique_ids(task: str, samples: Sequence[Sample]) -> None:
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise KickError(f"task {task!r} has two samples with id {s.id!r}")
        seen.add(s.id)


def make_record(variant: str, task: Task, sample: Sample, pred: Prediction) -> Record:
    """One sample's record: the task's scores, or the error that kept it from being scored."""
    scores: Mapping[str, float] = {}
    error = pred.error
    if error is None:
        try:
            scores = task.score(sample, pred)
        except KickError as e:
            error = str(e)
    return Record(
        variant=variant,
        task=task.name,
        sample_id=sample.id,
        prompt=sample.prompt,
        output=pred.output,
        reference=sample.reference,
        scores=dict(scores),
        error=error,
        extra=dict(pred.extra),
        answers=tuple(pred.answers),
    )


def _dense_reference(dense: Path | None) -> tuple[dict[str, Any] | None, RecordStore | None]:
    """The dense run a compressed-only run is compared with: its summary and its records."""
    if dense is None:
        return None, None
    if not (dense / SUMMARY).is_file():
        raise KickError(
            f"{dense} has no {SUMMARY}: the dense run must finish before the runs compared with it"
        )
    return read_json(dense / SUMMARY), RecordStore(dense / RECORDS)


def rejudge(
    run_dir: Path,
    judge: ComponentSpec,
    *,
    force: bool = False,
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """`kick judge`: judge (or re-judge) a finished run from its records, generating nothing.

    `run()` in `rejudge` mode on the run's stored spec with this judge: records already judged
    are kept unless `force`, records whose judging failed are tried again, and the summary is
    rebuilt with the run's tolerance, cell and dense reference."""
    if not (run_dir / SPEC).is_file() or not (run_dir / RECORDS).is_file():
        raise RunDirError(f"{run_dir} is not a kick run directory (needs {SPEC} and {RECORDS})")
    spec = dataclasses.replace(RunSpec.from_dict(read_json(run_dir / SPEC)["spec"]), judge=judge)
    old = read_json(run_dir / SUMMARY) if (run_dir / SUMMARY).is_file() else {}
    tol = old.get("tolerance") or {}
    cell = old.get("cell") or {}
    return run(
        spec,
        run_dir,
        plugins=plugins,
        dense=run_dir / old["dense_run"] if old.get("dense_run") else None,
        mode="rejudge",
        progress=progress,
        rel_tol=float(tol.get("relative", 0.05)),
        abs_tol=tol.get("absolute"),
        cell=cell.get("id"),
        level=Level.from_dict(old["level"]) if old.get("level") else None,
        seed=cell.get("seed"),
        force_judge=force,
    )
