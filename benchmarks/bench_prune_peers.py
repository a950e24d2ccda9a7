"""Pruning against references written from the papers' formulas: CPU seconds per block and masks.

Wanda (Sun et al., 2024, Eq. 1): S_ij = |W_ij| * ||X_j||_2 over all calibration tokens, prune the
int(cols * s) lowest of every output row (N:M: the M - N lowest of every group of M inputs).
SparseGPT (Frantar & Alistarh, 2023, Algorithm 1): H = X^T X (+ 1% of its mean diagonal), the upper
Cholesky factor U of H^-1; per block of 128 columns prune the scores w^2 / U_jj^2 <= the block's
int(numel * s)-th smallest (N:M: the M - N lowest per group when the group starts), then fix each
column in turn, spreading its error e = (w - q) / U_jj over the later columns by row j of U.

Both references run as the released code does: the layer inputs come from the already pruned
previous layers, the statistics of all of a layer's Linear modules from one pass of the dense
layer, one calibration sample per forward pass, no thread tuning. kick runs its own compressor
on a copy of the same model with the same windows (kick's `document` sampler on the shared C4
file). Printed: CPU seconds (process time, all threads) per block for each side, their ratio and
the fraction of weights whose pruned/kept state agrees. Asserts nothing.

    python benchmarks/bench_prune_peers.py [--threads 2] [--nsamples 128] [--seqlen 512]
        [--blocks 30] [--methods wanda,sparsegpt] [--pattern unstructured|2:4]
"""

from __future__ import annotations

import argparse
import copy
import os
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "plugins")]


class _Stop(Exception):
    pass


