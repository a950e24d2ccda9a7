"""Sweep specs: a TOML-shaped mapping -> `SweepSpec` (frozen) -> `Cell`s (frozen) -> one
`RunSpec` per cell, so every cell is described exactly like a `kick run`. Pure: no I/O.

What a method sweeps over is what its compressor declared at registration (`levels=`): a
pruner's sparsities and N:M patterns, a quantizer's bit widths. With `seeds = [...]`, every cell
of a compressor registered `seeded=True` (it draws a calibration sample with its `seed`
parameter) is run once per seed; the dense model and unseeded methods run once."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from kick.errors import SpecError
from kick.metrics import VerdictRule
from kick.model_args import fold_model_args
from kick.plugins import DEFAULT_MODEL, PluginSet
from kick.reference import split_references
from kick.selection import choose
from kick.spec import MODEL_TYPES, check_types
from kick.types import ComponentSpec, Level, ModelSpec, RunSpec, Scalar, parse_pattern

CopyMode = Literal["auto", "copy", "reload"]


@dataclass(frozen=True)
class Cell:
    """One compressed configuration of one model: method, level, and the params it gets."""

    model: str
    method: str
    level: Level | None
    params: tuple[tuple[str, Scalar], ...]
    name: str
    seed: int | None = None
    """The calibration seed (the compressor's `seed` param) when the sweep varies it, else None."""

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
    limit: int | float | None = None
    first: int | None = None
    seed: int = 0
    seeds: tuple[int, ...] | None = None
    """Calibration seeds: each cell of a seeded compressor runs once per seed (None: not varied)."""
    rel_tol: float = 0.05
    abs_tol: float | None = None
    copy_mode: CopyMode = "auto"
    verdict: VerdictRule = "interval"
    resamples: int = 2000

    def to_dict(self) -> dict[str, Any]:
        from kick.types import to_jsonable

        return to_jsonable(self)  # type: ignore[no-any-return]


SWEEP_TYPES = {
    "verdict": "text", "resamples": "an integer", "model": "a name or a table",
    "models": "a list of names or tables", "dtype": "text", "device": "text", "revision": "text",
    "trust_remote_code": "true or false", "allow_pickle": "true or false", "methods": "a name or a list of names", "params": "a table of tables",
    "levels": "a table of tables", "cells": "a list of tables", "tasks": "a name or a list of names",
    "task_params": "a table of tables", "judge": "text", "judge_params": "a table", "limit": "a number", "first": "an integer",
    "batch_size": "an integer", "seed": "an integer", "rel_tol": "a number", "abs_tol": "a number", "copy": "text",
    "model_args": "a table",
}  # fmt: skip
_SWEEP_KEYS = {*SWEEP_TYPES, "sparsity", "patterns", "bits", "seeds"}


def model_slug(name: str) -> str:
    """A folder name for a model id or path ('org/name' -> 'org__name', '../m' -> '_.__m'):
    never '.', '..' or hidden, so every cell stays inside the sweep directory."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name.strip("/").replace("/", "__")) or "model"
    return "_" + slug[1:] if slug.startswith(".") else slug


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


def parse_seeds(value: Any) -> tuple[int, ...] | None:
    """The sweep's calibration seeds: None when not given, else a non-empty list of distinct integers."""
    if value is None:
        return None
    if not isinstance(value, (list, tuple)):
        raise SpecError(f"sweep spec: seeds must be a list of integers such as [0, 1, 2], got {value!r}")
    bad = [v for v in value if isinstance(v, bool) or not isinstance(v, int)]
    dupes = sorted({v for v in value if v not in bad and list(value).count(v) > 1})
    why = ""
    if not value:
        why = "is empty"
    elif bad:
        why = f"has non-integers {bad!r}"
    elif dupes:
        why = f"repeats {dupes!r}"
    if why:
        raise SpecError(f"sweep spec: seeds {list(value)!r} {why}; give distinct integers such as [0, 1, 2]")
    return tuple(value)


def with_seeds(cells: Sequence[Cell], seeds: Sequence[int] | None, *, seeded: bool) -> list[Cell]:
    """A seeded method's cells once per seed, each with the compressor param `seed=<s>` and the
    name `<cell>-seed<s>`; the cells unchanged when no seeds are given or the method is unseeded."""
    if seeds is None or not seeded:
        return list(cells)
    out = []
    for cell in cells:
        if any(k == "seed" for k, _ in cell.params):
            raise SpecError(
                f"sweep spec: {cell.method} sets its seed param and the sweep gives seeds; give one of them"
            )
        for s in seeds:
            params = tuple(sorted((*cell.params, ("seed", s))))
            out.append(replace(cell, params=params, name=f"{cell.name}-seed{s}", seed=s))
    return out


def _model_specs(data: Mapping[str, Any], default_model: str) -> tuple[ModelSpec, ...]:
    if "model" in data and "models" in data:
        raise SpecError("sweep spec: give either model or models, not both")
    raw = _as_list(data.get("models"), "models") if "models" in data else [data.get("model", default_model)]
    if not raw:
        raise SpecError("sweep spec: models is empty")
    out = []
    for item in raw:
        fields: dict[str, Any] = {"name": item} if isinstance(item, str) else dict(item)
        for key in ("dtype", "device", "revision", "trust_remote_code", "allow_pickle"):
            if key in data:
                fields.setdefault(key, data[key])
        check_types(fields, MODEL_TYPES, f"sweep spec: model {item!r}")
        fields["args"] = {**dict(data.get("model_args") or {}), **dict(fields.get("args") or {})}
        fields = fold_model_args(fields, f"sweep spec: model {item!r}: model_args")
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
    declared: Sequence[str],
    levels: tuple[list[Level], list[Level], list[Level]],
    params: Mapping[str, Scalar],
) -> list[Cell]:
    """Cells of one method: the levels of the kinds the compressor declared at registration
    (`declared`: sparsity, pattern, bits), in that order; one cell with the method's own
    defaults when none of its kinds has a level."""
    by_kind = dict(zip(("sparsity", "pattern", "bits"), levels, strict=True))
    chosen = [lv for kind in ("sparsity", "pattern", "bits") if kind in declared for lv in by_kind[kind]]
    fixed = tuple(sorted(params.items()))
    if not chosen:
        return [Cell(model, method, None, fixed, method)]
    cells = []
    for lv in chosen:
        merged: dict[str, Any] = {**dict(params), lv.param: lv.value}
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
    if not re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", str(name)):
        raise SpecError(
            f"sweep spec: cell name {name!r}: use letters, digits, '.', '_', '-' (not first: '.')"
        )
    return Cell(model, method, level, tuple(sorted(params.items())), str(name))


