"""Sweeps: models x methods x levels x tasks, with the dense model evaluated once per model.

Two halves:

* pure spec handling: a TOML-shaped mapping -> `SweepSpec` (frozen) -> `Cell`s (frozen), and a
  `RunSpec` per cell, so every cell is described exactly like a `kick run`;
* an executor (`run_sweep`) that loads each model once, evaluates dense once, then for each
  compressed cell takes a fresh copy of the dense model, compresses it once and evaluates every
  task on it.

Layout of a sweep directory (every cell is an ordinary run directory, so `kick report` and any
later stage read it without rebuilding file names)::

    DIR/sweep.json                    the normalised sweep spec (+ kick version)
    DIR/index.json                    every cell: id, path, level, status, timings (atomic rewrite)
    DIR/sweep.log                     a plain-text log of the sweep (appended across resumes)
    DIR/<model>/dense/                spec.json, records.jsonl, summary.json
    DIR/<model>/<method>-<level>/     spec.json, records.jsonl, compression.json, summary.json

Resuming: a cell with summary.json is finished and skipped; an unfinished cell keeps its
records (append-only, fsynced per chunk) and only the missing samples are evaluated. A cell whose
stored spec differs from the one the sweep would now write is refused unless `overwrite`, which
replaces exactly those cells.
"""

from __future__ import annotations

import copy
import logging
import re
import shutil
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import kick
from kick.errors import RunDirError, SpecError
from kick.metrics import compare
from kick.plugins import PluginSet, load_plugins
from kick.rundir import (
    COMPRESSION,
    RECORDS,
    SPEC,
    SUMMARY,
    RecordStore,
    read_json,
    write_json_atomic,
)
from kick.runner import (
    Progress,
    _seed_everything,
    build_components,
    build_summary,
    evaluate_task,
    judge_task,
    load_model,
)
from kick.types import (
    COMPRESSED,
    DENSE,
    ComponentSpec,
    Level,
    ModelSpec,
    Record,
    RunSpec,
    Scalar,
    parse_pattern,
)

SWEEP = "sweep.json"
INDEX = "index.json"
LOG = "sweep.log"
DEFAULT_QUANTIZERS = ("gptq", "rtn")
SweepMode = Literal["new", "resume", "overwrite"]
CopyMode = Literal["auto", "copy", "reload"]


# ---- spec -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Cell:
    """One compressed configuration of one model: method, level, and the params it gets."""

    model: str
    method: str
    level: Level | None
    params: tuple[tuple[str, Scalar], ...]
    name: str

    @property
    def id(self) -> str:
        return f"{model_slug(self.model)}/{self.name}"


@dataclass(frozen=True)
class SweepSpec:
    models: tuple[ModelSpec, ...]
    cells: tuple[Cell, ...]
    tasks: tuple[ComponentSpec, ...]
    judge: ComponentSpec | None = None
    batch_size: int = 8
    limit: int | None = None
    seed: int = 0
    rel_tol: float = 0.05
    abs_tol: float | None = None
    copy_mode: CopyMode = "auto"

    def to_dict(self) -> dict[str, Any]:
        from kick.types import to_jsonable

        return to_jsonable(self)  # type: ignore[no-any-return]


_SWEEP_KEYS = {
    "model",
    "models",
    "dtype",
    "device",
    "revision",
    "trust_remote_code",
    "methods",
    "sparsity",
    "patterns",
    "bits",
    "quantizers",
    "params",
    "levels",
    "cells",
    "tasks",
    "task_params",
    "judge",
    "judge_params",
    "limit",
    "batch_size",
    "seed",
    "rel_tol",
    "abs_tol",
    "copy",
}


