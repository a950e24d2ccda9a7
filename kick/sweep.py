"""Sweeps: the loop around `kick.runner.run`. Models x methods x levels x tasks, with the dense
model evaluated once per model.

For each model: plan every cell, load the model once, `run()` the dense cell on it, then
`run()` every compressed cell on a fresh copy with the dense cell's directory as its reference;
then index. Every cell is an ordinary run directory with the one summary shape, so `kick report`
and any later stage read it without rebuilding file names::

    DIR/sweep.json                    the normalised sweep spec (+ kick version)
    DIR/index.json                    every cell: id, path, level, status, timings (atomic rewrite)
    DIR/sweep.log                     a plain-text log of the sweep (appended across resumes)
    DIR/<model>/dense/                spec.json, records.jsonl, summary.json
    DIR/<model>/<method>-<level>/     spec.json, records.jsonl, compression.json, summary.json
    DIR/<model>/<method>-<level>-seed<s>/   the same, per calibration seed (a sweep with `seeds`)

Resuming: a cell with summary.json is finished and skipped; an unfinished cell keeps its
records (append-only, fsynced per chunk) and only the missing samples are evaluated. A cell whose
stored spec differs from the one the sweep would now write is refused unless `overwrite`, which
replaces exactly those cells.
"""

from __future__ import annotations

import functools
import logging
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import kick
from kick.copies import FreshModels, TimedModel, available_bytes, copy_fits, param_bytes, timed
from kick.dirlock import has_content, writer_lock
from kick.errors import KickError, RunDirError
from kick.executor import CellState, Executor, PlannedCell, Prefixed, SweepJob, SweepResult, cell_info, plan
from kick.interfaces import Progress
from kick.plugins import PluginSet, check_offload, load_model, load_plugins
from kick.provenance import seed_everything
from kick.rundir import (
    COMPRESSION,
    RECORDS,
    SPEC,
    SUMMARY,
    StartMode,
    clear_dir,
    has_records,
    read_json,
    same_spec,
    write_json_atomic,
)
from kick.runner import build_components, run
from kick.sweep_spec import SweepSpec
from kick.types import ModelSpec, RunSpec
from kick.validate import check_model

__all__ = ["PlannedCell", "SweepResult", "plan", "run_sweep", "LocalExecutor", "CellState"]

SWEEP = "sweep.json"
INDEX = "index.json"
LOG = "sweep.log"
SweepMode = StartMode
ModelLoader = Callable[[ModelSpec, PluginSet], Any]


# ---- state on disk --------------------------------------------------------------------------


def cell_state(path: Path, spec: RunSpec) -> CellState:
    """Where a cell's run directory stands relative to the spec the sweep would write now."""
    if not (path / SPEC).exists():
        return "absent" if not (path / RECORDS).exists() else "changed"
    if not same_spec(read_json(path / SPEC).get("spec"), spec):
        return "changed"
    return "finished" if (path / SUMMARY).exists() else "partial"


