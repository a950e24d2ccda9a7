"""Each configuration's scores in lm-evaluation-harness's `results.json` layout, so dashboards
that read the harness's output read kick's: `results` -> task -> `"<metric>,none"` and
`"<metric>_stderr,none"`, with `n-samples` and `config` beside them. One file per configuration
(dense per model, each method @ level [seed]) under `report/lm_eval/<name>/results.json`.

The standard error is the harness's for a mean of 0/1 scores, sqrt(p (1 - p) / (n - 1)), given
for the metrics kick knows are 0/1 (those whose paired interval is the exact McNemar one);
any other metric gets "N/A", as the harness writes for metrics without one. Pure, apart from
`write_lm_eval`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from kick.metrics import COUNTERS, is_number
from kick.report.model import ReportData
from kick.rundir import write_json_atomic

FILTER = "none"  # the harness's filter name when no filter is applied


def binary_metrics(data: ReportData) -> dict[tuple[str, str], set[str]]:
    """Per (model, task): the metrics whose stored interval is the exact McNemar one (0/1 scores)."""
    out: dict[tuple[str, str], set[str]] = {}
    for r in data.results:
        for m, c in r.comparison.items():
            if isinstance(c, Mapping) and c.get("method") == "mcnemar-exact":
                out.setdefault((r.model, r.task), set()).add(m)
    return out


def stderr(p: float, n: int) -> float | None:
    return math.sqrt(p * (1 - p) / (n - 1)) if n > 1 and 0.0 <= p <= 1.0 else None


def _task_block(task: str, metrics: Mapping[str, Any], binary: set[str]) -> dict[str, Any]:
    block: dict[str, Any] = {"alias": task}
    n = metrics.get("n")
    for m, v in metrics.items():
        if not is_number(v) or m in COUNTERS:
            continue
        block[f"{m},{FILTER}"] = v
        se = stderr(float(v), n) if m in binary and isinstance(n, int) else None
        block[f"{m}_stderr,{FILTER}"] = se if se is not None else "N/A"
    return block


def lm_eval_results(data: ReportData) -> dict[str, dict[str, Any]]:
    """name -> results.json content, one per configuration."""
    binary = binary_metrics(data)
    configs: dict[str, dict[str, Any]] = {}

    def add(
        name: str, model: str, task: str, metrics: Mapping[str, Any], method: str, level: str | None
    ) -> None:
        c = configs.setdefault(name, {
            "results": {}, "n-samples": {}, "versions": {},
            "config": {"model": "kick", "model_args": f"pretrained={model}", "kick_method": method,
                       "kick_level": level},
        })  # fmt: skip
        c["results"][task] = _task_block(task, metrics, binary.get((model, task), set()))
        n = metrics.get("n")
        c["n-samples"][task] = {"original": n, "effective": n}
        c["versions"][task] = "kick"

    models = {b.model for b in data.baselines}
    for b in data.baselines:
        add(
            _safe(f"{b.model}__dense" if len(models) > 1 else "dense"),
            b.model,
            b.task,
            b.metrics,
            "dense",
            None,
        )
    for r in data.results:
        seed = f"-seed{r.seed}" if r.seed is not None else ""
        name = f"{r.method}-{r.level.slug}{seed}"
        add(
            _safe(f"{r.model}__{name}" if len(models) > 1 else name),
            r.model,
            r.task,
            r.metrics,
            r.method,
            r.level.label,
        )
    return configs


def write_lm_eval(data: ReportData, out: Path) -> list[Path]:
    paths = []
    for name, content in lm_eval_results(data).items():
        path = out / name / "results.json"
        write_json_atomic(path, content)
        paths.append(path)
    return paths


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
