"""Peak RSS of `kick compress` with and without `--offload` (SmolLM2-135M in float32 on CPU),
and where the peak comes from.

Each variant runs in its own process (`kick compress` in-process under a sampler thread that
reads /proc/self/status every 5 ms and labels the phase: loading, calibration text, capturing
block 0's inputs, the blocks, saving). Printed per variant: the peak VmRSS with its split into
RssAnon (heap, tensors) and RssFile (memory-mapped files: safetensors weights, libraries), and
the peak of each phase. Variants: in memory, `--offload`, and `--offload` with
`-p activations=disk`. The compressed folders are compared tensor by tensor.

Also prints what the offload floor is made of, measured in separate processes: python + torch +
transformers + the kick plugins; then loading the offloaded model (config, model code, skeleton,
tokenizer: no weight read yet); and the sizes of one block, the weights outside the blocks and
the activations (N x L x hidden x 4 bytes, per direction). Asserts nothing. Linux only
(/proc/self/status).

    nice -n 10 python benchmarks/bench_offload.py --model-dir /tmp/smollm2-135m-fp32 \\
        [--method sparsegpt] [--nsamples 32] [--seqlen 512] [--repeat 1] [--variants memory,offload,disk]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "plugins")])}
BASELINE = "import torch, transformers, kick_layerwise.engine, kick_models.offloaded; from kick.plugins import load_plugins; load_plugins()"
LOADED = (
    BASELINE + "; from kick.types import ModelSpec; from kick.plugins import load_model; import sys; "
    "m = load_model(ModelSpec(sys.argv[1]), load_plugins(), offload=True)"
)
VARIANTS = {"memory": [], "offload": ["--offload"], "disk": ["--offload", "-p", "activations=disk"]}
KEYS = ("VmRSS", "RssAnon", "RssFile")


def status() -> dict[str, int]:
    out = {}
    with open("/proc/self/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in KEYS:
                out[key] = int(value.split()[0]) * 1024
    return out


def probe(argv: list[str]) -> None:
    """Run `kick <argv>` here, sampling RSS per phase; print one JSON line `PEAKS {...}`."""
    import kick_layerwise.engine as engine
    import kick_layerwise.sequential as sequential

    import kick.footprint
    import kick.model_slot
    import kick.plugins
    import kick.runner
    from kick.cli import main

    phase, peaks = ["start"], {}

    def sample() -> None:
        while True:
            s, p = status(), phase[0]
            if p not in peaks or s["VmRSS"] > peaks[p]["VmRSS"]:
                peaks[p] = s
            time.sleep(0.005)

    def labelled(owner: Any, name: str, label: str) -> Any:
        f = getattr(owner, name)

        def wrapper(*a: Any, **k: Any) -> Any:
            before, phase[0] = phase[0], label
            try:
                return f(*a, **k)
            finally:
                phase[0] = before if label == "capture" else f"after {label}"

        setattr(owner, name, wrapper)
        return wrapper

    kick.model_slot.load_model = labelled(kick.plugins, "load_model", "load model")
    labelled(engine, "load_calibration", "calibration text")
    labelled(engine, "calibrate_sequentially", "blocks")
    sequential.capture_block_inputs = labelled(sequential, "capture_block_inputs", "capture")
    kick.runner.save_compressed = labelled(kick.footprint, "save_compressed", "save")
    threading.Thread(target=sample, daemon=True).start()
    sys.argv = ["kick", *argv]
    try:
        main()
    finally:
        time.sleep(0.02)
        print("PEAKS " + json.dumps(peaks), file=sys.stderr)


def child(cmd: list[str]) -> tuple[float, int, int, str]:
    """(seconds, peak RSS bytes, exit code, stderr) of one child process."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    err = proc.stderr.read().decode() if proc.stderr else ""
    _, status_, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status_)
    if code:
        print(err[-2000:], file=sys.stderr)
    return time.perf_counter() - t0, usage.ru_maxrss * 1024, code, err


