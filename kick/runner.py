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
6. **save** (`save_model`): the compressed model is written into the run directory, by the
   compressor's own `save` when it has one (a packed format), else by the model's `save`.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kick.dirlock import has_content, writer_lock
from kick.errors import KickError, RunDirError, SpecError, plugin_errors
from kick.evaluate import evaluate_task, make_record
from kick.footprint import can_save, footprint, merge_footprints, peak_memory, save_compressed
from kick.interfaces import Compressor, Progress, optional_member
from kick.judging import DenseReferences, JudgeCounts, judge_task
from kick.metrics import VerdictRule
from kick.model_slot import ModelSlot
from kick.plugins import PluginSet, check_offload, load_plugins
from kick.provenance import seed_everything
from kick.rundir import (
    COMPRESSION,
    RECORDS,
    SPEC,
    SUMMARY,
    Mode,
    RecordStore,
    clear_dir,
    has_records,
    prepare_run_dir,
    read_json,
    write_json_atomic,
)
from kick.stats import StatSettings
from kick.summary import build_summary
from kick.types import COMPRESSED, DENSE, ComponentSpec, Level, RunSpec, Sample
from kick.validate import Components, build_components, check_spec

__all__ = ["Components", "build_components", "check_spec", "evaluate_task", "make_record", "rejudge", "run"]


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
    save_dtype: str | None = None,
    force_judge: bool = False,
    verdict: VerdictRule = "interval",
    resamples: int = 2000,
    offload: bool = False,
    footprint: bool = True,
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
    blocks on disk until compressed (`kick.plugins.check_offload`). `footprint`: measure each
    variant's generation speed and size after its tasks (`kick.footprint`); benchmarks that time
    the tasks alone turn it off.
    """
    plugins = plugins if plugins is not None else load_plugins()
    progress = progress or Progress()
    check_spec(spec, dense=dense, save_model=save_model)
    comps = build_components(spec, plugins)
    if save_model and not can_save(comps.compressor):
        raise SpecError(
            f"method {spec.compression.name if spec.compression else '?'!r} keeps its compressed layers "
            "only in memory and cannot be saved: evaluate it with kick run --method"
        )
    if offload and model is None:
        check_offload(spec.model, plugins)
    if mode == "rejudge" and not any(t.judge_kind for t in comps.tasks):
        names = ", ".join(t.name for t in comps.tasks)
        raise RunDirError(f"{out}: none of its tasks ({names}) is judged")
    dense_summary, dense_store = _dense_reference(dense)
    with writer_lock(out, "kick judge" if mode == "rejudge" else None):
        fresh = not has_content(out)
        try:
            return _phases(
                spec, out, comps, plugins, model, dense, dense_summary, dense_store, mode, progress,
                save_model=save_model, save_dtype=save_dtype, force_judge=force_judge, offload=offload,
                footprint=footprint,
                summary_args=dict(rel_tol=rel_tol, abs_tol=abs_tol, rule=verdict, cell=cell, level=level,
                                  seed=seed, stats=StatSettings(resamples=resamples, seed=spec.seed)),
            )  # fmt: skip
        except Exception:
            if fresh and not has_records(out):
                clear_dir(out)  # a run that failed before its first record leaves nothing behind
            raise


def _phases(
    spec: RunSpec,
    out: Path,
    comps: Components,
    plugins: PluginSet,
    model: Any,
    dense: Path | None,
    dense_summary: dict[str, Any] | None,
    dense_store: RecordStore | None,
    mode: Mode,
    progress: Progress,
    *,
    save_model: bool,
    save_dtype: str | None,
    force_judge: bool,
    offload: bool,
    footprint: bool,
    summary_args: dict[str, Any],
) -> dict[str, Any]:
    """Phases 2-8 of `run()`, with the directory's lock held."""
    previous = prepare_run_dir(out, spec, mode)
    store = RecordStore(out / RECORDS)
    started = time.time()
    seed_everything(spec.seed)
    evaluating = mode != "rejudge"
    loaded = ModelSlot(spec, plugins, model, progress, comps if evaluating else None, offload)

    counts = JudgeCounts()
    variants: list[str] = []
    measured: dict[str, Any] = {}  # footprint per variant (kick.footprint); not for kick compress
    measure = footprint and bool(comps.tasks) and not save_model
    if spec.include_dense:  # phase 3
        variants.append(DENSE)
        if evaluating:
            measured[DENSE] = _evaluate_all(comps, loaded, DENSE, store, spec.batch_size, progress, measure)

    compression: dict[str, Any] | None = None
    if comps.compressor is not None:  # phases 4-6
        variants.append(COMPRESSED)
        compression = _compression(
            comps, loaded, spec, out, store, progress, reuse=not save_model, evaluating=evaluating
        )
        if evaluating:
            measured[COMPRESSED] = _evaluate_all(
                comps, loaded, COMPRESSED, store, spec.batch_size, progress, measure, compression
            )
        if save_model:
            progress.stage(f"saving the compressed model to {out}")
            save_compressed(comps.compressor, loaded.get(), out, save_dtype)

    if comps.judge is not None:  # phase 7
        bind = optional_member(comps.judge, "bind_run_dir", None)
        if callable(bind):
            bind(out)
        refs = DenseReferences(dense_store if dense_store is not None else store)
        for task in comps.tasks:
            if task.judge_kind:
                samples = comps.samples[task.name]
                with plugin_errors(comps.owners.get("judge", "the judge"), "judging"):
                    counts.add(
                        judge_task(
                            comps.judge, task, samples, variants, store, refs, progress, force=force_judge
                        )
                    )
        store.compact()

    # phase 8
    model_info = loaded.info() if loaded.ready or not previous else dict(previous.get("model") or {})
    summary = build_summary(
        spec, comps.tasks, comps.samples, comps.judge, store, variants, model_info, compression, plugins,
        dense_summary=dense_summary, dense_store=dense_store, **summary_args,
    )  # fmt: skip
    for name, chosen in comps.selection.items():  # which items: limit as given and resolved, or first
        summary["tasks"][name]["selection"] = chosen
    summary["dense_run"] = os.path.relpath(dense, out) if dense is not None else None
    summary["footprint"] = merge_footprints(measured, variants, dense_summary, previous)
    if comps.clipped:  # prompts longer than the context: their middle (the content) was cut
        summary["prompts_clipped"] = dict(comps.clipped)
    if comps.judge is not None:  # what this pass did: sent, ok, failed, skipped and why
        summary["judging"] = {**counts.to_dict(), "nothing_to_judge": counts.nothing_to_judge()}
    if mode == "rejudge":
        summary["seconds"] = previous.get("seconds") if previous else None
        summary["judged_at"] = {"time": time.time(), "seconds": time.time() - started, "force": force_judge}
    else:
        summary["seconds"] = time.time() - started
    write_json_atomic(out / SUMMARY, summary)
    return summary


