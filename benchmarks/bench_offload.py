"""Peak RSS of `kick compress` with and without `--offload` (SmolLM2-135M in float32 on CPU).

Each run is its own process (`ru_maxrss` of the child); the two compressed folders are compared
tensor by tensor. Also prints what the offload target is made of: one block's weights, the
weights outside the blocks, the calibration activations, and the baseline of a process that
imports torch/transformers and the kick plugins. Asserts nothing.

    nice -n 10 python benchmarks/bench_offload.py --model-dir /tmp/smollm2-135m-fp32 \\
        [--method sparsegpt] [--nsamples 32] [--seqlen 512]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
BASELINE = "import torch, transformers, kick_layerwise.engine, kick_models.offloaded; from kick.plugins import load_plugins; load_plugins()"


def child(cmd: list[str]) -> tuple[float, int, int]:
    """(seconds, peak RSS bytes, exit code) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    err = proc.stderr.read().decode() if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code:
        print(err[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, usage.ru_maxrss * 1024, code


def sizes(folder: Path, nsamples: int, seqlen: int) -> dict[str, float]:
    from safetensors import safe_open

    cfg = json.loads((folder / "config.json").read_text())
    block = rest = 0
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for name in f.keys():  # noqa: SIM118
            t = f.get_slice(name)
            n = 4
            for d in t.get_shape():
                n *= d
            if ".layers.0." in name:
                block += n
            elif ".layers." not in name:
                rest += n
    return {
        "one block MB": block / 1e6,
        "outside blocks MB": rest / 1e6,
        "activations MB": nsamples * seqlen * cfg["hidden_size"] * 4 / 1e6,
        "blocks": cfg["num_hidden_layers"],
    }


def same_weights(a: Path, b: Path) -> bool:
    from transformers import AutoModelForCausalLM

    sa = AutoModelForCausalLM.from_pretrained(str(a)).state_dict()
    sb = AutoModelForCausalLM.from_pretrained(str(b)).state_dict()
    return sa.keys() == sb.keys() and all(bool((sa[k] == sb[k]).all()) for k in sa)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--method", default="sparsegpt")
    ap.add_argument("--nsamples", type=int, default=32)
    ap.add_argument("--seqlen", type=int, default=512)
    args = ap.parse_args()
    kick = [str(Path(sys.executable).with_name("kick"))]
    tmp = Path(tempfile.mkdtemp(prefix="bench-offload-"))
    try:
        s, base_rss, _ = child([sys.executable, "-c", BASELINE])
        print(f"baseline (python + torch + transformers + kick plugins): {base_rss / 1e6:.0f} MB RSS")
        for k, v in sizes(args.model_dir, args.nsamples, args.seqlen).items():
            print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
        rows = {}
        for name, extra in (("in memory", []), ("--offload", ["--offload"])):
            out = tmp / name.strip("-").replace(" ", "-")
            cmd = [*kick, "compress", str(args.model_dir), "--method", args.method, "-p", f"nsamples={args.nsamples}",
                   "-p", f"seqlen={args.seqlen}", "--out", str(out), *extra]  # fmt: skip
            secs, rss, code = child(cmd)
            rows[name] = (secs, rss, code, out)
            print(f"{name:10s}: peak RSS {rss / 1e6:7.0f} MB  wall {secs:6.1f} s  exit {code}")
        if all(r[2] == 0 for r in rows.values()):
            print("same weights:", same_weights(rows["in memory"][3], rows["--offload"][3]))
        print("load average:", " ".join(f"{x:.2f}" for x in os.getloadavg()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
