"""Run specs from their two sources, merged once at the edge: a TOML file and command-line
options (options win). The result is a validated, frozen `RunSpec`."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import tomllib

from kick.errors import SpecError
from kick.model_args import fold_model_args, parse_model_args
from kick.params import parse_assignments, parse_task_assignments
from kick.plugins import DEFAULT_MODEL
from kick.rundir import StartMode
from kick.selection import choose
from kick.types import ComponentSpec, ModelSpec, RunSpec, Scalar


def load_spec_file(path: Path | None) -> dict[str, Any]:
    if path is None:
        return {}
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise SpecError(f"spec file {path} does not exist") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SpecError(f"spec file {path}: {e}") from None
    except OSError as e:
        raise SpecError(f"spec file {path}: cannot read it: {e.strerror or e}") from None


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_table(v: Any) -> bool:
    return isinstance(v, Mapping)


KINDS: dict[str, Callable[[Any], bool]] = {
    "text": lambda v: isinstance(v, str),
    "an integer": _is_int,
    "true or false": lambda v: isinstance(v, bool),
    "a number": lambda v: _is_int(v) or isinstance(v, float),
    "a table": _is_table,
    "a table of tables": lambda v: _is_table(v) and all(_is_table(x) for x in v.values()),
    "a list of names": lambda v: isinstance(v, list) and all(isinstance(x, str) for x in v),
    "a name or a list of names": lambda v: isinstance(v, str) or KINDS["a list of names"](v),
    "a name or a table": lambda v: isinstance(v, str) or _is_table(v),
    "a list of names or tables": lambda v: (
        isinstance(v, list) and all(isinstance(x, (str, Mapping)) for x in v)
    ),
    "a list of tables": lambda v: isinstance(v, list) and all(_is_table(x) for x in v),
}
"""What a spec value may be, by the words an error message uses for it."""


def check_types(data: Mapping[str, Any], kinds: Mapping[str, str], where: str) -> None:
    """One SpecError for the first value of `data` that is not of its kind (`KINDS`), so a
    wrong type in a TOML spec is one line, never a traceback later."""
    for key, kind in kinds.items():
        if key in data and not KINDS[kind](data[key]):
            shown = repr(data[key])
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            raise SpecError(f"{where}: {key} must be {kind}, got {shown}")


RUN_TYPES = {
    "model": "a name or a table", "method": "text", "params": "a table", "tasks": "a list of names",
    "task_params": "a table of tables", "judge": "text", "judge_params": "a table", "limit": "a number",
    "first": "an integer", "batch_size": "an integer", "seed": "an integer", "dtype": "text", "device": "text", "revision": "text",
    "trust_remote_code": "true or false", "allow_pickle": "true or false", "model_args": "a table",
}  # fmt: skip
MODEL_TYPES = {
    "name": "text", "dtype": "text", "device": "text", "revision": "text", "trust_remote_code": "true or false",
    "allow_pickle": "true or false", "args": "a table",
}  # fmt: skip


RUN_KEYS = {
    "model",
    "method",
    "params",
    "tasks",
    "task_params",
    "judge",
    "judge_params",
    "limit",
    "first",
    "batch_size",
    "seed",
    "dtype",
    "device",
    "revision",
    "trust_remote_code",
    "allow_pickle",
    "model_args",
}


def build_run_spec(
    *,
    file: Mapping[str, Any],
    model: str | None = None,
    method: str | None = None,
    params: Sequence[str] = (),
    tasks: Sequence[str] = (),
    task_params: Sequence[str] = (),
    judge: str | None = None,
    judge_params: Sequence[str] = (),
    limit: str | int | float | None = None,
    first: int | None = None,
    batch_size: int | None = None,
    seed: int | None = None,
    dtype: str | None = None,
    device: str | None = None,
    revision: str | None = None,
    trust_remote_code: bool = False,
    allow_pickle: bool = False,
    model_args: Sequence[str] = (),
    include_dense: bool = True,
) -> RunSpec:
    """Merge a spec file with command-line options (options win) into one validated RunSpec.
    Options left at their default (None, empty) take the file's value, then kick's default."""
    unknown = set(file) - RUN_KEYS
    if unknown:
        raise SpecError(
            f"spec file: unknown key(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(RUN_KEYS))}"
        )
    check_types(file, RUN_TYPES, "spec file")
    model_cfg = file.get("model", DEFAULT_MODEL)
    model_fields: dict[str, Any] = {"name": model_cfg} if isinstance(model_cfg, str) else dict(model_cfg)
    if model:
        model_fields["name"] = model
    for key, val in (("dtype", dtype), ("device", device), ("revision", revision)):
        if val is not None:
            model_fields[key] = val
        elif key in file:
            model_fields[key] = file[key]
    if trust_remote_code or file.get("trust_remote_code"):
        model_fields["trust_remote_code"] = True
    if allow_pickle or file.get("allow_pickle"):
        model_fields["allow_pickle"] = True
    check_types(model_fields, MODEL_TYPES, "spec file: model")
    given = {**dict(model_fields.get("args") or {}), **dict(file.get("model_args") or {})}
    model_fields["args"] = {**given, **parse_model_args(model_args)}  # options win, key by key
    model_fields = fold_model_args(model_fields)
    try:
        model_spec = ModelSpec(**model_fields)
    except TypeError as e:
        raise SpecError(f"spec file: model: {e}") from None

    method_params: dict[str, Scalar] = dict(file.get("params", {}))
    method_params.update(parse_assignments(params))
    method_name = method or file.get("method")
    if method_params and not method_name:
        raise SpecError("--param given without --method")

    task_names = list(tasks) or list(file.get("tasks", []))
    tparams: dict[str, dict[str, Scalar]] = {k: dict(v) for k, v in file.get("task_params", {}).items()}
    for name, kv in parse_task_assignments(task_params).items():
        tparams.setdefault(name, {}).update(kv)
    stray = set(tparams) - set(task_names)
    if stray:
        raise SpecError(f"--task-param for task(s) not being run: {', '.join(sorted(stray))}")

    jparams: dict[str, Scalar] = dict(file.get("judge_params", {}))
    jparams.update(parse_assignments(judge_params, what="--judge-param"))
    judge_name = judge or file.get("judge")

    bs = batch_size if batch_size is not None else int(file.get("batch_size", 8))
    if bs < 1:
        raise SpecError(f"--batch-size must be at least 1, got {bs}")
    lim, first_n = choose(limit, first, file)  # a count or a fraction; or the first N items
    return RunSpec(
        model=model_spec,
        tasks=tuple(ComponentSpec(n, tparams.get(n, {})) for n in task_names),
        compression=ComponentSpec(method_name, method_params) if method_name else None,
        judge=ComponentSpec(judge_name, jparams) if judge_name else None,
        include_dense=include_dense,
        batch_size=bs,
        limit=lim,
        seed=seed if seed is not None else int(file.get("seed", 0)),
        first=first_n,
    )


def mode_of(resume: bool, overwrite: bool) -> StartMode:
    """The run-directory mode the --resume / --overwrite flags ask for."""
    if resume and overwrite:
        raise SpecError("--resume and --overwrite exclude each other")
    return "resume" if resume else "overwrite" if overwrite else "new"