def model_slug(name: str) -> str:
    """A folder name for a model id or path ('org/name' -> 'org__name')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/").replace("/", "__")) or "model"


def _as_list(value: Any, key: str) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return list(value)
    if isinstance(value, (str, int, float)):
        return [value]
    raise SpecError(f"sweep spec: {key} must be a list, got {value!r}")


def parse_levels(table: Mapping[str, Any], where: str) -> tuple[list[Level], list[Level], list[Level]]:
    """The sparsity, N:M and bit-width levels of a table (the spec's top level or one method's)."""
    sparsity = []
    for v in _as_list(table.get("sparsity"), f"{where}sparsity"):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= float(v) < 1:
            raise SpecError(f"sweep spec: {where}sparsity {v!r} must be a number in [0, 1)")
        sparsity.append(Level("sparsity", float(v)))
    patterns = []
    for v in _as_list(table.get("patterns"), f"{where}patterns"):
        nm = parse_pattern(str(v))
        if nm is None:
            raise SpecError(f"sweep spec: {where}patterns {v!r}: expected N:M such as 2:4")
        n, m = nm
        patterns.append(Level("pattern", f"{n}:{m}"))
    bits = []
    for v in _as_list(table.get("bits"), f"{where}bits"):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:  # which widths: the quantizer's rule
            raise SpecError(f"sweep spec: {where}bits {v!r} must be a positive integer")
        bits.append(Level("bits", v))
    return sparsity, patterns, bits


def _model_specs(data: Mapping[str, Any], default_model: str) -> tuple[ModelSpec, ...]:
    if "model" in data and "models" in data:
        raise SpecError("sweep spec: give either model or models, not both")
    raw = _as_list(data.get("models"), "models") if "models" in data else [data.get("model", default_model)]
    if not raw:
        raise SpecError("sweep spec: models is empty")
    out = []
    for item in raw:
        fields: dict[str, Any] = {"name": item} if isinstance(item, str) else dict(item)
        for key in ("dtype", "device", "revision", "trust_remote_code"):
            if key in data:
                fields.setdefault(key, data[key])
        try:
            out.append(ModelSpec(**fields))
        except TypeError as e:
            raise SpecError(f"sweep spec: model {item!r}: {e}") from None
    names = [m.name for m in out]
    if len(set(names)) != len(names):
        raise SpecError(f"sweep spec: a model is listed twice: {', '.join(names)}")
    return tuple(out)


def method_cells(
    model: str,
    method: str,
    *,
    is_quantizer: bool,
    levels: tuple[list[Level], list[Level], list[Level]],
    params: Mapping[str, Scalar],
) -> list[Cell]:
    """Cells of one method: bit widths for a quantizer, sparsities and N:M patterns otherwise;
    one cell with the method's own defaults when it has no level."""
    sparsity, patterns, bits = levels
    chosen = bits if is_quantizer else sparsity + patterns
    fixed = tuple(sorted(params.items()))
    if not chosen:
        return [Cell(model, method, None, fixed, method)]
    cells = []
    for lv in chosen:
        merged = {**dict(params), lv.param: lv.value}
        cells.append(Cell(model, method, lv, tuple(sorted(merged.items())), f"{method}-{lv.slug}"))
    return cells


def explicit_cell(model: str, raw: Mapping[str, Any], base_params: Mapping[str, Any]) -> Cell:
    """A `[[cells]]` entry: method, at most one of sparsity/pattern/bits, params, optional name."""
    unknown = set(raw) - {"method", "sparsity", "pattern", "bits", "params", "name", "model"}
    if unknown:
        raise SpecError(f"sweep spec: [[cells]] unknown key(s) {', '.join(sorted(unknown))}")
    method = raw.get("method")
    if not isinstance(method, str) or not method:
        raise SpecError(f"sweep spec: [[cells]] entry {dict(raw)!r} has no method")
    given = [k for k in ("sparsity", "pattern", "bits") if k in raw]
    if len(given) > 1:
        raise SpecError(f"sweep spec: [[cells]] {method}: give one of sparsity, pattern, bits")
    level = None
    if given:
        key = given[0]
        plural = {"sparsity": "sparsity", "pattern": "patterns", "bits": "bits"}[key]
        sp, pt, bt = parse_levels({plural: [raw[key]]}, f"[[cells]] {method}: ")
        level = (sp + pt + bt)[0]
    params = {**dict(base_params.get(method, {})), **dict(raw.get("params", {}))}
    if level is not None:
        params[level.param] = level.value
    name = raw.get("name") or (f"{method}-{level.slug}" if level else method)
    if not re.fullmatch(r"[A-Za-z0-9._-]+", str(name)):
        raise SpecError(f"sweep spec: cell name {name!r}: use letters, digits, '.', '_', '-'")
    return Cell(model, method, level, tuple(sorted(params.items())), str(name))


