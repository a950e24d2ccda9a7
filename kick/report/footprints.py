"""What each variant weighs beside what it scores: rows for report.json and a plot of each task's
headline score against size on disk, per method (the runs' `footprint`, see kick.footprint).

    rows = footprint_rows(summaries)      one row per (model, variant); the dense one once per model
    size_plots(rows, out / "plots")       one PNG + SVG per (model, task) with sizes on disk
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from kick.metrics import headline_metrics
from kick.rundir import SUMMARY
from kick.types import COMPRESSED, DENSE


def _scores(summary: Mapping[str, Any], variant: str) -> dict[str, dict[str, Any]]:
    out = {}
    for task, entry in (summary.get("tasks") or {}).items():
        metrics = (entry.get("metrics") or {}).get(variant) or {}
        names = headline_metrics(metrics, entry.get("primary_metric"), limit=1)
        if names:
            out[task] = {"metric": names[0], "value": metrics[names[0]],
                         "lower_is_better": names[0] in (entry.get("lower_is_better") or [])}  # fmt: skip
    return out


def footprint_rows(summaries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per variant of every run: its footprint (weight bytes, size on disk, bits per weight,
    tokens/s at batch 1 and 8, peak RSS) and each task's headline score."""
    rows: list[dict[str, Any]] = []
    dense_seen: set[str] = set()
    for s in summaries:
        model = (s.get("spec") or {}).get("model", {}).get("name") or (s.get("model") or {}).get("id", "?")
        cell = s.get("cell") or {}
        for variant, fp in (s.get("footprint") or {}).items():
            if fp is None or (variant == DENSE and model in dense_seen):
                continue
            dense_seen.update([model] if variant == DENSE else [])
            gen = fp.get("generation") or {}
            level = (cell.get("level") or {}).get("label") if variant == COMPRESSED else None
            rows.append({
                "model": model, "variant": variant,
                "method": cell.get("method") if variant == COMPRESSED else DENSE, "level": level,
                "weight_bytes": fp.get("weight_bytes"), "size_on_disk": fp.get("size_on_disk"),
                "bits_per_weight": fp.get("bits_per_weight"),
                "tokens_per_s_batch_1": (gen.get("batch_1") or {}).get("tokens_per_s"),
                "tokens_per_s_batch_8": (gen.get("batch_8") or {}).get("tokens_per_s"),
                "peak_rss_bytes": fp.get("peak_rss_bytes"), "scores": _scores(s, variant),
            })  # fmt: skip
    return rows


def read_rows(run_dir: Path) -> list[dict[str, Any]]:
    return footprint_rows([json.loads(p.read_text()) for p in sorted(run_dir.rglob(SUMMARY))])


def size_plots(rows: Sequence[Mapping[str, Any]], out: Path) -> list[Path]:
    """Headline score against size on disk (MiB), one marker series per method, per (model, task)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in rows:
        if r.get("size_on_disk"):
            for task in r["scores"]:
                groups.setdefault((r["model"], task), []).append(r)
    files: list[Path] = []
    out.mkdir(parents=True, exist_ok=True)
    for (model, task), items in groups.items():
        fig, ax = plt.subplots(figsize=(6, 4))
        for method in dict.fromkeys(r["method"] for r in items):
            mine = [r for r in items if r["method"] == method]
            ax.scatter([r["size_on_disk"] / 2**20 for r in mine], [r["scores"][task]["value"] for r in mine],
                       marker="*" if method == DENSE else "o", s=120 if method == DENSE else 40, label=method)  # fmt: skip
            for r in mine:
                if r.get("level"):
                    ax.annotate(str(r["level"]), (r["size_on_disk"] / 2**20, r["scores"][task]["value"]),
                                fontsize="x-small", xytext=(3, 3), textcoords="offset points")  # fmt: skip
        metric = items[0]["scores"][task]["metric"]
        ax.set_xlabel("size on disk (MiB)")
        ax.set_ylabel(
            f"{metric}{' (lower is better)' if items[0]['scores'][task]['lower_is_better'] else ''}"
        )
        ax.set_title(f"{model}: {task}")
        ax.legend(fontsize="small", loc="best")
        fig.tight_layout()
        stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in f"{model}__{task}__size")
        for ext in ("png", "svg"):
            fig.savefig(out / f"{stem}.{ext}", dpi=110)
            files.append(out / f"{stem}.{ext}")
        plt.close(fig)
    return files