def _compression(
    comps: Components,
    model: ModelSlot,
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
    with plugin_errors(comps.owners.get("compressor", "the compressor"), "compressing"):
        stats = compress(comps.compressor, model.get(), spec, progress)
    write_json_atomic(stats_file, stats)
    return stats


def _evaluate_all(
    comps: Components,
    model: ModelSlot,
    variant: str,
    store: RecordStore,
    batch_size: int,
    progress: Progress,
    measure: bool = False,
    stats: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Evaluate every task on one variant; with `measure`, then its footprint (peak memory during
    the evaluation, weight bytes, generation speed, size on disk: `kick.footprint`)."""
    with peak_memory() as peak:
        for task in comps.tasks:
            who = comps.owners.get(f"task:{task.name}", f"task {task.name!r}")
            before = model.clipped()
            evaluate_task(
                task, comps.samples[task.name], model, variant, store, batch_size, progress, owner=who
            )
            after = model.clipped()
            if after[0] > before[0]:
                comps.clipped[f"{variant}/{task.name}"] = {
                    "prompts": after[0] - before[0],
                    "tokens": after[1] - before[1],
                }
    if not measure:
        return None
    progress.stage(f"measuring the {variant} model: generation speed, size")
    compressor = comps.compressor if variant == COMPRESSED else None
    key = f"{variant}/speed"
    result = footprint(
        model.get(), peak, compressor=compressor, stats=stats, progress=progress, key=key,
        label=f"{variant:10s} generation speed",
    )  # fmt: skip
    progress.finish(key)
    return result


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


def _all_done(store: RecordStore, variant: str, task: str, samples: Sequence[Sample]) -> bool:
    return store.done_ids(variant, task) >= {s.id for s in samples}


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