def parse_sweep_spec(data: Mapping[str, Any], *, default_model: str = "smollm2-135m") -> SweepSpec:
    """Validate a sweep mapping (a parsed TOML file) and expand it into cells. Pure."""
    unknown = set(data) - _SWEEP_KEYS
    if unknown:
        raise SpecError(
            f"sweep spec: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_SWEEP_KEYS))}"
        )
    models = _model_specs(data, default_model)
    methods = [str(m) for m in _as_list(data.get("methods"), "methods")]
    quantizers = set(_as_list(data.get("quantizers"), "quantizers")) or set(DEFAULT_QUANTIZERS)
    params: Mapping[str, Any] = data.get("params", {})
    per_method_levels: Mapping[str, Any] = data.get("levels", {})
    for table, key in ((params, "params"), (per_method_levels, "levels")):
        if not isinstance(table, Mapping) or any(not isinstance(v, Mapping) for v in table.values()):
            raise SpecError(f"sweep spec: {key} must be tables [{key}.<method>]")
    top_levels = parse_levels(data, "")
    raw_cells = _as_list(data.get("cells"), "cells")

    cells: list[Cell] = []
    for model in models:
        for method in methods:
            lv = per_method_levels.get(method)
            levels = parse_levels(lv, f"levels.{method}.") if lv is not None else top_levels
            cells += method_cells(
                model.name,
                method,
                is_quantizer=method in quantizers,
                levels=levels,
                params=dict(params.get(method, {})),
            )
        for raw in raw_cells:
            if not isinstance(raw, Mapping):
                raise SpecError("sweep spec: cells must be [[cells]] tables")
            if raw.get("model", model.name) == model.name:
                cells.append(explicit_cell(model.name, raw, params))
    ids = [c.id for c in cells]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise SpecError(
            f"sweep spec: cell(s) {', '.join(dupes)} appear twice; give [[cells]] a distinct name"
        )

    tasks = [str(t) for t in _as_list(data.get("tasks"), "tasks")]
    if not tasks:
        raise SpecError("sweep spec: no tasks")
    if len(set(tasks)) != len(tasks):
        raise SpecError(f"sweep spec: a task is listed twice: {', '.join(tasks)}")
    tparams: Mapping[str, Any] = data.get("task_params", {})
    stray = set(tparams) - set(tasks)
    if stray:
        raise SpecError(f"sweep spec: task_params for task(s) not in tasks: {', '.join(sorted(stray))}")
    judge = data.get("judge")
    limit = data.get("limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise SpecError(f"sweep spec: limit must be a positive integer, got {limit!r}")
    batch_size = data.get("batch_size", 8)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SpecError(f"sweep spec: batch_size must be a positive integer, got {batch_size!r}")
    rel_tol = float(data.get("rel_tol", 0.05))
    abs_tol = data.get("abs_tol")
    if rel_tol < 0 or (abs_tol is not None and float(abs_tol) < 0):
        raise SpecError("sweep spec: tolerances must be >= 0")
    copy_mode = data.get("copy", "auto")
    if copy_mode not in ("auto", "copy", "reload"):
        raise SpecError(f"sweep spec: copy must be auto, copy or reload, got {copy_mode!r}")
    return SweepSpec(
        models=models,
        cells=tuple(cells),
        tasks=tuple(ComponentSpec(t, dict(tparams.get(t, {}))) for t in tasks),
        judge=ComponentSpec(str(judge), dict(data.get("judge_params", {}))) if judge else None,
        batch_size=batch_size,
        limit=limit,
        seed=int(data.get("seed", 0)),
        rel_tol=rel_tol,
        abs_tol=float(abs_tol) if abs_tol is not None else None,
        copy_mode=copy_mode,
    )


def dense_run_spec(sweep: SweepSpec, model: ModelSpec) -> RunSpec:
    return RunSpec(
        model=model,
        tasks=sweep.tasks,
        compression=None,
        judge=sweep.judge,
        include_dense=True,
        batch_size=sweep.batch_size,
        limit=sweep.limit,
        seed=sweep.seed,
    )


def cell_run_spec(sweep: SweepSpec, model: ModelSpec, cell: Cell) -> RunSpec:
    return replace(
        dense_run_spec(sweep, model),
        compression=ComponentSpec(cell.method, dict(cell.params)),
        include_dense=False,
    )


# ---- state on disk --------------------------------------------------------------------------
CellState = Literal["absent", "partial", "finished", "changed"]


def cell_state(path: Path, spec: RunSpec) -> CellState:
    """Where a cell's run directory stands relative to the spec the sweep would write now."""
    if not (path / SPEC).exists():
        return "absent" if not (path / RECORDS).exists() else "changed"
    if read_json(path / SPEC).get("spec") != spec.to_dict():
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
        return (
            f"{self.cell.method} @ {self.cell.level.label if self.cell.level else 'default'}"
            if self.cell
            else "dense"
        )


def plan(sweep: SweepSpec, out: Path) -> list[PlannedCell]:
    """Every run directory of the sweep, dense first for each model. Pure (no I/O)."""
    planned: list[PlannedCell] = []
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
    if out.exists() and any(out.iterdir()):
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


# ---- progress and timing ----------------------------------------------------------------------
class SweepProgress(Progress):
    """Runner progress plus sweep-level events. The default is silent."""

    def cell_done(self, planned: PlannedCell, summary: Mapping[str, Any]) -> None: ...


@dataclass
class Timings:
    """Seconds spent per activity; `overhead` is what the sweep machinery itself costs."""

    load: float = 0.0
    copy: float = 0.0
    compress: float = 0.0
    model_calls: float = 0.0
    total: float = 0.0

    @property
    def overhead(self) -> float:
        return max(0.0, self.total - self.load - self.copy - self.compress - self.model_calls)

    def as_dict(self) -> dict[str, float]:
        return {
            "load": self.load,
            "copy": self.copy,
            "compress": self.compress,
            "model_calls": self.model_calls,
            "overhead": self.overhead,
            "total": self.total,
        }


_MODEL_CALLS = ("generate", "choice_logprobs", "loglikelihood", "token_nll")


class TimedModel:
    """Forwards everything to the model and adds the time spent in its forward-pass methods."""

    def __init__(self, model: Any, timings: Timings) -> None:
        self._model = model
        self._timings = timings

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._model, name)
        if name not in _MODEL_CALLS or not callable(attr):
            return attr

        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._timings.model_calls += time.perf_counter() - t0

        return timed


