"""The pipeline, top to bottom: spec -> model -> (dense eval) -> compress -> eval -> judge -> report.

Every sample's record is appended to records.jsonl as soon as its chunk is scored, so an
interrupted run resumes where it stopped (`mode="resume"`) and ends with the same summary as an
uninterrupted one.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kick
from kick import judging
from kick.errors import KickError, RunDirError, SpecError
from kick.interfaces import Compressor, Judge, ModelBackend, Progress, Task
from kick.metrics import clean_number, compare
from kick.plugins import PluginSet, load_plugins
from kick.plugins import load_model as plugins_load_model
from kick.rundir import (
    COMPRESSION,
    RECORDS,
    SPEC,
    SUMMARY,
    RecordStore,
    read_json,
    write_json_atomic,
)
from kick.types import COMPRESSED, DENSE, Prediction, Record, RunSpec, Sample

Mode = Literal["new", "resume", "overwrite"]


@dataclass
class Components:
    tasks: list[Task]
    compressor: Compressor | None
    judge: Judge | None
    task_names: list[str] = field(default_factory=list)


def build_components(spec: RunSpec, plugins: PluginSet) -> Components:
    """Create every component from the spec before any model is loaded, so a bad name or
    parameter fails in a second with one message, not after minutes of work."""
    reg = plugins.registry
    tasks: list[Task] = []
    names = [t.name for t in spec.tasks]
    if not names:
        raise SpecError("no task given: pass at least one --task")
    if len(set(names)) != len(names):
        raise SpecError(f"a task is listed twice: {', '.join(names)}")
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
    return Components(tasks, compressor, judge, names)


def load_model(spec: RunSpec, plugins: PluginSet) -> Any:
    return plugins_load_model(spec.model, plugins)


def prepare_run_dir(out: Path, spec: RunSpec, mode: Mode) -> None:
    """Create or reopen the run directory; refuse an existing one unless resuming or overwriting."""
    spec_file = out / SPEC
    if out.exists() and any(out.iterdir()):
        if mode == "overwrite":
            if not spec_file.exists() and not (out / RECORDS).exists():
                raise RunDirError(
                    f"{out} is not empty and is not a kick run directory; refusing to delete it"
                )
            shutil.rmtree(out)
        elif mode == "resume":
            if not spec_file.exists():
                raise RunDirError(f"{out} has no {SPEC}: nothing to resume")
            old = read_json(spec_file).get("spec")
            if old != spec.to_dict():
                raise RunDirError(
                    f"{out} was written by a different spec; use --overwrite to start again "
                    f"or --out for a new directory"
                )
            return
        else:
            raise RunDirError(
                f"{out} already exists: pass --resume to continue it or --overwrite to replace it"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".kick-write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as e:
        raise RunDirError(f"cannot write to {out}: {e.strerror or e}") from None
    write_json_atomic(spec_file, {"kick_version": kick.__version__, "spec": spec.to_dict()})


def evaluate_task(
    task: Task,
    model: ModelBackend,
    variant: str,
    store: RecordStore,
    *,
    batch_size: int,
    progress: Progress,
) -> list[Record]:
    """Predict and score every sample of `task` not yet in the store, in chunks, appending as we go."""
    samples = list(task.samples())
    _check_unique_ids(task.name, samples)
    done = store.done_ids(variant, task.name)
    todo = [s for s in samples if s.id not in done]
    key = f"{variant}/{task.name}"
    progress.start(key, f"{variant:10s} {task.name}", len(samples))
    progress.advance(key, len(samples) - len(todo))
    chunk = max(1, batch_size) * 4
    for start in range(0, len(todo), chunk):
        part = todo[start : start + chunk]
        preds = task.predict(model, part, batch_size=batch_size)
        if len(preds) != len(part):
            raise KickError(f"task {task.name!r} returned {len(preds)} predictions for {len(part)} samples")
        store.append(_record(variant, task, s, p) for s, p in zip(part, preds, strict=True))
        progress.advance(key, len(part))
    progress.finish(key)
    return store.select(variant, task.name, [s.id for s in samples])


def _check_unique_ids(task: str, samples: Sequence[Sample]) -> None:
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise KickError(f"task {task!r} has two samples with id {s.id!r}")
        seen.add(s.id)


def _record(variant: str, task: Task, sample: Sample, pred: Prediction) -> Record:
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
    )


def judge_task(
    judge: Judge,
    task: Task,
    variants: Sequence[str],
    store: RecordStore,
    progress: Progress,
    *,
    force: bool = False,
) -> None:
    """Judge every not-yet-judged record of a judged task (every record with `force`). The
    reference is the sample's own reference answer when the task has one, else the dense
    model's answer from this run (then the dense variant itself is not judged: it is the
    reference)."""
    kind = task.judge_kind
    assert kind is not None
    samples = {s.id: s for s in task.samples()}
    overrides = judging.reference_overrides(judge)  # a judge's reference-answer file, if any
    for variant in variants:
        records = [
            r for r in store.select(variant, task.name, list(samples)) if force or not judging.is_judged(r)
        ]
        items, todo = [], []
        for r in records:
            sample = samples[r.sample_id]
            if overrides is not None:
                ref = overrides.get(sample.id)
            elif variant == DENSE and _own_reference(sample) is None:
                continue  # the dense answer is the reference: nothing to judge it against
            else:
                ref = _reference(sample, store, task.name)
            if ref is None or r.error:
                continue
            items.append(judging.judge_item(kind, sample, r, ref))
            todo.append(r)
        if not items:
            continue
        key = f"judge/{variant}/{task.name}"
        progress.start(key, f"judge {variant:5s} {task.name}", len(items))
        for start in range(0, len(items), 16):
            updated = judging.run_judge(judge, items[start : start + 16], todo[start : start + 16])
            store.append(updated)
            progress.advance(key, len(updated))
        progress.finish(key)


def _own_reference(sample: Sample) -> list[str] | None:
    ref = sample.reference
    if isinstance(ref, str) and ref:
        return [ref]
    if isinstance(ref, (list, tuple)) and ref and all(isinstance(x, str) for x in ref):
        return list(ref)
    return None


def _reference(sample: Sample, store: RecordStore, task: str) -> list[str] | None:
    own = _own_reference(sample)
    if own is not None:
        return own
    dense = store.get(DENSE, task, sample.id)
    if dense is None or dense.error:
        return None
    answers = dense.extra.get("answers")
    return [str(a) for a in answers] if answers else [dense.output]


def aggregate(task: Task, records: Sequence[Record]) -> dict[str, Any]:
    metrics = dict(task.aggregate([r for r in records if r.error is None]))
    metrics.update(judging.judge_metrics(records) if task.judge_kind else {})
    metrics["n"] = len(records)
    metrics["errors"] = sum(1 for r in records if r.error)
    return {k: clean_number(v) for k, v in metrics.items()}


def provenance(plugins: PluginSet) -> dict[str, Any]:
    from importlib.metadata import PackageNotFoundError, version

    libs: dict[str, str | None] = {}
    for lib in ("torch", "transformers", "datasets", "huggingface-hub", "pluggy", "typer", "openai"):
        try:
            libs[lib] = version(lib)
        except PackageNotFoundError:
            libs[lib] = None
    return {
        "kick": kick.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "libraries": libs,
        "plugins": {p.name: {"distribution": p.distribution, "version": p.version} for p in plugins.plugins},
        "plugin_failures": [f.message() for f in plugins.failures],
    }


def run(
    spec: RunSpec,
    out: Path,
    *,
    mode: Mode = "new",
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
    rel_tol: float = 0.05,
    abs_tol: float | None = None,
    model_loader: Callable[[RunSpec, PluginSet], Any] = load_model,
) -> dict[str, Any]:
    """Run one evaluation (dense and/or compressed) and write the run directory."""
    plugins = plugins or load_plugins()
    progress = progress or Progress()
    comps = build_components(spec, plugins)
    if not spec.include_dense and comps.compressor is None:
        raise SpecError("nothing to evaluate: no compression and the dense baseline is off")
    prepare_run_dir(out, spec, mode)
    store = RecordStore(out / RECORDS)
    started = time.time()
    _seed_everything(spec.seed)

    progress.stage(f"loading model {spec.model.name}")
    model = model_loader(spec, plugins)
    variants: list[str] = []
    if spec.include_dense:
        variants.append(DENSE)
        for task in comps.tasks:
            evaluate_task(task, model, DENSE, store, batch_size=spec.batch_size, progress=progress)

    compression: dict[str, Any] | None = None
    if comps.compressor is not None:
        variants.append(COMPRESSED)
        comp_file = out / COMPRESSION
        complete = comp_file.exists() and all(
            store.done_ids(COMPRESSED, t.name) >= {s.id for s in t.samples()} for t in comps.tasks
        )
        if complete:
            compression = read_json(comp_file)
        else:
            progress.stage(f"compressing with {comps.compressor.name}")
            _seed_everything(spec.seed)
            t0 = time.time()
            stats = dict(comps.compressor.compress(model))
            stats.setdefault("seconds", time.time() - t0)
            compression = {"method": spec.compression.name if spec.compression else None, **stats}
            write_json_atomic(comp_file, compression)
        for task in comps.tasks:
            evaluate_task(task, model, COMPRESSED, store, batch_size=spec.batch_size, progress=progress)

    if comps.judge is not None:
        judging.bind_run_dir(comps.judge, out)
        for task in comps.tasks:
            if task.judge_kind:
                judge_task(comps.judge, task, variants, store, progress)
        store.compact()

    summary = build_summary(
        spec, comps, store, variants, model.info(), compression, plugins, rel_tol=rel_tol, abs_tol=abs_tol
    )
    summary["seconds"] = time.time() - started
    write_json_atomic(out / SUMMARY, summary)
    return summary


def build_summary(
    spec: RunSpec,
    comps: Components,
    store: RecordStore,
    variants: Sequence[str],
    model_info: Mapping[str, Any],
    compression: Mapping[str, Any] | None,
    plugins: PluginSet,
    *,
    rel_tol: float,
    abs_tol: float | None,
) -> dict[str, Any]:
    tasks: dict[str, Any] = {}
    for task in comps.tasks:
        ids = [s.id for s in task.samples()]
        entry: dict[str, Any] = {"settings": dict(task.settings()), "metrics": {}}
        for v in variants:
            entry["metrics"][v] = aggregate(task, store.select(v, task.name, ids))
        if DENSE in variants and COMPRESSED in variants:
            entry["comparison"] = compare(
                entry["metrics"][DENSE],
                entry["metrics"][COMPRESSED],
                rel_tol=rel_tol,
                abs_tol=abs_tol,
                lower_is_better=getattr(task, "lower_is_better", ()),
            )
        entry["primary_metric"] = getattr(task, "primary_metric", None)
        tasks[task.name] = entry
    return {
        "spec": spec.to_dict(),
        "model": dict(model_info),
        "compression": dict(compression) if compression else None,
        "judge": dict(comps.judge.info()) if comps.judge else None,
        "tolerance": {"relative": rel_tol, "absolute": abs_tol},
        "variants": list(variants),
        "tasks": tasks,
        "provenance": provenance(plugins),
        "seed": spec.seed,
        "env": {
            k: v
            for k, v in os.environ.items()
            if k.startswith("KICK_") and "KEY" not in k and "TOKEN" not in k
        },
    }


def _seed_everything(seed: int) -> None:
    import random

    random.seed(seed)
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # the core runs without torch (fake plugins in tests)
        pass


def load_summary(run_dir: Path) -> dict[str, Any]:
    path = run_dir / SUMMARY
    if not path.exists():
        raise RunDirError(f"{run_dir} has no {SUMMARY}: is it a finished kick run?")
    data: dict[str, Any] = json.loads(path.read_text())
    return data