def prepare_sweep_dir(
    out: Path, sweep: SweepSpec, planned: Sequence[PlannedCell], mode: SweepMode
) -> dict[str, CellState]:
    """Check the directory against the spec before any work; replace changed cells only when
    overwriting. Returns every cell's state."""
    if has_content(out):
        if not (out / SWEEP).exists():
            raise RunDirError(f"{out} is not empty and is not a kick sweep directory")
        if mode == "new":
            raise RunDirError(
                f"{out} already holds a sweep: pass --resume to continue it or --overwrite to replace changed cells"
            )
    states = {p.id: cell_state(p.path, p.spec) for p in planned}
    changed = [i for i, s in states.items() if s == "changed"]
    if changed and mode != "overwrite":
        raise RunDirError(
            f"{out}: the spec of {len(changed)} cell(s) changed since they were written "
            f"({', '.join(changed[:5])}{' ...' if len(changed) > 5 else ''}); pass --overwrite to redo them"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        for p in planned:
            if states[p.id] == "changed":
                shutil.rmtree(p.path)
                states[p.id] = "absent"
    except OSError as e:
        raise RunDirError(f"cannot write to {out}: {e.strerror or e}") from None
    write_json_atomic(out / SWEEP, {"kick_version": kick.__version__, "sweep": sweep.to_dict()})
    return states


@contextmanager
def _sweep_log(out: Path) -> Iterator[logging.Logger]:
    log = logging.getLogger(f"kick.sweep.{id(out)}")
    log.setLevel(logging.INFO)
    log.propagate = False
    handler = logging.FileHandler(out / LOG, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    log.addHandler(handler)
    try:
        yield log
    finally:
        log.removeHandler(handler)
        handler.close()


# ---- the loop -----------------------------------------------------------------------------------
def run_sweep(
    sweep: SweepSpec,
    out: Path,
    *,
    mode: SweepMode = "new",
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
    model_loader: ModelLoader = load_model,
    executor: Executor | None = None,
    offload: bool = False,
) -> SweepResult:
    """Run every cell not yet finished; safe to interrupt at any point and run again.
    `executor`: who runs the cells (default: this process, one after another); `offload`: each
    cell's model is loaded with its decoder blocks left on disk (see kick_layerwise.offload)."""
    plugins = plugins if plugins is not None else load_plugins()
    progress = progress or Progress()
    executor = executor if executor is not None else LocalExecutor(model_loader)
    planned = plan(sweep, out)
    for p in planned:  # every component is built before anything is loaded: a bad name fails in a second
        if p.cell is None:  # a model's tasks and judge, shared by all its cells
            build_components(p.spec, plugins)
        else:
            plugins.registry.create("compressor", p.cell.method, **dict(p.cell.params))
    if offload:
        for model in sweep.models:
            check_offload(model, plugins)
    executor.open(planned)  # a cluster to reach, resources that exist: before the directory is touched
    try:
        with writer_lock(out, "kick sweep"):
            fresh = not has_content(out)
            try:
                return _sweep(sweep, out, planned, mode, plugins, progress, executor, offload)
            except Exception:
                if fresh and not has_records(out):
                    clear_dir(out)  # refused before its first record (a model check): nothing left behind
                raise
    finally:
        executor.close()


def _sweep(
    sweep: SweepSpec,
    out: Path,
    planned: list[PlannedCell],
    mode: SweepMode,
    plugins: PluginSet,
    progress: Progress,
    executor: Executor,
    offload: bool,
) -> SweepResult:
    """`run_sweep` once validated, with the sweep directory's lock held."""
    states = prepare_sweep_dir(out, sweep, planned, mode)
    result = SweepResult()
    _write_index(out, planned, result)
    t_start = time.perf_counter()
    progress.start("sweep", "cells", len(planned))
    with _sweep_log(out) as log:
        finished = sum(s == "finished" for s in states.values())
        log.info(
            "sweep start: %d cells, %d finished, mode=%s, executor=%s", len(planned), finished, mode,
            executor.name,
        )  # fmt: skip
        job = SweepJob(sweep, out, planned, states, plugins, progress, result, log, offload)
        try:
            executor.run(job)
        except BaseException as e:
            log.error("sweep stopped: %s: %s", type(e).__name__, e)
            raise
        finally:
            result.timings.total = time.perf_counter() - t_start
            _write_index(out, planned, result)
        log.info("sweep done in %.1fs: %s", result.timings.total, result.timings.as_dict())
    progress.finish("sweep")
    return result


class LocalExecutor:
    """This process, one cell after another: for each model, load it once, the dense cell on
    the loaded model, then each compressed cell on a fresh copy (deep copy or reload)."""

    name = "local"

    def __init__(self, model_loader: ModelLoader = load_model) -> None:
        self._loader = model_loader

    def open(self, planned: Sequence[PlannedCell]) -> None:
        pass

    def close(self) -> None:
        pass

    def run(self, job: SweepJob) -> None:
        for todo in job.by_model():
            if todo:
                self._run_model(job, todo)

    def _run_model(self, job: SweepJob, todo: Sequence[PlannedCell]) -> None:
        sweep, plugins, progress, timings = job.sweep, job.plugins, job.progress, job.result.timings
        dense = next(p for p in job.planned if p.model == todo[0].model and p.cell is None)
        load = self._loader
        if job.offload:
            load = functools.partial(load_model, offload=True)
        progress.stage(f"loading model {dense.model.name}")
        with timed(timings, "load"):
            seed_everything(sweep.seed)
            base = load(dense.model, plugins)
        copy_mode = "reload" if job.offload else sweep.copy_mode  # an offloaded model is read again
        fresh = FreshModels(
            base, lambda: load(dense.model, plugins), copy_mode,
            fits=copy_fits(param_bytes(base), available_bytes()),
        )  # fmt: skip
        job.log.info("model %s loaded; fresh copies per cell: %s", dense.model.name, fresh.mode)
        check_cells(todo, base, plugins)
        for p in todo:
            if p.cell is not None and job.has_failed(dense):
                job.failed(p, f"its dense cell {dense.id} failed")
                continue
            if p.cell is None:
                model = base
            else:
                with timed(timings, "copy"):
                    model = fresh.take()
            job.log.info("%s: evaluating", p.id)
            stats_before = _mtime(p.path / COMPRESSION)
            try:
                summary = run_cell(
                    p, p.path, sweep=sweep, plugins=plugins, model=TimedModel(model, timings),
                    progress=Prefixed(progress, p.id), dense=None if p.cell is None else dense.path,
                    partial=job.states[p.id] == "partial",
                )  # fmt: skip
            except KickError as e:  # this cell failed (a plugin raised, a bad level): record it, go on
                job.failed(p, str(e))
                continue
            finally:
                del model
            if p.cell is not None and _mtime(p.path / COMPRESSION) != stats_before:  # compressed now
                timings.compress += float((summary.get("compression") or {}).get("wall_seconds") or 0.0)
            job.finished(p, summary)
        if fresh.seconds:
            job.log.info("model %s: seconds per fresh copy: %s", dense.model.name, fresh.seconds)


def check_cells(todo: Sequence[PlannedCell], model: Any, plugins: PluginSet) -> None:
    """What depends on the model (N:M or group size vs widths), for every cell before any runs."""
    for p in todo:
        if p.cell is not None:
            who = f"compressor {p.cell.method!r} of {plugins.registry.get('compressor', p.cell.method).owner}"
            check_model(
                plugins.registry.create("compressor", p.cell.method, **dict(p.cell.params)), model, who
            )


def run_cell(
    p: PlannedCell,
    path: Path,
    *,
    sweep: SweepSpec,
    plugins: PluginSet,
    model: Any,
    progress: Progress,
    dense: Path | None,
    partial: bool,
) -> dict[str, Any]:
    """One cell's `run()` with the sweep's verdict settings, whichever executor runs it."""
    return run(
        p.spec, path, plugins=plugins, model=model, dense=dense, mode="resume" if partial else "new",
        progress=progress, rel_tol=sweep.rel_tol, abs_tol=sweep.abs_tol, verdict=sweep.verdict,
        resamples=sweep.resamples, cell=p.id, level=p.cell.level if p.cell else None,
        seed=p.cell.seed if p.cell else None,
    )  # fmt: skip


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _write_index(out: Path, planned: Sequence[PlannedCell], result: SweepResult) -> None:
    finished = {p.id for p in planned if (p.path / SUMMARY).exists()}
    errors = {c["id"]: c["error"] for c in result.failed}
    write_json_atomic(
        out / INDEX,
        {
            "cells": [
                {
                    **cell_info(p),
                    "path": str(p.path.relative_to(out)),
                    "finished": p.id in finished,
                    **({"error": errors[p.id]} if p.id in errors else {}),
                }
                for p in planned
            ],
            "last_timings": result.timings.as_dict(),
        },
    )