@contextmanager
def _timed(timings: Timings, attr: str) -> Iterator[None]:
    t0 = time.perf_counter()
    try:
        yield
    finally:
        setattr(timings, attr, getattr(timings, attr) + time.perf_counter() - t0)


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


# ---- fresh copies of the dense model ------------------------------------------------------------
def _param_bytes(model: Any) -> int | None:
    module = getattr(model, "module", None)
    if module is None or not hasattr(module, "parameters"):
        return None
    return int(sum(p.numel() * p.element_size() for p in module.parameters()))


def _available_bytes() -> int | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def copy_fits(model_bytes: int | None, available: int | None) -> bool:
    """A second copy fits when it takes less than half the memory still available."""
    return model_bytes is None or available is None or 2 * model_bytes < available


class FreshModels:
    """Fresh copies of the dense model, one per cell: `copy` deep-copies the loaded model,
    `reload` loads it again. `auto` measures both on the first two cells and keeps the faster
    (a deep copy needs the memory for a second model; reloading a cached safetensors file is
    often as fast, e.g. SmolLM2-135M on 2 CPU cores: reload 0.4-0.8 s, deep copy 0.9-3.3 s)."""

    def __init__(self, base: Any, reload: Callable[[], Any], mode: CopyMode, *, fits: bool) -> None:
        self._base, self._reload = base, reload
        self.mode: CopyMode = "reload" if mode == "auto" and not fits else mode
        self.seconds: dict[str, float] = {}

    def take(self) -> Any:
        how: str = self.mode
        if how == "auto":
            untried = [h for h in ("copy", "reload") if h not in self.seconds]
            how = untried[0] if untried else min(self.seconds, key=self.seconds.__getitem__)
        t0 = time.perf_counter()
        model = copy.deepcopy(self._base) if how == "copy" else self._reload()
        self.seconds.setdefault(how, time.perf_counter() - t0)
        return model


# ---- executor ---------------------------------------------------------------------------------
@dataclass
class SweepResult:
    cells: list[dict[str, Any]] = field(default_factory=list)
    timings: Timings = field(default_factory=Timings)