def parse_sweep_spec(
    data: Mapping[str, Any],
    *,
    levels_of: Callable[[str], Sequence[str]],
    seeded_of: Callable[[str], bool] | None = None,
    default_model: str = DEFAULT_MODEL,
) -> SweepSpec:
    """Validate a sweep mapping (a parsed TOML file) and expand it into cells. Pure.

    `levels_of(method)` is what the compressor declared it sweeps over (`Entry.levels`); it
    raises for an unknown method (`levels_from(plugins)` builds it from the registry).
    `seeded_of(method)` is whether it was registered `seeded` (`seeded_from(plugins)`); a spec
    with `seeds` needs it, one without never calls it."""
    unknown = set(data) - _SWEEP_KEYS
    if unknown:
        raise SpecError(
            f"sweep spec: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(_SWEEP_KEYS))}"
        )
    check_types(data, SWEEP_TYPES, "sweep spec")
    data, checkpoints = split_references(data)  # { model = CKPT, reference = DENSE } entries
    models = _model_specs(data, default_model)
    methods = [str(m) for m in _as_list(data.get("methods"), "methods")]
    params: Mapping[str, Any] = data.get("params", {})
    per_method_levels: Mapping[str, Any] = data.get("levels", {})
    for table, key in ((params, "params"), (per_method_levels, "levels")):
        if not isinstance(table, Mapping) or any(not isinstance(v, Mapping) for v in table.values()):
            raise SpecError(f"sweep spec: {key} must be tables [{key}.<method>]")
    top_levels = parse_levels(data, "")
    raw_cells = _as_list(data.get("cells"), "cells")
    seeds = parse_seeds(data.get("seeds"))
    if seeds is not None and seeded_of is None:
        raise TypeError("parse_sweep_spec: a spec with seeds needs seeded_of (e.g. seeded_from(plugins))")

    def seeded(method: str) -> bool:
        return seeded_of is not None and seeds is not None and bool(seeded_of(method))

    cells: list[Cell] = []
    for model in models:
        for method in methods:
            lv = per_method_levels.get(method)
            levels = parse_levels(lv, f"levels.{method}.") if lv is not None else top_levels
            own = method_cells(
                model.name,
                method,
                declared=levels_of(method),
                levels=levels,
                params=dict(params.get(method, {})),
            )
            cells += with_seeds(own, seeds, seeded=seeded(method))
        for raw in raw_cells:
            if not isinstance(raw, Mapping):
                raise SpecError("sweep spec: cells must be [[cells]] tables")
            if raw.get("model", model.name) == model.name:
                cell = explicit_cell(model.name, raw, params)
                cells += with_seeds([cell], seeds, seeded=seeded(cell.method))
        cells += [Cell(model.name, m, None, p, name) for m, p, name in checkpoints.get(model.name, ())]
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
    limit, first = choose(None, None, data, "sweep spec")
    batch_size = data.get("batch_size", 8)
    if not isinstance(batch_size, int) or batch_size < 1:
        raise SpecError(f"sweep spec: batch_size must be a positive integer, got {batch_size!r}")
    rel_tol = float(data.get("rel_tol", 0.05))
    abs_tol = data.get("abs_tol")
    if rel_tol < 0 or (abs_tol is not None and float(abs_tol) < 0):
        raise SpecError("sweep spec: tolerances must be >= 0")
    verdict = data.get("verdict", "interval")
    if verdict not in ("interval", "point"):
        raise SpecError(f"sweep spec: verdict must be interval or point, got {verdict!r}")
    resamples = data.get("resamples", 2000)
    if isinstance(resamples, bool) or not isinstance(resamples, int) or resamples < 100:
        raise SpecError(f"sweep spec: resamples must be an integer of at least 100, got {resamples!r}")
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
        first=first,
        seed=int(data.get("seed", 0)),
        seeds=seeds,
        rel_tol=rel_tol,
        abs_tol=float(abs_tol) if abs_tol is not None else None,
        copy_mode=copy_mode,
        verdict=verdict,
        resamples=resamples,
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
        first=sweep.first,
    )


def cell_run_spec(sweep: SweepSpec, model: ModelSpec, cell: Cell) -> RunSpec:
    return replace(
        dense_run_spec(sweep, model),
        compression=ComponentSpec(cell.method, dict(cell.params)),
        include_dense=False,
    )


def levels_from(plugins: PluginSet) -> Callable[[str], Sequence[str]]:
    """`levels_of` for `parse_sweep_spec`: each compressor's declared levels (an unknown
    method is one clear error, with "did you mean")."""
    return lambda method: plugins.registry.get("compressor", method).levels


def seeded_from(plugins: PluginSet) -> Callable[[str], bool]:
    """`seeded_of` for `parse_sweep_spec`: whether each compressor was registered `seeded`."""
    return lambda method: plugins.registry.get("compressor", method).seeded
