"""Core benchmark (issue 2): prints numbers, asserts nothing.

- `kick --help` wall time (no torch import for help),
- SmolLM2-135M load time, cold (GGUF conversion into an empty cache) and warm (cached),
- greedy generation examples/s at batch 1 vs batch 8 on the factoid-qa smoke set, and whether
  the answers are identical.

Run: .venv/bin/python benchmarks/bench_core.py [--threads 2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat-help", type=int, default=5)
    ap.add_argument("--data", default="smoke", help="factoid-qa data: smoke (default) or shared")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--repeat", type=int, default=3, help="timed generation runs per batch size (median)")
    args = ap.parse_args()

    kick_bin = str(Path(sys.executable).with_name("kick"))
    helps = []
    for _ in range(args.repeat_help):
        _, dt = timed(lambda: subprocess.run([kick_bin, "--help"], capture_output=True, check=True))
        helps.append(dt)
    print(f"kick --help: median {sorted(helps)[len(helps) // 2]:.3f} s over {len(helps)} runs")

    import torch

    torch.set_num_threads(args.threads)
    from kick_models import embedded
    from kick_models.hf import HFModel

    from kick.plugins import load_plugins
    from kick.types import ModelSpec

    with tempfile.TemporaryDirectory() as tmp:
        _, cold = timed(lambda: embedded.converted_folder(root=Path(tmp)))
        folder, source = embedded.converted_folder(root=Path(tmp))
        _, warm_conv = timed(lambda: embedded.converted_folder(root=Path(tmp)))
        model, warm_load = timed(lambda: HFModel.load(ModelSpec(str(folder)), source=source))
    print(f"SmolLM2-135M cold (GGUF -> safetensors): {cold:.1f} s; warm cache lookup {warm_conv:.3f} s; "
          f"warm load {warm_load:.2f} s")

    params = {"data": args.data} if args.limit is None else {"data": args.data, "limit": args.limit}
    task = load_plugins().registry.create("task", "factoid-qa", **params)
    samples = list(task.samples())
    prompts = [s.prompt for s in samples]
    results = {}
    rates = {}
    for bs in (1, 8):
        times = []
        for _ in range(args.repeat):
            outs, dt = timed(lambda bs=bs: model.generate(prompts, max_new_tokens=24, stop_at_newline=True, batch_size=bs))
            times.append(dt)
        results[bs] = outs
        dt = sorted(times)[len(times) // 2]
        rates[bs] = len(prompts) / dt
        print(f"factoid-qa {args.data} ({len(prompts)} prompts), batch {bs}: {rates[bs]:.2f} examples/s "
              f"(median {dt:.2f} s of {', '.join(f'{t:.2f}' for t in times)})")
    print(f"batch 8 over batch 1: {rates[8] / rates[1]:.2f}x")
    same = sum(a == b for a, b in zip(results[1], results[8], strict=True))
    print(f"identical greedy answers batch 1 vs 8: {same}/{len(prompts)}")
    print(f"threads: {torch.get_num_threads()}, cpu count: {os.cpu_count()}")


if __name__ == "__main__":
    main()