def layer_inputs(model: Any, ids: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """What decoder layer 0 receives for each calibration sample (one sample per pass)."""
    import torch

    hidden: list[Any] = []
    extra: list[dict[str, Any]] = []

    def grab(_m: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
        kw = {k: v for k, v in kwargs.items() if k not in ("past_key_values", "past_key_value", "cache")}
        hidden.append(args[0] if args else kw.pop("hidden_states"))
        extra.append(kw)
        raise _Stop

    handle = model.model.layers[0].register_forward_pre_hook(grab, with_kwargs=True)
    with torch.no_grad():
        for row in ids:
            try:
                model(input_ids=row[None], use_cache=False)
            except _Stop:
                pass
    handle.remove()
    return hidden, extra


def linears(layer: Any) -> dict[str, Any]:
    import torch

    return {n: m for n, m in layer.named_modules() if isinstance(m, torch.nn.Linear)}


def forward(layer: Any, hidden: list[Any], extra: list[dict[str, Any]]) -> list[Any]:
    import torch

    with torch.no_grad():
        outs = [layer(h, **kw) for h, kw in zip(hidden, extra, strict=True)]
    return [o[0] if isinstance(o, (tuple, list)) else o for o in outs]


def collect(layer: Any, hidden: list[Any], extra: list[dict[str, Any]], kind: str) -> dict[str, Any]:
    """Per Linear: sum over tokens of x_j^2 (wanda) or X^T X and the token count (sparsegpt)."""

    stats: dict[str, Any] = {}

    def hook_for(name: str) -> Any:
        def hook(_m: Any, inp: tuple[Any, ...], _out: Any) -> None:
            x = inp[0].reshape(-1, inp[0].shape[-1]).float()
            if kind == "wanda":
                stats[name] = stats.get(name, 0) + (x * x).sum(0)
            else:
                h, n = stats.get(name, (0, 0))
                stats[name] = (h + x.T @ x, n + x.shape[0])

        return hook

    handles = [m.register_forward_hook(hook_for(n)) for n, m in linears(layer).items()]
    forward(layer, hidden, extra)
    for h in handles:
        h.remove()
    return stats


def wanda_ref(weight: Any, sumsq: Any, sparsity: float, nm: tuple[int, int] | None) -> Any:
    import torch

    score = weight.abs() * sumsq.sqrt()[None, :]
    mask = torch.zeros_like(score, dtype=torch.bool)
    if nm is None:
        k = int(score.shape[1] * sparsity)
        mask.scatter_(1, torch.sort(score, dim=1, stable=True).indices[:, :k], True)
    else:
        n, m = nm
        for g in range(0, score.shape[1], m):
            low = torch.topk(score[:, g : g + m], m - n, dim=1, largest=False).indices
            mask[:, g : g + m].scatter_(1, low, True)
    return torch.where(mask, torch.zeros_like(weight), weight)


def sparsegpt_ref(weight: Any, h: Any, sparsity: float, nm: tuple[int, int] | None, block: int = 128) -> Any:
    import torch

    w = weight.clone().float()
    h = h.clone()
    dead = torch.diag(h) == 0
    h[dead, dead] = 1
    w[:, dead] = 0
    h += 0.01 * torch.mean(torch.diag(h)) * torch.eye(h.shape[0])
    u = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    cols = w.shape[1]
    for b1 in range(0, cols, block):
        b2 = min(b1 + block, cols)
        wb, ub = w[:, b1:b2].clone(), u[b1:b2, b1:b2]
        d = torch.diag(ub)
        errs = torch.zeros_like(wb)
        if nm is None:
            s = wb**2 / d[None, :] ** 2
            prune = s <= torch.sort(s.flatten()).values[int(s.numel() * sparsity)]
        else:
            prune = torch.zeros_like(wb, dtype=torch.bool)
        for j in range(b2 - b1):
            if nm is not None and j % nm[1] == 0:
                s = wb[:, j : j + nm[1]] ** 2 / d[None, j : j + nm[1]] ** 2
                low = torch.topk(s, nm[1] - nm[0], dim=1, largest=False).indices
                prune[:, j : j + nm[1]].scatter_(1, low, True)
            col = wb[:, j]
            q = torch.where(prune[:, j], torch.zeros_like(col), col)
            e = (col - q) / ub[j, j]
            wb[:, j:] -= e[:, None] * ub[j, j:][None, :]
            wb[:, j] = q
            errs[:, j] = e
        w[:, b1:b2] = wb
        w[:, b2:] -= errs @ u[b1:b2, b2:]
    return w.to(weight.dtype)


def reference(model: Any, ids: Any, method: str, sparsity: float, nm: tuple[int, int] | None) -> list[float]:
    """Prune `model` in place, layer by layer; CPU seconds per layer (capture counted in layer 0)."""
    t0 = time.process_time()
    hidden, extra = layer_inputs(model, ids)
    seconds = []
    for layer in model.model.layers:
        stats = collect(layer, hidden, extra, method)
        for name, lin in linears(layer).items():
            if method == "wanda":
                new = wanda_ref(lin.weight.data, stats[name], sparsity, nm)
            else:
                xtx, n = stats[name]
                new = sparsegpt_ref(lin.weight.data, 2 * xtx / n, sparsity, nm)
            lin.weight.data.copy_(new)
        hidden = forward(layer, hidden, extra)
        seconds.append(time.process_time() - t0)
        t0 = time.process_time()
    return seconds


def agreement(a: Any, b: Any) -> tuple[float, float, int]:
    """Fraction of Linear weights pruned in both or kept in both (all blocks, block 0 alone: no
    inherited input differences), and the worst layer's count of disagreements."""
    same = total = worst = 0
    first = 0.0
    for i, (layer_a, layer_b) in enumerate(zip(a.model.layers, b.model.layers, strict=True)):
        la, lb = linears(layer_a), linears(layer_b)
        for name in la:
            za, zb = la[name].weight == 0, lb[name].weight == 0
            same += int((za == zb).sum())
            total += za.numel()
            worst = max(worst, int((za != zb).sum()))
        if i == 0:
            first = same / total
    return same / total, first, worst


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--nsamples", type=int, default=128)
    ap.add_argument("--seqlen", type=int, default=512)
    ap.add_argument("--blocks", type=int, default=0, help="prune only the first K decoder blocks (0: all)")
    ap.add_argument("--methods", default="wanda,sparsegpt")
    ap.add_argument("--pattern", default="unstructured")
    ap.add_argument("--sparsity", type=float, default=0.5)
    ap.add_argument("--batch-size", type=int, default=8, help="kick's calibration batch size")
    args = ap.parse_args()

    import torch
    from kick_layerwise.calibration import load_calibration
    from kick_models.embedded import converted_folder
    from kick_prune.sparsegpt import make_sparsegpt
    from kick_prune.wanda import make_wanda
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from kick import parse_pattern

    torch.set_num_threads(args.threads)
    shared = Path(os.environ.get("KICK_SHARED_DATA", REPO.parent / "shared" / "data"))
    calib = str(shared / "calibration" / "c4_validation_2k.jsonl")
    folder, _ = converted_folder()
    dense = AutoModelForCausalLM.from_pretrained(str(folder), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(folder))
    if args.blocks:
        dense.model.layers = dense.model.layers[: args.blocks]
        dense.config.num_hidden_layers = args.blocks
    nm = parse_pattern(args.pattern)
    params = dict(sparsity=args.sparsity, pattern=args.pattern, nsamples=args.nsamples, seqlen=args.seqlen,
                  calibration=calib, seed=0, batch_size=args.batch_size)  # fmt: skip
    ids = load_calibration(tok, calib, nsamples=args.nsamples, seqlen=args.seqlen, seed=0).input_ids
    blocks = len(dense.model.layers)
    print(f"SmolLM2-135M (dequantized GGUF) fp32, {blocks} blocks, {args.threads} threads, "
          f"{args.nsamples} x {args.seqlen} calibration (document sampler, shared C4), {args.pattern}"
          f"{'' if nm else f' {args.sparsity:.0%}'}; load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(
        "| method | ref CPU s | ref CPU s/block | kick CPU s | kick CPU s/block | ref / kick | masks agree | block 0 agrees | worst layer diffs |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for method in args.methods.split(","):
        ref_model = copy.deepcopy(dense)
        ref_seconds = reference(ref_model, ids, method, args.sparsity, nm)
        kick_model = copy.deepcopy(dense)
        factory = make_wanda if method == "wanda" else make_sparsegpt
        holder = type("M", (), {"module": kick_model, "tokenizer": tok})()
        t0 = time.process_time()
        factory(**params).compress(holder)
        kick_cpu = time.process_time() - t0  # calibration drawing included
        ref_cpu = sum(ref_seconds)
        agree, first, worst = agreement(ref_model, kick_model)
        print(f"| {method} | {ref_cpu:.1f} | {ref_cpu / blocks:.2f} | {kick_cpu:.1f} | {kick_cpu / blocks:.2f} | "
              f"{ref_cpu / kick_cpu:.2f}x | {agree:.6f} | {first:.6f} | {worst} |", flush=True)  # fmt: skip
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
