"""Phase 1 of `kick.runner.run`: everything a spec names is built and checked before any model
is loaded or any file written, so a bad name, parameter or data file fails in a second with one
message. What can only be checked against the model (an N:M pattern or group size against the
layers' widths) is checked right after the model loads, before any evaluation (`check_model`)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kick.errors import DataError, KickError, SpecError, plugin_errors
from kick.interfaces import Compressor, Judge, Task, optional_member
from kick.judging import check_references, judge_for_task
from kick.plugins import PluginSet
from kick.selection import first_params, select_samples
from kick.types import RunSpec, Sample


@dataclass
class Components:
    """What a spec names, built and validated: tasks with their samples, compressor, judge."""

    tasks: list[Task]
    samples: dict[str, list[Sample]]
    compressor: Compressor | None
    judge: Judge | None
    owners: dict[str, str] = field(default_factory=dict)
    """Who provides each component, for messages: "task 'mmlu' of plugin 'kick_tasks' (...)"."""
    clipped: dict[str, dict[str, int]] = field(default_factory=dict)
    """By `variant/task`: prompts the model cut to fit its context in this run, and tokens cut."""
    selection: dict[str, dict[str, Any]] = field(default_factory=dict)
    """By task: which items were chosen (`limit` as given and resolved, or `first`) and how many."""


def owner(plugins: PluginSet, kind: str, name: str) -> str:
    return f"{kind} {name!r} of {plugins.registry.get(kind, name).owner}"


def build_components(spec: RunSpec, plugins: PluginSet) -> Components:
    """Create every component from the spec: a bad name or parameter fails here, in a second,
    with one message. Each task's samples are read once, here, for the whole run; a task with no
    sample is refused (a metric over nothing is not a result)."""
    names = [t.name for t in spec.tasks]
    if len(set(names)) != len(names):
        raise SpecError(f"a task is listed twice: {', '.join(names)}")
    reg = plugins.registry
    owners: dict[str, str] = {}
    tasks: list[Task] = []

    def build(name: str, params: dict[str, Any]) -> Task:
        with plugin_errors(owners[f"task:{name}"], "being built"):
            return reg.create("task", name, **{"seed": spec.seed, **params})  # type: ignore[no-any-return]

    for t in spec.tasks:
        owners[f"task:{t.name}"] = owner(plugins, "task", t.name)
        tasks.append(build(t.name, first_params(spec, t.params)))
    compressor = None
    if spec.compression is not None:
        c = spec.compression
        owners["compressor"] = who = owner(plugins, "compressor", c.name)
        with plugin_errors(who, "being built"):
            compressor = reg.create("compressor", c.name, **dict(c.params))
    judge = None
    if spec.judge is not None:
        owners["judge"] = who = owner(plugins, "judge", spec.judge.name)
        with plugin_errors(who, "being built"):
            judge = reg.create("judge", spec.judge.name, **dict(spec.judge.params))
    samples, selection = {}, {}
    for i, (t, task) in enumerate(zip(spec.tasks, list(tasks), strict=True)):
        with plugin_errors(owners[f"task:{task.name}"], "reading its samples", DataError):
            tasks[i], samples[task.name], selection[task.name] = select_samples(
                spec, t.params, task, functools.partial(build, t.name)
            )
        task = tasks[i]
        if not samples[task.name]:
            raise DataError(f"task {task.name!r} has no samples: check its data file and parameters")
        _check_unique_ids(task.name, samples[task.name])
        if judge is not None and task.judge_kind:
            check_references(judge, task.name, samples[task.name])
            judge_for_task(judge, task)  # the task's judge settings (paper protocol) apply: before any work
    return Components(tasks, samples, compressor, judge, owners, selection=selection)


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


def check_model(compressor: Compressor | None, model: Any, who: str) -> None:
    """The compressor's own check of `model` (`Compressor.check`), when it has one."""
    check = optional_member(compressor, "check", None) if compressor is not None else None
    if callable(check):
        with plugin_errors(who, "checking the model"):
            check(model)


def _check_unique_ids(task: str, samples: Sequence[Sample]) -> None:
    seen: set[str] = set()
    for s in samples:
        if s.id in seen:
            raise KickError(f"task {task!r} has two samples with id {s.id!r}")
        seen.add(s.id)
