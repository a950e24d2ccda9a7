"""A small sweep's summaries, as the runner writes them: three tasks (a QA task well above
chance, MMLU at chance with per-subject scores, perplexity over one window), dense and three
compressed cells with intervals, compression statistics, calibration and provenance."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

STATS = {"verdict": "interval", "level": 0.95, "resamples": 2000, "seed": 0, "scipy": "1"}
SUBJECTS = [f"subject_with_a_long_name_{i}" for i in range(14)]
DENSE = {
    "qa": {"acc": 0.5, "em": 0.25, "n": 16, "errors": 0},
    "mmlu": {"acc": 0.25, **{f"acc/{s}": 0.25 for s in SUBJECTS}, "n": 24, "errors": 0},
    "perplexity": {"perplexity": 18.0, "tokens": 511, "windows": 1, "n": 1, "errors": 0},
}
SETTINGS = {
    "qa": {"source": {"kind": "smoke", "location": "/x/smoke/qa.json", "sha256": "a" * 64}, "n": 16},
    "mmlu": {"source": {"kind": "shared", "location": "/shared/mmlu", "sha256": "b" * 64}, "n": 24,
             "protocol": "paper"},
    "perplexity": {"source": {"kind": "smoke", "location": "/x/ppl.txt", "sha256": "c" * 64}},
}  # fmt: skip
LOWER = {"perplexity": ["perplexity"]}
PRIMARY = {"qa": "acc", "mmlu": "acc", "perplexity": "perplexity"}
# method, params, {task: (value of the primary metric, interval of the delta)}
CELLS = [
    ("magnitude", {"sparsity": 0.5}, {"qa": (0.25, (-0.375, -0.125)), "mmlu": (0.25, (-0.1, 0.1)),
                                      "perplexity": (393.0, (300.0, 450.0))}),
    ("wanda", {"sparsity": 0.5}, {"qa": (0.5, (-0.02, 0.02)), "mmlu": (0.25, (-0.02, 0.02)),
                                  "perplexity": (37.0, (15.0, 24.0))}),
    ("gptq", {"bits": 4, "group_size": 64}, {"qa": (0.5, (-0.02, 0.02)), "mmlu": (0.2917, (-0.05, 0.1)),
                                             "perplexity": (23.5, (4.0, 7.0))}),
]  # fmt: skip
PROVENANCE = {
    "kick": "0.1.0", "python": "3.11.7", "libraries": {"torch": "2.13.0", "transformers": "5.0"},
    "plugins": {"prune": {"distribution": "kick", "version": "0.1.0"}},
}  # fmt: skip
CALIBRATION = {"source": "file", "path": "/x/demo-calibration.txt", "sha256": "d" * 64, "nsamples": 16,
               "seqlen": 256, "seed": 0}  # fmt: skip


def _compression(method: str, params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"method": method, "sparsity": params.get("sparsity", 0.0), "wall_seconds": 12.5}
    if method != "magnitude":
        out["calibration"] = CALIBRATION
    if "bits" in params:
        out["quantization"] = {"bits": 4, "group_size": 64, "max_levels_per_group": 16, "within_grid": True}
    return out


def summary(cell: tuple[str, dict[str, Any], dict[str, Any]] | None) -> dict[str, Any]:
    tasks = {}
    for task, dense in DENSE.items():
        metrics: dict[str, Any] = {"dense": dense}
        comparison = {}
        if cell is not None:
            value, iv = cell[2][task]
            m = PRIMARY[task]
            metrics["compressed"] = {**dense, m: value}
            comparison[m] = {"dense": dense[m], "compressed": value, "delta": value - dense[m],
                             "interval": list(iv), "method": "paired-bootstrap", "n": dense["n"]}  # fmt: skip
        tasks[task] = {"settings": SETTINGS[task], "metrics": metrics, "comparison": comparison,
                       "primary_metric": PRIMARY[task], "lower_is_better": LOWER.get(task, [])}  # fmt: skip
    method, params = (cell[0], cell[1]) if cell else (None, None)
    return {
        "spec": {"model": {"name": "smollm2-135m"}, "compression": {"name": method, "params": params} if cell else None},
        "model": {"id": "smollm2-135m", "revision": None, "architecture": "LlamaForCausalLM", "dtype": "float32"},
        "compression": _compression(method, params) if cell and method and params is not None else None,
        "tolerance": {"relative": 0.05, "absolute": None},
        "statistics": STATS,
        "cell": {"id": f"smollm2-135m/{method or 'dense'}", "method": method},
        "tasks": tasks,
        "provenance": PROVENANCE,
    }


def summaries() -> list[dict[str, Any]]:
    return [summary(None), *(summary(c) for c in CELLS)]


def write_sweep(root: Path) -> Path:
    for i, s in enumerate(summaries()):
        (root / f"c{i}").mkdir(parents=True)
        (root / f"c{i}" / "summary.json").write_text(json.dumps(s))
    return root
