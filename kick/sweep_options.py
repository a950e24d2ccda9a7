"""`kick sweep`'s command-line options over a sweep spec file (`kick.sweep_spec` parses the result)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kick.params import parse_task_assignments


def merge_sweep_options(file: Mapping[str, Any], **opts: Any) -> dict[str, Any]:
    """Command-line options over a sweep spec file: given lists replace the file's, `--param`
    (METHOD.key=value) and `--task-param` (TASK.key=value) add to its tables. Pure."""
    data = dict(file)
    for key in ("models", "methods", "sparsity", "patterns", "bits", "seeds", "tasks"):
        if opts.get(key):
            data[key] = list(opts[key])
            if key == "models":
                data.pop("model", None)
    if opts.get("limit") is not None or opts.get("first") is not None:  # a random subset or the first N
        data = {k: v for k, v in data.items() if k not in ("limit", "first")}
    scalars = (
        "limit",
        "first",
        "batch_size",
        "seed",
        "rel_tol",
        "abs_tol",
        "judge",
        "copy",
        "verdict",
        "resamples",
    )
    for key in scalars:
        if opts.get(key) is not None:
            data[key] = opts[key]
    for key, items in (("params", opts.get("params")), ("task_params", opts.get("task_params"))):
        if items:
            tables = {k: dict(v) for k, v in data.get(key, {}).items()}
            for name, kv in parse_task_assignments(items).items():
                tables.setdefault(name, {}).update(kv)
            data[key] = tables
    return data