def sizes(folder: Path, nsamples: int, seqlen: int) -> dict[str, float]:
    from safetensors import safe_open

    cfg = json.loads((folder / "config.json").read_text())
    block = rest = 0
    with safe_open(str(folder / "model.safetensors"), framework="pt") as f:
        for name in f.keys():  # noqa: SIM118
            n = 4
            for d in f.get_slice(name).get_shape():
                n *= d
            if ".layers.0." in name:
                block += n
            elif ".layers." not in name:
                rest += n
    return {
        "one block MB": block / 1e6,
        "outside blocks MB": rest / 1e6,
        "activations MB (per direction)": nsamples * seqlen * cfg["hidden_size"] * 4 / 1e6,
        "blocks": cfg["num_hidden_layers"],
    }


def same_weights(a: Path, b: Path) -> bool:
    from transformers import AutoModelForCausalLM

    sa = AutoModelForCausalLM.from_pretrained(str(a)).state_dict()
    sb = AutoModelForCausalLM.from_pretrained(str(b)).state_dict()
    return sa.keys() == sb.keys() and all(bool((sa[k] == sb[k]).all()) for k in sa)


def mb(x: float) -> str:
    return f"{x / 1e6:.0f}"


def main() -> None:
    if sys.argv[1:2] == ["--probe"]:
        probe(sys.argv[2:])
        return
    ap = argparse.ArgumentParser()
    ap.add_argument("--model-dir", type=Path, required=True)
    ap.add_argument("--method", default="sparsegpt")
    ap.add_argument("--nsamples", type=int, default=32)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--variants", default="memory,offload,disk")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-offload-"))
    try:
        _, base_rss, _, _ = child([sys.executable, "-c", BASELINE])
        print(f"baseline (python + torch + transformers + kick plugins): {mb(base_rss)} MB RSS")
        _, loaded_rss, _, _ = child([sys.executable, "-c", LOADED, str(args.model_dir)])
        print(f"offloaded model loaded (config, model code, skeleton, tokenizer; no weight read): {mb(loaded_rss)} MB RSS")
        for k, v in sizes(args.model_dir, args.nsamples, args.seqlen).items():
            print(f"{k}: {v:.1f}" if isinstance(v, float) else f"{k}: {v}")
        outs: dict[str, Path] = {}
        for name in args.variants.split(","):
            for r in range(args.repeat):
                out = tmp / f"{name}-{r}"
                cmd = [sys.executable, __file__, "--probe", "compress", str(args.model_dir), "--method", args.method,
                       "-p", f"nsamples={args.nsamples}", "-p", f"seqlen={args.seqlen}", "--out", str(out),
                       *VARIANTS[name]]  # fmt: skip
                secs, rss, code, err = child(cmd)
                outs.setdefault(name, out)
                line = next((ln for ln in err.splitlines() if ln.startswith("PEAKS ")), "PEAKS {}")
                peaks = json.loads(line[len("PEAKS ") :])
                top = max(peaks.items(), key=lambda kv: kv[1]["VmRSS"], default=("?", dict.fromkeys(KEYS, 0)))
                load = " ".join(f"{x:.2f}" for x in os.getloadavg())
                print(f"{name:8s} #{r + 1}: peak RSS {mb(rss)} MB (sampled {mb(top[1]['VmRSS'])} in {top[0]!r}: "
                      f"anon {mb(top[1]['RssAnon'])}, file {mb(top[1]['RssFile'])})  wall {secs:.0f} s  "
                      f"exit {code}  load {load}")  # fmt: skip
                for p, s in peaks.items():
                    print(f"    {p:22s} VmRSS {mb(s['VmRSS']):>5s}  anon {mb(s['RssAnon']):>5s}  file {mb(s['RssFile']):>5s}")
        names = [n for n in outs if (outs[n] / "config.json").exists()]
        for n in names[1:]:
            print(f"same weights ({names[0]} vs {n}):", same_weights(outs[names[0]], outs[n]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
