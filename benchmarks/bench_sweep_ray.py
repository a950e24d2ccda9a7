"""A 6-cell sweep (magnitude and wanda at 30/50/70%, factoid-qa and mmlu, `--limit` samples per
task, plus the dense cell) on SmolLM2-135M: wall time with the local executor and with Ray on
a local 2-CPU cluster (1 CPU per cell), the records of both compared, and where Ray's time per
cell goes. Asserts nothing.

    nice -n 10 python benchmarks/bench_sweep_ray.py [--limit 32] [--model smollm2-135m]
    nice -n 10 python benchmarks/bench_sweep_ray.py --tiny     # the same grid on the tests' tiny
                                                               # Llama (perplexity): Ray's own cost

Per cell, from the driver's and the worker's clocks (same machine):
  dispatch  submitted -> the worker starts the cell (a free CPU assumed: the dense cell, and the
            first cells after it), includes starting a worker process the first time;
  return    the worker ends -> the driver holds the result and has written the cell directory;
  load      the worker loading the model (the local executor loads once per model and copies).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
os.environ["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "plugins")])  # Ray workers inherit it
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
sys.path[:0] = [str(REPO), str(REPO / "plugins")]


def records(out: Path) -> dict[str, list[str]]:
    return {
        str(f.parent.relative_to(out)): sorted(f.read_text().splitlines()) for f in sorted(out.glob("*/*/records.jsonl"))
    }


def compare(a_dir: Path, b_dir: Path) -> None:
    """Records matched by (cell, variant, task, sample): outputs, scores and errors equal, and the
    largest |difference| of any stored log-probability (a Ray cell with 1 CPU runs torch on one
    thread, the local executor on all: matmuls sum in another order)."""

    def load(root: Path) -> dict[tuple[str, ...], dict]:
        out = {}
        for f in root.glob("*/*/records.jsonl"):
            for line in f.read_text().splitlines():
                r = json.loads(line)
                out[(str(f.parent.relative_to(root)), r["variant"], r["task"], r["sample_id"])] = r
        return out

    a, b = load(a_dir), load(b_dir)
    same = [k for k in a if k in b and all(a[k].get(x) == b[k].get(x) for x in ("output", "scores", "error"))]
    def logprobs(r: dict) -> list[float]:
        return list((r.get("extra") or {}).get("logprobs") or ())

    diffs = [abs(x - y) for k in same for x, y in zip(logprobs(a[k]), logprobs(b[k]), strict=True)]
    print(f"records: {len(a)} local, {len(b)} ray, same keys {set(a) == set(b)}; outputs, scores and errors equal "
          f"{len(same)}/{len(a)}; max |log-prob difference| {max(diffs, default=0.0):.2e}")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=32)
    ap.add_argument("--model", default="smollm2-135m")
    ap.add_argument("--keep", type=Path, default=None, help="copy both sweep directories here")
    ap.add_argument("--tiny", action="store_true", help="the tests' tiny random Llama, perplexity only")
    args = ap.parse_args()

    from kick.plugins import load_plugins
    from kick.sweep import run_sweep
    from kick.sweep_ray import RayExecutor
    from kick.sweep_spec import levels_from, parse_sweep_spec

    plugins = load_plugins()
    data = {
        "model": args.model, "methods": ["magnitude", "wanda"], "sparsity": [0.3, 0.5, 0.7],
        "tasks": ["factoid-qa", "mmlu"], "limit": args.limit, "batch_size": 8,
        "params": {"wanda": {"calibration": str(REPO / "examples" / "demo-calibration.txt"), "nsamples": 16,
                             "seqlen": 256}},
    }  # fmt: skip
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    if args.tiny:
        sys.path.insert(0, str(REPO / "tests"))
        from support.tiny import random_text, save_tiny_llama

        text = tmp / "text.txt"
        text.write_text(random_text(1200, seed=3))
        data.update(model=save_tiny_llama(str(tmp / "tiny-llama")), tasks=["perplexity"], limit=None,
                    task_params={"perplexity": {"data": str(text), "seqlen": 32, "max_windows": 6}})  # fmt: skip
        data["params"]["wanda"].update(calibration=str(text), nsamples=4, seqlen=32)
    spec = parse_sweep_spec(data, levels_of=levels_from(plugins))
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    t0 = time.perf_counter()
    local = run_sweep(spec, tmp / "local", plugins=plugins)
    local_wall = time.perf_counter() - t0
    print(f"local executor: {local_wall:.1f} s wall for {len(local.cells)} cells; {local.timings.as_dict()}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    ex = RayExecutor(None, cpus_per_cell=1)  # a local cluster of this machine's CPUs
    t0 = time.perf_counter()
    ray_result = run_sweep(spec, tmp / "ray", plugins=plugins, executor=ex)
    ray_wall = time.perf_counter() - t0
    print(f"ray executor:   {ray_wall:.1f} s wall (Ray start and shutdown included); {ray_result.timings.as_dict()}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print("records byte-equal:", records(tmp / "local") == records(tmp / "ray"))
    compare(tmp / "local", tmp / "ray")

    cells = ex.cells
    dense = [c for i, c in cells.items() if i.endswith("/dense")]
    first = sorted((c for i, c in cells.items() if not i.endswith("/dense")), key=lambda c: c["submitted"])[:2]
    dispatch = [c["started"] - c["submitted"] for c in dense + first]
    ret = [c["received"] - c["ended"] for c in cells.values()]
    run = [c["ended"] - c["started"] for c in cells.values()]
    print(f"per cell (n={len(cells)}): in-task mean {statistics.mean(run):.1f} s; "
          f"dispatch with a free CPU mean {statistics.mean(dispatch):.2f} s (n={len(dispatch)}: {[round(d, 2) for d in dispatch]}); "
          f"return mean {statistics.mean(ret):.3f} s")  # fmt: skip
    print(f"model loads in workers: {ray_result.timings.load:.1f} s total vs {local.timings.load + local.timings.copy:.1f} s load+copy locally")
    for i, c in cells.items():
        print(f"  {i:32s} queued {c['started'] - c['submitted']:6.1f} s  ran {c['ended'] - c['started']:6.1f} s  return {c['received'] - c['ended']:.3f} s")
    if args.keep:
        shutil.copytree(tmp, args.keep, dirs_exist_ok=True)
    shutil.rmtree(tmp, ignore_errors=True)
    print(json.dumps({"local_wall_s": local_wall, "ray_wall_s": ray_wall, "limit": args.limit}))


if __name__ == "__main__":
    main()
