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

import logging
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import kick
from kick.copies import FreshModels, TimedModel, Timings, available_bytes, copy_fits, param_bytes, timed
from kick.dirlock import has_content, writer_lock
from kick.errors import KickError, RunDirError, SpecError
from kick.interfaces import Progress
from kick.plugins import PluginSet, load_model, load_plugins
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
from kick.sweep_spec import Cell, SweepSpec, cell_run_spec, dense_run_spec, model_slug
from kick.types import COMPRESSED, DENSE, ModelSpec, RunSpec
from kick.validate import check_model

SWEEP = "sweep.json"
INDEX = "index.json"
LOG = "sweep.log"
SweepMode = StartMode
ModelLoader = Callable[[ModelSpec, PluginSet], Any]


# ---- state on disk --------------------------------------------------------------------------
CellState = Literal["absent", "partial", "finished", "changed"]


def cell_state(path: Path, spec: RunSpec) -> CellState:
    """Where a cell's run directory stands relative to the spec the sweep would write now."""
    if not (path / SPEC).exists():
        return "absent" if not (path / RECORDS).exists() else "changed"
    if not same_spec(read_json(path / SPEC).get("spec"), spec):
        return "changed"
    return "finished" if (path / SUMMARY).exists() else "partial"


@dataclass(frozen=True)
class PlannedCell:
    """A cell (or the dense baseline, `cell is None`) with its run spec and directory."""

    model: ModelSpec
    cell: Cell | None
    spec: RunSpec
    path: Path

    @property
    def id(self) -> str:
        return self.cell.id if self.cell else f"{model_slug(self.model.name)}/dense"

    @property
    def label(self) -> str:
        if self.cell is None:
            return "dense"
        seed = f" seed {self.cell.seed}" if self.cell.seed is not None else ""
        return f"{self.cell.method} @ {self.cell.level.label if self.cell.level else 'default'}{seed}"


def plan(sweep: SweepSpec, out: Path) -> list[PlannedCell]:
    """Every run directory of the sweep, dense first for each model. Pure (no I/O)."""
    planned: list[PlannedCell] = []
    for name in [model_slug(m.name) for m in sweep.models] + [c.name for c in sweep.cells]:
        if name in ("", ".", "..") or "/" in name or "\\" in name:
            raise SpecError(f"sweep: {name!r} would put a cell outside the sweep directory {out}")
    for model in sweep.models:
        base = out / model_slug(model.name)
        planned.append(PlannedCell(model, None, dense_run_spec(sweep, model), base / "dense"))
        for cell in sweep.cells:
            if cell.model == model.name:
                planned.append(PlannedCell(model, cell, cell_run_spec(sweep, model, cell), base / cell.name))
    return planned


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
@dataclass
class SweepResult:
    cells: list[dict[str, Any]] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)

    @property
    def failed(self) -> list[dict[str, Any]]:
        """The cells that failed this time (id, error, ...); the others still ran."""
        return [c for c in self.cells if c["status"] == "failed"]


def run_sweep(
    sweep: SweepSpec,
    out: Path,
    *,
    mode: SweepMode = "new",
    plugins: PluginSet | None = None,
    progress: Progress | None = None,
    model_loader: ModelLoader = load_model,
) -> SweepResult:
    """Run every cell not yet finished; safe to interrupt at any point and run again."""
    plugins = plugins if plugins is not None else load_plugins()
    progress = progress or Progress()
    planned = plan(sweep, out)
    for p in planned:  # every component is built before anything is loaded: a bad name fails in a second
        if p.cell is None:  # a model's tasks and judge, shared by all its cells
            build_components(p.spec, plugins)
        else:
            plugins.registry.create("compressor", p.cell.method, **dict(p.cell.params))
    with writer_lock(out, "kick sweep"):
        fresh = not has_content(out)
        try:
            return _sweep(sweep, out, planned, mode, plugins, progress, model_loader)
        except Exception:
            if fresh and not has_records(out):
                clear_dir(out)  # refused before its first record (a model check): nothing left behind
            raise


def _sweep(
    sweep: SweepSpec,
    out: Path,
    planned: list[PlannedCell],
    mode: SweepMode,
    plugins: PluginSet,
    progress: Progress,
    model_loader: ModelLoader,
) -> SweepResult:
    """`run_sweep` once validated, with the sweep directory's lock held."""
    states = prepare_sweep_dir(out, sweep, planned, mode)
    result = SweepResult()
    _write_index(out, planned, result)
    t_start = time.perf_counter()
    progress.start("sweep", "cells", len(planned))
    with _sweep_log(out) as log:
        finished = sum(s == "finished" for s in states.values())
        log.info("sweep start: %d cells, %d finished, mode=%s", len(planned), finished, mode)
        try:
            for model in sweep.models:
                cells = [p for p in planned if p.model == model]
                _run_model(sweep, cells, states, plugins, progress, model_loader, result, log)
        except BaseException as e:
            log.error("sweep stopped: %s: %s", type(e).__name__, e)
            raise
        finally:
            result.timings.total = time.perf_counter() - t_start
            _write_index(out, planned, result)
        log.info("sweep done in %.1fs: %s", result.timings.total, result.timings.as_dict())
    progress.finish("sweep")
    return result


