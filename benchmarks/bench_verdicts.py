"""How many verdicts a sweep can decide: counts of matches / inconclusive / worse over the
headline metrics of every compressed cell, per task, with the items each was decided on, and the
seconds the statistics cost (every cell's summary rebuilt from its records, with and without
intervals).

    python benchmarks/bench_verdicts.py runs/demo            # counts from the stored summaries
    python benchmarks/bench_verdicts.py runs/demo --rebuild  # and the time to recompute them
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from kick.metrics import headline_metrics


def counts(sweep: Path) -> dict[str, tuple[Counter[str], set[int]]]:
    """Per task: the verdicts of the compressed cells' headline metrics, and the item counts."""
    per_task: dict[str, tuple[Counter[str], set[int]]] = {}
    for path in sorted(sweep.rglob("summary.json")):
        s = json.loads(path.read_text())
        for task, entry in s["tasks"].items():
            comp = entry.get("comparison") or {}
            primary = entry.get("primary_metric")
            for m in headline_metrics(entry["metrics"].get("compressed", {}), primary):
                c = comp.get(m)
                if c and c.get("rule") == "interval":
                    verdicts, ns = per_task.setdefault(task, (Counter(), set()))
                    verdicts[c["verdict"]] += 1
                    ns.add(int(c["n"]))
    return per_task


def rebuild_seconds(sweep: Path) -> float:
    """Seconds to recompute every compressed cell's paired differences from its records."""
    from kick.paired import paired_differences
    from kick.plugins import load_plugins
    from kick.rundir import RECORDS, RecordStore
    from kick.runner import build_components
    from kick.stats import StatSettings
    from kick.summary import aggregate
    from kick.types import COMPRESSED, DENSE, RunSpec

    plugins = load_plugins()
    timed = 0.0
    for path in sorted(sweep.rglob("summary.json")):
        s = json.loads(path.read_text())
        if not s.get("dense_run"):
            continue
        spec = RunSpec.from_dict(s["spec"])
        comps = build_components(spec, plugins)
        own = RecordStore(path.parent / RECORDS)
        dense = RecordStore(path.parent / s["dense_run"] / RECORDS)
        t0 = time.perf_counter()
        for task in comps.tasks:
            ids = [x.id for x in comps.samples[task.name]]
            paired_differences(
                dense.select(DENSE, task.name, ids),
                own.select(COMPRESSED, task.name, ids),
                lambda recs, task=task: aggregate(task, recs),
                StatSettings(seed=spec.seed),
            )
        timed += time.perf_counter() - t0
    return timed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("sweep", type=Path)
    ap.add_argument("--rebuild", action="store_true")
    args = ap.parse_args()
    for task, (c, ns) in counts(args.sweep).items():
        print(
            f"{task:14s} {sum(c.values()):3d} verdicts: {c['matches']:3d} matches, "
            f"{c['inconclusive']:3d} inconclusive, {c['worse']:3d} worse  (n = {', '.join(map(str, sorted(ns)))})"
        )
    if args.rebuild:
        seconds = rebuild_seconds(args.sweep)
        print(f"statistics for every compressed cell, recomputed from records: {seconds:.2f} s")


if __name__ == "__main__":
    main()