def run_sweep(
    sweep: SweepSpec,
    out: Path,
    *,
    mode: SweepMode = "new",
    plugins: PluginSet | None = None,
    progress: SweepProgress | None = None,
    model_loader: Callable[[RunSpec, PluginSet], Any] = load_model,
) -> SweepResult:
    """Run every cell not yet finished; safe to interrupt at any point and run again."""
    plugins = plugins or load_plugins()
    progress = progress or SweepProgress()
    planned = plan(sweep, out)
    # every component is built before anything is loaded: a bad name fails in a second
    for p in planned:
        build_components(p.spec, plugins)
    states = prepare_sweep_dir(out, sweep, planned, mode)
    result = SweepResult()
    _write_index(out, planned, result)
    t_start = time.perf_counter()
    progress.start("sweep", "cells", len(planned))
    with _sweep_log(out) as log:
        log.info(
            "sweep start: %d cells, %d finished, mode=%s",
            len(planned),
            sum(s == "finished" for s in states.values()),
            mode,
        )
        try:
            for model in sweep.models:
                cells = [p for p in planned if p.model == model]
                _run_model(sweep, cells, states, out, plugins, progress, model_loader, result, log)
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
    out: Path,
    plugins: PluginSet,
    progress: SweepProgress,
    model_loader: Callable[[RunSpec, PluginSet], Any],
    result: SweepResult,
    log: logging.Logger,
) -> None:
    dense, compressed = cells[0], cells[1:]
    todo = [p for p in cells if states[p.id] != "finished"]
    for p in cells:
        if states[p.id] == "finished":
            result.cells.append(_cell_entry(p, "finished", None))
            progress.advance("sweep", 1)
            progress.cell_done(p.id, read_json(p.path / SUMMARY))
    if not todo:
        return
    timings = result.timings
    comps = build_components(dense.spec, plugins)
    progress.stage(f"loading model {dense.model.name}")
    with _timed(timings, "load"):
        _seed_everything(sweep.seed)
        base = model_loader(dense.spec, plugins)
    fresh = FreshModels(
        base, lambda: model_loader(dense.spec, plugins), sweep.copy_mode,
        fits=copy_fits(_param_bytes(base), _available_bytes()),
    )  # fmt: skip
    log.info("model %s loaded; fresh copies per cell: %s", dense.model.name, fresh.mode)

    dense_store = RecordStore(dense.path / RECORDS)
    if states[dense.id] != "finished":
        dense_store = _prepare_cell(dense)
        summary = _evaluate_cell(
            sweep,
            dense,
            comps,
            TimedModel(base, timings),
            dense_store,
            None,
            None,
            progress,
            plugins,
            base.info(),
            log,
        )
        result.cells.append(_cell_entry(dense, "done", summary))
        progress.advance("sweep", 1)
    dense_summary = read_json(dense.path / SUMMARY)

    for p in compressed:
        if states[p.id] == "finished":
            continue
        assert p.cell is not None
        store = _prepare_cell(p)
        stats = (
            read_json(p.path / COMPRESSION)
            if _all_done(store, comps, COMPRESSED) and (p.path / COMPRESSION).exists()
            else None
        )
        model = None
        if stats is None:
            with _timed(timings, "copy"):
                model = fresh.take()
            progress.stage(f"compressing {p.id}")
            compressor = plugins.registry.create("compressor", p.cell.method, **dict(p.cell.params))
            _seed_everything(sweep.seed)
            t0 = time.perf_counter()
            with _timed(timings, "compress"):
                stats = dict(compressor.compress(model))
            stats.setdefault("seconds", time.perf_counter() - t0)
            stats = {"method": p.cell.method, **stats}
            write_json_atomic(p.path / COMPRESSION, stats)
            log.info("%s compressed in %.2fs", p.id, stats["seconds"])
        summary = _evaluate_cell(
            sweep,
            p,
            comps,
            TimedModel(model, timings) if model is not None else None,
            store,
            dense_store,
            dense_summary,
            progress,
            plugins,
            base.info(),
            log,
            compression=stats,
        )
        result.cells.append(_cell_entry(p, "done", summary))
        progress.advance("sweep", 1)
        del model
    if fresh.seconds:
        log.info("model %s: seconds per fresh copy: %s", dense.model.name, fresh.seconds)


def _prepare_cell(p: PlannedCell) -> RecordStore:
    p.path.mkdir(parents=True, exist_ok=True)
    if not (p.path / SPEC).exists():
        write_json_atomic(p.path / SPEC, {"kick_version": kick.__version__, "spec": p.spec.to_dict()})
    return RecordStore(p.path / RECORDS)


def _all_done(store: RecordStore, comps: Any, variant: str) -> bool:
    return all(store.done_ids(variant, t.name) >= {s.id for s in t.samples()} for t in comps.tasks)


class _WithDense:
    """A cell's store whose dense look-ups (judge references) go to the dense cell's store. For
    the dense cell itself there is no dense reference (`dense=None`): as `judge_task` documents,
    the dense answers are the reference and are not judged against themselves."""

    def __init__(self, store: RecordStore, dense: RecordStore | None) -> None:
        self._store, self._dense = store, dense

    def get(self, variant: str, task: str, sample_id: str) -> Record | None:
        if variant == DENSE:
            return self._dense.get(variant, task, sample_id) if self._dense is not None else None
        return self._store.get(variant, task, sample_id)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