def _run_model(
    sweep: SweepSpec,
    cells: Sequence[PlannedCell],
    states: Mapping[str, CellState],
    plugins: PluginSet,
    progress: Progress,
    model_loader: ModelLoader,
    result: SweepResult,
    log: logging.Logger,
) -> None:
    """One model's cells: load once, the dense cell on the loaded model, then each compressed
    cell on a fresh copy, compared with the dense cell's directory."""
    dense = cells[0]
    for p in cells:
        if states[p.id] == "finished":
            result.cells.append(_cell_entry(p, "finished", None))
            progress.advance("sweep", 1)
            progress.cell_done(p.id, read_json(p.path / SUMMARY))
    todo = [p for p in cells if states[p.id] != "finished"]
    if not todo:
        return
    timings = result.timings
    progress.stage(f"loading model {dense.model.name}")
    with timed(timings, "load"):
        seed_everything(sweep.seed)
        base = model_loader(dense.model, plugins)
    fresh = FreshModels(
        base, lambda: model_loader(dense.model, plugins), sweep.copy_mode,
        fits=copy_fits(param_bytes(base), available_bytes()),
    )  # fmt: skip
    log.info("model %s loaded; fresh copies per cell: %s", dense.model.name, fresh.mode)
    for p in todo:  # what depends on the model (N:M or group size vs widths), before any cell runs
        if p.cell is not None:
            who = f"compressor {p.cell.method!r} of {plugins.registry.get('compressor', p.cell.method).owner}"
            check_model(
                plugins.registry.create("compressor", p.cell.method, **dict(p.cell.params)), base, who
            )
    for p in todo:
        if p.cell is not None and _failed(dense, result):
            _cell_failed(p, f"its dense cell {dense.id} failed", result, progress, log)
            continue
        if p.cell is None:
            model = base
        else:
            with timed(timings, "copy"):
                model = fresh.take()
        log.info("%s: evaluating", p.id)
        stats_before = _mtime(p.path / COMPRESSION)
        try:
            summary = run(
                p.spec,
                p.path,
                plugins=plugins,
                model=TimedModel(model, timings),
                dense=None if p.cell is None else dense.path,
                mode="resume" if states[p.id] == "partial" else "new",
                progress=_Prefixed(progress, p.id),
                rel_tol=sweep.rel_tol,
                abs_tol=sweep.abs_tol,
                verdict=sweep.verdict,
                resamples=sweep.resamples,
                cell=p.id,
                level=p.cell.level if p.cell else None,
                seed=p.cell.seed if p.cell else None,
            )
        except KickError as e:  # this cell failed (a plugin raised, a bad level): record it, go on
            _cell_failed(p, str(e), result, progress, log)
            continue
        finally:
            del model
        if p.cell is not None and _mtime(p.path / COMPRESSION) != stats_before:  # compressed in this run
            timings.compress += float((summary.get("compression") or {}).get("wall_seconds") or 0.0)
        _log_cell(log, p, summary)
        result.cells.append(_cell_entry(p, "done", summary))
        progress.advance("sweep", 1)
        progress.cell_done(p.id, summary)
    if fresh.seconds:
        log.info("model %s: seconds per fresh copy: %s", dense.model.name, fresh.seconds)


def _failed(p: PlannedCell, result: SweepResult) -> bool:
    return any(c["id"] == p.id and c["status"] == "failed" for c in result.cells)


def _cell_failed(
    p: PlannedCell, error: str, result: SweepResult, progress: Progress, log: logging.Logger
) -> None:
    log.error("%s: failed: %s", p.id, error)
    result.cells.append({**_cell_entry(p, "failed", None), "error": error})
    progress.advance("sweep", 1)


def _mtime(path: Path) -> float | None:
    return path.stat().st_mtime_ns if path.exists() else None


def _log_cell(log: logging.Logger, p: PlannedCell, summary: Mapping[str, Any]) -> None:
    log.info("%s: finished in %.2fs", p.id, summary["seconds"])
    variant = DENSE if p.cell is None else COMPRESSED
    for name, entry in summary["tasks"].items():
        m = entry["metrics"][variant]
        primary = entry.get("primary_metric")
        log.info(
            "%s: %s %s=%s n=%s errors=%s", p.id, name, primary, m.get(primary), m.get("n"), m.get("errors")
        )


def cell_info(p: PlannedCell) -> dict[str, Any]:
    level = p.cell.level if p.cell else None
    return {
        "id": p.id,
        "model": p.model.name,
        "method": p.cell.method if p.cell else None,
        "level": level.to_dict() if level else None,
        "seed": p.cell.seed if p.cell else None,
    }


class _Prefixed(Progress):
    """Gives sample-level progress keys the cell's id, so bars of different cells never collide."""

    def __init__(self, inner: Progress, prefix: str) -> None:
        self._inner, self._prefix = inner, prefix

    def stage(self, text: str) -> None:
        self._inner.stage(f"{self._prefix}: {text}")

    def start(self, key: str, text: str, total: int) -> None:
        self._inner.start(f"{self._prefix}:{key}", f"{self._prefix} {text.split(maxsplit=1)[-1]}", total)

    def advance(self, key: str, n: int) -> None:
        self._inner.advance(f"{self._prefix}:{key}", n)

    def finish(self, key: str) -> None:
        self._inner.finish(f"{self._prefix}:{key}")


def _cell_entry(p: PlannedCell, status: str, summary: Mapping[str, Any] | None) -> dict[str, Any]:
    entry = {**cell_info(p), "path": str(p.path), "status": status}
    if summary is not None:
        entry["seconds"] = summary.get("seconds")
    return entry


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
