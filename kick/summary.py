"""The one summary shape: what every run directory's summary.json holds, for `kick run`,
`kick eval`, `kick compress`, `kick judge` and every sweep cell alike."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from kick.interfaces import Judge, Task, optional_member
from kick.judging import judge_metrics
from kick.metrics import VerdictRule, clean_number, compare
from kick.paired import paired_differences
from kick.plugins import PluginSet
from kick.provenance import provenance, run_env, secret_env_names
from kick.rundir import RecordStore
from kick.stats import StatSettings
from kick.types import COMPRESSED, DENSE, Level, Record, RunSpec, Sample


def aggregate(task: Task, records: Sequence[Record]) -> dict[str, Any]:
    """A task's metrics over its records: the task's own (over records without an error), the
    judge's for judged tasks, and the counters `n` and `errors`."""
    metrics = dict(task.aggregate([r for r in records if r.error is None]))
    metrics.update(judge_metrics(records) if task.judge_kind else {})
    metrics["n"] = len(records)
    metrics["errors"] = sum(1 for r in records if r.error)
    return {k: clean_number(v) for k, v in metrics.items()}


def build_summary(
    spec: RunSpec,
    tasks: Sequence[Task],
    samples: Mapping[str, Sequence[Sample]],
    judge: Judge | None,
    store: RecordStore,
    variants: Sequence[str],
    model_info: Mapping[str, Any],
    compression: Mapping[str, Any] | None,
    plugins: PluginSet,
    *,
    dense_summary: Mapping[str, Any] | None = None,
    dense_store: RecordStore | None = None,
    rel_tol: float,
    abs_tol: float | None,
    rule: VerdictRule = "interval",
    stats: StatSettings | None = None,
    cell: str | None = None,
    level: Level | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """The one summary shape. Per task: settings, metrics per variant, the comparison whenever
    both dense and compressed metrics are known (a sweep cell's dense ones come from its dense
    run) with each metric's paired interval and verdict (`kick.paired`, `kick.metrics.verdict`),
    the primary metric and the lower-is-better metrics."""
    stats = stats or StatSettings(seed=spec.seed)
    entries: dict[str, Any] = {}
    for task in tasks:
        ids = [s.id for s in samples[task.name]]
        lower = sorted(optional_member(task, "lower_is_better", ()))  # sorted: a set has no stable order
        metrics = {v: aggregate(task, store.select(v, task.name, ids)) for v in variants}
        if dense_summary is not None:
            metrics = {DENSE: dense_summary["tasks"][task.name]["metrics"][DENSE], **metrics}
        entry: dict[str, Any] = {"settings": dict(task.settings()), "metrics": metrics}
        if DENSE in metrics and COMPRESSED in metrics:
            dense_records = (dense_store or store).select(DENSE, task.name, ids)
            differences = paired_differences(
                dense_records,
                store.select(COMPRESSED, task.name, ids),
                functools.partial(aggregate, task),
                stats,
            )
            entry["comparison"] = compare(
                metrics[DENSE], metrics[COMPRESSED], rel_tol=rel_tol, abs_tol=abs_tol, lower_is_better=lower,
                differences=differences, rule=rule,
            )  # fmt: skip
        entry["primary_metric"] = optional_member(task, "primary_metric", None)
        entry["lower_is_better"] = lower
        entries[task.name] = entry
    if level is None and spec.compression is not None:
        level = Level.from_params(spec.compression.params)
    return {
        "spec": spec.to_dict(),
        "model": dict(model_info),
        "compression": dict(compression) if compression else None,
        "judge": dict(judge.info()) if judge else None,
        "tolerance": {"relative": rel_tol, "absolute": abs_tol},
        "statistics": {"verdict": rule, **stats.to_dict()},
        "variants": [DENSE, *variants] if dense_summary is not None else list(variants),
        "level": level.to_dict() if level is not None else None,
        "cell": {
            "id": cell,
            "model": spec.model.name,
            "method": spec.compression.name if spec.compression else None,
            "level": level.to_dict() if level is not None else None,
            "seed": seed,
        },
        "tasks": entries,
        "provenance": provenance(plugins),
        "seed": spec.seed,
        "env": run_env(secret_env_names(spec.judge.params) if spec.judge else ()),
    }