def _evaluate_cell(
    sweep: SweepSpec,
    p: PlannedCell,
    comps: Any,
    model: Any,
    store: RecordStore,
    dense_store: RecordStore | None,
    dense_summary: Mapping[str, Any] | None,
    progress: SweepProgress,
    plugins: PluginSet,
    model_info: Mapping[str, Any],
    log: logging.Logger,
    compression: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    variant = DENSE if p.cell is None else COMPRESSED
    log.info("%s: evaluating", p.id)
    t0 = time.perf_counter()
    for task in comps.tasks:
        key_prefix = f"{p.id}"
        if model is None:  # every sample already done (resumed after the last chunk)
            continue
        evaluate_task(
            task, model, variant, store, batch_size=sweep.batch_size, progress=_Prefixed(progress, key_prefix)
        )
    if comps.judge is not None:
        judged_store: Any = _WithDense(store, dense_store)
        for task in comps.tasks:
            if task.judge_kind:
                judge_task(comps.judge, task, [variant], judged_store, _Prefixed(progress, p.id))
        store.compact()
    summary = build_summary(
        p.spec,
        comps,
        store,
        [variant],
        model_info,
        compression,
        plugins,
        rel_tol=sweep.rel_tol,
        abs_tol=sweep.abs_tol,
    )
    for task in comps.tasks:
        summary["tasks"][task.name]["lower_is_better"] = list(getattr(task, "lower_is_better", ()))
    if dense_summary is not None:
        summary = attach_dense(summary, dense_summary, comps.tasks, sweep.rel_tol, sweep.abs_tol)
    summary["cell"] = cell_info(p)
    summary["seconds"] = time.perf_counter() - t0
    write_json_atomic(p.path / SUMMARY, summary)
    log.info("%s: finished in %.2fs", p.id, summary["seconds"])
    for name, entry in summary["tasks"].items():
        m = entry["metrics"][variant]
        primary = entry.get("primary_metric")
        log.info(
            "%s: %s %s=%s n=%s errors=%s", p.id, name, primary, m.get(primary), m.get("n"), m.get("errors")
        )
    progress.cell_done(p.id, summary)
    return summary


def attach_dense(
    summary: Mapping[str, Any],
    dense_summary: Mapping[str, Any],
    tasks: Sequence[Any],
    rel_tol: float,
    abs_tol: float | None,
) -> dict[str, Any]:
    """Make a compressed cell's summary self-contained: dense metrics (from the dense cell of the
    same model) next to the compressed ones, and the comparison. Pure."""
    out = dict(summary)
    out["variants"] = [DENSE, COMPRESSED]
    lower = {t.name: tuple(getattr(t, "lower_is_better", ())) for t in tasks}
    new_tasks = {}
    for name, entry in summary["tasks"].items():
        dense_metrics = dense_summary["tasks"][name]["metrics"][DENSE]
        metrics = {DENSE: dense_metrics, **entry["metrics"]}
        new_tasks[name] = {
            **entry,
            "metrics": metrics,
            "comparison": compare(
                dense_metrics,
                metrics[COMPRESSED],
                rel_tol=rel_tol,
                abs_tol=abs_tol,
                lower_is_better=lower.get(name, ()),
            ),
            "lower_is_better": list(lower.get(name, ())),
        }
    out["tasks"] = new_tasks
    return out


def cell_info(p: PlannedCell) -> dict[str, Any]:
    level = p.cell.level if p.cell else None
    return {
        "id": p.id,
        "model": p.model.name,
        "method": p.cell.method if p.cell else None,
        "level": level.to_dict() if level else None,
    }


class _Prefixed(Progress):
    """Gives sample-level progress keys the cell's id, so bars of different cells never collide."""

    def __init__(self, inner: Progress, prefix: str) -> None:
        self._inner, self._prefix = inner, prefix

    def stage(self, text: str) -> None:
        self._inner.stage(text)

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
    write_json_atomic(
        out / INDEX,
        {
            "cells": [
                {**cell_info(p), "path": str(p.path.relative_to(out)), "finished": p.id in finished}
                for p in planned
            ],
            "last_timings": result.timings.as_dict(),
        },
    )
