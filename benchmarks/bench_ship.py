"""Shipping numbers on SmolLM2-135M-Instruct (CPU): packed checkpoints and bitsandbytes.

1. Size on disk of the dense model in fp32 and bf16, GPTQ 4-bit g64 packed and RTN 8-bit g64
   packed (compressed-tensors); reload time with AutoModelForCausalLM.from_pretrained (best of
   3); max |logit difference| of the reloaded packed model against the in-memory fake-quantized
   one on fixed WikiText-2 windows.
2. WikiText-2 perplexity, FreebaseQA factoid QA and MMLU (5-shot) of dense, llm-int8, nf4,
   GPTQ 4-bit g64 and RTN 8-bit g64, each a kick run directory under --out (the dense run once,
   every method compared with it), with each variant's footprint (kick.footprint: weight bytes,
   size on disk, generation tokens/s at batch 1 and 8, peak RSS). GPTQ and RTN are part 1's
   packed folders evaluated with the `checkpoint` compressor when they exist (else compressed
   in memory).

The embedded model is a Q4_1 GGUF dequantized to float32: every quantization here is a
re-quantization of weights that already lie on a 4-bit grid (groups of 32).

    python benchmarks/bench_ship.py --out /tmp/bench-ship [--limit 40] [--ppl-windows 16]
        [--nsamples 32] [--seqlen 512] [--only sizes|quality]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "plugins"))

METHODS: dict[str, tuple[str, dict[str, Any]]] = {
    "llm-int8": ("llm-int8", {}),
    "nf4": ("nf4", {}),
    "gptq-4b-g64": ("gptq", {"bits": 4, "group_size": 64}),
    "rtn-8b-g64": ("rtn", {"bits": 8, "group_size": 64}),
}
PACKED = ("gptq-4b-g64", "rtn-8b-g64")  # part 2 evaluates part 1's packed folders when present


def weights_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("*.safetensors"))


def reload_seconds(folder: Path) -> float:
    from transformers import AutoModelForCausalLM

    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        AutoModelForCausalLM.from_pretrained(str(folder))
        best = min(best, time.perf_counter() - t0)
    return best


def probe_ids(tokenizer: Any, windows: int = 4, length: int = 128) -> Any:
    import torch
    from kick_tasks.perplexity import windows as cut

    text = (REPO.parent / "shared" / "data" / "calibration" / "wikitext-2-raw-v1.test.raw").read_text()
    ids = tokenizer(text[:200_000], add_special_tokens=False)["input_ids"]
    return torch.tensor(cut(ids, length, windows))


def sizes(
    out: Path, nsamples: int, seqlen: int, packed: tuple[str, ...] = PACKED, dense: bool = True
) -> dict[str, Any]:
    import torch
    from transformers import AutoModelForCausalLM

    from kick.plugins import load_model, load_plugins
    from kick.types import ModelSpec

    plugins = load_plugins()
    rows: dict[str, Any] = {}
    for name, dtype in (("dense-fp32", None), ("dense-bf16", "bfloat16")) if dense else ():
        model = load_model(ModelSpec("smollm2-135m"), plugins)
        folder = out / "folders" / name
        shutil.rmtree(folder, ignore_errors=True)
        model.save(str(folder), **({"dtype": dtype} if dtype else {}))
        rows[name] = {"weights_bytes": weights_bytes(folder), "reload_s": reload_seconds(folder)}
    for name in packed:
        method, params = METHODS[name]
        if method == "gptq":
            params = {**params, "nsamples": nsamples, "seqlen": seqlen}
        model = load_model(ModelSpec("smollm2-135m"), plugins)
        compressor = plugins.registry.create("compressor", method, **params)
        stats = compressor.compress(model)
        ids = probe_ids(model.tokenizer)
        with torch.no_grad():
            want = model.module(input_ids=ids).logits
        folder = out / "folders" / name
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        compressor.save(model, str(folder))
        save_s = time.perf_counter() - t0
        reloaded = AutoModelForCausalLM.from_pretrained(str(folder))
        with torch.no_grad():
            got = reloaded(input_ids=ids).logits
        rows[name] = {
            "weights_bytes": weights_bytes(folder),
            "reload_s": reload_seconds(folder),
            "save_s": save_s,
            "compress_s": stats["seconds"],
            "max_abs_logit_diff": float((got - want).abs().max()),
            "logit_scale": float(want.abs().max()),
            "probe": f"{ids.shape[0]} WikiText-2 test windows x {ids.shape[1]} tokens",
            "calibration": stats.get("calibration"),
        }
    dense_fp32 = out / "folders" / "dense-fp32"
    dense_bytes = weights_bytes(dense_fp32) if dense_fp32.is_dir() else 0
    print(f"\n{'folder':14s} {'MiB on disk':>12s} {'x dense':>8s} {'reload s':>9s} {'max|dlogit|':>12s}")
    for name, r in rows.items():
        diff = f"{r['max_abs_logit_diff']:.2e}" if "max_abs_logit_diff" in r else "-"
        print(f"{name:14s} {r['weights_bytes'] / 2**20:12.1f} {r['weights_bytes'] / max(dense_bytes, 1):8.3f} "
              f"{r['reload_s']:9.2f} {diff:>12s}")  # fmt: skip
    return rows


def quality(out: Path, limit: int, ppl_windows: int, nsamples: int, seqlen: int) -> dict[str, Any]:
    from kick.plugins import load_plugins
    from kick.runner import run
    from kick.types import ComponentSpec, ModelSpec, RunSpec

    plugins = load_plugins()
    tasks = (
        ComponentSpec("perplexity", {"data": "shared", "seqlen": 512, "max_windows": ppl_windows}),
        ComponentSpec("factoid-qa", {"data": "shared", "limit": limit}),
        ComponentSpec("mmlu", {"data": "shared", "limit": limit}),
    )
    base = RunSpec(model=ModelSpec("smollm2-135m"), tasks=tasks, include_dense=True, batch_size=8)
    dense_dir = out / "runs" / "dense"
    summaries = {"dense": run(base, dense_dir, plugins=plugins, mode="overwrite")}
    for name, (method, params) in METHODS.items():
        if method == "gptq":
            params = {**params, "nsamples": nsamples, "seqlen": seqlen}
        folder = out / "folders" / name
        if name in PACKED and (folder / "kick_packing.json").is_file():
            # the packed checkpoint of part 1 (its logits equal the in-memory model's, see there),
            # evaluated as `kick eval FOLDER --reference smollm2-135m` does
            method, params = "checkpoint", {"path": str(folder)}
        spec = RunSpec(model=base.model, tasks=tasks, compression=ComponentSpec(method, params),
                       include_dense=False, batch_size=8)  # fmt: skip
        summaries[name] = run(spec, out / "runs" / name, plugins=plugins, dense=dense_dir, mode="overwrite")
        print(f"{name} done", flush=True)
    print(f"\n{'variant':12s} {'ppl':>8s} {'factoid':>8s} {'mmlu':>6s} {'MiB mem':>8s} {'MiB disk':>9s} "
          f"{'tok/s b1':>9s} {'tok/s b8':>9s} {'peak MiB':>9s}")  # fmt: skip
    for name, s in summaries.items():
        variant = "dense" if name == "dense" else "compressed"
        t = s["tasks"]
        fp = s["footprint"][variant]
        gen = fp["generation"]
        disk = f"{fp['size_on_disk'] / 2**20:9.1f}" if fp["size_on_disk"] else f"{'-':>9s}"
        print(
            f"{name:12s} {t['perplexity']['metrics'][variant]['perplexity']:8.2f} "
            f"{t['factoid-qa']['metrics'][variant][t['factoid-qa']['primary_metric']]:8.3f} "
            f"{t['mmlu']['metrics'][variant][t['mmlu']['primary_metric']]:6.3f} "
            f"{fp['weight_bytes'] / 2**20:8.1f} {disk} {gen['batch_1']['tokens_per_s']:9.1f} "
            f"{gen['batch_8']['tokens_per_s']:9.1f} {fp['peak_rss_bytes'] / 2**20:9.0f}"
        )
    return {k: {"footprint": v["footprint"], "tasks": {t: e["metrics"] for t, e in v["tasks"].items()}}
            for k, v in summaries.items()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--limit", type=int, default=40)
    ap.add_argument("--ppl-windows", type=int, default=16)
    ap.add_argument("--nsamples", type=int, default=32)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--only", choices=["sizes", "quality"])
    ap.add_argument("--packed", action="append", choices=PACKED, help="sizes: only these packed folders")
    a = ap.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"settings": vars(a) | {"out": str(a.out)}}
    if a.only in (None, "sizes"):
        result["sizes"] = sizes(a.out, a.nsamples, a.seqlen, tuple(a.packed or PACKED), dense=not a.packed)
    if a.only in (None, "quality"):
        result["quality"] = quality(a.out, a.limit, a.ppl_windows, a.nsamples, a.seqlen)
    (a.out / f"bench_ship_{a.only or 'all'}{'_' + '_'.join(a.packed) if a.packed else ''}.json").write_text(
        json.dumps(result, indent=2, default=str)
    )


if __name__ == "__main__":
    main()
